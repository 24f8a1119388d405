"""Media and other non-scalar values in run.log rows: what the training thread queues, what the writer stores.

On the training thread (`Converter`, O(1) per value but for copies the caller may change afterwards): a Media
object is queued as it is, a list of images becomes one image sequence, a short list or array a JSON list, a
numpy array of more than 32 values a 32-bin histogram (as wandb does), anything else is left out of the row
with a warning, once per key, and the rest of the row is kept. On the writer thread (`encode_row`): each Media
object becomes its `_type` value and the files it references.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from runtree.domain.media import MediaFile
from runtree.domain.values import DROP, to_scalar
from runtree.errors import RuntreeWarning
from runtree.sdk.media.av import Audio, Video
from runtree.sdk.media.base import Encoded, Media
from runtree.sdk.media.image import Image
from runtree.sdk.media.plot import CustomChart
from runtree.sdk.media.table import Histogram, Table

log = logging.getLogger("runtree")
MAX_LIST = 100_000  # values in a logged list kept as JSON
_SEQ = (Image, Audio, Video)
_PLAIN = (int, float, str, bool, type(None))


class _Sequence(Media):
    """A list of Images (or Audio, Video) logged under one key."""

    def __init__(self, cls: Any, items: list[Any]) -> None:
        self.cls, self.items = cls, items
        self.nbytes = sum(i.nbytes for i in items)

    def encode(self, key: str, step: int) -> Encoded:
        enc: Encoded = self.cls.encode_seq(self.items, key, step)
        return enc


class _List(Media):
    """A list holding media of mixed kinds: each encoded, kept as a list (as wandb does)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.nbytes = sum(getattr(i, "nbytes", 0) for i in items)

    def encode(self, key: str, step: int) -> Encoded:
        out = Encoded({})
        values: list[Any] = []
        for i, item in enumerate(self.items):
            if isinstance(item, Media):
                enc = item.encode(f"{key}_{i}", step)
                out.files.extend(enc.files)
                out.blobs.update(enc.blobs)
                values.append(enc.value)
            else:
                values.append(item)
        out.value = values  # type: ignore[assignment]
        return out


class Converter:
    """The `convert` of one run's check_row: remembers which keys it has warned about."""

    def __init__(self) -> None:
        self.found = False  # a Media object was queued: the writer has encoding to do
        self.held = 0  # bytes the queued Media objects hold, since the last take_held()
        self._warned: set[str] = set()

    def _hold(self, m: Media) -> Media:
        self.found = True
        self.held += m.nbytes
        return m

    def take_held(self) -> int:
        n, self.held, self.found = self.held, 0, False
        return n

    def __call__(self, key: str, v: Any) -> Any:
        if isinstance(v, Media):
            return self._hold(v.snapshot())
        try:
            return to_scalar(key, v)
        except TypeError:
            pass
        if hasattr(v, "detach") and hasattr(v, "cpu"):  # a torch tensor
            v = v.detach().cpu().numpy()
        if isinstance(v, np.ndarray):
            if v.size == 1:
                return to_scalar(key, v.reshape(()))
            if v.size <= 32:
                return _json_list(v.tolist())
            if v.dtype.kind in "biuf":
                return self._hold(Histogram(v, num_bins=32))
        elif isinstance(v, list | tuple | range):
            items = list(v)
            if items and all(isinstance(x, Media) for x in items):
                cls = type(items[0])
                if cls in _SEQ and all(type(x) is cls for x in items):
                    return self._hold(_Sequence(cls, items))
                return self._hold(_List([x.snapshot() for x in items]))
            plain = _json_list(items)
            if plain is not DROP:
                return plain
        elif hasattr(v, "to_numpy") and hasattr(v, "columns"):  # a pandas DataFrame, as wandb: a Table
            return self._hold(Table(dataframe=v))
        elif hasattr(v, "savefig"):  # a matplotlib figure
            return self._hold(Image(v))
        return self._drop(key, v)

    def _drop(self, key: str, v: Any) -> Any:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(
                f"runtree: log(): key {key!r} has a value of type {type(v).__name__}, which runtree cannot store; it is left out "
                "(this warning is shown once per key). Log a number, a string, a list of these, a numpy array, or "
                "runtree.Image / Table / Histogram / Audio / Video / Html / Object3D.",
                RuntreeWarning,
                stacklevel=5,
            )
        return DROP


def _json_list(items: list[Any]) -> Any:
    """`items` as plain JSON (nested lists of scalars, numpy values made plain), or DROP when it is not that."""
    if len(items) > MAX_LIST:
        return DROP
    out: list[Any] = []
    for x in items:
        if type(x) in _PLAIN:
            out.append(x)
        elif isinstance(x, np.generic):
            out.append(x.item())
        elif isinstance(x, list | tuple):
            sub = _json_list(list(x))
            if sub is DROP:
                return DROP
            out.append(sub)
        else:
            return DROP
    return out


def held_by(row: dict[str, Any]) -> int:
    """The bytes the Media objects of `row` hold (what Converter counted for them)."""
    return sum(v.nbytes for v in row.values() if isinstance(v, Media))


def encode_row(step: int, row: dict[str, Any]) -> tuple[list[MediaFile], dict[str, bytes]]:
    """Replace each Media object in `row` by its `_type` value (in place); the files it references and their bytes.

    A value that cannot be encoded (its file vanished, ...) is left out of the row, and a warning names it."""
    files: list[MediaFile] = []
    blobs: dict[str, bytes] = {}
    for key in [k for k, v in row.items() if isinstance(v, Media)]:
        media = row.pop(key)
        try:
            enc = media.encode(key, step)
        except Exception as e:
            log.warning("runtree: could not store the %s logged under %r at step %d: %s", type(media).__name__, key, step, e)
            continue
        out_key = key + "_table" if isinstance(media, CustomChart) else key
        row[out_key] = enc.value
        files.extend(MediaFile(step, out_key, path, sha, size, kind) for path, sha, size, kind in enc.files)
        blobs.update(enc.blobs)
    return files, blobs
