"""A 42-run project for the workspace's browser tests, written straight to an embedded store (quick, deterministic).

- a depth-5 fork chain: `chain-0` (2,000 steps) forked at 400, each fork forked again 300 steps later
  (`chain-1` ... `chain-5`); `chain-0` was rewound at 1,500 after its forks were made;
- an optimizer x batch x lr grid (adam, sgd, lion) x (32, 128) x (1e-4, 1e-3, 1e-2), seeds 0 and 1:
  36 runs of 300 steps, group "grid", job_type "train", tags by optimizer; `grid-sgd-128-0.01-s1` failed,
  `grid-lion-32-0.01-s0` crashed, `grid-adam-128-0.001-s0` is running (a live run), `grid-sgd-32-0.0001-s0`
  was rewound at 150; `grid-lion-128-0.0001-s1` is the long run: a row every 1,000 steps up to 1,000,000.
Metrics: train/loss, train/acc each step; val/loss, val/acc and epoch every 50 steps, with
define_metric("val/*", step_metric="epoch"); lr each step.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtree.domain import lineage
from runtree.domain.records import CRASHED, FAILED, FINISHED, RUNNING, Rewind, RunRecord
from runtree.store import open_store

OPTIMIZERS = ("adam", "sgd", "lion")
BATCHES = (32, 128)
LRS = (1e-4, 1e-3, 1e-2)
SEEDS = (0, 1)
GRID_STEPS = 300
CHAIN_STEPS = 2000
LONG_LAST = 1_000_000
DEFS = {"val/*": {"step_metric": "epoch", "summary": [], "hidden": False}}


@dataclass(frozen=True)
class Project:
    directory: Path
    entity: str
    project: str
    uids: dict[str, str]  # name -> uid
    ids: dict[str, str]  # name -> short id


def _quality(opt: str, batch: int, lr: float) -> float:
    """How well a setting trains (higher is better): adam likes 1e-3, sgd 1e-2, lion 1e-4."""
    best = {"adam": 1e-3, "sgd": 1e-2, "lion": 1e-4}[opt]
    return 1.0 / (1.0 + abs(math.log10(lr / best))) * (1.1 if batch == 32 else 1.0)


def _row(step: int, t0: float, q: float, seed: int, lr: float) -> dict[str, Any]:
    wobble = 0.03 * math.sin(step * 0.37 + seed * 1.7) + 0.02 * math.sin(step * 2.9 + seed)
    loss = 2.3 * math.exp(-q * step / 120.0) + 0.05 + wobble
    row: dict[str, Any] = {
        "_step": step,
        "_timestamp": t0 + step * 0.5,
        "_runtime": step * 0.5,
        "train/loss": loss,
        "train/acc": max(0.0, min(1.0, 1.0 - loss / 2.4)),
        "lr": lr * (1.0 - 0.5 * min(1.0, step / 2000)),
    }
    if step % 50 == 0:
        row["epoch"] = step // 50
        row["val/loss"] = loss * 1.1 + 0.02
        row["val/acc"] = max(0.0, min(1.0, 1.0 - loss * 1.1 / 2.4))
    return row


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in rows:
        out.update({k: v for k, v in r.items()})
    return out


def make_project(directory: Path, entity: str = "tester", project: str = "sweep") -> Project:
    store = open_store(str(directory))
    uids: dict[str, str] = {}
    ids: dict[str, str] = {}
    now = time.time()
    t0 = now - 7200
    n = 0

    def new(name: str, **kw: Any) -> RunRecord:
        nonlocal n
        n += 1
        uid = f"{n:08x}" + "0" * 24
        rid = f"r{n:07d}"
        uids[name], ids[name] = uid, rid
        base = {
            "state": FINISHED,
            "created_at": t0 + n * 60,
            "updated_at": t0 + n * 60,
            "heartbeat_at": t0 + n * 60 + 150,
            "finished_at": t0 + n * 60 + 150,
        }
        base.update(kw)
        return RunRecord(uid=uid, entity=entity, project=project, id=rid, name=name, metric_defs=DEFS, **base)

    try:
        # The fork chain (its root has console output and system samples for the run page).
        q = _quality("adam", 32, 1e-3)
        chain: list[RunRecord] = []
        for d in range(6):
            first = 0 if d == 0 else 400 + 300 * (d - 1) + 1
            last = CHAIN_STEPS - 1 if d == 0 else min(CHAIN_STEPS - 1, first + 600)
            cfg = {"optimizer": "adam", "batch_size": 32, "lr": 1e-3 / (2**d), "seed": 0, "model": {"depth": 4}, "data": {"augment": True}}
            parent = chain[-1] if chain else None
            fork_step = None if parent is None else first - 1
            rec = new(
                f"chain-{d}",
                config=cfg,
                group="chain",
                job_type="finetune" if d else "train",
                tags=("chain",),
                parent_uid=None if parent is None else parent.uid,
                fork_step=fork_step,
            )
            segs = lineage.new_run(rec.uid) if parent is None else lineage.fork(store.read_segments(parent.uid), first - 1, rec.uid, None)
            rows = [_row(s, t0, q * (1 + 0.2 * d), 0, cfg["lr"]) for s in range(first, last + 1)]
            store.create_run(rec.evolve(last_step=last, summary=_summary(rows)), segs)
            store.append_rows(rec.uid, 0, [(r["_step"], r["_timestamp"], r) for r in rows])
            chain.append(rec)
            if d == 0:
                store.append_logs(
                    rec.uid,
                    0,
                    [
                        (0, t0 + 1, 0, "stdout", "training starts"),
                        (1, t0 + 2, 5, "stderr", "epoch 1: 100%|##########| 50/50 [00:01<00:00, 40.1it/s]"),
                        (2, t0 + 3, 9, "stderr", "WARNING: a harmless note on stderr"),
                        (3, t0 + 4, 12, "stderr", "Traceback (most recent call last):"),
                        (4, t0 + 5, 12, "stderr", "ValueError: loss went NaN"),
                    ],
                )
                store.append_system(
                    rec.uid,
                    0,
                    [
                        (t0 + 10 * i, {"system.cpu": 40.0 + i, "system.disk./.usageGB": 12.5, "system.memory_percent": 30.0 + i / 2})
                        for i in range(30)
                    ],
                )
        # chain-0 rewound at 1500 (its forks keep the rows they read), then logged on to 1800 at a lower lr.
        base = chain[0]
        visible, archived = lineage.rewind(store.read_segments(base.uid), base.uid, 1500, 1, None)
        store.rewind_run(base.uid, visible, Rewind(base.uid, 1500, 0, 1, now - 3000, tuple(archived)), epoch=1, last_step=1800)
        store.append_rows(base.uid, 1, [(s, t0 + s * 0.5, _row(s, t0, q * 0.7, 3, 5e-4)) for s in range(1501, 1801)])

        # The grid.
        for opt, batch, lr, seed in itertools.product(OPTIMIZERS, BATCHES, LRS, SEEDS):
            name = f"grid-{opt}-{batch}-{lr:g}-s{seed}"
            qq = _quality(opt, batch, lr) * (1.0 + 0.05 * seed)
            state, extra = FINISHED, {}
            steps: range | list[int] = range(GRID_STEPS)
            if name == "grid-sgd-128-0.01-s1":
                state, steps = FAILED, range(180)
            elif name == "grid-lion-32-0.01-s0":
                state, steps = CRASHED, range(120)
            elif name == "grid-adam-128-0.001-s0":
                state, steps, extra = RUNNING, range(200), {"finished_at": None, "heartbeat_at": now}
            elif name == "grid-lion-128-0.0001-s1":
                steps = list(range(0, LONG_LAST + 1, 1000))
            rows = [_row(s, t0, qq, seed, lr) for s in steps]
            cfg = {"optimizer": opt, "batch_size": batch, "lr": lr, "seed": seed, "model": {"depth": 4}, "data": {"augment": True}}
            rec = new(name, config=cfg, group="grid", job_type="train", tags=(opt,) + (("best",) if qq > 1.0 else ()), state=state, **extra)
            store.create_run(rec.evolve(last_step=rows[-1]["_step"], summary=_summary(rows)), lineage.new_run(rec.uid))
            store.append_rows(rec.uid, 0, [(r["_step"], r["_timestamp"], r) for r in rows])
            if name == "grid-sgd-32-0.0001-s0":
                visible, archived = lineage.rewind(store.read_segments(rec.uid), rec.uid, 150, 1, None)
                store.rewind_run(
                    rec.uid, visible, Rewind(rec.uid, 150, 0, 1, now - 2000, tuple(archived)), epoch=1, last_step=GRID_STEPS - 1
                )
                store.append_rows(rec.uid, 1, [(s, t0 + s, _row(s, t0, qq * 1.5, 5, lr)) for s in range(151, GRID_STEPS)])
    finally:
        store.close()
    assert len(uids) == 42, len(uids)
    return Project(directory, entity, project, uids, ids)
