"""What the UI needs from the package and the server, without a browser: its files ship inside `runtree`,
every module they import exists, and a long history's preview reads little and says it is one."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from runtree.domain import lineage
from runtree.domain.records import RunRecord, Segment
from runtree.server import history
from runtree.server.ui import static_files
from runtree.store import open_store
from runtree.store.base import Store


def test_the_ui_files_ship_inside_the_package() -> None:
    static = resources.files("runtree.ui") / "static"
    names = {"index.html", "app.js", "api.js", "style.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "vendor/VERSIONS.txt"}
    for name in names:
        assert (static / name).is_file(), name
    assert (static / "pages" / "run.js").is_file() and (static / "pages" / "project.js").is_file()
    versions = (static / "vendor" / "VERSIONS.txt").read_text()
    assert re.search(r"^uplot \d+\.\d+\.\d+ \(MIT", versions, re.M)
    assert static_files() == static


def test_every_module_the_app_loads_exists() -> None:
    root = Path(str(static_files()))
    index = (root / "index.html").read_text()
    wanted = re.findall(r'(?:href|src)="/static/([^"]+)"', index)
    assert "app.js" in wanted and "vendor/uPlot.iife.min.js" in wanted
    for js in root.rglob("*.js"):
        if "vendor" in js.parts:
            continue
        for spec in re.findall(r"^import .* from '(\.[^']+)';$", js.read_text(), re.M):
            wanted.append(str((js.parent / spec).resolve().relative_to(root)))
    missing = [w for w in wanted if not (root / w).is_file()]
    assert not missing
    modules = {str(p.relative_to(root)) for p in root.rglob("*.js") if "vendor" not in p.parts}
    preloaded = set(re.findall(r'rel="modulepreload" href="/static/([^"]+)"', index))
    assert modules - {"app.js"} == preloaded  # every module is preloaded, so the page fetches them all at once


class CountingStore:
    """A store that counts the rows read through it."""

    def __init__(self, store: Store) -> None:
        self.store, self.rows = store, 0
        self.url = store.url

    def read_rows(self, segments: Sequence[Segment], min_step: int | None = None, max_step: int | None = None) -> Iterator[dict[str, Any]]:
        for row in self.store.read_rows(segments, min_step, max_step):
            self.rows += 1
            yield row

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _store_with_run(tmp_path: Path, steps: int) -> tuple[Store, list[Segment]]:
    store = open_store(str(tmp_path))
    run = RunRecord(uid="u" * 32, entity="e", project="p", id="longrun1", name="long")
    segments = lineage.new_run(run.uid)
    store.create_run(run, segments)
    for start in range(0, steps, 10_000):
        rows = [(s, float(s), {"_step": s, "loss": 1.0 / (s + 1), "acc": (s % 7) / 7}) for s in range(start, min(steps, start + 10_000))]
        store.append_rows(run.uid, 0, rows)
    return store, store.read_segments(run.uid)


def test_a_short_history_previews_as_its_exact_downsample(tmp_path: Path) -> None:
    store, segments = _store_with_run(tmp_path, 3_000)
    exact = history.read_sampled(store, segments, None, None, ["loss"], 500)
    assert history.read_preview(store, segments, None, None, ["loss"], 500) == exact
    assert "preview" not in orjson.loads(exact)


def test_a_long_history_previews_from_few_rows_then_the_exact_downsample_is_cached(tmp_path: Path) -> None:
    steps = 60_000  # over both PREVIEW_ROWS and CACHE_MIN_ROWS
    store, segments = _store_with_run(tmp_path, steps)
    counting = CountingStore(store)
    page = orjson.loads(history.read_preview(counting, segments, None, None, None, 800))  # type: ignore[arg-type]
    assert page["preview"] is True
    assert counting.rows <= history.PREVIEW_ROWS + 400  # a few rows per window, never the whole history
    steps_seen = page["columns"]["_step"]
    assert steps_seen[0] == 0 and steps_seen[-1] > steps * 0.99  # the windows span the whole range

    counting.rows = 0
    exact = history.read_sampled(counting, segments, None, None, None, 800)  # type: ignore[arg-type]
    assert counting.rows == steps and "preview" not in orjson.loads(exact)
    counting.rows = 0
    assert history.read_preview(counting, segments, None, None, None, 800) == exact  # type: ignore[arg-type]
    assert history.read_sampled(counting, segments, None, None, None, 800) == exact  # type: ignore[arg-type]
    assert counting.rows == 0  # both answered from the cache

    # A new row moves the segment's last row: the cached downsample is not used again.
    store.append_rows("u" * 32, 0, [(steps, float(steps), {"_step": steps, "loss": 9.0})])
    fresh = orjson.loads(history.read_sampled(counting, segments, None, None, None, 800))  # type: ignore[arg-type]
    assert counting.rows == steps + 1
    assert fresh["columns"]["_step"][-1] == steps and max(v for v in fresh["columns"]["loss"] if v is not None) == 9.0
    store.close()
