"""Request bodies of the HTTP API as pydantic models: types checked and limits enforced before any Store call.

The records themselves (RunRecord, Segment, Rewind) are runtree.domain's dataclasses, validated as they
are, so the OpenAPI document and the Store can never disagree on a field.
"""

from __future__ import annotations

import functools
import math
import typing
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, TypeAdapter, ValidationError, field_validator

from runtree.domain import ids
from runtree.domain.records import STATES, Rewind, RunRecord, Segment
from runtree.server import guards
from runtree.store.columns import UPDATABLE, check_fields

MAX_BATCH = 10_000  # rows, system samples or console lines in one append request
PAGE_ROWS = 50_000  # rows in one history page unless the request asks for another limit
MAX_PAGE_ROWS = 1_000_000
MAX_RUNS_PAGE = 10_000  # runs in one page of GET /runs
MAX_SAMPLES = 100_000  # points per key of a downsampled read

Int64 = Annotated[StrictInt, Field(ge=-(1 << 63), lt=1 << 63)]
Step = Annotated[StrictInt, Field(ge=0, lt=1 << 62)]  # below the stores' open-segment end
Row = tuple[Step, StrictFloat, dict[str, Any]]
Sample = tuple[StrictFloat, dict[str, Any]]
Line = tuple[Int64, StrictFloat, Step | None, str, str]
_MAX_INT64 = (1 << 63) - 1
_MAX_STEP = (1 << 62) - 1


def _int(name: str, value: Any, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"{name} {value} is out of range: {low} to {high}")


def _finite(name: str, value: Any) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")


def _check_tags(tags: Any) -> None:
    for t in tags:
        ids.check_text("tag", t)


# What each run field may hold beyond its type: checked on create (POST /runs) and on update (PATCH).
_FIELD_CHECKS: dict[str, Any] = {
    "uid": ids.validate_uid,
    "entity": ids.validate_entity,
    "project": ids.validate_project,
    "id": ids.validate_id,
    "name": lambda v: ids.check_text("run name", v),
    "state": lambda v: None if v in STATES else _raise(f"state {v!r:.40} is not a run state: one of {', '.join(STATES)}"),
    "notes": lambda v: v is None or ids.check_text("notes", v, max_len=ids.MAX_TEXT, lines=True),
    "group": lambda v: v is None or ids.check_text("group", v),
    "job_type": lambda v: v is None or ids.check_text("job type", v),
    "host": lambda v: v is None or ids.check_text("host", v),
    "tags": _check_tags,
    "parent_uid": lambda v: v is None or ids.validate_uid(v),
    "epoch": lambda v: _int("epoch", v, 0, _MAX_INT64),
    "exit_code": lambda v: _int("exit_code", v, -(1 << 63), _MAX_INT64),
    "pid": lambda v: _int("pid", v, 0, _MAX_INT64),
    "fork_step": lambda v: _int("fork_step", v, 0, _MAX_STEP),
    "last_step": lambda v: _int("last_step", v, 0, _MAX_STEP),
    **{f: (lambda v, f=f: _finite(f, v)) for f in ("created_at", "updated_at", "heartbeat_at", "finished_at", "pid_started")},
    **{f: (lambda v, f=f: _shallow(f, v)) for f in ("config", "summary", "metric_defs", "metadata")},
}


def _shallow(name: str, value: Any) -> None:
    if guards.depth(value, guards.MAX_DEPTH) > guards.MAX_DEPTH:
        raise ValueError(f"{name} nests deeper than {guards.MAX_DEPTH} levels")


def _raise(message: str) -> None:
    raise ValueError(message)


def check_record(run: RunRecord) -> RunRecord:
    """A run as a client sends it: every field within what the stores keep and give back (ValueError otherwise)."""
    for name, check in _FIELD_CHECKS.items():
        check(getattr(run, name))
    return run


def check_segment(seg: Segment) -> Segment:
    ids.validate_uid(seg.source_uid)
    _int("epoch", seg.epoch, 0, _MAX_INT64)
    _int("first_step", seg.first_step, 0, _MAX_STEP)
    _int("last_step", seg.last_step, 0, _MAX_STEP)
    _finite("until_time", seg.until_time)
    return seg


def check_rewind(rewind: Rewind) -> Rewind:
    ids.validate_uid(rewind.uid)
    _int("at_step", rewind.at_step, 0, _MAX_STEP)
    _int("from_epoch", rewind.from_epoch, 0, _MAX_INT64)
    _int("to_epoch", rewind.to_epoch, 0, _MAX_INT64)
    _finite("created_at", rewind.created_at)
    for seg in rewind.archived:
        check_segment(seg)
    return rewind


