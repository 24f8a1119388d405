"""The team store: PostgreSQL through a thread-safe psycopg connection pool; row batches go in by COPY.

Same semantics as SqliteStore. Row payloads are TEXT JSON from runtree.store.codec (JSONB cannot hold
NaN or ±Infinity). The schema comes from migrations/postgres/*.sql, applied in order, each in its own
transaction under a `pg_advisory_xact_lock`, so several server processes starting at once do not race.

Every stream table leads with the run uid in its primary key, so on Citus the streams shard by run and
the small tables that reference runs stay co-located:

    SELECT create_reference_table('runs');
    SELECT create_distributed_table('segments', 'uid');
    SELECT create_distributed_table('rewinds', 'uid', colocate_with => 'segments');
    SELECT create_distributed_table('history', 'uid', colocate_with => 'segments');
    SELECT create_distributed_table('system_samples', 'uid', colocate_with => 'segments');
    SELECT create_distributed_table('console_lines', 'uid', colocate_with => 'segments');
    SELECT create_distributed_table('run_files', 'uid', colocate_with => 'segments');
    SELECT create_reference_table('api_keys');
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from runtree.domain.records import CRASHED, Rewind, RunRecord, Segment
from runtree.domain.runfilter import Node, OrderBy
from runtree.errors import NoSuchFile, NoSuchRun, RunExists, StoreError
from runtree.store import migrations, runquery
from runtree.store.base import ApiKey, RowIn
from runtree.store.codec import dumps, dumps_row, loads, loads_row
from runtree.store.columns import RUN_COLUMNS, check_fields, encode_field, run_from_columns, segment_bounds, time_windows

# Shared with the SQLite store so the two can never disagree on what a run row holds.
from runtree.store.reaper import check_not_active

_MIGRATION_LOCK = 0x72756E74726565  # "runtree" in ASCII: the advisory lock key every runtree process agrees on
_CHUNK = 5000  # rows per round trip when reading; no connection is held while the caller consumes them
_MIN_BIGINT = -(1 << 63)
_RUN_COLS_SQL = ", ".join(f'"{c}"' for c in RUN_COLUMNS)


def redact(url: str) -> str:
    """`url` with any password replaced by ***, fit for messages and logs."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{hostinfo}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _set_clause(fields: dict[str, Any]) -> tuple[sql.Composed, list[Any]]:
    clause = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in fields)
    return clause, [encode_field(k, v) for k, v in fields.items()]


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the database behind `conn` (0 when runtree has never migrated it)."""
    if conn.execute("SELECT to_regclass('runtree_schema_version')").fetchone() in (None, (None,)):
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM runtree_schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[Any], steps: Sequence[tuple[int, str, str]], where: str) -> int:
    """Bring the database up to the last of `steps`, one transaction per step; return the final version.

    `conn` must be in autocommit mode. Each step re-reads the version under the advisory lock, so a
    process that lost the race to another just finds the work done.
    """
    newest = steps[-1][0] if steps else 0
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS runtree_schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            current = schema_version(conn)
            if current > newest:
                raise StoreError(f"the store at {where} has schema {current}, newer than this runtree knows ({newest}); upgrade runtree")
            pending = [s for s in steps if s[0] > current]
            if not pending:
                return current
            version, name, text = pending[0]
            conn.execute(text.encode())  # no parameters: sent as one simple query, several statements allowed
            conn.execute("INSERT INTO runtree_schema_version (version, name) VALUES (%s, %s)", (version, name))


class PostgresStore:
    """Store on a PostgreSQL database; safe to share between the threads of a process."""

    def __init__(self, url: str, *, max_size: int = 10, connect_timeout: int = 10) -> None:
        self.url = redact(url)
        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in url:
            kwargs["connect_timeout"] = connect_timeout
        try:
            with psycopg.connect(url, **kwargs) as conn:
                migrate(conn, migrations.load("postgres"), self.url)
        except psycopg.Error as e:
            raise StoreError(f"cannot open the runtree store at {self.url}: {_scrub(str(e), url)}") from e
        # A checked-out connection is probed first, so one broken by a server restart is replaced, not used.
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url, kwargs=kwargs, min_size=1, max_size=max_size, open=True, check=ConnectionPool.check_connection, name="runtree"
        )

    def close(self) -> None:
        self._pool.close()

    def _rows(self, query: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(query, args).fetchall()

    def _runs(self, query: str, args: Sequence[Any] = ()) -> list[RunRecord]:
        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return [run_from_columns(r) for r in cur.execute(query, args)]

    def _no_such_run(self, uid: str) -> NoSuchRun:
        return NoSuchRun(f"no run has uid {uid!r} in {self.url}")

    # -- runs ------------------------------------------------------------------------------
    def create_run(self, run: RunRecord, segments: Sequence[Segment]) -> None:
        values = [encode_field(c, getattr(run, c)) for c in RUN_COLUMNS]
        placeholders = ", ".join(["%s"] * len(values))
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                cur.execute(f"INSERT INTO runs ({_RUN_COLS_SQL}) VALUES ({placeholders})", values)
                self._put_segments(cur, run.uid, segments)
        except psycopg.errors.UniqueViolation as e:
            raise RunExists(
                f"run id {run.id!r} is already taken in {run.entity}/{run.project}; "
                "pass resume='allow' to continue it, or choose another id"
            ) from e

    @staticmethod
    def _put_segments(cur: psycopg.Cursor[Any], uid: str, segments: Sequence[Segment]) -> None:
        cur.execute("DELETE FROM segments WHERE uid = %s", (uid,))
        cur.executemany(
            "INSERT INTO segments (uid, ord, source_uid, epoch, first_step, last_step, until_time) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(uid, i, s.source_uid, s.epoch, s.first_step, s.last_step, s.until_time) for i, s in enumerate(segments)],
        )

    def get_run(self, uid: str) -> RunRecord:
        found = self._runs(f"SELECT {_RUN_COLS_SQL} FROM runs WHERE uid = %s", (uid,))
        if not found:
            raise self._no_such_run(uid)
        return found[0]

    def find_run(self, entity: str, project: str, run_id: str) -> RunRecord | None:
        found = self._runs(f"SELECT {_RUN_COLS_SQL} FROM runs WHERE entity = %s AND project = %s AND id = %s", (entity, project, run_id))
        return found[0] if found else None

    def list_runs(self, entity: str | None = None, project: str | None = None, *, parent_uid: str | None = None) -> list[RunRecord]:
        where, args = [], []
        for col, val in (("entity", entity), ("project", project), ("parent_uid", parent_uid)):
            if val is not None:
                where.append(f"{col} = %s")
                args.append(val)
        # COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
        query = (
            f"SELECT {_RUN_COLS_SQL} FROM runs"
            + (" WHERE " + " AND ".join(where) if where else "")
            + ' ORDER BY created_at, uid COLLATE "C"'
        )
        return self._runs(query, args)

    def query_runs(
        self, entity: str | None, project: str | None, where: Node | None, order: list[OrderBy], limit: int | None = None, offset: int = 0
    ) -> list[RunRecord]:
        sql, args = runquery.compile_query("postgres", {"entity": entity, "project": project}, where, order, limit, offset)
        return self._runs(f"SELECT {_RUN_COLS_SQL} FROM runs" + sql, args)

    def count_runs(self, entity: str | None, project: str | None, where: Node | None) -> int:
        sql, args = runquery.compile_query("postgres", {"entity": entity, "project": project}, where, None)
        return int(self._rows("SELECT count(*) FROM runs" + sql, args)[0][0])

    def update_run(self, uid: str, **fields: Any) -> None:
        check_fields(fields)
        fields.setdefault("updated_at", time.time())
        sets, args = _set_clause(fields)
        try:
            with self._pool.connection() as conn:
                cur = conn.execute(sql.SQL("UPDATE runs SET {} WHERE uid = %s").format(sets), [*args, uid])
                if cur.rowcount == 0:
                    raise self._no_such_run(uid)
        except psycopg.errors.UniqueViolation as e:
            raise RunExists(f"cannot move run {uid}: its id is already taken in the target project") from e

    def claim_run(self, uid: str, **fields: Any) -> RunRecord:
        check_fields(fields)
        fields.setdefault("updated_at", time.time())
        sets, args = _set_clause(fields)
        with self._pool.connection() as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            # FOR UPDATE: a second claimer waits here, then sees the first one's process as the run's.
            found = cur.execute(f"SELECT {_RUN_COLS_SQL} FROM runs WHERE uid = %s FOR UPDATE", (uid,)).fetchone()
            if found is None:
                raise self._no_such_run(uid)
            check_not_active(run_from_columns(found), "resume or rewind")
            cur.execute(sql.SQL("UPDATE runs SET {} WHERE uid = %s").format(sets), [*args, uid])
            claimed = cur.execute(f"SELECT {_RUN_COLS_SQL} FROM runs WHERE uid = %s", (uid,)).fetchone()
        assert claimed is not None  # the row is locked by this transaction
        return run_from_columns(claimed)

    def running_runs(self) -> list[RunRecord]:
        return self._runs(f"SELECT {_RUN_COLS_SQL} FROM runs WHERE state = 'running' ORDER BY heartbeat_at")

    def mark_crashed(self, uid: str, heartbeat_at: float, **fields: Any) -> bool:
        fields = {**fields, "state": CRASHED, "updated_at": time.time()}
        check_fields(fields)
        sets, args = _set_clause(fields)
        with self._pool.connection() as conn:
            query = sql.SQL("UPDATE runs SET {} WHERE uid = %s AND state = 'running' AND heartbeat_at = %s").format(sets)
            return conn.execute(query, [*args, uid, heartbeat_at]).rowcount == 1

    # -- lineage ---------------------------------------------------------------------------
    def read_segments(self, uid: str) -> list[Segment]:
        rows = self._rows("SELECT source_uid, epoch, first_step, last_step, until_time FROM segments WHERE uid = %s ORDER BY ord", (uid,))
        if not rows:
            self.get_run(uid)  # raises NoSuchRun for an unknown uid
        return [Segment(*r) for r in rows]

    def rewind_run(self, uid: str, segments: Sequence[Segment], rewind: Rewind, **fields: Any) -> None:
        check_fields(fields)
        fields = {"epoch": rewind.to_epoch, "updated_at": time.time(), **fields}
        sets, args = _set_clause(fields)
        archived = dumps([[s.source_uid, s.epoch, s.first_step, s.last_step, s.until_time] for s in rewind.archived])
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            # The row lock serializes rewinds of one run, so two can never pick the same seq.
            if cur.execute("SELECT 1 FROM runs WHERE uid = %s FOR UPDATE", (uid,)).fetchone() is None:
                raise self._no_such_run(uid)
            cur.execute(
                "INSERT INTO rewinds (uid, seq, at_step, from_epoch, to_epoch, created_at, archived)"
                " SELECT %s, COALESCE(MAX(seq), -1) + 1, %s, %s, %s, %s, %s FROM rewinds WHERE uid = %s",
                (uid, rewind.at_step, rewind.from_epoch, rewind.to_epoch, rewind.created_at, archived, uid),
            )
            self._put_segments(cur, uid, segments)
            cur.execute(sql.SQL("UPDATE runs SET {} WHERE uid = %s").format(sets), [*args, uid])

    def list_rewinds(self, uid: str) -> list[Rewind]:
        rows = self._rows("SELECT at_step, from_epoch, to_epoch, created_at, archived FROM rewinds WHERE uid = %s ORDER BY seq", (uid,))
        return [Rewind(uid, r[0], r[1], r[2], r[3], tuple(Segment(*s) for s in loads(r[4]))) for r in rows]

    # -- appending streams -----------------------------------------------------------------
    def _append(self, table: str, columns: Sequence[str], key: int, records: Iterable[tuple[Any, ...]]) -> None:
        """Insert `records` into `table`, skipping any whose primary key is stored already.

        The common case, a fresh batch, is one plain COPY: measured ~1.7x the rows/s of COPY into a
        staging table plus INSERT ... ON CONFLICT, and ~2x executemany with ON CONFLICT. Only when the
        COPY hits a stored key (a retried batch) does the batch go through staging. Records are sorted by
        key so two transactions inserting overlapping batches lock keys in the same order (no deadlock).
        """
        unique: dict[Any, tuple[Any, ...]] = {}
        for rec in records:
            unique.setdefault(rec[key], rec)  # within a batch the first of a key wins, as INSERT OR IGNORE
        batch = [unique[k] for k in sorted(unique)]
        if not batch:
            return
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        tbl = sql.Identifier(table)
        with self._pool.connection() as conn:
            try:
                with conn.transaction(), conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(tbl, cols)) as copy:
                    for rec in batch:
                        copy.write_row(rec)
                return
            except psycopg.errors.UniqueViolation:
                pass
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE TEMP TABLE runtree_batch (LIKE {}) ON COMMIT DROP").format(tbl))
                with cur.copy(sql.SQL("COPY runtree_batch ({}) FROM STDIN").format(cols)) as copy:
                    for rec in batch:
                        copy.write_row(rec)
                cur.execute(
                    sql.SQL("INSERT INTO {} ({}) SELECT {} FROM runtree_batch ORDER BY {} ON CONFLICT DO NOTHING").format(
                        tbl, cols, cols, sql.Identifier(columns[key])
                    )
                )

    # -- history ---------------------------------------------------------------------------
    def append_rows(self, uid: str, epoch: int, rows: Sequence[RowIn]) -> None:
        self._append(
            "history", ("uid", "epoch", "step", "ts", "data"), 2, ((uid, epoch, step, ts, dumps_row(data)) for step, ts, data in rows)
        )

    def read_rows(self, segments: Sequence[Segment], min_step: int | None = None, max_step: int | None = None) -> Iterator[dict[str, Any]]:
        for seg in segments:
            bounds = segment_bounds(seg, min_step, max_step)
            if bounds is None:
                continue
            lo, hi = bounds
            while True:
                chunk = self._rows(
                    "SELECT step, data FROM history WHERE uid = %s AND epoch = %s AND step BETWEEN %s AND %s ORDER BY step LIMIT %s",
                    (seg.source_uid, seg.epoch, lo, hi, _CHUNK),
                )
                for _step, data in chunk:
                    yield loads_row(data)
                if len(chunk) < _CHUNK:
                    break
                lo = chunk[-1][0] + 1

    def last_row(self, segments: Sequence[Segment], at_or_before: int | None = None) -> tuple[int, float] | None:
        for seg in reversed(segments):
            bounds = segment_bounds(seg, None, at_or_before)
            if bounds is None:
                continue
            found = self._rows(
                "SELECT step, ts FROM history WHERE uid = %s AND epoch = %s AND step BETWEEN %s AND %s ORDER BY step DESC LIMIT 1",
                (seg.source_uid, seg.epoch, *bounds),
            )
            if found:
                return int(found[0][0]), float(found[0][1])
        return None

    # -- time-keyed streams ----------------------------------------------------------------
    def append_system(self, uid: str, epoch: int, samples: Sequence[tuple[float, dict[str, Any]]]) -> None:
        self._append("system_samples", ("uid", "epoch", "ts", "data"), 2, ((uid, epoch, ts, dumps_row(data)) for ts, data in samples))

    def read_system(self, segments: Sequence[Segment]) -> Iterator[tuple[float, dict[str, Any]]]:
        for seg, lower, upper in time_windows(segments):
            after = lower
            while True:
                chunk = self._rows(
                    "SELECT ts, data FROM system_samples WHERE uid = %s AND epoch = %s AND ts > %s AND ts <= %s ORDER BY ts LIMIT %s",
                    (seg.source_uid, seg.epoch, after, upper, _CHUNK),
                )
                for ts, data in chunk:
                    yield ts, loads_row(data)
                if len(chunk) < _CHUNK:
                    break
                after = chunk[-1][0]

    def append_logs(self, uid: str, epoch: int, lines: Sequence[tuple[int, float, int | None, str, str]]) -> None:
        # PostgreSQL text cannot hold NUL; a stray one in console output must not lose the whole batch.
        self._append(
            "console_lines",
            ("uid", "epoch", "seq", "ts", "step", "stream", "text"),
            2,
            (
                (uid, epoch, seq, ts, step, stream.replace("\0", "\ufffd"), text.replace("\0", "\ufffd"))
                for seq, ts, step, stream, text in lines
            ),
        )

    def put_logs(self, uid: str, epoch: int, lines: Sequence[tuple[int, float, int | None, str, str]]) -> None:
        # The last line of a seq wins; sorted by seq, so concurrent batches lock keys in one order.
        unique = {
            seq: (uid, epoch, seq, ts, step, stream.replace("\0", "\ufffd"), text.replace("\0", "\ufffd"))
            for seq, ts, step, stream, text in lines
        }
        if not unique:
            return
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO console_lines (uid, epoch, seq, ts, step, stream, text) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (uid, epoch, seq) DO UPDATE"
                " SET ts = EXCLUDED.ts, step = EXCLUDED.step, stream = EXCLUDED.stream, text = EXCLUDED.text",
                [unique[k] for k in sorted(unique)],
            )

    def read_logs(self, segments: Sequence[Segment]) -> Iterator[tuple[float, int | None, str, str]]:
        for seg, lower, upper in time_windows(segments):
            after = _MIN_BIGINT
            while True:
                chunk = self._rows(
                    "SELECT seq, ts, step, stream, text FROM console_lines"
                    " WHERE uid = %s AND epoch = %s AND ts > %s AND ts <= %s AND seq > %s ORDER BY seq LIMIT %s",
                    (seg.source_uid, seg.epoch, lower, upper, after, _CHUNK),
                )
                yield from ((r[1], r[2], r[3], r[4]) for r in chunk)
                if len(chunk) < _CHUNK:
                    break
                after = chunk[-1][0]

    def last_log_seq(self, uid: str, epoch: int) -> int | None:
        found = self._rows("SELECT MAX(seq) FROM console_lines WHERE uid = %s AND epoch = %s", (uid, epoch))
        return None if not found or found[0][0] is None else int(found[0][0])

    # -- run files -------------------------------------------------------------------------
    def put_file(self, uid: str, name: str, data: bytes) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO run_files (uid, name, content, created_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (uid, name) DO UPDATE SET content = EXCLUDED.content, created_at = EXCLUDED.created_at",
                (uid, name, bytes(data), time.time()),
            )

    def read_file(self, uid: str, name: str) -> bytes:
        found = self._rows("SELECT content FROM run_files WHERE uid = %s AND name = %s", (uid, name))
        if not found:
            raise NoSuchFile(f"run {uid} has no file {name!r}; it has {self.list_files(uid)}")
        return bytes(found[0][0])

    def list_files(self, uid: str) -> list[str]:
        return [r[0] for r in self._rows('SELECT name FROM run_files WHERE uid = %s ORDER BY name COLLATE "C"', (uid,))]

    # -- server API keys -------------------------------------------------------------------
    def create_key(self, key: ApiKey, *, only_if_first: bool = False) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            if only_if_first:
                # Serializes first-key creation between server processes starting at once.
                conn.execute("LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE")
                if conn.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None:
                    return False
            cur = conn.execute(
                "INSERT INTO api_keys (key_hash, prefix, entities, admin, label, created_at) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (key_hash) DO NOTHING",
                (key.key_hash, key.prefix, dumps(list(key.entities)), key.admin, key.label, key.created_at),
            )
            return cur.rowcount == 1

    def find_key(self, key_hash: str) -> ApiKey | None:
        found = self._rows(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = %s", (key_hash,))
        return _key_from_row(found[0]) if found else None

    def list_keys(self) -> list[ApiKey]:
        return [_key_from_row(r) for r in self._rows(f'SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_hash COLLATE "C"')]

    def delete_key(self, key_hash: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute("DELETE FROM api_keys WHERE key_hash = %s", (key_hash,)).rowcount == 1

    def get_setting(self, scope: str) -> Any | None:
        found = self._rows("SELECT value FROM settings WHERE scope = %s", (scope,))
        return loads(found[0][0]) if found else None

    def put_setting(self, scope: str, value: Any) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO settings (scope, value, updated_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (scope) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
                (scope, dumps(value), time.time()),
            )


_KEY_COLUMNS = "key_hash, entities, admin, label, prefix, created_at"


def _key_from_row(r: Sequence[Any]) -> ApiKey:
    return ApiKey(r[0], tuple(loads(r[1])), bool(r[2]), r[3], r[4], float(r[5]))


def _scrub(message: str, url: str) -> str:
    password = urlsplit(url).password
    return message.replace(password, "***") if password else message
