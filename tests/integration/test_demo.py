"""The demo, run as `runtree demo`: real training, a fork, a fork of the fork and a rewind, read back with the Api."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runtree
from runtree.demo import run_demo


def test_demo_builds_the_lineage_it_prints(rt_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "demo-store"
    proc = subprocess.run(
        [sys.executable, "-m", "runtree.cli", "demo", "--dir", str(d)], capture_output=True, text=True, env=dict(os.environ), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    api = runtree.Api(store=str(d))
    runs = {r.name: r for r in api.runs("demo")}
    assert set(runs) == {"baseline", "faster", "faster-annealed", "too-hot"}
    base, fork, fork2, hot = runs["baseline"], runs["faster"], runs["faster-annealed"], runs["too-hot"]
    assert all(r.state == "finished" and r.last_step == 299 for r in runs.values())

    assert fork.forked_from == {"uid": base.uid, "step": 150} and fork.config["lr"] == 3.0
    assert fork2.forked_from == {"uid": fork.uid, "step": 225} and fork2.config["lr"] == 0.3
    assert hot.parent_uid is None and hot.config["lr"] == 1.0
    [archived] = hot.archived_segments()
    assert archived.rewound_at == 100 and archived.first_step == 101
    assert list(archived.history(keys=["loss"])["_step"]) == list(range(101, 300))

    out = proc.stdout
    assert f"{fork.id} (faster) forked at _step 150 · finished · last step 299" in out
    assert f"{fork2.id} (faster-annealed) forked at _step 225" in out
    assert f"{hot.id} (too-hot) · finished · last step 299 · ↺ rewound at 100 (archived 101–299)" in out

    # Each continuation starts from the weights at its fork/rewind step: its first row repeats what the
    # source computed there, and the new learning rate only shows from the row after.
    b, f = base.history(keys=["loss"]), fork.history(keys=["loss"])
    assert list(f["_step"]) == list(range(300))
    assert list(f["loss"][:152]) == list(b["loss"][:152]) and f["loss"][152] != b["loss"][152]
    h, old = hot.history(keys=["loss", "lr"]), archived.history(keys=["loss"])
    assert h["loss"][101] == old["loss"][0] and h["loss"][102] != old["loss"][1]
    assert set(h["lr"][:101]) == {100.0} and set(h["lr"][101:]) == {1.0}

    # Training is real: the baseline learns the task, and val/acc is summarised by its max.
    assert b["loss"].iloc[-1] < 0.2 * b["loss"].iloc[0]
    val = base.history(keys=["val/acc"])["val/acc"]
    assert base.summary["val/acc"] == {"max": val.max()} and val.max() > 0.9


def test_demo_needs_enough_steps(rt_dir: Path) -> None:
    with pytest.raises(runtree.UsageError, match="steps=5"):
        run_demo(rt_dir, steps=5)
    proc = subprocess.run([sys.executable, "-m", "runtree.cli", "demo", "--steps", "5"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "steps=5" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_inside_a_process_with_a_current_run(rt_dir: Path) -> None:
    outer = runtree.init(project="mine")
    lines: list[str] = []
    result = run_demo(rt_dir, steps=24, say=lines.append)
    assert runtree.run is outer  # the demo's runs did not take over the current run
    outer.finish()
    assert runtree.Api().run(result.fork_of_fork).forked_from == {"uid": runtree.Api().run(result.fork).uid, "step": 18}
    assert any(line.startswith("[baseline] step 0:") for line in lines)