RunIn = Annotated[RunRecord, AfterValidator(check_record)]
SegmentIn = Annotated[Segment, AfterValidator(check_segment)]
RewindIn = Annotated[Rewind, AfterValidator(check_rewind)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _limit(items: Any, what: str) -> Any:
    if isinstance(items, list) and len(items) > MAX_BATCH:
        raise ValueError(f"a batch of {len(items)} {what} is over the limit of {MAX_BATCH} per request; send it in parts")
    return items


class CreateRun(Body):
    run: RunIn
    segments: list[SegmentIn]


class UpdateRun(Body):
    fields: dict[str, Any]

    @field_validator("fields")
    @classmethod
    def _typed(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return check_run_fields(fields)


class RewindRun(Body):
    segments: list[SegmentIn]
    rewind: RewindIn
    fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _typed(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return check_run_fields(fields)


class AppendRows(Body):
    epoch: Int64
    seq: Int64 | None = Field(None, description="the client's batch number, echoed back; a retried batch is recognised by its rows' keys")
    rows: list[Row] = Field(description="[step, timestamp, row] with steps strictly increasing")

    @field_validator("rows", mode="before")
    @classmethod
    def _size(cls, rows: Any) -> Any:
        return _limit(rows, "rows")

    @field_validator("rows")
    @classmethod
    def _increasing(cls, rows: list[tuple[int, float, dict[str, Any]]]) -> list[tuple[int, float, dict[str, Any]]]:
        for i in range(1, len(rows)):
            if rows[i][0] <= rows[i - 1][0]:
                raise ValueError(f"steps must increase within a batch: row {i} has step {rows[i][0]} after step {rows[i - 1][0]}")
        return rows


class AppendSystem(Body):
    epoch: Int64
    seq: Int64 | None = None
    samples: list[Sample] = Field(description="[timestamp, values]")

    @field_validator("samples", mode="before")
    @classmethod
    def _size(cls, samples: Any) -> Any:
        return _limit(samples, "system samples")


class AppendLogs(Body):
    epoch: Int64
    seq: Int64 | None = None
    lines: list[Line] = Field(description="[seq, timestamp, step or null, stream, text]")

    @field_validator("lines", mode="before")
    @classmethod
    def _size(cls, lines: Any) -> Any:
        return _limit(lines, "console lines")

    @field_validator("lines")
    @classmethod
    def _text(cls, lines: list[tuple[int, float, int | None, str, str]]) -> list[tuple[int, float, int | None, str, str]]:
        for stream in {line[3] for line in lines}:
            ids.check_text("console stream", stream)
        for seq, _, _, _, text in lines:
            if "\x00" in text:
                raise ValueError(f"console line {seq} contains a NUL character, which the store cannot keep")
        return lines


class Segments(Body):
    segments: list[SegmentIn]


class HistoryQuery(Segments):
    min_step: Int64 | None = None
    max_step: Int64 | None = None
    keys: list[Annotated[str, AfterValidator(lambda k: ids.check_text("key", k))]] | None = Field(
        None, description="only rows holding any of these keys, cut down to _step and them"
    )
    samples: int | None = Field(
        None, ge=2, le=MAX_SAMPLES, description="downsample: at most this many points per key (min and max per bucket)"
    )
    limit: int = Field(PAGE_ROWS, ge=1, le=MAX_PAGE_ROWS, description="rows per page; next_min_step continues")


class ColumnsQuery(Segments):
    min_step: Int64 | None = None
    max_step: Int64 | None = None
    keys: list[str] | None = Field(None, description="only these keys' columns (steps always come); all keys when absent")
    times: bool = Field(True, description="send each row's timestamp too")
    limit: int = Field(PAGE_ROWS, ge=1, le=MAX_PAGE_ROWS, description="rows per page (whole chunks); the X-Next-Min-Step header continues")


class LastRowQuery(Segments):
    at_or_before: Int64 | None = None


class NewKey(Body):
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 hex digest of the key; the key never travels")
    entities: list[Annotated[str, AfterValidator(ids.validate_entity)]] = Field(default_factory=list)
    admin: bool = False
    label: Annotated[str, AfterValidator(lambda v: ids.check_text("label", v))] = ""
    prefix: Annotated[str, AfterValidator(lambda v: ids.check_text("prefix", v))] = Field("", max_length=12)
    created_at: float
    only_if_first: bool = False


@functools.cache
def _field_adapters() -> dict[str, TypeAdapter[Any]]:
    hints = typing.get_type_hints(RunRecord)
    return {name: TypeAdapter(hints[name]) for name in UPDATABLE if name in hints}


def check_run_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Run fields to update, each checked against its RunRecord type; names that cannot change are refused as the Store would."""
    check_fields(fields)
    adapters = _field_adapters()
    out = {}
    for name, value in fields.items():
        try:
            out[name] = adapters[name].validate_python(value)
        except ValidationError as e:
            raise ValueError(f"run field {name!r}: {e.errors()[0]['msg']} (got {value!r:.60})") from None
        check = _FIELD_CHECKS.get(name)
        if check is not None:
            check(out[name])
    return out


class _ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: {"error": {"type", "message"}}."""

    error: _ErrorDetail


# What every route may answer besides its success, as documented in the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": why}
    for code, why in [
        (400, "the body is not JSON, does not decode, or holds text with no UTF-8 form"),
        (401, "no API key, or one the server does not know"),
        (403, "the key may not touch this entity, or a write came from another origin"),
        (404, "no such run, file, key or route"),
        (405, "the method is not allowed on this path"),
        (409, "the run id is taken, or the run is still being logged"),
        (413, "the body is over the size limit"),
        (415, "a write without JSON to a server without keys"),
        (421, "the Host header names no address this server answers to"),
        (422, "a value outside what is allowed (the message names it)"),
        (503, "the store is unavailable or busy"),
    ]
}
