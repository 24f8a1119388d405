"""runtree.Audio and runtree.Video with wandb's constructors: WAV from arrays (stdlib wave), GIF via Pillow."""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Sequence
from typing import Any

import numpy as np

from runtree.sdk.media.base import Encoded, Media, extension, file_value, read_path

AUDIO_FORMATS = ("wav", "mp3", "ogg", "flac", "m4a")
VIDEO_FORMATS = ("gif", "mp4", "webm", "ogg")


class Audio(Media):
    """A sound: a file path, or an array of samples in [-1, 1] with sample_rate; as wandb.Audio."""

    _log_type = "audio-file"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        self._caption, self._sample_rate = caption, sample_rate
        self._path: str | None = None
        self._array: np.ndarray[Any, Any] | None = None
        if isinstance(data_or_path, str | os.PathLike):
            if not os.path.isfile(data_or_path):
                raise FileNotFoundError(f"runtree.Audio({data_or_path!r}): no such file")
            self._path = os.fspath(data_or_path)
            if extension(self._path, "") not in AUDIO_FORMATS:
                raise ValueError(f"runtree.Audio: a file must be one of {', '.join(AUDIO_FORMATS)}, got {self._path!r}")
            return
        if sample_rate is None:
            raise ValueError("Argument 'sample_rate' is required when instantiating wandb.Audio with raw data.")
        arr = np.array(data_or_path, dtype=np.float64, copy=True)
        if arr.ndim not in (1, 2):
            raise ValueError(f"runtree.Audio: samples must be (n,) or (n, channels), got shape {arr.shape}")
        self._array = arr
        self.nbytes = arr.nbytes

    def _wav(self) -> bytes:
        assert self._array is not None and self._sample_rate is not None
        arr = self._array if self._array.ndim == 2 else self._array[:, None]
        pcm = (np.clip(np.nan_to_num(arr), -1.0, 1.0) * 32767).astype("<i2")
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(arr.shape[1])
            w.setsampwidth(2)
            w.setframerate(int(self._sample_rate))
            w.writeframes(pcm.tobytes())
        return buf.getvalue()

    def encode(self, key: str, step: int) -> Encoded:
        if self._path is not None:
            return file_value(self._log_type, key, step, read_path(self._path), extension(self._path, "wav"), caption=self._caption)
        assert self._array is not None and self._sample_rate is not None
        duration = len(self._array) / float(self._sample_rate)
        return file_value(
            self._log_type, key, step, self._wav(), "wav", caption=self._caption, sample_rate=self._sample_rate, duration=duration
        )

    @classmethod
    def encode_seq(cls, items: Sequence[Audio], key: str, step: int) -> Encoded:
        parts = [a.encode(key, step) for a in items]
        value: dict[str, Any] = {"_type": "audio", "count": len(parts), "audio": [p.value for p in parts]}
        out = Encoded(value)
        for p in parts:
            out.files.extend(p.files)
            out.blobs.update(p.blobs)
        return out


class Video(Media):
    """A video: a file (gif, mp4, webm, ogg), or an array (time, channels, height, width) written as a GIF; as wandb.Video."""

    _log_type = "video-file"

    def __init__(self, data_or_path: Any, caption: str | None = None, fps: int | None = None, format: str | None = None) -> None:
        self._caption, self._fps = caption, fps or 4
        self._path: str | None = None
        self._array: np.ndarray[Any, Any] | None = None
        self._format = (format or "gif").lower()
        if self._format not in VIDEO_FORMATS:
            raise ValueError(f"runtree.Video(format={format!r}): allowed: {', '.join(VIDEO_FORMATS)}")
        if isinstance(data_or_path, str | os.PathLike):
            if not os.path.isfile(data_or_path):
                raise FileNotFoundError(f"runtree.Video({data_or_path!r}): no such file")
            self._path = os.fspath(data_or_path)
            self._format = extension(self._path, self._format)
            return
        if hasattr(data_or_path, "detach"):
            data_or_path = data_or_path.detach().cpu().numpy()
        arr = np.array(data_or_path, copy=True)
        if arr.ndim == 5:  # (batch, time, channels, height, width): tiled into one row, as wandb does
            arr = np.concatenate(list(arr), axis=-1)
        if arr.ndim != 4 or arr.shape[1] not in (1, 3, 4):
            raise ValueError(f"runtree.Video: an array must be (time, channels, height, width), got shape {arr.shape}")
        if self._format != "gif":
            raise NotImplementedError(
                f"runtree.Video of an array is written as a GIF; format={format!r} needs a file (log the file's path)"
            )
        self._array = arr
        self.nbytes = arr.nbytes

    def _gif(self) -> tuple[bytes, int, int]:
        from runtree.sdk.media.image import _pil, _to_uint8

        assert self._array is not None
        arr = self._array if self._array.dtype == np.uint8 else _to_uint8(self._array)
        frames = [_pil().fromarray(f.transpose(1, 2, 0)[:, :, 0] if f.shape[0] == 1 else f.transpose(1, 2, 0)) for f in arr]
        buf = io.BytesIO()
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / self._fps), loop=0)
        return buf.getvalue(), arr.shape[3], arr.shape[2]

    def encode(self, key: str, step: int) -> Encoded:
        if self._path is not None:
            return file_value(self._log_type, key, step, read_path(self._path), self._format, caption=self._caption)
        data, width, height = self._gif()
        return file_value(self._log_type, key, step, data, "gif", caption=self._caption, width=width, height=height)

    @classmethod
    def encode_seq(cls, items: Sequence[Video], key: str, step: int) -> Encoded:
        parts = [v.encode(key, step) for v in items]
        captions = [p.value.get("caption") for p in parts]
        out = Encoded({"_type": "videos", "count": len(parts), "videos": [p.value for p in parts], "captions": captions})
        for p in parts:
            out.files.extend(p.files)
            out.blobs.update(p.blobs)
        return out
