"""runtree.Image: wandb.Image's constructor; PNG (or the file's own format) encoded on the writer thread."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from runtree.sdk.media.base import Encoded, Media, extension, file_value, read_path

_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "bmp": "BMP", "gif": "GIF", "webp": "WEBP"}


def _pil() -> Any:
    try:
        import PIL.Image
    except ImportError as e:
        raise ImportError("runtree.Image of an array or PIL image needs Pillow: pip install 'runtree[media]'") from e
    return PIL.Image


def _to_numpy(data: Any) -> Any:
    """torch / jax / tf tensors as numpy arrays, others unchanged."""
    if hasattr(data, "detach") and hasattr(data, "cpu"):
        return data.detach().cpu().numpy()
    if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        return np.asarray(data.numpy())
    return data


class Image(Media):
    """An image: a path, a numpy array (H,W / H,W,1|3|4 / C,H,W), a PIL image or a tensor; as wandb.Image."""

    _log_type = "image-file"
    MAX_ITEMS = 108

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        grouping: int | None = None,
        classes: Any = None,
        boxes: Any = None,
        masks: Any = None,
        file_type: str | None = None,
    ) -> None:
        self._caption = caption
        self._grouping = grouping
        self._classes = classes
        self._boxes = _check_boxes(boxes)
        self._masks = _check_masks(masks)
        self._mode = mode
        self._path: str | None = None
        self._array: np.ndarray[Any, Any] | None = None
        self._pil: Any = None
        self.format = (file_type or "png").lower()
        if self.format not in _FORMATS:
            raise ValueError(f"runtree.Image(file_type={file_type!r}): allowed: {', '.join(_FORMATS)}")
        data = _to_numpy(data_or_path)
        if isinstance(data, Image):
            self.__dict__.update({k: v for k, v in data.__dict__.items() if k not in ("_boxes",)})
            return
        if isinstance(data, str | os.PathLike):
            if not os.path.isfile(data):
                raise FileNotFoundError(f"runtree.Image({data!r}): no such file")
            self._path = os.fspath(data)
            self.format = extension(self._path, "png")
            try:
                with _pil().open(self._path) as im:  # read now, as wandb does: a file that is no image fails here
                    self._width, self._height = im.size
            except OSError as e:
                raise ValueError(f"runtree.Image({self._path!r}): not an image Pillow can read: {e}") from e
            return
        if isinstance(data, np.ndarray):
            self._array = _check_shape(np.array(data, copy=True))  # our own copy: the caller may reuse its buffer
            self._height, self._width = self._array.shape[:2]
            self.nbytes = self._array.nbytes
            return
        if type(data).__module__.startswith("PIL."):
            self._pil = data.copy()
            self._width, self._height = self._pil.size
            self.nbytes = self._width * self._height * 4
            return
        if hasattr(data, "savefig"):  # a matplotlib figure: rendered now, as wandb does
            buf = io.BytesIO()
            data.savefig(buf, format="png")
            self._pil = _pil().open(io.BytesIO(buf.getvalue()))
            self._width, self._height = self._pil.size
            return
        raise TypeError(f"runtree.Image takes a path, a numpy array, a PIL image or a tensor, not {type(data).__name__}")

    @property
    def image(self) -> Any:
        """The image as a PIL image (made on demand)."""
        return self._to_pil()

    def _to_pil(self) -> Any:
        if self._pil is not None:
            return self._pil
        if self._path is not None:
            return _pil().open(self._path)
        assert self._array is not None
        # As wandb 0.31 does: trivial dimensions squeezed, values cast to uint8 (no scaling), the mode from the channels.
        arr = self._array.squeeze() if self._array.ndim > 2 else self._array
        mode = self._mode or ("L" if arr.ndim == 2 else {3: "RGB", 4: "RGBA"}.get(arr.shape[-1], "L"))
        if mode == "RGBA" and self.format in ("jpg", "jpeg"):
            mode = "RGB"
        return _pil().fromarray(arr.astype(np.uint8)).convert(mode)

    def _bytes(self) -> bytes:
        if self._path is not None:
            return read_path(self._path)
        buf = io.BytesIO()
        img = self._to_pil()
        if self.format in ("jpg", "jpeg") and img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        if self.format == "png":
            img.save(buf, format="PNG", transparency=None)  # as wandb saves it: the same bytes
        else:
            img.save(buf, format=_FORMATS[self.format])
        return buf.getvalue()

    def _size(self) -> tuple[int, int]:
        if self._path is not None and not hasattr(self, "_width"):
            with _pil().open(self._path) as im:
                self._width, self._height = im.size
        return self._width, self._height

    def encode(self, key: str, step: int) -> Encoded:
        data = self._bytes()
        width, height = self._size()
        extra: dict[str, Any] = {"format": self.format, "width": width, "height": height, "caption": self._caption}
        if self._grouping:
            extra["grouping"] = self._grouping
        nested: list[Encoded] = []
        if self._boxes:  # as wandb: each set of boxes a JSON file of its own (media/metadata/boxes2D/...)
            extra["boxes"] = {}
            for name, val in self._boxes.items():
                body = json.dumps(val, separators=(",", ":")).encode()
                nested.append(file_value("boxes2D", key, step, body, "boxes2D.json"))
                extra["boxes"][name] = nested[-1].value
        if self._masks:  # each mask a PNG of class ids (media/images/mask/...), or the file it names
            extra["masks"] = {}
            for name, val in self._masks.items():
                if "path" in val:
                    body, ext = read_path(val["path"]), "mask." + extension(val["path"], "png")
                else:
                    buf = io.BytesIO()
                    _pil().fromarray(val["mask_data"].astype(np.int8)).convert("L").save(buf, format="PNG", transparency=None)
                    body, ext = buf.getvalue(), "mask.png"
                nested.append(file_value("mask", key, step, body, ext))
                extra["masks"][name] = nested[-1].value
        enc = file_value(self._log_type, key, step, data, self.format, **extra)
        for n in nested:
            enc.files.extend(n.files)
            enc.blobs.update(n.blobs)
        return enc

    @classmethod
    def encode_seq(cls, items: Sequence[Image], key: str, step: int) -> Encoded:
        """A list of images under one key: wandb's images/separated value (runtree adds each file's sha256)."""
        parts = [img.encode(key, step) for img in items[: cls.MAX_ITEMS]]
        first = parts[0].value
        value: dict[str, Any] = {
            "_type": "images/separated",
            "width": first["width"],
            "height": first["height"],
            "format": first["format"],
            "count": len(parts),
            "filenames": [p.value["path"] for p in parts],
            "files": [{"path": p.value["path"], "sha256": p.value["sha256"], "size": p.value["size"]} for p in parts],
        }
        captions = [p.value.get("caption") or "" for p in parts]
        if any(captions):
            value["captions"] = captions
        out = Encoded(value)
        for p in parts:
            out.files.extend(p.files)
            out.blobs.update(p.blobs)
        return out


def _check_boxes(boxes: Any) -> dict[str, Any] | None:
    """wandb's boxes={name: {"box_data": [...], "class_labels": {...}}}, as plain JSON (our copy)."""
    if boxes is None:
        return None
    if not isinstance(boxes, dict):
        raise TypeError(f"runtree.Image(boxes=...) takes a dict of {{name: {{'box_data': [...]}}}}, not {type(boxes).__name__}")
    out = {}
    for name, val in boxes.items():
        if not isinstance(val, dict) or not isinstance(val.get("box_data"), list):
            raise ValueError(f"runtree.Image(boxes={{{name!r}: ...}}): each set of boxes needs a 'box_data' list")
        out[str(name)] = json.loads(json.dumps(val, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    return out


def _check_masks(masks: Any) -> dict[str, Any] | None:
    """wandb's masks={name: {"mask_data": 2-D array of class ids, "class_labels": {...}} or {"path": ...}}."""
    if masks is None:
        return None
    if not isinstance(masks, dict):
        raise TypeError(f"runtree.Image(masks=...) takes a dict of {{name: {{'mask_data': array}}}}, not {type(masks).__name__}")
    out: dict[str, Any] = {}
    for name, val in masks.items():
        if isinstance(val, dict) and "path" in val:
            if not os.path.isfile(val["path"]):
                raise FileNotFoundError(f"runtree.Image(masks={{{name!r}: ...}}): no such file {val['path']!r}")
            out[str(name)] = {"path": os.fspath(val["path"])}
            continue
        data = _to_numpy(val.get("mask_data")) if isinstance(val, dict) else None
        if not isinstance(data, np.ndarray) or data.ndim != 2:
            raise ValueError(f"runtree.Image(masks={{{name!r}: ...}}): 'mask_data' must be a 2-D array of class ids")
        out[str(name)] = {"mask_data": np.array(data, copy=True)}
    return out


def _check_shape(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 3, 4):
        arr = np.ascontiguousarray(arr.transpose(1, 2, 0))  # CHW -> HWC, as wandb does
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ValueError(f"runtree.Image: an array must be (H, W), (H, W, 1|3|4) or (1|3|4, H, W), got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"runtree.Image: an array of {arr.dtype} cannot be an image")
    return arr


def _to_uint8(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Values as uint8, as wandb casts them (no scaling: log 0..255 values, or uint8)."""
    out: np.ndarray[Any, Any] = np.nan_to_num(arr).astype(np.uint8)
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, int | float | str | bool) or v is None:
        return v
    return str(v)
