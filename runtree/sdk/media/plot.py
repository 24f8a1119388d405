"""runtree.plot: wandb.plot's chart presets. A chart is logged as wandb logs it: its table under `<key>_table`,
the preset (vega spec id, fields, title) kept with that table value under "chart"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from runtree.sdk.media.base import Encoded, Media
from runtree.sdk.media.table import Table

__all__ = ["CustomChart", "bar", "histogram", "line", "line_series", "plot_table", "scatter"]


class CustomChart(Media):
    """A table drawn by a chart preset (wandb's CustomChart)."""

    _log_type = "table-file"

    def __init__(
        self, table: Table, spec_id: str, fields: dict[str, str], string_fields: dict[str, str] | None = None, split_table: bool = False
    ) -> None:
        if not isinstance(table, Table):
            raise TypeError(f"a chart needs a runtree.Table, not {type(table).__name__}")
        self.table, self.spec_id, self.fields, self.string_fields = table, spec_id, dict(fields), dict(string_fields or {})
        self.split_table = split_table

    def snapshot(self) -> CustomChart:
        return CustomChart(self.table.snapshot(), self.spec_id, self.fields, self.string_fields, self.split_table)

    def encode(self, key: str, step: int) -> Encoded:
        enc = self.table.encode(key + "_table", step)
        enc.value["chart"] = {"id": self.spec_id, "fields": self.fields, "string_fields": self.string_fields}
        return enc


def plot_table(
    vega_spec_name: str, data_table: Table, fields: dict[str, Any], string_fields: dict[str, Any] | None = None, split_table: bool = False
) -> CustomChart:
    return CustomChart(data_table, vega_spec_name, fields, string_fields, split_table)


def _check(table: Table, *cols: str) -> None:
    for c in cols:
        if c not in table.columns:
            raise ValueError(f"the chart's column {c!r} is not in the table's columns {table.columns}")


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str = "", split_table: bool = False) -> CustomChart:
    _check(table, x, y)
    fields = {"x": x, "y": y} | ({"stroke": stroke} if stroke else {})
    return CustomChart(table, "wandb/line/v0", fields, {"title": title}, split_table)


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> CustomChart:
    _check(table, x, y)
    return CustomChart(table, "wandb/scatter/v0", {"x": x, "y": y}, {"title": title}, split_table)


def bar(table: Table, label: str, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    _check(table, label, value)
    return CustomChart(table, "wandb/bar/v0", {"label": label, "value": value}, {"title": title}, split_table)


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    _check(table, value)
    return CustomChart(table, "wandb/histogram/v0", {"value": value}, {"title": title}, split_table)


def line_series(
    xs: Iterable[Iterable[Any]] | Iterable[Any],
    ys: Iterable[Iterable[Any]],
    keys: Iterable[str] | None = None,
    title: str = "",
    xname: str = "x",
    split_table: bool = False,
) -> CustomChart:
    ys_l = [list(y) for y in ys]
    xs_l = list(xs)
    shared = not xs_l or not isinstance(xs_l[0], Iterable) or isinstance(xs_l[0], str)
    xs_per: Sequence[list[Any]] = [list(xs_l)] * len(ys_l) if shared else [list(x) for x in xs_l]  # type: ignore[arg-type]
    names = list(keys) if keys is not None else [f"key_{i}" for i in range(len(ys_l))]
    if len(names) != len(ys_l) or len(xs_per) != len(ys_l):
        raise ValueError(f"line_series: {len(ys_l)} series, {len(names)} keys and {len(xs_per)} x lists must agree")
    data = [[x, name, y] for xs_i, name, ys_i in zip(xs_per, names, ys_l, strict=True) for x, y in zip(xs_i, ys_i, strict=False)]
    table = Table(columns=["step", "lineKey", "lineVal"], data=data)
    return CustomChart(
        table,
        "wandb/lineseries/v0",
        {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"},
        {"title": title, "xname": xname},
        split_table,
    )


def confusion_matrix(
    probs: Sequence[Sequence[float]] | None = None,
    y_true: Sequence[Any] | None = None,
    preds: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion Matrix Curve",
    split_table: bool = False,
) -> CustomChart:
    import numpy as np

    if y_true is None or (preds is None and probs is None):
        raise ValueError("confusion_matrix needs y_true and either preds or probs")
    pred = list(preds) if preds is not None else [int(np.argmax(p)) for p in probs or ()]
    labels = list(class_names) if class_names is not None else sorted({*y_true, *pred})
    index = {c: i for i, c in enumerate(labels)} if class_names is None else None
    counts: dict[tuple[int, int], int] = {}
    for t, p in zip(y_true, pred, strict=True):
        ti, pi = (index[t], index[p]) if index is not None else (int(t), int(p))
        counts[(ti, pi)] = counts.get((ti, pi), 0) + 1
    data = [[labels[i], labels[j], counts.get((i, j), 0)] for i in range(len(labels)) for j in range(len(labels))]
    table = Table(columns=["Actual", "Predicted", "nPredictions"], data=data)
    return CustomChart(
        table,
        "wandb/confusion_matrix/v1",
        {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
        {"title": title},
        split_table,
    )
