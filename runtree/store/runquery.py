"""A parsed run filter and order (runtree.domain.runfilter) as SQL over the runs table, for SQLite and PostgreSQL.

Config and summary are JSON text columns; a value is compared only with a value of its own JSON type (a number
filter never matches a string), `{"k": None}` matches a missing key as MongoDB does, `$ne`/`$nin` match runs
without the key. JSON text holding NaN/Infinity (valid for Python, not for the databases' JSON) is read with
those values as null. Ordering puts runs without the key last; the uid breaks ties, so pages are stable.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from runtree.domain.runfilter import Bool, Cmp, Field, Node, OrderBy
from runtree.errors import UsageError

_SQL_OPS = {"$eq": "=", "$ne": "<>", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_TEXT_COLUMNS = frozenset({"state", "id", "uid", "name", "group", "job_type", "notes", "host", "parent_uid", "entity", "project"})


def regexp(pattern: str, value: Any) -> bool:
    """SQLite's REGEXP for $regex: a search, as MongoDB's."""
    return isinstance(value, str) and re.search(pattern, value) is not None


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


def json_clean(text: str | None) -> str | None:
    """JSON text with NaN/±Infinity as null (SQLite's JSON functions refuse those tokens)."""
    if text is None:
        return None
    try:
        return json.dumps(_finite(json.loads(text)))
    except ValueError:
        return "{}"


@dataclass
class Dialect:
    name: str  # "sqlite" | "postgres"

    @property
    def ph(self) -> str:
        return "?" if self.name == "sqlite" else "%s"


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return "string"


class _Compiler:
    def __init__(self, dialect: str) -> None:
        self.d = Dialect(dialect)
        self.args: list[Any] = []

    def p(self, value: Any) -> str:
        self.args.append(value)
        return self.d.ph

    # -- JSON access ------------------------------------------------------------------------
    def _doc(self, col: str) -> str:
        if self.d.name == "sqlite":
            return f"(CASE WHEN json_valid(runs.{col}) THEN runs.{col} ELSE rt_json_clean(runs.{col}) END)"
        return (
            f"(CASE WHEN runs.{col} ~ '(NaN|Infinity)' THEN regexp_replace(runs.{col}, "
            r"'([:\[,]\s*)-?(Infinity|NaN)(?=\s*[,}\]])', '\1null', 'g') ELSE runs." + col + " END)::jsonb"
        )

    def _path(self, keys: tuple[str, ...]) -> str:
        """The key path as an SQL literal (not a parameter: the placeholders then stay in text order)."""
        for k in keys:
            if any(ch in k for ch in "\"\\'%\x00"):
                raise UsageError(f"cannot filter or order on a key holding a quote, backslash or %: {k!r}")
        if self.d.name == "sqlite":
            return "'$" + "".join(f'."{k}"' for k in keys) + "'"
        return "ARRAY[" + ",".join(f"'{k}'" for k in keys) + "]::text[]"

    def _json(self, f: Field) -> tuple[str, str, str]:
        """(value expression, JSON-type expression, text expression) of a config/summary key."""
        doc = self._doc("config" if f.kind == "config" else "summary")
        path = self._path(f.path)
        if self.d.name == "sqlite":
            return f"json_extract({doc}, {path})", f"json_type({doc}, {path})", f"json_extract({doc}, {path})"
        val = f"({doc} #> {path})"
        return val, f"jsonb_typeof({val})", f"({doc} #>> {path})"

    def _json_eq(self, f: Field, op: str, v: Any) -> str:
        kind = _kind(v)
        val, typ, txt = self._json(f)
        if kind == "null":
            return f"COALESCE({typ}, 'null') = 'null'"
        if self.d.name == "sqlite":
            if kind == "bool":
                return f"{typ} = '{'true' if v else 'false'}'"
            types = "('integer','real')" if kind == "number" else "('text')"
            return f"({typ} IN {types} AND {val} {_SQL_OPS[op]} {self.p(v)})"
        if kind == "bool":
            return f"{val} = '{'true' if v else 'false'}'::jsonb"
        if kind == "number":
            return f"(CASE WHEN {typ} = 'number' THEN ({val})::numeric {_SQL_OPS[op]} {self.p(v)} ELSE false END)"
        return f"(CASE WHEN {typ} = 'string' THEN {txt} {_SQL_OPS[op]} {self.p(v)} COLLATE \"C\" ELSE false END)"

    # -- columns ----------------------------------------------------------------------------
    def _tags_has(self, v: Any) -> str:
        if self.d.name == "sqlite":
            return f"EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = {self.p(v)})"
        return f"EXISTS (SELECT 1 FROM jsonb_array_elements_text(runs.tags::jsonb) AS t(v) WHERE t.v = {self.p(v)})"

    def _tags_match(self, pattern: str) -> str:
        if self.d.name == "sqlite":
            return f"EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE rt_regexp({self.p(pattern)}, value))"
        return f"EXISTS (SELECT 1 FROM jsonb_array_elements_text(runs.tags::jsonb) AS t(v) WHERE t.v ~ {self.p(pattern)})"

    def _col(self, c: Cmp) -> str:
        col, op, v = c.field.column, c.op, c.value
        if col == "tags":
            if op == "$exists":
                return ("" if v else "NOT ") + "(runs.tags <> '[]')"
            if op == "$regex":
                return self._tags_match(v)
            if op in ("$in", "$nin"):
                any_of = " OR ".join(self._tags_has(x) for x in v) or "false"
                return f"({any_of})" if op == "$in" else f"NOT ({any_of})"
            return self._tags_has(v) if op == "$eq" else f"NOT {self._tags_has(v)}"
        ref = f'runs."{col}"'
        if op == "$exists":
            return f"{ref} IS {'NOT ' if v else ''}NULL"
        if op == "$regex":
            if self.d.name == "sqlite":
                return f"({ref} IS NOT NULL AND rt_regexp({self.p(v)}, {ref}))"
            return f"({ref} IS NOT NULL AND {ref} ~ {self.p(v)})"
        if op in ("$in", "$nin"):
            eqs = " OR ".join(self._col(Cmp(c.field, "$eq", x)) for x in v) or "false"
            return f"({eqs})" if op == "$in" else f"NOT COALESCE(({eqs}), false)"
        if v is None:
            return f"{ref} IS {'NOT ' if op == '$ne' else ''}NULL" if op in ("$eq", "$ne") else "false"
        if col in _TEXT_COLUMNS and not isinstance(v, str):
            return "false" if op != "$ne" else "true"
        collate = ' COLLATE "C"' if self.d.name == "postgres" and col in _TEXT_COLUMNS else ""
        expr = f"{ref} {_SQL_OPS[op]} {self.p(v)}{collate}"
        return f"COALESCE({expr}, false)" if op != "$ne" else f"({ref} IS NULL OR {expr})"

    def _json_cmp(self, c: Cmp) -> str:
        op, v = c.op, c.value
        if op == "$exists":
            _, typ, _ = self._json(c.field)
            return f"{typ} IS {'NOT ' if v else ''}NULL"
        if op == "$regex":
            _, typ, txt = self._json(c.field)
            if self.d.name == "sqlite":
                return f"({typ} = 'text' AND rt_regexp({self.p(v)}, {txt}))"
            return f"(CASE WHEN {typ} = 'string' THEN {txt} ~ {self.p(v)} ELSE false END)"
        if op in ("$in", "$nin"):
            eqs = " OR ".join(self._json_eq(c.field, "$eq", x) for x in v) or "false"
            return f"({eqs})" if op == "$in" else f"NOT COALESCE(({eqs}), false)"
        if op == "$ne":
            return f"NOT COALESCE({self._json_eq(c.field, '$eq', v)}, false)"
        if v is None or isinstance(v, bool):
            return self._json_eq(c.field, op, v) if op == "$eq" else "false"
        return f"COALESCE({self._json_eq(c.field, op, v)}, false)"

    def node(self, n: Node) -> str:
        if isinstance(n, Bool):
            joined = (" AND " if n.op == "and" else " OR ").join(f"({self.node(p)})" for p in n.parts)
            return f"NOT ({joined})" if n.op == "nor" else joined
        return self._col(n) if n.field.kind == "column" else self._json_cmp(n)

    def order(self, terms: list[OrderBy]) -> str:
        out = []
        for t in terms:
            direction = "DESC" if t.descending else "ASC"
            if t.field.kind == "column":
                col = t.field.column
                if col == "tags":
                    raise UsageError("cannot order runs by tags")
                collate = ' COLLATE "C"' if self.d.name == "postgres" and col in _TEXT_COLUMNS else ""
                out.append(f'runs."{col}"{collate} {direction} NULLS LAST')
            else:
                val, _, _ = self._json(t.field)
                if self.d.name == "postgres":
                    val = f"NULLIF({val}, 'null'::jsonb)"  # a JSON null sorts with the missing, last
                out.append(f"{val} {direction} NULLS LAST")
        out.append('runs.uid COLLATE "C"' if self.d.name == "postgres" else "runs.uid")
        return ", ".join(out)


def compile_query(
    dialect: str,
    scope: dict[str, str | None],
    where: Node | None,
    order: list[OrderBy] | None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[str, list[Any]]:
    """(the SQL after `SELECT <columns> FROM runs`, its arguments): WHERE, ORDER BY, LIMIT/OFFSET."""
    c = _Compiler(dialect)
    conds = [f'runs."{col}" = {c.p(v)}' for col, v in scope.items() if v is not None]
    if where is not None:
        conds.append(f"({c.node(where)})")
    sql = (" WHERE " + " AND ".join(conds)) if conds else ""
    if order is not None:
        sql += " ORDER BY " + c.order(order)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if offset:
        sql += f" OFFSET {int(offset)}"
    return sql, c.args
