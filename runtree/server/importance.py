"""Parameter importance for the sweep panel, as W&B computes it: correlation and random-forest importance.

Features are config values (dotted keys for nested ones): numbers as they are, booleans as 0/1, any other
value one-hot per distinct value (`optimizer=adam`). The target is a summary metric; runs without a
number for it are left out and counted. The random forest needs scikit-learn (`pip install
'runtree[sweeps]'`); without it only correlations are given, and the answer says why.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from runtree.domain.records import RunRecord

MAX_CATEGORIES = 20  # distinct values of one categorical key that get a one-hot column each


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}: nested config and summary values as the UI's table names them."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and math.isfinite(float(v)):
        return float(v)
    return None


def _features(configs: Sequence[Mapping[str, Any]], params: Sequence[str]) -> tuple[list[str], np.ndarray]:
    names: list[str] = []
    cols: list[list[float]] = []
    for p in params:
        values = [c.get(p) for c in configs]
        nums = [_num(v) for v in values]
        if all(n is not None or v is None for n, v in zip(nums, values, strict=True)):
            names.append(p)
            cols.append([math.nan if n is None else n for n in nums])
            continue
        cats = sorted({str(v) for v in values if v is not None})[:MAX_CATEGORIES]
        for cat in cats:
            names.append(f"{p}={cat}")
            cols.append([1.0 if v is not None and str(v) == cat else 0.0 for v in values])
    x = np.asarray(cols, dtype=np.float64).T if cols else np.empty((len(configs), 0))
    return names, x


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return None
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def rank(runs: Sequence[RunRecord], metric: str, params: Sequence[str]) -> dict[str, Any]:
    """{metric, runs, skipped, method, note, params: [{key, correlation, importance}]}, most important first."""
    used, ys = [], []
    for r in runs:
        y = _num(flatten(r.summary).get(metric))
        if y is not None:
            used.append(flatten(r.config))
            ys.append(y)
    names, x = _features(used, params)
    y_arr = np.asarray(ys, dtype=np.float64)
    rows: list[dict[str, Any]] = [{"key": n, "correlation": _correlation(x[:, j], y_arr), "importance": None} for j, n in enumerate(names)]
    method, note = None, None
    if len(ys) < 3 or not names:
        note = f"{len(ys)} run(s) have a number for {metric}: at least 3 are needed"
    else:
        try:
            from sklearn.ensemble import RandomForestRegressor  # type: ignore[import-untyped]
        except ImportError:
            note = "random-forest importance needs scikit-learn on the server: pip install 'runtree[sweeps]'"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-empty column has no median: 0 below
                medians = np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0, keepdims=True)
            filled = np.nan_to_num(np.where(np.isfinite(x), x, medians), nan=0.0)
            forest = RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=1).fit(filled, y_arr)
            for row, imp in zip(rows, forest.feature_importances_, strict=True):
                row["importance"] = float(imp)
            method = "random forest (scikit-learn)"
    rows.sort(key=lambda r: (-(r["importance"] or 0.0), -abs(r["correlation"] or 0.0), r["key"]))
    return {"metric": metric, "runs": len(ys), "skipped": len(runs) - len(ys), "method": method, "note": note, "params": rows}
