"""The chunk tables under PostgreSQL's native hash partitioning by run uid: the schema as shipped (0006) partitions
unchanged, and a store on it appends, seals, reads and summarizes as on plain tables."""

from __future__ import annotations

import math
import re

import psycopg

from runtree.domain import lineage
from runtree.domain.chunks import CHUNK_ROWS, aggregate_rows
from runtree.domain.records import RunRecord
from runtree.store import migrations, postgres

PARTS = 4


def _partitioned(sql: str) -> str:
    """0006 with each chunk table hash-partitioned by uid into PARTS partitions (ALTER ... SET STORAGE included)."""
    out = re.sub(r"(CREATE TABLE (history_chunks|history_columns) \((?:.|\n)*?\n\));", r"\1 PARTITION BY HASH (uid);", sql)
    for table in ("history_chunks", "history_columns"):
        out += "".join(
            f"\nCREATE TABLE {table}_p{i} PARTITION OF {table} FOR VALUES WITH (MODULUS {PARTS}, REMAINDER {i});" for i in range(PARTS)
        )
    return out


def test_chunk_tables_hash_partitioned_by_uid(pg_url: str) -> None:
    steps = migrations.load("postgres")
    six = next(s for s in steps if s[1].startswith("0006_"))
    shipped = [(v, name, _partitioned(sql) if v == six[0] else sql) for v, name, sql in steps]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        postgres.migrate(conn, shipped, pg_url)
        q = "SELECT relname, relkind FROM pg_class WHERE relname IN ('history_chunks', 'history_columns')"
        kinds = dict(conn.execute(q).fetchall())
        assert kinds == {"history_chunks": "p", "history_columns": "p"}
    store = postgres.PostgresStore(pg_url)
    try:
        n = 2 * CHUNK_ROWS + 10
        for r in range(6):
            uid = f"run-{r}"
            store.create_run(RunRecord(uid, "e", "p", f"r{r}", "n"), lineage.new_run(uid))
            store.append_rows(uid, 0, [(s, float(s), {"_step": s, "loss": 1 / (s + 1), "r": r}) for s in range(n)])
        for r in range(6):
            segs = store.read_segments(f"run-{r}")
            rows = list(store.read_rows(segs))
            assert [x["_step"] for x in rows] == list(range(n)) and {x["r"] for x in rows} == {r}
            agg = store.read_aggregates(segs)["loss"]
            assert agg.count == n and agg.min == 1 / n and math.isclose(agg.sum, aggregate_rows(rows)["loss"].sum)
        with psycopg.connect(pg_url) as conn:
            per_part = [conn.execute(f"SELECT count(*) FROM history_chunks_p{i}").fetchone()[0] for i in range(PARTS)]  # type: ignore[index]
        assert sum(per_part) == 12 and sum(1 for c in per_part if c) >= 2  # spread over partitions by uid
    finally:
        store.close()
