"""The embedded default store: one SQLite file in WAL mode.

Writes go through one connection guarded by a lock (so one thread at a time owns it) and run in
`BEGIN IMMEDIATE` transactions, so several processes can log into one file without losing a row; each
reading thread has its own connection and sees committed data only. A killed writer leaves at most an
uncommitted transaction, which SQLite rolls back: the file is never corrupted.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtree.domain.records import CRASHED, Rewind, RunRecord, Segment
from runtree.domain.runfilter import Node, OrderBy
from runtree.errors import NoSuchFile, NoSuchRun, RunExists, StoreDiskFull, StoreError
from runtree.store import migrations, runquery
from runtree.store.base import ApiKey, RowIn
from runtree.store.codec import dumps, dumps_row, loads, loads_row
from runtree.store.columns import RUN_COLUMNS, check_fields, encode_field, run_from_columns, segment_bounds, time_windows
from runtree.store.reaper import check_not_active


def _quote(col: str) -> str:
    return f'"{col}"'


def _run_from_row(r: sqlite3.Row) -> RunRecord:
    return run_from_columns(dict(r))


class SqliteStore:
    """Store on one SQLite file; safe to share between the threads of a process."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._wconn = self._connect()
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the runtree store at {self.path}: {e}") from e
        self._wlock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=60000")
        conn.create_function("rt_regexp", 2, runquery.regexp, deterministic=True)
        conn.create_function("rt_json_clean", 1, runquery.json_clean, deterministic=True)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._connect()
            self._local.conn = conn
            self._local.pid = os.getpid()
            with self._wlock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the file's write lock up front (no upgrade deadlocks)."""
        with self._wlock:
            conn = self._wconn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:  # SQLite has already rolled back after SQLITE_FULL, an I/O error, ...
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.OperationalError as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if "full" in str(e):  # SQLITE_FULL: "database or disk is full"
                    raise StoreDiskFull(f"disk full: cannot write to the runtree store {self.path} ({e})") from e
                raise

    def _migrate(self) -> None:
        steps = migrations.load("sqlite")
        with self._write() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            newest = steps[-1][0] if steps else 0
            if current > newest:
                raise StoreError(
                    f"the store at {self.path} has schema {current}, newer than this runtree knows ({newest}); upgrade runtree"
                )
            for version, _name, sql in steps:
                if version > current:
                    for statement in sql.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={version}")

    def close(self) -> None:
        with self._wlock:
            self._wconn.close()
            for conn in self._readers:  # every thread's reader, not only the caller's
                conn.close()
            self._readers.clear()
        self._local = threading.local()

    # -- runs ------------------------------------------------------------------------------
    def create_run(self, run: RunRecord, segments: Sequence[Segment]) -> None:
        values = [encode_field(c, getattr(run, c)) for c in RUN_COLUMNS]
        cols = ",".join(_quote(c) for c in RUN_COLUMNS)
        try:
            with self._write() as conn:
                conn.execute(f"INSERT INTO runs ({cols}) VALUES ({','.join('?' * len(values))})", values)
                self._put_segments(conn, run.uid, segments)
        except sqlite3.IntegrityError as e:
            raise RunExists(
                f"run id {run.id!r} is already taken in {run.entity}/{run.project}; "
                "pass resume='allow' to continue it, or choose another id"
            ) from e

    @staticmethod
    def _put_segments(conn: sqlite3.Connection, uid: str, segments: Sequence[Segment]) -> None:
        conn.execute("DELETE FROM segments WHERE uid=?", (uid,))
        conn.executemany(
            "INSERT INTO segments (uid, ord, source_uid, epoch, first_step, last_step, until_time) VALUES (?,?,?,?,?,?,?)",
            [(uid, i, s.source_uid, s.epoch, s.first_step, s.last_step, s.until_time) for i, s in enumerate(segments)],
        )

    def get_run(self, uid: str) -> RunRecord:
        r = self._reader().execute("SELECT * FROM runs WHERE uid=?", (uid,)).fetchone()
        if r is None:
            raise NoSuchRun(f"no run has uid {uid!r} in {self.url}")
        return _run_from_row(r)

    def find_run(self, entity: str, project: str, run_id: str) -> RunRecord | None:
        r = self._reader().execute("SELECT * FROM runs WHERE entity=? AND project=? AND id=?", (entity, project, run_id)).fetchone()
        return None if r is None else _run_from_row(r)

    def list_runs(self, entity: str | None = None, project: str | None = None, *, parent_uid: str | None = None) -> list[RunRecord]:
        where, args = [], []
        for col, val in (("entity", entity), ("project", project), ("parent_uid", parent_uid)):
            if val is not None:
                where.append(f"{col}=?")
                args.append(val)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created_at, uid"
        return [_run_from_row(r) for r in self._reader().execute(sql, args)]

    def query_runs(
        self, entity: str | None, project: str | None, where: Node | None, order: list[OrderBy], limit: int | None = None, offset: int = 0
    ) -> list[RunRecord]:
        sql, args = runquery.compile_query("sqlite", {"entity": entity, "project": project}, where, order, limit, offset)
        return [_run_from_row(r) for r in self._reader().execute("SELECT * FROM runs" + sql, args)]

    def count_runs(self, entity: str | None, project: str | None, where: Node | None) -> int:
        sql, args = runquery.compile_query("sqlite", {"entity": entity, "project": project}, where, None)
        return int(self._reader().execute("SELECT count(*) FROM runs" + sql, args).fetchone()[0])

    def update_run(self, uid: str, **fields: Any) -> None:
        check_fields(fields)
        fields.setdefault("updated_at", time.time())
        sets = ",".join(f"{_quote(k)}=?" for k in fields)
        try:
            with self._write() as conn:
                cur = conn.execute(f"UPDATE runs SET {sets} WHERE uid=?", [*(encode_field(k, v) for k, v in fields.items()), uid])
                if cur.rowcount == 0:
                    raise NoSuchRun(f"no run has uid {uid!r} in {self.url}")
        except sqlite3.IntegrityError as e:
            raise RunExists(f"cannot move run {uid}: its id is already taken in the target project") from e

    def claim_run(self, uid: str, **fields: Any) -> RunRecord:
        check_fields(fields)
        fields.setdefault("updated_at", time.time())
        sets = ",".join(f"{_quote(k)}=?" for k in fields)
        with self._write() as conn:  # BEGIN IMMEDIATE: no other writer between the check and the update
            r = conn.execute("SELECT * FROM runs WHERE uid=?", (uid,)).fetchone()
            if r is None:
                raise NoSuchRun(f"no run has uid {uid!r} in {self.url}")
            check_not_active(_run_from_row(r), "resume or rewind")
            conn.execute(f"UPDATE runs SET {sets} WHERE uid=?", [*(encode_field(k, v) for k, v in fields.items()), uid])
            claimed = conn.execute("SELECT * FROM runs WHERE uid=?", (uid,)).fetchone()
        return _run_from_row(claimed)

    def running_runs(self) -> list[RunRecord]:
        return [_run_from_row(r) for r in self._reader().execute("SELECT * FROM runs WHERE state = 'running' ORDER BY heartbeat_at")]

    def mark_crashed(self, uid: str, heartbeat_at: float, **fields: Any) -> bool:
        fields = {**fields, "state": CRASHED, "updated_at": time.time()}
        check_fields(fields)
        sets = ",".join(f"{_quote(k)}=?" for k in fields)
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE runs SET {sets} WHERE uid=? AND state='running' AND heartbeat_at=?",
                [*(encode_field(k, v) for k, v in fields.items()), uid, heartbeat_at],
            )
            return cur.rowcount == 1

    # -- lineage ---------------------------------------------------------------------------
    def read_segments(self, uid: str) -> list[Segment]:
        rows = (
            self._reader()
            .execute("SELECT source_uid, epoch, first_step, last_step, until_time FROM segments WHERE uid=? ORDER BY ord", (uid,))
            .fetchall()
        )
        if not rows:
            self.get_run(uid)  # raises NoSuchRun for an unknown uid
        return [Segment(*r) for r in rows]

    def rewind_run(self, uid: str, segments: Sequence[Segment], rewind: Rewind, **fields: Any) -> None:
        check_fields(fields)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE uid=?", (uid,)).fetchone() is None:
                raise NoSuchRun(f"no run has uid {uid!r} in {self.url}")
            seq = conn.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM rewinds WHERE uid=?", (uid,)).fetchone()[0]
            conn.execute(
                "INSERT INTO rewinds (uid, seq, at_step, from_epoch, to_epoch, created_at, archived) VALUES (?,?,?,?,?,?,?)",
                (
                    uid,
                    seq,
                    rewind.at_step,
                    rewind.from_epoch,
                    rewind.to_epoch,
                    rewind.created_at,
                    dumps([[s.source_uid, s.epoch, s.first_step, s.last_step, s.until_time] for s in rewind.archived]),
                ),
            )
            self._put_segments(conn, uid, segments)
            fields = {"epoch": rewind.to_epoch, "updated_at": time.time(), **fields}
            sets = ",".join(f"{_quote(k)}=?" for k in fields)
            conn.execute(f"UPDATE runs SET {sets} WHERE uid=?", [*(encode_field(k, v) for k, v in fields.items()), uid])

    def list_rewinds(self, uid: str) -> list[Rewind]:
        rows = (
            self._reader()
            .execute("SELECT at_step, from_epoch, to_epoch, created_at, archived FROM rewinds WHERE uid=? ORDER BY seq", (uid,))
            .fetchall()
        )
        return [Rewind(uid, r[0], r[1], r[2], r[3], tuple(Segment(*s) for s in loads(r[4]))) for r in rows]

    # -- history ---------------------------------------------------------------------------
    def append_rows(self, uid: str, epoch: int, rows: Sequence[RowIn]) -> None:
        if not rows:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO history (uid, epoch, step, ts, data) VALUES (?,?,?,?,?)",
                [(uid, epoch, step, ts, dumps_row(data)) for step, ts, data in rows],
            )

    def read_rows(self, segments: Sequence[Segment], min_step: int | None = None, max_step: int | None = None) -> Iterator[dict[str, Any]]:
        conn = self._reader()
        for seg in segments:
            bounds = segment_bounds(seg, min_step, max_step)
            if bounds is None:
                continue
            cur = conn.execute(
                "SELECT data FROM history WHERE uid=? AND epoch=? AND step BETWEEN ? AND ? ORDER BY step",
                (seg.source_uid, seg.epoch, *bounds),
            )
            for (data,) in cur:
                yield loads_row(data)

    def last_row(self, segments: Sequence[Segment], at_or_before: int | None = None) -> tuple[int, float] | None:
        conn = self._reader()
        for seg in reversed(segments):
            bounds = segment_bounds(seg, None, at_or_before)
            if bounds is None:
                continue
            r = conn.execute(
                "SELECT step, ts FROM history WHERE uid=? AND epoch=? AND step BETWEEN ? AND ? ORDER BY step DESC LIMIT 1",
                (seg.source_uid, seg.epoch, *bounds),
            ).fetchone()
            if r is not None:
                return int(r[0]), float(r[1])
        return None

    # -- time-keyed streams ----------------------------------------------------------------
    def append_system(self, uid: str, epoch: int, samples: Sequence[tuple[float, dict[str, Any]]]) -> None:
        if not samples:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO system_samples (uid, epoch, ts, data) VALUES (?,?,?,?)",
                [(uid, epoch, ts, dumps_row(data)) for ts, data in samples],
            )

    def read_system(self, segments: Sequence[Segment]) -> Iterator[tuple[float, dict[str, Any]]]:
        conn = self._reader()
        for seg, lower, upper in time_windows(segments):
            cur = conn.execute(
                "SELECT ts, data FROM system_samples WHERE uid=? AND epoch=? AND ts > ? AND ts <= ? ORDER BY ts",
                (seg.source_uid, seg.epoch, lower, upper),
            )
            for ts, data in cur:
                yield ts, loads_row(data)

    def append_logs(self, uid: str, epoch: int, lines: Sequence[tuple[int, float, int | None, str, str]]) -> None:
        if not lines:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO console_lines (uid, epoch, seq, ts, step, stream, text) VALUES (?,?,?,?,?,?,?)",
                [(uid, epoch, *line) for line in lines],
            )

    def put_logs(self, uid: str, epoch: int, lines: Sequence[tuple[int, float, int | None, str, str]]) -> None:
        if not lines:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO console_lines (uid, epoch, seq, ts, step, stream, text) VALUES (?,?,?,?,?,?,?)",
                [(uid, epoch, *line) for line in lines],
            )

    def read_logs(self, segments: Sequence[Segment]) -> Iterator[tuple[float, int | None, str, str]]:
        conn = self._reader()
        for seg, lower, upper in time_windows(segments):
            cur = conn.execute(
                "SELECT ts, step, stream, text FROM console_lines WHERE uid=? AND epoch=? AND ts > ? AND ts <= ? ORDER BY seq",
                (seg.source_uid, seg.epoch, lower, upper),
            )
            yield from ((r[0], r[1], r[2], r[3]) for r in cur)

    def last_log_seq(self, uid: str, epoch: int) -> int | None:
        r = self._reader().execute("SELECT MAX(seq) FROM console_lines WHERE uid=? AND epoch=?", (uid, epoch)).fetchone()
        return None if r[0] is None else int(r[0])

    # -- run files -------------------------------------------------------------------------
    def put_file(self, uid: str, name: str, data: bytes) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO run_files (uid, name, content, created_at) VALUES (?,?,?,?)", (uid, name, bytes(data), time.time())
            )

    def read_file(self, uid: str, name: str) -> bytes:
        r = self._reader().execute("SELECT content FROM run_files WHERE uid=? AND name=?", (uid, name)).fetchone()
        if r is None:
            raise NoSuchFile(f"run {uid} has no file {name!r}; it has {self.list_files(uid)}")
        return bytes(r[0])

    def list_files(self, uid: str) -> list[str]:
        return [r[0] for r in self._reader().execute("SELECT name FROM run_files WHERE uid=? ORDER BY name", (uid,))]

    # -- server API keys -------------------------------------------------------------------
    def create_key(self, key: ApiKey, *, only_if_first: bool = False) -> bool:
        with self._write() as conn:
            if only_if_first and conn.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None:
                return False
            cur = conn.execute(
                "INSERT OR IGNORE INTO api_keys (key_hash, prefix, entities, admin, label, created_at) VALUES (?,?,?,?,?,?)",
                (key.key_hash, key.prefix, dumps(list(key.entities)), int(key.admin), key.label, key.created_at),
            )
            return cur.rowcount == 1

    def find_key(self, key_hash: str) -> ApiKey | None:
        r = self._reader().execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash=?", (key_hash,)).fetchone()
        return None if r is None else _key_from_row(tuple(r))

    def list_keys(self) -> list[ApiKey]:
        rows = self._reader().execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_hash")
        return [_key_from_row(tuple(r)) for r in rows]

    def delete_key(self, key_hash: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM api_keys WHERE key_hash=?", (key_hash,)).rowcount == 1

    def get_setting(self, scope: str) -> Any | None:
        r = self._reader().execute("SELECT value FROM settings WHERE scope=?", (scope,)).fetchone()
        return None if r is None else loads(r[0])

    def put_setting(self, scope: str, value: Any) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO settings (scope, value, updated_at) VALUES (?,?,?)"
                " ON CONFLICT (scope) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                (scope, dumps(value), time.time()),
            )


_KEY_COLUMNS = "key_hash, entities, admin, label, prefix, created_at"


def _key_from_row(r: tuple[Any, ...]) -> ApiKey:
    return ApiKey(r[0], tuple(loads(r[1])), bool(r[2]), r[3], r[4], float(r[5]))
