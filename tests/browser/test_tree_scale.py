"""The fork tree at scale: 200 runs, one of them 1,000,000 steps long; per-tree or log step axis, hiding, labels apart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtree.domain import lineage
from runtree.domain.records import FINISHED, RunRecord
from runtree.store import open_store
from tests.browser.conftest import UiServer, base_env, snapshot
from tests.integration.server_fixture import free_port, stop, wait_ready


def _make(directory: Path) -> None:
    """`long` (1,000,000 steps, a row every 10,000), `base` (2,000 steps) with 18 forks, each forked 10 times: 200 runs."""
    store = open_store(str(directory))
    n = 0

    def run(name: str, last: int, parent: RunRecord | None = None, at: int | None = None) -> RunRecord:
        nonlocal n
        n += 1
        uid = f"{n:032x}"
        rec = RunRecord(
            uid=uid,
            entity="tester",
            project="big",
            id=f"t{n:07d}",
            name=name,
            state=FINISHED,
            created_at=1000.0 + n,
            parent_uid=None if parent is None else parent.uid,
            fork_step=at,
            last_step=last,
        )
        segs = lineage.new_run(uid) if parent is None or at is None else lineage.fork(store.read_segments(parent.uid), at, uid, None)
        store.create_run(rec, segs)
        first = 0 if at is None else at + 1
        steps = range(first, last + 1, 10_000) if last > 100_000 else [first, last]
        store.append_rows(uid, 0, [(s, float(s), {"_step": s, "loss": 1.0 / (1 + s)}) for s in dict.fromkeys(steps)])
        return rec

    try:
        run("long", 1_000_000)
        base = run("base", 2000)
        for i in range(18):
            child = run(f"f{i:02d}", 2000 + 50 * i, base, 100 * (i + 1))
            for j in range(10):
                run(f"f{i:02d}-{j}", 2200 + 10 * j, child, 100 * (i + 1) + 20 * (j + 1))
    finally:
        store.close()
    assert n == 200


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    d = tmp_path_factory.mktemp("big-tree")
    _make(d / "store")
    port = free_port()
    log_path = d / "server.log"
    cmd = [sys.executable, "-m", "runtree.cli", "ui", "--dir", str(d / "store"), "--port", str(port), "--no-browser"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=base_env())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, log_path)
        yield UiServer(url, d / "store", proc, log_path)
    finally:
        stop(proc)


def _bar_width(page: Page, name: str) -> float:
    node = page.locator("g.node", has=page.locator(f'text.name:text-is("{name}")'))
    return float(node.locator("rect.bar").first.get_attribute("width") or 0)


def _overlaps(page: Page) -> list[str]:
    """Pairs of labels (fork and rewind labels) whose boxes intersect."""
    return page.evaluate(
        """() => {
        const boxes = [...document.querySelectorAll('svg.forktree text.edge-label, svg.forktree text.rewind-label')]
          .map((t) => [t.textContent, t.getBBox()]);
        const out = [];
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
          const [a, p] = boxes[i]; const [b, q] = boxes[j];
          if (p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height) out.push(`${a} / ${b}`);
        }
        return out;
      }"""
    )


def test_a_tree_of_200_runs_with_a_million_step_run_scales(page: Page, big_server: UiServer) -> None:
    page.goto(f"{big_server.url}/p/tester/big/tree")
    tree = page.get_by_test_id("fork-tree")
    expect(tree.locator("g.node")).to_have_count(200)
    shared = _bar_width(page, "base")
    assert shared < 10  # 2,000 of 1,000,000 steps: a sliver on the shared axis
    assert _overlaps(page) == []

    page.get_by_label("step axis").select_option("fit")
    expect(tree.locator("svg.forktree")).to_have_attribute("data-scale", "fit")
    assert _bar_width(page, "base") > 20 * shared  # its own tree fills the width
    assert _overlaps(page) == []
    assert "scale=fit" in page.url

    page.get_by_label("step axis").select_option("log")
    expect(tree.locator("svg.forktree")).to_have_attribute("data-scale", "log")
    assert _bar_width(page, "base") > 20 * shared
    assert _overlaps(page) == []
    snapshot(page, "fork-tree-200")  # the top of it: a screenful

    # Hide by a filter: f00..f09 and their forks leave; the tree keeps the rest.
    page.get_by_label("hide runs matching").fill("^f0")
    expect(tree.locator("g.node")).to_have_count(200 - 10 * 11)
    page.get_by_label("hide runs matching").fill("")
    tree.get_by_role("button", name="collapse base").click()
    expect(tree.locator("g.node")).to_have_count(2)
