"""Media values: W&B's `_type` shapes and their checks, the blob directory, and what log() makes of lists and arrays."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from runtree.domain import media
from runtree.domain.values import DROP, check_row
from runtree.errors import BadMediaValue, NoSuchFile, RuntreeWarning, StoreError
from runtree.sdk.media import Histogram, Image, Table
from runtree.sdk.media.rows import Converter, encode_row
from runtree.store.blobs import open_blobs

SHA = "a" * 64


def test_file_path_is_wandbs() -> None:
    assert media.file_path("image-file", "img", 3, SHA, "png") == f"media/images/img_3_{'a' * 20}.png"
    assert media.file_path("table-file", "../x y", 0, SHA, "table.json").startswith("media/table/_/x_y_0_")


@pytest.mark.parametrize(
    "value",
    [
        {"_type": "image-file", "path": "/etc/passwd", "sha256": SHA, "size": 1},
        {"_type": "image-file", "path": "media/../../x.png", "sha256": SHA, "size": 1},
        {"_type": "image-file", "path": "media/x.png", "sha256": "nothex", "size": 1},
        {"_type": "image-file", "path": "media/x.png", "sha256": SHA, "size": -1},
        {"_type": "histogram", "values": [1, 2], "bins": [0, 1]},
        {"_type": "histogram", "values": ["a"], "bins": [0, 1]},
        {"_type": "histogram", "values": [1] * 600, "bins": list(range(601))},
        {"_type": "images/separated", "filenames": ["a.png"], "files": [{"path": "a.png", "sha256": "x", "size": 1}]},
    ],
)
def test_bad_values_are_refused_naming_the_key(value: dict[str, object]) -> None:
    with pytest.raises(BadMediaValue, match="'k'"):
        media.media_files(0, {"k": value})


def test_files_of_a_row() -> None:
    row = {
        "img": {"_type": "image-file", "path": "media/images/a.png", "sha256": SHA, "size": 5},
        "h": {"_type": "histogram", "values": [1], "bins": [0.0, 1.0]},
        "imgs": {"_type": "images/separated", "filenames": ["b.png"], "files": [{"path": "b.png", "sha256": "b" * 64, "size": 2}]},
        "x": 1.0,
        "unknown": {"_type": "something-new", "anything": [1]},
    }
    files = media.media_files(7, row)
    assert [(f.key, f.path, f.size, f.step) for f in files] == [("img", "media/images/a.png", 5, 7), ("imgs", "b.png", 2, 7)]


def test_blob_directory(tmp_path: Path) -> None:
    blobs = open_blobs(f"file://{tmp_path}")
    data = b"\x89PNG bytes"
    sha = blobs.put(data)
    assert sha == hashlib.sha256(data).hexdigest() and blobs.has(sha) and blobs.size(sha) == len(data)
    assert blobs.put(data) == sha  # once
    assert (tmp_path / sha[:2] / sha).read_bytes() == data
    with blobs.open(sha) as f:
        assert f.read() == data
    with pytest.raises(StoreError, match="mismatch"):
        blobs.put(b"other", sha)
    with pytest.raises(NoSuchFile):
        blobs.open("../../etc/passwd")
    assert blobs.delete(sha) and not blobs.has(sha) and not blobs.delete(sha)
    with pytest.raises(StoreError, match="issue 11"):
        open_blobs("s3://bucket/x")


def test_lists_and_arrays_as_wandb_logs_them() -> None:
    conv = Converter()
    row = check_row({"small": np.arange(3), "one": np.array([2.5]), "lst": [1, [2, 3], "a"], "x": 1, "big": np.arange(100)}, conv)
    assert row["small"] == [0, 1, 2] and row["one"] == 2.5 and row["lst"] == [1, [2, 3], "a"] and row["x"] == 1
    assert isinstance(row["big"], Histogram) and conv.found
    encode_row(0, row)
    # what wandb 0.31 writes for np.arange(100): a 32-bin histogram
    assert row["big"]["_type"] == "histogram" and row["big"]["values"][:3] == [4, 3, 3] and len(row["big"]["bins"]) == 33


def test_an_unsupported_value_warns_once_and_keeps_the_row() -> None:
    conv = Converter()
    with pytest.warns(RuntreeWarning, match="'bad'"):
        row = check_row({"bad": object(), "x": 1}, conv)
    assert row == {"x": 1}
    assert conv("bad", object()) is DROP  # no second warning (filterwarnings=error would fail the test)


def test_media_are_copied_at_construction_and_encoded_later() -> None:
    arr = np.zeros((4, 4, 3), dtype=np.uint8)
    img = Image(arr, caption="c")
    arr[:] = 255  # the caller reuses its buffer
    t = Table(columns=["a"], data=[[1]])
    row = check_row({"img": img, "t": t}, Converter())
    t.add_data(2)  # after log(): not in what was logged
    files, blobs = encode_row(5, row)
    assert row["img"]["width"] == 4 and row["img"]["caption"] == "c" and row["img"]["path"].startswith("media/images/img_5_")
    assert row["t"]["nrows"] == 1 and {f.key for f in files} == {"img", "t"}
    from io import BytesIO

    from PIL import Image as PILImage

    assert np.asarray(PILImage.open(BytesIO(blobs[row["img"]["sha256"]]))).max() == 0


def test_a_logged_files_name_says_its_key_and_step() -> None:
    sha = "ab" * 32
    f = media.file_of_path(f"media/images/val/img_12_{sha[:20]}.png", sha, 5)
    assert f is not None and (f.key, f.step, f.type, f.size) == ("val/img", 12, "image-file", 5)
    t = media.file_of_path(f"media/table/preds_0_{sha[:20]}.table.json", sha, 1)
    assert t is not None and (t.key, t.type) == ("preds", "table-file")
    assert media.file_of_path(f"media/images/img_1_{'0' * 20}.png", sha, 1) is None  # the bytes are not that file
    assert media.file_of_path("config.yaml", sha, 1) is None
    assert media.file_of_path("media/unknown/x_1_" + sha[:20] + ".bin", sha, 1) is None
