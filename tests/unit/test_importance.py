"""Parameter importance for the sweep panel: correlation and random-forest importance of config keys."""

from __future__ import annotations

import math

from runtree.domain.records import RunRecord
from runtree.server.importance import flatten, rank


def _runs() -> list[RunRecord]:
    out = []
    for i in range(24):
        lr = 10 ** (-4 + (i % 4))  # decides the metric
        opt = ("adam", "sgd", "lion")[i % 3]  # noise
        acc = 0.9 - 0.1 * abs(math.log10(lr) + 3) + 0.001 * (i % 3)
        out.append(RunRecord(uid=f"u{i}", entity="e", project="p", id=f"r{i}", name=f"r{i}",
                             config={"lr": lr, "opt": opt, "seed": 0, "model": {"depth": 4}}, summary={"val": {"acc": acc}}))  # fmt: skip
    out.append(RunRecord(uid="x", entity="e", project="p", id="x", name="x", config={"lr": 1.0}, summary={}))
    return out


def test_the_key_that_decides_the_metric_ranks_first() -> None:
    got = rank(_runs(), "val.acc", ["lr", "opt", "seed", "model.depth"])
    assert (got["runs"], got["skipped"]) == (24, 1)  # the run without the metric is left out and counted
    assert got["method"] == "random forest (scikit-learn)"
    assert got["params"][0]["key"] == "lr"
    assert {p["key"] for p in got["params"]} == {"lr", "opt=adam", "opt=lion", "opt=sgd", "seed", "model.depth"}
    constant = next(p for p in got["params"] if p["key"] == "seed")
    assert constant["correlation"] is None and constant["importance"] == 0.0  # no variation, no signal


def test_too_few_runs_give_a_reason_not_an_error() -> None:
    got = rank(_runs()[:2], "val.acc", ["lr"])
    assert got["method"] is None and "at least 3" in got["note"]
    assert flatten({"a": {"b": 1}, "c": {}}) == {"a.b": 1, "c": {}}
