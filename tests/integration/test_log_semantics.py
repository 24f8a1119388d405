"""run.log follows wandb's step rules and value rules; bad values are refused without losing anything."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import runtree
from runtree.errors import RuntreeWarning, UsageError


def _history(run: runtree.Run) -> list[dict[str, object]]:
    return runtree.Api().run(run.path).history(pandas=False)  # type: ignore[no-any-return]


def test_rows_carry_step_timestamp_runtime(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    run.log({"a": 1})
    run.log({"a": 2})
    run.finish()
    rows = _history(run)
    assert [r["_step"] for r in rows] == [0, 1]
    for r in rows:
        assert isinstance(r["_timestamp"], float) and isinstance(r["_runtime"], float) and r["_runtime"] >= 0


def test_commit_false_and_explicit_steps(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    run.log({"a": 1}, commit=False)
    run.log({"b": 2})                   # step 0: a, b
    run.log({"x": 1}, step=10)          # pending at 10
    run.log({"y": 2}, step=10)          # merged at 10
    with pytest.warns(RuntreeWarning, match=r"step 5 that is less than the current step 10; keys \['z'\] were not logged"):
        run.log({"z": 3}, step=5)
    run.log({"w": 4}, commit=False)     # still step 10
    run.log({"v": 5})                   # commits 10
    run.log({"u": 6}, step=12, commit=True)
    run.log({"t": 7})                   # step 13
    run.finish()
    rows = [{k: v for k, v in r.items() if not k.startswith("_") or k == "_step"} for r in _history(run)]
    assert rows == [
        {"a": 1, "b": 2, "_step": 0},
        {"x": 1, "y": 2, "w": 4, "v": 5, "_step": 10},
        {"u": 6, "_step": 12},
        {"t": 7, "_step": 13},
    ]
    assert run.step == 14


def test_pending_row_is_stored_at_finish(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    run.log({"a": 1}, step=3)
    run.finish()
    assert [r["_step"] for r in _history(run)] == [3]


def test_values_kept_exactly(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    run.log({"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "np": np.float32(0.5), "arr": np.array(3),
             "s": "hello", "b": False, "nested": {"a": {"b": 1}}})
    run.finish()
    (row,) = _history(run)
    assert math.isnan(row["nan"]) and row["inf"] == math.inf and row["ninf"] == -math.inf  # type: ignore[arg-type]
    assert (row["np"], row["arr"], row["s"], row["b"], row["nested.a.b"]) == (0.5, 3, "hello", False, 1)


def test_a_value_runtree_cannot_store_is_named_and_the_rest_of_the_row_kept(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    run.log({"a": 1})
    with pytest.warns(RuntreeWarning, match=r"key 'bad' has a value of type object"):
        run.log({"ok": 2, "bad": object(), "lst": [1, 2]})
    run.log({"a": 3})
    run.finish()
    assert [(r["_step"], r.get("a"), r.get("ok"), r.get("lst"), "bad" in r) for r in _history(run)] == [
        (0, 1, None, None, False),
        (1, None, 2, [1, 2], False),
        (2, 3, None, None, False),
    ]


def test_bad_step_argument(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    with pytest.raises(UsageError, match=r"step=-1"):
        run.log({"a": 1}, step=-1)
    with pytest.raises(UsageError, match=r"step='x'"):
        run.log({"a": 1}, step="x")  # type: ignore[arg-type]
    run.finish()
    with pytest.raises(UsageError, match="is finished"):
        run.log({"a": 1})


def test_summary_follows_define_metric(rt_dir: Path) -> None:
    run = runtree.init(project="p")
    run.define_metric("loss", summary="min")
    run.define_metric("val/*", summary="max,mean")
    run.define_metric("hidden", summary="none")
    for loss, acc in [(3.0, 0.1), (1.0, 0.5), (2.0, 0.3)]:
        run.log({"loss": loss, "val/acc": acc, "hidden": 1, "last": loss})
    assert run.summary["loss"] == {"min": 1.0}
    run.summary["manual"] = 7
    run.finish()
    s = runtree.Api().run(run.path).summary
    assert s["loss"] == {"min": 1.0} and s["val/acc"]["max"] == 0.5 and s["val/acc"]["mean"] == pytest.approx(0.3)
    assert "hidden" not in s and s["last"] == 2.0 and s["manual"] == 7 and s["_step"] == 2


def test_module_level_functions_follow_the_current_run(rt_dir: Path) -> None:
    with pytest.raises(UsageError, match=r"call runtree\.init\(\)"):
        runtree.log({"a": 1})
    with pytest.raises(UsageError, match=r"call runtree\.init\(\)"):
        runtree.config["x"]
    assert runtree.run is None
    run = runtree.init(project="p", config={"lr": 0.1})
    assert runtree.run is run and runtree.config["lr"] == 0.1 and runtree.config.lr == 0.1
    runtree.define_metric("a", summary="max")
    runtree.log({"a": 5})
    runtree.log({"a": 2})
    assert runtree.summary["a"] == {"max": 5}
    runtree.finish()
    assert runtree.run is None
    assert runtree.Api().run(run.path).state == "finished"


def test_context_manager_marks_failed_on_exception(rt_dir: Path) -> None:
    with pytest.raises(RuntimeError), runtree.init(project="p") as run:
        run.log({"a": 1})
        raise RuntimeError("boom")
    assert runtree.Api().run(run.path).state == "failed"
    with runtree.init(project="p") as ok:
        ok.log({"a": 1})
    assert runtree.Api().run(ok.path).state == "finished"


def test_config_rules(rt_dir: Path) -> None:
    run = runtree.init(project="p", config={"lr": 0.1, "layers": (1, 2)})
    run.config.bs = 32
    run.config.update({"opt": "adam"})
    with pytest.raises(runtree.ConfigError, match=r'change value of key "lr" from 0\.1 to 0\.2'):
        run.config.update({"lr": 0.2})
    run.config.update({"lr": 0.2}, allow_val_change=True)
    run.finish()
    assert runtree.Api().run(run.path).config == {"lr": 0.2, "layers": [1, 2], "bs": 32, "opt": "adam"}


def test_reinit_returns_previous_by_default(rt_dir: Path) -> None:
    a = runtree.init(project="p")
    assert runtree.init(project="p") is a
    b = runtree.init(project="p", reinit="finish_previous")
    assert b is not a and runtree.Api().run(a.path).state == "finished"
    b.finish()


def test_disabled_mode_stores_nothing(rt_dir: Path) -> None:
    run = runtree.init(project="p", mode="disabled")
    run.log({"a": 1})
    assert run.summary["a"] == 1
    run.finish()
    assert not (rt_dir / "runtree.db").exists()
