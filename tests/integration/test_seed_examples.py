"""The two seed scripts of issue 2 run unchanged (with `import runtree as wandb`) on the embedded store."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import runtree

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run_example(name: str, rt_dir: Path, cwd: Path) -> None:
    env = {**os.environ, "RUNTREE_DIR": str(rt_dir)}
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_positional_project_fork_example(rt_dir: Path, tmp_path: Path) -> None:
    _run_example("fork_seed.py", rt_dir, tmp_path)
    api = runtree.Api()
    runs = api.runs("your_entity_name/your_project_name")
    assert len(runs) == 2
    parent, child = runs
    assert child.parent_uid == parent.uid and child.fork_step == 200
    assert parent.state == child.state == "finished"

    ph = parent.history()
    assert list(ph["_step"]) == list(range(300)) and list(ph["metric"]) == list(range(300))

    h = child.history()
    # 201 inherited rows (0..200), then 100 iterations x 2 committed logs each (201..400).
    assert list(h["_step"]) == list(range(401))
    assert list(h["metric"][:201]) == list(range(201))
    own = h[h["_step"] > 200]
    metric = own["metric"].dropna().tolist()
    extra = own["additional_metric"].dropna().tolist()
    assert metric[:50] == list(range(200, 250))
    assert metric[50:] == [i + 2 * math.sin(i / 3.0) for i in range(250, 300)]
    assert extra == [i * 1.1 for i in range(200, 300)]
    assert child.summary["metric"] == 299 + 2 * math.sin(299 / 3.0)
    assert child.summary["_step"] == 400
    # The parent is untouched.
    assert parent.summary["metric"] == 299 and len(parent.history()) == 300


def test_keyword_fork_example(rt_dir: Path, tmp_path: Path) -> None:
    _run_example("fork_seed_keywords.py", rt_dir, tmp_path)
    _parent, child = runtree.Api().runs("your_entity_name/your_project_name")
    h = child.history(keys=["metric"])
    assert list(h["_step"]) == list(range(251))
    assert list(h["metric"]) == list(range(201)) + [i * 2 for i in range(200, 250)]
    assert child.summary["loss"] == 1.0 / 201  # the inherited part counts, up to the fork step
