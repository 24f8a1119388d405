"""wandb.Api()'s sampledHistory and scan (parquetHistory live data) read only the columns asked for, with the
answers a whole-row read gives: across sealed chunks and the open tail, sparse keys, nulls and strings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import runtree
from runtree.domain.chunks import CHUNK_ROWS
from runtree.server.wandb import public_api
from runtree.store.sqlite import SqliteStore


def _rows_as_before(store: SqliteStore, uid: str) -> list[dict[str, Any]]:
    return list(store.read_rows(store.read_segments(uid)))


def test_sampled_history_and_live_rows_match_whole_row_reads(rt_dir: Path) -> None:
    run = runtree.init(project="q")
    for i in range(CHUNK_ROWS + 300):  # one sealed chunk and a tail
        row: dict[str, Any] = {"loss": 1.0 / (i + 1), "acc": i % 7}
        if i % 3 == 0:
            row["sparse"] = None if i % 9 == 0 else f"s{i}"
        run.log(row)
    run.finish()
    store = SqliteStore(rt_dir / "runtree.db")
    try:
        rec = store.get_run(run.uid)
        rows = _rows_as_before(store, run.uid)
        specs = [["loss"], ["sparse", "acc"], ["_step", "_timestamp", "loss"], [], ["missing"], ["acc", "missing"]]
        got = public_api.sampled_history(store, rec, [json.dumps({"keys": k, "samples": 100}) for k in specs])
        for keys, answer in zip(specs, got, strict=True):
            picked = [{k: r[k] for k in keys} for r in rows if all(k in r for k in keys)]
            assert answer == public_api._sample(picked, 100)
            assert [list(r) for r in answer] == [keys for _ in answer]
        assert got[1] and all(r["sparse"] is None for r in got[1][:1])  # step 0's null is kept, not taken for missing
        for keys in (["loss"], ["sparse"], ["_timestamp", "acc", "acc"], ["missing"]):
            wanted = {"_step", *keys}
            want = [{k: v for k, v in r.items() if k in wanted} for r in rows]
            live = public_api.live_rows(store, rec, keys)
            assert live == want and [list(r) for r in live] == [list(r) for r in want]  # key order too
        assert public_api.live_rows(store, rec, []) == rows
    finally:
        store.close()
