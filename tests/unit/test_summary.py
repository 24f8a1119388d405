import math

import pytest

from runtree.domain.summary import MetricDef, SummaryBuilder, match_def, parse_summary_modes
from runtree.errors import UsageError


def _build(defs: list[MetricDef], rows: list[dict[str, float]]) -> dict[str, object]:
    b = SummaryBuilder({d.name: d for d in defs})
    b.add_all(rows)
    return b.result()


ROWS = [{"loss": 3.0, "acc": 0.1}, {"loss": 1.0, "acc": 0.5}, {"loss": 2.0, "acc": 0.3}]


def test_default_is_last_value() -> None:
    assert _build([], ROWS) == {"loss": 2.0, "acc": 0.3}


def test_modes_follow_wandb_shape() -> None:
    s = _build([MetricDef("loss", summary=("min",)), MetricDef("acc", summary=("max", "mean"))], ROWS)
    assert s["loss"] == {"min": 1.0}
    assert s["acc"] == {"max": 0.5, "mean": pytest.approx(0.3)}


def test_first_last_and_none() -> None:
    s = _build([MetricDef("loss", summary=("first", "last")), MetricDef("acc", summary=("none",))], ROWS)
    assert s == {"loss": {"first": 3.0, "last": 2.0}}


def test_glob_and_exact_precedence() -> None:
    defs = {"val/*": MetricDef("val/*", summary=("max",)), "val/loss": MetricDef("val/loss", summary=("min",))}
    assert match_def(defs, "val/acc") is defs["val/*"]
    assert match_def(defs, "val/loss") is defs["val/loss"]
    assert match_def(defs, "train/loss") is None


def test_override_until_logged_again() -> None:
    b = SummaryBuilder()
    b.add({"loss": 1.0})
    b.set("loss", 99)
    b.set("manual", 7)
    assert b.result() == {"loss": 99, "manual": 7}
    b.add({"loss": 0.5})
    assert b.result() == {"loss": 0.5, "manual": 7}


def test_nan_does_not_poison_min() -> None:
    s = _build([MetricDef("x", summary=("min", "max"))], [{"x": 2.0}, {"x": math.nan}, {"x": 1.0}])
    assert s["x"] == {"min": 1.0, "max": 2.0}


def test_bad_mode_is_named() -> None:
    with pytest.raises(UsageError, match="unknown summary 'median'"):
        parse_summary_modes("loss", "min,median")
