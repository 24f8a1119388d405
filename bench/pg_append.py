"""How fast PostgresStore.append_rows takes rows of 10 scalars in batches of 5,000 (and a retried batch).

    .venv/bin/python bench/pg_append.py [--admin-url postgresql://postgres@127.0.0.1:5432/test] [--rows 200000]

Creates a throwaway database next to the admin URL's and drops it afterwards. Points = scalar metric values
(10 per row; _step/_timestamp/_runtime not counted).
"""

from __future__ import annotations

import argparse
import random
import secrets
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.store.postgres import PostgresStore

METRICS = 10


def rows(first: int, n: int, t0: float) -> list[tuple[int, float, dict[str, object]]]:
    out = []
    for s in range(first, first + n):
        row: dict[str, object] = {"_step": s, "_timestamp": t0 + s, "_runtime": float(s)}
        row.update({f"m{i}": random.random() for i in range(METRICS)})
        out.append((s, t0 + s, row))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5_000)
    args = ap.parse_args()

    name = f"runtree_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
        try:
            store = PostgresStore(urlunsplit(urlsplit(args.admin_url)._replace(path="/" + name)))
            store.create_run(RunRecord(uid="bench", entity="e", project="p", id="bench", name="bench"), lineage.new_run("bench"))
            batches = [rows(first, args.batch, 1.7e9) for first in range(0, args.rows, args.batch)]
            t = time.perf_counter()
            for batch in batches:
                store.append_rows("bench", 0, batch)
            elapsed = time.perf_counter() - t
            t = time.perf_counter()
            store.append_rows("bench", 0, batches[len(batches) // 2])
            retry = time.perf_counter() - t
            store.close()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
    n = len(batches) * args.batch
    print(f"append_rows, {args.batch:,}-row batches of {METRICS} scalars: {n:,} rows in {elapsed:.2f} s")
    print(f"  {n / elapsed:,.0f} rows/s, {n * METRICS / elapsed:,.0f} points/s")
    print(f"  a retried batch of {args.batch:,} (all stored already): {retry * 1000:.0f} ms")


if __name__ == "__main__":
    main()
