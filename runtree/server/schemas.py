"""Request bodies of the HTTP API as pydantic models: types checked and limits enforced before any Store call.

The records themselves (RunRecord, Segment, Rewind) are runtree.domain's dataclasses, validated as they
are, so the OpenAPI document and the Store can never disagree on a field.
"""

from __future__ import annotations

import functools
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, TypeAdapter, ValidationError, field_validator

from runtree.domain.records import Rewind, RunRecord, Segment
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


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _limit(items: Any, what: str) -> Any:
    if isinstance(items, list) and len(items) > MAX_BATCH:
        raise ValueError(f"a batch of {len(items)} {what} is over the limit of {MAX_BATCH} per request; send it in parts")
    return items


class CreateRun(Body):
    run: RunRecord
    segments: list[Segment]


class UpdateRun(Body):
    fields: dict[str, Any]

    @field_validator("fields")
    @classmethod
    def _typed(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return check_run_fields(fields)


class RewindRun(Body):
    segments: list[Segment]
    rewind: Rewind
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


class Segments(Body):
    segments: list[Segment]


class HistoryQuery(Segments):
    min_step: Int64 | None = None
    max_step: Int64 | None = None
    keys: list[str] | None = Field(None, description="only rows holding any of these keys, cut down to _step and them")
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
    entities: list[str] = Field(default_factory=list)
    admin: bool = False
    label: str = ""
    prefix: str = Field("", max_length=12)
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
    return out
