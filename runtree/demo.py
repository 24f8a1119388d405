"""The demo: train a small numpy MLP for real, fork it with another learning rate, rewind a run that ran too hot.

Every run goes through the public SDK (runtree.init / log / define_metric / finish), as user code would.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rich.console import Console

import runtree
from runtree.api import Api
from runtree.render import fork_tree

PROJECT = "demo"
HIDDEN = 16
SEED = 0
MIN_STEPS = 12  # the fork, rewind and second fork points must be distinct steps
BASE_LR, FAST_LR, ANNEAL_LR, HOT_LR = 1.0, 3.0, 0.3, 100.0

Array = NDArray[np.float64]
Params = dict[str, Array]


@dataclass(frozen=True)
class Data:
    x_train: Array
    y_train: Array
    x_val: Array
    y_val: Array


@dataclass(frozen=True)
class DemoResult:
    """What the demo made, by run path: a baseline, its fork, a fork of that fork, and a rewound run."""

    directory: Path
    steps: int
    base: str
    fork: str
    fork_of_fork: str
    rewound: str
    fork_step: int
    fork_of_fork_step: int
    rewind_step: int


def make_data(seed: int = SEED, n: int = 400) -> Data:
    """Two interleaved half-moons with noise: not linearly separable, so the hidden layer earns its keep."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, np.pi, n)
    label = rng.integers(0, 2, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(label[:, None] == 0, upper, lower) + rng.normal(0.0, 0.15, (n, 2))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    y = label.astype(np.float64)
    cut = n * 3 // 4
    return Data(x[:cut], y[:cut], x[cut:], y[cut:])


def init_params(seed: int = SEED) -> Params:
    rng = np.random.default_rng(seed + 1)
    return {
        "w1": rng.normal(0.0, 1.0, (2, HIDDEN)),
        "b1": np.zeros(HIDDEN),
        "w2": rng.normal(0.0, 1.0 / np.sqrt(HIDDEN), (HIDDEN, 1)),
        "b2": np.zeros(1),
    }


def _forward(p: Params, x: Array) -> tuple[Array, Array]:
    hidden = np.tanh(x @ p["w1"] + p["b1"])
    logits = (hidden @ p["w2"] + p["b2"])[:, 0]
    return hidden, logits


def _loss_acc(logits: Array, y: Array) -> tuple[float, float]:
    # log(1 + e^z) - y*z is binary cross-entropy on logits, stable for any z.
    loss = float(np.mean(np.logaddexp(0.0, logits) - y * logits))
    acc = float(np.mean((logits > 0) == (y > 0.5)))
    return loss, acc


def train_step(p: Params, data: Data, lr: float) -> dict[str, float]:
    """One full-batch gradient step, in place; returns the metrics of the parameters it started from."""
    hidden, logits = _forward(p, data.x_train)
    loss, acc = _loss_acc(logits, data.y_train)
    val_loss, val_acc = _loss_acc(_forward(p, data.x_val)[1], data.y_val)
    n = len(data.y_train)
    d_logits = (0.5 * (1.0 + np.tanh(0.5 * logits)) - data.y_train)[:, None] / n  # sigmoid, without overflow
    d_hidden = (d_logits @ p["w2"].T) * (1.0 - hidden**2)
    grads = {
        "w2": hidden.T @ d_logits,
        "b2": d_logits.sum(axis=0),
        "w1": data.x_train.T @ d_hidden,
        "b1": d_hidden.sum(axis=0),
    }
    for k, g in grads.items():
        p[k] -= lr * g
    return {"loss": loss, "acc": acc, "val/loss": val_loss, "val/acc": val_acc, "lr": lr}


def train(run: runtree.Run, p: Params, data: Data, lr: float, until: int, snapshots: dict[int, Params], say: Callable[[str], None]) -> None:
    """Train from run.step up to step `until` (exclusive), logging each step and keeping the weights after it."""
    run.define_metric("val/acc", summary="max")
    run.define_metric("val/loss", summary="min")
    while run.step < until:
        step = run.step
        metrics = train_step(p, data, lr)
        run.log(metrics)
        # The weights after step s are what a fork or rewind at s continues from. Snapshots in memory are
        # simpler and cheaper than replaying from the seed; the model is ~70 floats, so keeping all is fine.
        snapshots[step] = {k: v.copy() for k, v in p.items()}
        if step % 50 == 0 or step == until - 1:
            say(f"[{run.name}] step {step}: loss={metrics['loss']:.4f} acc={metrics['acc']:.3f} val/acc={metrics['val/acc']:.3f}")


def run_demo(directory: str | os.PathLike[str], steps: int = 300, say: Callable[[str], None] = print) -> DemoResult:
    """Make the demo's four runs in the embedded store under `directory`; `say` gets the progress lines."""
    if steps < MIN_STEPS:
        raise runtree.UsageError(f"demo steps={steps} is too few; at least {MIN_STEPS} are needed to fork and rewind")
    directory = Path(directory)
    data = make_data()
    fork_at, fork2_at, rewind_at = steps // 2, steps * 3 // 4, steps // 3

    def start(**kw: object) -> runtree.Run:
        # reinit="create_new": the demo may run inside a process that already has a current run.
        return runtree.init(project=PROJECT, dir=directory, reinit="create_new", **kw)  # type: ignore[arg-type]

    # 1. The baseline.
    base = start(name="baseline", config={"lr": BASE_LR, "hidden": HIDDEN, "seed": SEED, "steps": steps})
    base_snaps: dict[int, Params] = {}
    train(base, init_params(), data, BASE_LR, steps, base_snaps, say)
    base.finish()

    # 2. A fork at the midpoint with a higher learning rate, continuing from the baseline's weights there.
    fork = start(name="faster", fork_from=f"{base.id}?_step={fork_at}", config={"lr": FAST_LR})
    fork_snaps: dict[int, Params] = {}
    train(fork, _copy(base_snaps[fork_at]), data, FAST_LR, steps, fork_snaps, say)
    fork.finish()

    # 3. A fork of the fork that anneals the learning rate.
    fork2 = start(name="faster-annealed", fork_from=f"{fork.id}?_step={fork2_at}", config={"lr": ANNEAL_LR})
    train(fork2, _copy(fork_snaps[fork2_at]), data, ANNEAL_LR, steps, {}, say)
    fork2.finish()

    # 4. A run whose learning rate is far too high (its loss jumps around), rewound and continued with a sane one.
    hot = start(name="too-hot", config={"lr": HOT_LR, "hidden": HIDDEN, "seed": SEED, "steps": steps})
    hot_snaps: dict[int, Params] = {}
    train(hot, init_params(), data, HOT_LR, steps, hot_snaps, say)
    hot.finish()
    rewound = start(resume_from=f"{hot.id}?_step={rewind_at}", config={"lr": BASE_LR})
    train(rewound, _copy(hot_snaps[rewind_at]), data, BASE_LR, steps, {}, say)
    rewound.finish()

    return DemoResult(directory, steps, base.path, fork.path, fork2.path, rewound.path, fork_at, fork2_at, rewind_at)


def show(result: DemoResult, console: Console) -> None:
    """Print the demo project's fork tree and what to try next."""
    api = Api(store=str(result.directory))
    console.print(fork_tree(api, PROJECT))
    console.print()
    where = f" --dir {result.directory}"
    console.print("Explore it:", style="bold")
    console.print(f"  runtree{where} runs {PROJECT}", markup=False)
    console.print(f"  runtree{where} tree {PROJECT}", markup=False)
    console.print(f"  runtree{where} history {result.fork} --keys loss,val/acc", markup=False)
    console.print(f"  runtree{where} ui", markup=False)


def open_ui(result: DemoResult, port: int | None = None) -> None:
    """Serve the web UI on the demo's store, opened at the project's fork tree, until Ctrl-C."""
    from runtree.server.ui import serve_local

    entity = result.base.split("/", 1)[0]
    serve_local(str(result.directory), port=port, path=f"/p/{entity}/{PROJECT}/tree")


def _copy(p: Params) -> Params:
    return {k: v.copy() for k, v in p.items()}
