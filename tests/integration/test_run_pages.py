"""Run listings in pages (a server-side cursor), on every backend; Api().runs and `runtree runs` page through them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import runtree
from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.store.base import Store
from runtree.store.sqlite import SqliteStore


def _make(store: Store, n: int, project: str = "p") -> list[str]:
    uids = []
    for i in range(n):
        uid = f"u{i:03d}{project}"
        # two runs share each created_at: the uid breaks the tie, in byte order
        store.create_run(RunRecord(uid, "e", project, f"r{i}{project}", f"n{i}", created_at=float(i // 2)), lineage.new_run(uid))
        uids.append(uid)
    return uids


def test_pages_follow_the_cursor_without_gaps_or_repeats(store: Store) -> None:
    want = _make(store, 23)
    _make(store, 5, "q")
    got: list[str] = []
    after = None
    while True:
        page = store.list_runs("e", "p", limit=4, after=after)
        got += [r.uid for r in page]
        if len(page) < 4:
            break
        after = (page[-1].created_at, page[-1].uid)
    assert got == want == [r.uid for r in store.list_runs("e", "p")]


def test_api_runs_pages_follow_the_cursor(rt_dir: Path) -> None:
    store = SqliteStore(rt_dir / "runtree.db")
    try:
        want = _make(store, 25)
    finally:
        store.close()
    pages = list(runtree.Api(store=str(rt_dir)).runs_pages("e/p", per_page=10))
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [r.uid for p in pages for r in p] == want == [r.uid for r in runtree.Api(store=str(rt_dir)).runs("e/p")]
    assert list(runtree.Api(store=str(rt_dir)).runs_pages("e/none")) == []


def test_cli_draws_every_page(rt_dir: Path) -> None:
    store = SqliteStore(rt_dir / "runtree.db")
    try:
        want = _make(store, 450)  # three pages of `runtree runs`
    finally:
        store.close()
    out = subprocess.run(
        [sys.executable, "-m", "runtree.cli", "runs", "e/p", "--dir", str(rt_dir)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    ids = [ln.split("│")[0].strip() for ln in out.splitlines() if "│" in ln]
    assert ids == [f"r{i}p" for i in range(len(want))]
    assert out.count("┃") > 0 and out.splitlines()[0].split("┃")[0].strip() == "id"  # one header, on the first page
    assert sum("┃" in ln for ln in out.splitlines()) == 1
