"""Importing offline W&B runs that logged media (the real wandb client): each `_type` value whole in its row, its
file stored once and listed at its step; a fork of such a run sees the parent's media up to its fork step."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from runtree.importers.wandb_offline import import_runs
from runtree.store import open_store
from tests.integration.test_import_wandb import _wandb_env

SCRIPT = """
import numpy as np, wandb
run = wandb.init(project="media", id="mparent1")
for s in range(4):
    run.log({
        "img": wandb.Image(np.full((8, 8, 3), s * 30, dtype=np.uint8), caption=f"s{s}"),
        "tbl": wandb.Table(columns=["a", "b"], data=[[s, "x"], [s + 1, "y"]]),
        "hist": wandb.Histogram(np.arange(20) + s, num_bins=4),
        "imgs": [wandb.Image(np.zeros((4, 4, 3), dtype=np.uint8)), wandb.Image(np.ones((4, 4, 3), dtype=np.uint8))],
        "lst": [s, s + 1],
        "loss": 1.0 / (s + 1),
    })
run.finish()
child = wandb.init(project="media", id="mchild01", fork_from="mparent1?_step=1")
child.log({"img": wandb.Image(np.full((8, 8, 3), 200, dtype=np.uint8)), "loss": 0.1})
child.finish()
"""


def test_an_offline_runs_media_are_rows_and_files(tmp_path: Path) -> None:
    root = tmp_path / "wb"
    root.mkdir()
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=_wandb_env(root), cwd=root, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    store = open_store(str(tmp_path / "rt"))
    report = import_runs(store, [root / "wandb"], entity="tester")
    assert len(report.imported) == 2, report
    parent = store.find_run("tester", "media", "mparent1")
    child = store.find_run("tester", "media", "mchild01")
    assert parent is not None and child is not None
    rows = list(store.read_rows(store.read_segments(parent.uid)))
    assert [r["_step"] for r in rows] == [0, 1, 2, 3]
    pdir = next((root / "wandb").glob("offline-run-*-mparent1")) / "files"
    for s, row in enumerate(rows):
        img = row["img"]
        assert (img["_type"], img["caption"], img["width"]) == ("image-file", f"s{s}", 8) and "img._type" not in row
        on_disk = (pdir / img["path"]).read_bytes()
        assert store.read_media(parent.uid, img["sha256"]) == on_disk and hashlib.sha256(on_disk).hexdigest() == img["sha256"]
        table = json.loads(store.read_media(parent.uid, row["tbl"]["sha256"]))
        assert table == {"columns": ["a", "b"], "data": [[s, "x"], [s + 1, "y"]]}
        counts, edges = np.histogram(np.arange(20) + s, bins=4)
        assert row["hist"] == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
        assert row["imgs"]["count"] == 2 and [f["size"] > 0 for f in row["imgs"]["files"]] == [True, True]
        assert row["lst"] == [s, s + 1]
    assert {f.key for f in store.list_media(store.read_segments(parent.uid))} == {"img", "tbl", "imgs"}
    assert parent.summary["img"]["caption"] == "s3"
    # The fork: the parent's media of steps 0..1, then its own image at step 2.
    files = [(f.step, f.key) for f in store.list_media(store.read_segments(child.uid)) if f.key == "img"]
    assert files == [(0, "img"), (1, "img"), (2, "img")]
    own = next(store.read_rows(store.read_segments(child.uid), min_step=2))
    assert own["img"]["_type"] == "image-file" and store.read_media(child.uid, own["img"]["sha256"])[:4] == b"\x89PNG"
