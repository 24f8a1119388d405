"""W&B's run filter language (MongoDB-style) and `order=` parsed into a small tree the SQL stores compile.

`{"config.lr": {"$gt": 0.01}, "state": "finished"}`, `{"$or": [...]}`, `{"tags": {"$in": ["a"]}}`,
`{"summary_metrics.loss": {"$lt": 0.5}}`, `{"displayName": {"$regex": "^exp"}}`, `{"createdAt": {"$gt": iso}}`.
Fields: `config.<key>[.<key>...]` (a trailing `.value`, as W&B's stored config has it, is dropped),
`summary_metrics.<key>` / `summary.<key>` (runtree's summary keys are flat: `nested.a` is one key),
and the run columns below. Order: `[+-]field`, the same fields (`-created_at` by default, as W&B).
A filter runtree cannot evaluate is refused with a message naming it, never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runtree.errors import UsageError

# W&B's names (and runtree's) -> runs table column
COLUMNS = {
    "state": "state",
    "name": "id",  # W&B's `name` is the run id
    "id": "id",
    "uid": "uid",
    "displayName": "name",
    "display_name": "name",
    "group": "group",
    "jobType": "job_type",
    "job_type": "job_type",
    "createdAt": "created_at",
    "created_at": "created_at",
    "heartbeatAt": "heartbeat_at",
    "heartbeat_at": "heartbeat_at",
    "updatedAt": "updated_at",
    "updated_at": "updated_at",
    "notes": "notes",
    "description": "notes",
    "host": "host",
    "tags": "tags",
    "parent_uid": "parent_uid",
    "entity": "entity",
    "project": "project",
}
TIME_COLUMNS = frozenset({"created_at", "heartbeat_at", "updated_at"})
COMPARE = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
OPERATORS = (*COMPARE, "$in", "$nin", "$regex", "$exists")
_MAX_DEPTH = 16
_MAX_NODES = 256


@dataclass(frozen=True)
class Field:
    """Where a value lives: a runs column, or a key path inside the config / summary JSON."""

    kind: str  # "column" | "config" | "summary"
    path: tuple[str, ...]  # column name, or JSON keys

    @property
    def column(self) -> str:
        return self.path[0]


@dataclass(frozen=True)
class Cmp:
    field: Field
    op: str  # one of OPERATORS
    value: Any


@dataclass(frozen=True)
class Bool:
    op: str  # "and" | "or" | "nor"
    parts: tuple[Node, ...]


Node = Cmp | Bool


@dataclass(frozen=True)
class OrderBy:
    field: Field
    descending: bool


_TAGS = Field("column", ("tags",))


def parse_field(name: str) -> Field:
    if not isinstance(name, str) or not name:
        raise UsageError(f"filter field must be a non-empty string, got {name!r}")
    head, _, rest = name.partition(".")
    if head == "config" and rest:
        keys = rest.split(".")
        if len(keys) > 1 and keys[-1] == "value":
            keys = keys[:-1]
        return Field("config", tuple(keys))
    if head in ("summary_metrics", "summary", "summaryMetrics") and rest:
        return Field("summary", (rest,))
    if name in COLUMNS:
        return Field("column", (COLUMNS[name],))
    raise UsageError(
        f"cannot filter or order runs by {name!r}: use config.<key>, summary_metrics.<key> or one of "
        + ", ".join(sorted(COLUMNS))
    )


def _time(v: Any, name: str) -> float:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"filter on {name}: {v!r} is not an ISO time") from None
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    raise UsageError(f"filter on {name}: {v!r} is not a time")


def _scalar(v: Any, field: Field, name: str, op: str) -> Any:
    if field.kind == "column" and field.column in TIME_COLUMNS:
        return _time(v, name)
    if v is not None and not isinstance(v, str | int | float | bool):
        raise UsageError(f"filter {name} {op}: {v!r} is not a string, number, boolean or null")
    return v


def _cmp(field: Field, name: str, op: str, v: Any) -> Cmp:
    if op not in OPERATORS:
        raise UsageError(f"filter on {name}: unknown operator {op!r}; runtree knows " + ", ".join(OPERATORS))
    if op in ("$in", "$nin"):
        if not isinstance(v, list | tuple):
            raise UsageError(f"filter {name} {op} needs a list, got {v!r}")
        return Cmp(field, op, tuple(_scalar(x, field, name, op) for x in v))
    if op == "$regex":
        if not isinstance(v, str):
            raise UsageError(f"filter {name} $regex needs a string, got {v!r}")
        try:
            re.compile(v)
        except re.error as e:
            raise UsageError(f"filter {name} $regex {v!r}: {e}") from None
        return Cmp(field, op, v)
    if op == "$exists":
        return Cmp(field, op, bool(v))
    if field.kind == "column" and field.column == "tags" and op not in ("$eq", "$ne"):
        raise UsageError(f"filter on tags: {op} is not meaningful; use a tag, $in, $nin or $ne")
    return Cmp(field, op, _scalar(v, field, name, op))


def parse_filter(spec: Mapping[str, Any] | None) -> Node | None:
    """The filter tree of a W&B filters dict (None for no filter); UsageError naming what is wrong."""
    if not spec:
        return None
    count = [0]
    node = _parse(spec, 0, count)
    return node


def _parse(spec: Any, depth: int, count: list[int]) -> Node:
    if not isinstance(spec, Mapping):
        raise UsageError(f"a run filter is a dict such as {{'config.lr': {{'$gt': 0}}}}, got {spec!r:.80}")
    if depth > _MAX_DEPTH:
        raise UsageError(f"run filter nested deeper than {_MAX_DEPTH} levels")
    parts: list[Node] = []
    for key, value in spec.items():
        count[0] += 1
        if count[0] > _MAX_NODES:
            raise UsageError(f"run filter has more than {_MAX_NODES} terms")
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list | tuple) or not value:
                raise UsageError(f"{key} needs a non-empty list of filters, got {value!r:.80}")
            parts.append(Bool(key[1:], tuple(_parse(v, depth + 1, count) for v in value)))
        elif isinstance(key, str) and key.startswith("$"):
            raise UsageError(f"unknown run filter operator {key!r}; runtree knows $and, $or, $nor and " + ", ".join(OPERATORS))
        else:
            field = parse_field(key)
            if field == _TAGS and isinstance(value, list | tuple) and value:  # every one of these tags
                parts.append(Bool("and", tuple(_cmp(field, key, "$eq", t) for t in value)))
            elif isinstance(value, Mapping) and value and all(isinstance(k, str) and k.startswith("$") for k in value):
                for op, v in value.items():
                    parts.append(_cmp(field, key, op, v))
            else:
                parts.append(_cmp(field, key, "$eq", value))
    if len(parts) == 1:
        return parts[0]
    return Bool("and", tuple(parts))


def parse_order(order: str | Sequence[str] | None) -> list[OrderBy]:
    """`-created_at`, `+summary_metrics.loss`, `config.lr` (a list of them, or comma-separated) as OrderBy terms."""
    if order is None or order == "":
        return [OrderBy(Field("column", ("created_at",)), True)]
    terms = order.split(",") if isinstance(order, str) else list(order)
    out = []
    for t in terms:
        if not isinstance(t, str) or not t.strip():
            raise UsageError(f"order must name a field such as '-created_at', got {order!r}")
        t = t.strip()
        desc = t.startswith("-")
        name = t[1:] if t[:1] in "+-" else t
        out.append(OrderBy(parse_field(name), desc))
    return out


_COLUMN_NAMES = {"id": "id", "name": "display_name", "entity": "entity", "project": "project"}


def field_name(f: Field) -> str:
    """The filter field naming `f` (parse_field(field_name(f)) == f)."""
    if f.kind == "config":
        return "config." + ".".join(f.path)
    if f.kind == "summary":
        return "summary_metrics." + f.path[0]
    return _COLUMN_NAMES.get(f.column, f.column)


def to_spec(node: Node | None) -> dict[str, Any]:
    """The W&B filters dict of a parsed filter (what a remote store sends; parse_filter reads it back)."""
    if node is None:
        return {}
    if isinstance(node, Bool):
        return {f"${node.op}": [to_spec(p) for p in node.parts]}
    value = list(node.value) if isinstance(node.value, tuple) else node.value
    return {field_name(node.field): {node.op: value}}


def order_spec(order: Sequence[OrderBy]) -> str:
    return ",".join(("-" if o.descending else "+") + field_name(o.field) for o in order)
