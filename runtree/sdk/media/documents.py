"""runtree.Html, Object3D, Molecule and Plotly with wandb's constructors: each one stored file."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from runtree.sdk.media.base import Encoded, Media, extension, file_value, read_path

_INJECT = '<base target="_blank"><link rel="stylesheet" type="text/css" href="https://app.wandb.ai/normalize.css" />'
OBJECT3D_FORMATS = ("obj", "gltf", "glb", "babylon", "stl", "pts.json")


class Html(Media):
    """An HTML page, from a string or a path; as wandb.Html (shown sandboxed by the UI)."""

    _log_type = "html-file"

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False) -> None:
        if hasattr(data, "read"):
            html = data.read()
        elif not data_is_not_path and isinstance(data, str | os.PathLike) and os.path.isfile(data):
            html = read_path(data).decode("utf-8", "replace")
        elif isinstance(data, str):
            html = data
        else:
            raise TypeError(f"runtree.Html takes a string, a path or a file object, not {type(data).__name__}")
        if inject and "<head" not in html:
            html = _INJECT + html  # as wandb.Html does for a fragment
        self._html = html

    def encode(self, key: str, step: int) -> Encoded:
        return file_value(self._log_type, key, step, self._html.encode("utf-8"), "html")


class Object3D(Media):
    """A 3D point cloud (N x 3|4|6 array) or a 3D file (obj, gltf, glb, babylon, stl, pts.json); as wandb.Object3D."""

    _log_type = "object3D-file"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        self._caption = caption
        self._path: str | None = None
        self._json: Any = None
        if isinstance(data_or_path, str | os.PathLike):
            path = os.fspath(data_or_path)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"runtree.Object3D({path!r}): no such file")
            if not path.lower().endswith(OBJECT3D_FORMATS):
                raise ValueError(f"runtree.Object3D: a file must be one of {', '.join(OBJECT3D_FORMATS)}, got {path!r}")
            self._path = path
        elif isinstance(data_or_path, dict):
            self._json = json.loads(json.dumps(data_or_path, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
        else:
            arr = np.array(data_or_path, dtype=np.float64, copy=True)
            if arr.ndim != 2 or arr.shape[1] not in (3, 4, 6):
                raise ValueError(f"runtree.Object3D: points must be an (N, 3|4|6) array, got shape {arr.shape}")
            self._json = arr.tolist()

    def encode(self, key: str, step: int) -> Encoded:
        if self._path is not None:
            ext = "pts.json" if self._path.lower().endswith(".pts.json") else extension(self._path, "obj")
            return file_value(self._log_type, key, step, read_path(self._path), ext, caption=self._caption)
        body = json.dumps(self._json, separators=(",", ":")).encode()
        return file_value(self._log_type, key, step, body, "pts.json", caption=self._caption)


class Molecule(Media):
    """A molecule file (pdb, pqr, mmcif, mcif, cif, sdf, sd, gro, mol2, mmtf); as wandb.Molecule."""

    _log_type = "molecule-file"
    FORMATS = ("pdb", "pqr", "mmcif", "mcif", "cif", "sdf", "sd", "gro", "mol2", "mmtf")

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        path = os.fspath(data_or_path) if isinstance(data_or_path, str | os.PathLike) else None
        if path is None or not os.path.isfile(path) or extension(path, "") not in self.FORMATS:
            raise ValueError(f"runtree.Molecule takes the path of a {', '.join(self.FORMATS)} file, got {data_or_path!r:.80}")
        self._path, self._caption = path, caption

    def encode(self, key: str, step: int) -> Encoded:
        return file_value(self._log_type, key, step, read_path(self._path), extension(self._path, "pdb"), caption=self._caption)


class Plotly(Media):
    """A plotly figure (or a matplotlib one, converted by plotly); as wandb.Plotly."""

    _log_type = "plotly-file"

    def __init__(self, val: Any) -> None:
        if hasattr(val, "savefig") and not hasattr(val, "to_plotly_json"):
            try:
                from plotly import tools  # type: ignore[import-not-found,unused-ignore]
            except ImportError as e:
                raise ImportError(
                    "runtree.Plotly of a matplotlib figure needs plotly (pip install plotly); or log runtree.Image(fig)"
                ) from e
            val = tools.mpl_to_plotly(val)
        if not hasattr(val, "to_plotly_json"):
            raise TypeError(f"runtree.Plotly takes a plotly figure, not {type(val).__name__}")
        self._json = json.loads(json.dumps(val.to_plotly_json(), default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))

    def encode(self, key: str, step: int) -> Encoded:
        return file_value(self._log_type, key, step, json.dumps(self._json, separators=(",", ":")).encode(), "plotly.json")
