"""runtree.Table and runtree.Histogram with wandb's constructors; encoded on the writer thread."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from runtree.sdk.media.base import Encoded, Media, file_value

MAX_BINS = 512


def cell(v: Any, key: str, step: int, out: Encoded) -> Any:
    """A table cell as JSON: media in a cell are stored as files of their own, numpy values made plain."""
    if isinstance(v, Media):
        enc = v.encode(key, step)
        out.files.extend(enc.files)
        out.blobs.update(enc.blobs)
        return enc.value
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN; wandb writes null too
    if isinstance(v, list | tuple):
        return [cell(x, key, step, out) for x in v]
    if isinstance(v, dict):
        return {str(k): cell(x, key, step, out) for k, x in v.items()}
    if isinstance(v, int | float | str | bool) or v is None:
        return v
    return str(v)


class Table(Media):
    """Rows under named columns (data, rows, a numpy array or a pandas DataFrame); as wandb.Table."""

    _log_type = "table-file"
    MAX_ROWS = 10_000

    def __init__(
        self,
        columns: Sequence[Any] | None = None,
        data: Any = None,
        rows: Any = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: bool | list[bool] = True,
        allow_mixed_types: bool = False,
        log_mode: str | None = "IMMUTABLE",
    ) -> None:
        if log_mode not in (None, "IMMUTABLE", "MUTABLE", "INCREMENTAL"):
            raise ValueError(f"runtree.Table(log_mode={log_mode!r}): allowed: 'IMMUTABLE', 'MUTABLE', 'INCREMENTAL'")
        self.log_mode = log_mode or "IMMUTABLE"
        if dataframe is not None or (data is not None and hasattr(data, "to_numpy") and hasattr(data, "columns")):
            df = dataframe if dataframe is not None else data
            self.columns: list[Any] = [str(c) for c in df.columns]
            self.data: list[list[Any]] = [list(r) for r in df.itertuples(index=False, name=None)]
            return
        data = rows if data is None else data
        if isinstance(data, np.ndarray):
            data = data.tolist()
        self.data = [list(r) for r in (data or [])]
        if columns is None:
            columns = [f"Column {i + 1}" for i in range(len(self.data[0]) if self.data else 0)]
        self.columns = list(columns)
        for i, r in enumerate(self.data):
            if len(r) != len(self.columns):
                raise ValueError(f"runtree.Table: row {i} has {len(r)} values for {len(self.columns)} columns")

    def add_data(self, *data: Any) -> None:
        if len(data) != len(self.columns):
            raise ValueError(f"runtree.Table.add_data: {len(data)} values for {len(self.columns)} columns")
        self.data.append(list(data))

    def add_column(self, name: str, data: Sequence[Any], optional: bool = False) -> None:
        if self.data and len(data) != len(self.data):
            raise ValueError(f"runtree.Table.add_column({name!r}): {len(data)} values for {len(self.data)} rows")
        self.columns.append(name)
        if not self.data:
            self.data = [[v] for v in data]
        else:
            for r, v in zip(self.data, data, strict=True):
                r.append(v)

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        i = self.columns.index(name)
        col = [r[i] for r in self.data]
        return np.array(col) if convert_to == "numpy" else col

    def get_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def snapshot(self) -> Table:
        # Logged as it is now, even if the caller adds rows afterwards (wandb serialises at log() too).
        t = Table.__new__(Table)
        t.columns, t.data, t.log_mode = list(self.columns), [list(r) for r in self.data], self.log_mode
        t.nbytes = 64 * len(t.data) * max(1, len(t.columns))
        return t

    def encode(self, key: str, step: int) -> Encoded:
        out = Encoded({})
        rows = [[cell(v, key, step, out) for v in r] for r in self.data]
        body = json.dumps({"columns": [str(c) for c in self.columns], "data": rows}, separators=(",", ":"), allow_nan=False).encode()
        enc = file_value(self._log_type, key, step, body, "table.json", ncols=len(self.columns), nrows=len(rows), log_mode=self.log_mode)
        enc.files.extend(out.files)
        enc.blobs.update(out.blobs)
        return enc


class Histogram(Media):
    """A histogram of a sequence (num_bins, up to 512) or of numpy's (counts, edges); as wandb.Histogram."""

    _log_type = "histogram"
    MAX_LENGTH = MAX_BINS

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        self._seq: np.ndarray[Any, Any] | None = None
        self._hist: tuple[list[Any], list[float]] | None = None
        if np_histogram is not None:
            if len(np_histogram) != 2:
                raise ValueError("Expected np_histogram to be a tuple of (values, bin_edges) or sequence to be specified")
            counts, edges = (x.tolist() if hasattr(x, "tolist") else list(x) for x in np_histogram)
            if len(counts) > MAX_BINS:
                raise ValueError(f"The maximum length of a histogram is {MAX_BINS}")
            if len(counts) + 1 != len(edges):
                raise ValueError("len(bins) must be len(histogram) + 1")
            self._hist = (counts, [float(e) for e in edges])
            return
        if not isinstance(num_bins, int) or not 1 <= num_bins <= MAX_BINS:
            raise ValueError(f"runtree.Histogram(num_bins={num_bins!r}): between 1 and {MAX_BINS}")
        if hasattr(sequence, "detach"):
            sequence = sequence.detach().cpu().numpy()
        arr = np.array(sequence, dtype=np.float64, copy=True).ravel()  # our copy; binned on the writer thread
        self._seq, self._bins = arr, num_bins
        self.nbytes = arr.nbytes

    def _compute(self) -> tuple[list[Any], list[float]]:
        if self._hist is None:
            assert self._seq is not None
            arr = self._seq[np.isfinite(self._seq)]
            counts, edges = np.histogram(arr, bins=self._bins)
            self._hist = (counts.tolist(), edges.tolist())
            self._seq = None
        return self._hist

    @property
    def histogram(self) -> list[Any]:
        return self._compute()[0]

    @property
    def bins(self) -> list[float]:
        return self._compute()[1]

    def encode(self, key: str, step: int) -> Encoded:
        counts, edges = self._compute()
        return Encoded({"_type": "histogram", "values": counts, "bins": edges})
