"""One W&B script (examples/media_everything.py), run with the real wandb client (offline, then imported) and
with `import runtree as wandb`: the two runs' rows agree value by value, the media files byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from runtree.importers.wandb_offline import import_runs
from runtree.store import open_store
from runtree.store.base import Store
from tests.integration.test_import_wandb import _wandb_env

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "media_everything.py"
WANDB_ONLY = {"artifact_path", "_latest_artifact_path"}  # a table as a W&B artifact: runtree has none yet (issue 11)
RUNTREE_ONLY = {"chart"}  # the chart preset kept with its table


def _rows(store: Store, uid: str) -> list[dict[str, Any]]:
    return list(store.read_rows(store.read_segments(uid)))


def _same(key: str, a: Any, b: Any, wb: Store, wb_uid: str, rt: Store, rt_uid: str) -> None:
    if isinstance(a, dict) and "_type" in a:
        a = {k: v for k, v in a.items() if k not in WANDB_ONLY}
        b = {k: v for k, v in b.items() if k not in RUNTREE_ONLY}
        assert a.keys() == b.keys(), (key, sorted(a), sorted(b))
        for k in a:
            if k == "files":  # each file of a sequence: its bytes
                assert [f["sha256"] for f in a[k]] == [f["sha256"] for f in b[k]], key
            else:
                assert a[k] == b[k] or (isinstance(a[k], float) and abs(a[k] - b[k]) < 1e-9), (key, k, a[k], b[k])
        if isinstance(a.get("sha256"), str):
            assert wb.read_media(wb_uid, a["sha256"]) == rt.read_media(rt_uid, b["sha256"]), key
    else:
        assert a == b, (key, a, b)


def test_one_script_through_wandb_and_through_runtree(tmp_path: Path) -> None:
    wb_dir, rt_dir = tmp_path / "wb", tmp_path / "rt"
    wb_dir.mkdir()
    rt_dir.mkdir()
    made = subprocess.run([sys.executable, str(SCRIPT)], env=_wandb_env(wb_dir), cwd=wb_dir, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    env = {**_wandb_env(rt_dir), "RUNTREE_DIR": str(rt_dir / "store"), "RUNTREE_ENTITY": "tester", "RUNTREE_SYSTEM_SAMPLE_INTERVAL": "0"}
    mine = subprocess.run([sys.executable, str(SCRIPT), "--runtree"], env=env, cwd=rt_dir, capture_output=True, text=True, timeout=300)
    assert mine.returncode == 0, mine.stderr
    assert "RuntreeWarning" not in mine.stderr, mine.stderr  # nothing was left out

    wb = open_store(str(tmp_path / "imported"))
    import_runs(wb, [wb_dir / "wandb"], entity="tester")
    rt = open_store(str(rt_dir / "store"))
    (a_run,), (b_run,) = wb.list_runs(), rt.list_runs()
    a_rows, b_rows = _rows(wb, a_run.uid), _rows(rt, b_run.uid)
    assert [r["_step"] for r in a_rows] == [r["_step"] for r in b_rows] == [0, 1, 2, 3]
    for a, b in zip(a_rows, b_rows, strict=True):
        keys = {k for k in a if not k.startswith("_")}
        assert keys == {k for k in b if not k.startswith("_")}, (sorted(keys), sorted(b))
        for k in sorted(keys):
            _same(k, a[k], b[k], wb, a_run.uid, rt, b_run.uid)
    # The tables' contents, the media listings and the summaries' media agree too.
    a_files = [(f.step, f.key, f.path, f.sha256, f.size) for f in wb.list_media(wb.read_segments(a_run.uid))]
    b_files = [(f.step, f.key, f.path, f.sha256, f.size) for f in rt.list_media(rt.read_segments(b_run.uid))]
    assert a_files == b_files
    table = json.loads(rt.read_media(b_run.uid, b_rows[2]["preds"]["sha256"]))
    assert table["columns"] == ["id", "label", "score"] and table["data"][1] == [1, "class0", 0.2]
    for k in ("img", "preds", "weights", "curve_table"):
        _same(k, a_run.summary[k], b_run.summary[k], wb, a_run.uid, rt, b_run.uid)
