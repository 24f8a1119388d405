"""A store written before history chunks (schema < 6: one JSON row each) opens, converts in place, resumably,
and reads back identical histories; runs created before the counter number on from it."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from runtree.domain.chunks import CHUNK_ROWS
from runtree.store import chunked, migrations, postgres
from runtree.store.codec import dumps_row
from runtree.store.sqlite import SqliteStore

RUNS = {"u1": 2 * CHUNK_ROWS + 700, "u2": CHUNK_ROWS - 1, "u3": 3 * CHUNK_ROWS}


def _row(s: int) -> dict[str, Any]:
    row: dict[str, Any] = {"loss": math.nan if s % 13 == 0 else 1.0 / (s + 1), "_timestamp": 50.0 + s, "_runtime": float(s), "_step": s}
    if s % 4 == 0:
        row["media"] = {"_type": "image-file", "path": f"m/{s}.png", "size": s}
    if s % 9 == 0:
        row["big"] = 1 << 80
    return row


def _old_rows(uid: str) -> list[tuple[str, int, int, float, str]]:
    return [(uid, 0, s, 50.0 + s, dumps_row(_row(s))) for s in range(RUNS[uid])]


def _canon(rows: Any) -> list[str]:
    return [json.dumps(r, sort_keys=True) for r in rows]


def _want(uid: str) -> list[str]:
    return _canon(_row(s) for s in range(RUNS[uid]))


_RUN_SQL = (
    "INSERT INTO runs (uid, entity, project, id, name, state, created_at, updated_at, heartbeat_at)"
    " VALUES (?, 'e', 'p', ?, ?, 'finished', 0, 0, 0)"
)


def _sqlite_old_store(path: Path, up_to: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for version, _name, sql in migrations.load("sqlite"):
        if version <= up_to:
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version}")
    conn.execute("BEGIN")
    for uid in RUNS:
        conn.execute(_RUN_SQL, (uid, uid, uid))
        conn.execute("INSERT INTO segments (uid, ord, source_uid, epoch, first_step) VALUES (?, 0, ?, 0, 0)", (uid, uid))
        conn.executemany("INSERT INTO history (uid, epoch, step, ts, data) VALUES (?,?,?,?,?)", _old_rows(uid))
    conn.execute("COMMIT")
    return conn


def _check(store: Any) -> None:
    for uid in RUNS:
        assert _canon(store.read_rows(store.read_segments(uid))) == _want(uid), uid
        assert store.last_row(store.read_segments(uid)) == (RUNS[uid] - 1, 50.0 + RUNS[uid] - 1)
    assert store.runs_created("e", "p") == len(RUNS)


def test_an_old_sqlite_store_converts_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _sqlite_old_store(path, migrations.SEALED - 2).close()
    store = SqliteStore(path)
    try:
        _check(store)
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.load("sqlite")[-1][0]
        tails = dict(conn.execute("SELECT uid, COUNT(*) FROM history GROUP BY uid").fetchall())
        chunks = dict(conn.execute("SELECT uid, COUNT(*) FROM history_chunks GROUP BY uid").fetchall())
        conn.close()
        assert chunks == {"u1": 2, "u3": 3} and tails == {"u1": 700, "u2": CHUNK_ROWS - 1}
    finally:
        store.close()


def test_a_conversion_cut_short_goes_on_at_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "half.db"
    conn = _sqlite_old_store(path, migrations.SEALED - 1)  # schema 6 is there, no tail sealed yet
    conn.execute("BEGIN IMMEDIATE")
    assert chunked.seal(_SqliteTx(conn), "u3", 0) == 3  # one run converted, then the process died
    conn.execute("COMMIT")
    conn.close()
    store = SqliteStore(path)
    try:
        _check(store)
        assert store.runs_created("e", "p") == 3
    finally:
        store.close()


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def q(self, sql: str, args: Any = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, args).fetchall()

    def many(self, sql: str, rows: Any) -> None:
        self.conn.executemany(sql, rows)

    def bulk(self, table: str, columns: Any, rows: Any) -> None:
        self.conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({','.join('?' * len(columns))})", rows)


def test_an_old_postgres_store_converts_in_place(pg_url: str) -> None:
    old = [s for s in migrations.load("postgres") if s[0] < migrations.SEALED - 1]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        postgres.migrate(conn, old, pg_url)
        for uid in RUNS:
            conn.execute(_RUN_SQL.replace("?", "%s"), (uid, uid, uid))
            conn.execute("INSERT INTO segments (uid, ord, source_uid, epoch, first_step) VALUES (%s, 0, %s, 0, 0)", (uid, uid))
            with conn.cursor() as cur, cur.copy("COPY history (uid, epoch, step, ts, data) FROM STDIN") as copy:
                for rec in _old_rows(uid):
                    copy.write_row(rec)
    store = postgres.PostgresStore(pg_url)
    try:
        _check(store)
        with psycopg.connect(pg_url) as conn:
            chunks = dict(conn.execute("SELECT uid, COUNT(*) FROM history_chunks GROUP BY uid").fetchall())
        assert chunks == {"u1": 2, "u3": 3}
    finally:
        store.close()
