"""Media as history values, end to end: the SDK logs every media type into the embedded store, a server (SQLite
and PostgreSQL, through RemoteStore) and a spool synced later; forks and rewinds see exactly the media of their
visible segments; the files match what the real wandb client writes for the same objects."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image as PILImage

import runtree
from runtree.store import open_store
from runtree.store.base import Store
from tests.integration.server_fixture import Server


def _img(step: int, size: int = 16) -> np.ndarray[Any, Any]:
    return np.full((size, size, 3), step * 10 % 256, dtype=np.uint8)


def _all_media(step: int) -> dict[str, Any]:
    return {
        "img": runtree.Image(_img(step), caption=f"s{step}"),
        "tbl": runtree.Table(columns=["a", "b"], data=[[step, "x"], [step + 1, "y"]]),
        "hist": runtree.Histogram(np.arange(100) + step, num_bins=10),
        "imgs": [runtree.Image(_img(step, 8)), runtree.Image(_img(step + 1, 8))],
        "aud": runtree.Audio(np.zeros(800), sample_rate=8000),
        "vid": runtree.Video(np.zeros((3, 3, 8, 8), dtype=np.uint8), fps=2),
        "html": runtree.Html("<b>hi</b>"),
        "obj": runtree.Object3D(np.arange(12, dtype=float).reshape(4, 3)),
        "chart": runtree.plot.line(runtree.Table(columns=["x", "y"], data=[[1, 2], [2, 3]]), "x", "y", title="t"),
        "arr": np.linspace(0, 1, 64),
        "lst": [1, 2.5, "three"],
        "loss": 1.0 / (step + 1),
    }


def _check_row(store: Store, uid: str, row: dict[str, Any], step: int) -> None:
    assert row["loss"] == 1.0 / (step + 1) and row["lst"] == [1, 2.5, "three"]
    img = row["img"]
    assert img["_type"] == "image-file" and (img["width"], img["height"], img["format"], img["caption"]) == (16, 16, "png", f"s{step}")
    data = store.read_media(uid, img["sha256"])
    assert hashlib.sha256(data).hexdigest() == img["sha256"] and len(data) == img["size"]
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(data))), _img(step))
    table = json.loads(store.read_media(uid, row["tbl"]["sha256"]))
    assert table == {"columns": ["a", "b"], "data": [[step, "x"], [step + 1, "y"]]} and row["tbl"]["nrows"] == 2
    counts, edges = np.histogram(np.arange(100) + step, bins=10)
    assert row["hist"] == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    assert row["arr"]["_type"] == "histogram" and len(row["arr"]["values"]) == 32
    assert row["imgs"]["_type"] == "images/separated" and row["imgs"]["count"] == 2 and len(row["imgs"]["files"]) == 2
    assert row["aud"]["_type"] == "audio-file" and store.read_media(uid, row["aud"]["sha256"])[:4] == b"RIFF"
    assert row["vid"]["_type"] == "video-file" and store.read_media(uid, row["vid"]["sha256"])[:3] == b"GIF"
    assert store.read_media(uid, row["html"]["sha256"]).endswith(b"<b>hi</b>")
    assert json.loads(store.read_media(uid, row["obj"]["sha256"])) == np.arange(12, dtype=float).reshape(4, 3).tolist()
    chart = row["chart_table"]
    assert chart["_type"] == "table-file" and chart["chart"]["id"] == "wandb/line/v0" and "chart" not in row


def _log_all(steps: int) -> runtree.Run:
    run = runtree.init(project="media")
    for step in range(steps):
        run.log(_all_media(step))
    run.finish()
    return run


def test_every_media_type_is_a_row_value_with_its_file(rt_dir: Path) -> None:
    run = _log_all(3)
    store = open_store()
    rows = list(store.read_rows(store.read_segments(run.uid)))
    assert [r["_step"] for r in rows] == [0, 1, 2]
    for step, row in enumerate(rows):
        _check_row(store, run.uid, row, step)
    listed = store.list_media(store.read_segments(run.uid))
    assert {f.key for f in listed} == {"img", "tbl", "imgs", "aud", "vid", "html", "obj", "chart_table"}
    assert all(f.size > 0 for f in listed) and [f.step for f in listed] == sorted(f.step for f in listed)
    # Stored once: the same audio/html/object bytes at every step are one blob each.
    blobs = [p for p in (rt_dir / "files").rglob("*") if p.is_file()]
    assert len(blobs) == len({f.sha256 for f in listed})
    assert store.get_run(run.uid).summary["img"]["caption"] == "s2"
    df = runtree.Api().run(f"media/{run.id}").history()
    assert df["img"].iloc[1]["caption"] == "s1"


def test_forks_and_rewinds_see_the_media_of_their_segments(rt_dir: Path) -> None:
    parent = runtree.init(project="media")
    for s in range(10):
        parent.log({"img": runtree.Image(_img(s)), "x": s})
    parent.finish()
    child = runtree.init(project="media", fork_from=f"{parent.id}?_step=4")
    for s in range(5, 8):
        child.log({"img": runtree.Image(_img(100 + s)), "x": s})
    child.finish()
    store = open_store()

    def steps_and_pixels(uid: str) -> list[tuple[int, int]]:
        files = store.list_media(store.read_segments(uid))
        return [(f.step, int(np.asarray(PILImage.open(io.BytesIO(store.read_media(uid, f.sha256))))[0, 0, 0])) for f in files]

    assert steps_and_pixels(child.uid) == [(s, s * 10) for s in range(5)] + [(s, (100 + s) * 10 % 256) for s in range(5, 8)]
    rows = list(store.read_rows(store.read_segments(child.uid)))
    assert [r["img"]["path"] for r in rows[:5]] == [f.path for f in store.list_media(store.read_segments(parent.uid))][:5]

    again = runtree.init(project="media", resume_from=f"{parent.id}?_step=6")
    again.log({"img": runtree.Image(_img(77)), "x": 7})
    again.finish()
    assert steps_and_pixels(parent.uid) == [(s, s * 10) for s in range(7)] + [(7, 77 * 10 % 256)]
    archived = store.list_rewinds(parent.uid)[0].archived
    assert [f.step for f in store.list_media(list(archived))] == [7, 8, 9]
    old = store.list_media(list(archived))[0]
    assert store.read_media(parent.uid, old.sha256)  # the archive's files stay readable
    assert steps_and_pixels(child.uid)[:5] == [(s, s * 10) for s in range(5)]  # the fork is untouched by the rewind


@pytest.mark.parametrize("server_fixture", ["sqlite_server", "postgres_server"])
def test_a_server_run_uploads_its_media_once(
    server_fixture: str, request: pytest.FixtureRequest, rt_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: Server = request.getfixturevalue(server_fixture)
    remote = server.fresh_store()
    request.addfinalizer(remote.close)
    monkeypatch.setenv("RUNTREE_BASE_URL", server.url)
    monkeypatch.setenv("RUNTREE_API_KEY", server.admin_key)
    run = _log_all(2)
    rows = list(remote.read_rows(remote.read_segments(run.uid)))
    for step, row in enumerate(rows):
        _check_row(remote, run.uid, row, step)
    fork = runtree.init(project="media", fork_from=f"{run.id}?_step=0")
    fork.log({"img": runtree.Image(_img(9))})
    fork.finish()
    files = remote.list_media(remote.read_segments(fork.uid))
    assert [(f.step, f.key) for f in files if f.key == "img"] == [(0, "img"), (1, "img")]
    headers = {"Authorization": f"Bearer {server.admin_key}"}
    listed = httpx.get(f"{server.url}/api/v1/runs/{fork.uid}/media", headers=headers).json()["media"]
    assert {m["key"] for m in listed} >= {"img", "tbl"} and all(m["size"] > 0 for m in listed)
    img = rows[0]["img"]
    got = httpx.get(f"{server.url}/api/v1/runs/{fork.uid}/media/{img['sha256']}", headers=headers)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png" and got.content[:4] == b"\x89PNG"
    assert "sandbox" in got.headers["content-security-policy"]
    # What the run does not reference is not served through it; bytes that do not hash to their name are refused.
    assert httpx.get(f"{server.url}/api/v1/runs/{fork.uid}/media/{'0' * 64}", headers=headers).status_code == 404
    assert httpx.get(f"{server.url}/api/v1/runs/{fork.uid}/media/..%2F..%2Fx", headers=headers).status_code == 404
    params = {"epoch": 0, "step": 1, "key": "k", "path": "a.png", "type": "image-file"}
    bad = httpx.put(f"{server.url}/api/v1/runs/{fork.uid}/media/{'0' * 64}", content=b"not that", params=params, headers=headers)
    assert bad.status_code == 422 and "hash" in bad.json()["error"]["message"]
    evil = httpx.put(
        f"{server.url}/api/v1/runs/{fork.uid}/media/{hashlib.sha256(b'x').hexdigest()}",
        content=b"x",
        params={**params, "path": "/etc/passwd"},
        headers=headers,
    )
    assert evil.status_code == 422
    # Naming a file by its sha256 alone works only for files the run already references: another run's file
    # (here the parent's) must come with its bytes, so a caller cannot reach a file it has not shown it holds.
    other = runtree.init(project="media")
    other.finish()
    ref = {"step": 1, "key": "k", "path": "a.png", "sha256": img["sha256"], "size": img["size"], "type": "image-file"}
    named = httpx.post(f"{server.url}/api/v1/runs/{other.uid}/media", headers=headers, json={"epoch": 0, "files": [ref]})
    assert named.status_code == 200 and named.json() == {"files": 0, "missing": [img["sha256"]]}
    assert httpx.get(f"{server.url}/api/v1/runs/{other.uid}/media/{img['sha256']}", headers=headers).status_code == 404
    again = httpx.post(f"{server.url}/api/v1/runs/{run.uid}/media", headers=headers, json={"epoch": 0, "files": [ref]})
    assert again.json() == {"files": 1, "missing": []}  # its own file: named without the bytes
    bad_path = httpx.post(
        f"{server.url}/api/v1/runs/{run.uid}/media", headers=headers, json={"epoch": 0, "files": [{**ref, "path": "../x"}]}
    )
    assert bad_path.status_code == 422


def test_an_offline_run_syncs_its_media(rt_dir: Path, sqlite_server: Server, request: pytest.FixtureRequest) -> None:
    remote = sqlite_server.fresh_store()
    request.addfinalizer(remote.close)
    run = runtree.init(project="media", mode="offline")
    for s in range(3):
        run.log({"img": runtree.Image(_img(s)), "x": s})
    run.finish()
    from runtree.store.sync import SyncReport, sync_run

    report = SyncReport()
    sync_run(open_store(), remote, open_store().get_run(run.uid), report)
    assert report.media == 3
    files = remote.list_media(remote.read_segments(run.uid))
    assert [f.step for f in files] == [0, 1, 2]
    assert np.asarray(PILImage.open(io.BytesIO(remote.read_media(run.uid, files[2].sha256))))[0, 0, 0] == 20
    sync_run(open_store(), remote, open_store().get_run(run.uid), SyncReport())  # again: nothing twice
    assert len(remote.list_media(remote.read_segments(run.uid))) == 3


def test_the_values_match_what_wandb_writes(rt_dir: Path, tmp_path: Path) -> None:
    """The same objects through the real wandb client (offline) and through runtree: the same `_type` values and file bytes."""
    script = tmp_path / "wb.py"
    script.write_text(
        "import json, sys, numpy as np, wandb\n"
        "run = wandb.init(project='p', mode='offline', dir=sys.argv[1])\n"
        "img = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)\n"
        "run.log({'img': wandb.Image(img, caption='c'), 'h': wandb.Histogram(np.arange(50), num_bins=8), 'arr': np.arange(40),\n"
        "         't': wandb.Table(columns=['a'], data=[[1], [2]])})\n"
        "run.finish()\n"
    )
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        env={"WANDB_SILENT": "true", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    files = next((tmp_path / "wandb").glob("offline-run-*")) / "files"
    wb_png = next((files / "media" / "images").glob("img_0_*.png")).read_bytes()
    run = runtree.init(project="p")
    img = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    run.log(
        {
            "img": runtree.Image(img, caption="c"),
            "h": runtree.Histogram(np.arange(50), num_bins=8),
            "arr": np.arange(40),
            "t": runtree.Table(columns=["a"], data=[[1], [2]]),
        }
    )
    run.finish()
    store = open_store()
    row = next(store.read_rows(store.read_segments(run.uid)))
    assert row["img"]["sha256"] == hashlib.sha256(wb_png).hexdigest() and row["img"]["size"] == len(wb_png)
    assert row["img"]["path"] == next((files / "media" / "images").glob("img_0_*.png")).relative_to(files).as_posix()
    wb_table = next((files / "media" / "table").glob("t_0_*.table.json")).read_bytes()
    assert json.loads(store.read_media(run.uid, row["t"]["sha256"])) == json.loads(wb_table)
    np_counts, np_edges = np.histogram(np.arange(50), bins=8)
    assert row["h"]["values"] == np_counts.tolist() and row["h"]["bins"] == np_edges.tolist()
    assert row["arr"]["_type"] == "histogram" and len(row["arr"]["bins"]) == 33


def test_log_waits_while_too_many_media_bytes_are_unencoded(rt_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runtree.sdk import writer

    monkeypatch.setattr(writer, "MAX_MEDIA_BYTES", 64 << 10)
    run = runtree.init(project="media")
    w = run._writer
    most = 0
    for s in range(200):
        run.log({"img": runtree.Image(np.full((64, 64, 3), s % 256, dtype=np.uint8))})  # 12 KiB held each until encoded
        most = max(most, w._media_held - w._media_done)
    run.finish()
    assert most < 1 << 20  # without the bound, ~2.4 MB would wait for the writer (it encodes far slower than log() queues)
    store = open_store()
    assert len(store.list_media(store.read_segments(run.uid))) == 200


def test_a_file_the_server_refuses_leaves_the_rows_going_on(
    rt_dir: Path, sqlite_server: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    remote = sqlite_server.fresh_store()
    monkeypatch.setenv("RUNTREE_BASE_URL", sqlite_server.url)
    monkeypatch.setenv("RUNTREE_API_KEY", sqlite_server.admin_key)
    run = runtree.init(project="media")
    run.log({"page": runtree.Html("x" * (65 << 20), inject=False), "x": 1})  # over the server's 64 MiB request limit
    run.log({"x": 2, "k" * 600: runtree.Html("<i>long key</i>")})
    run.finish()
    try:
        rows = list(remote.read_rows(remote.read_segments(run.uid)))
        assert [r["x"] for r in rows] == [1, 2] and rows[0]["page"]["size"] == 65 << 20
        assert [f.key for f in remote.list_media(remote.read_segments(run.uid))] == ["k" * 600]
        assert "refused" in caplog.text
    finally:
        remote.close()


@pytest.mark.slow
def test_media_logged_while_the_server_is_away_wait_in_the_spool(
    rt_dir: Path, sqlite_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.server_fixture import free_port

    remote = sqlite_server.fresh_store()
    try:
        monkeypatch.setenv("RUNTREE_BASE_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
        monkeypatch.setenv("RUNTREE_API_KEY", sqlite_server.admin_key)
        run = runtree.init(project="media")
        for s in range(3):
            run.log({"img": runtree.Image(_img(s)), "x": s})
        run.finish(quiet=True)
        out = subprocess.run(
            [sys.executable, "-m", "runtree", "sync", str(rt_dir / "spool"), "--to", sqlite_server.url],
            env={**os.environ, "RUNTREE_API_KEY": sqlite_server.admin_key},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        files = remote.list_media(remote.read_segments(run.uid))
        assert [f.step for f in files] == [0, 1, 2]
        rows = list(remote.read_rows(remote.read_segments(run.uid)))
        assert [np.asarray(PILImage.open(io.BytesIO(remote.read_media(run.uid, r["img"]["sha256"]))))[0, 0, 0] for r in rows] == [0, 10, 20]
    finally:
        remote.close()


def test_media_in_pending_rows_and_at_explicit_steps(rt_dir: Path) -> None:
    run = runtree.init(project="media")
    run.log({"img": runtree.Image(_img(1))}, commit=False)  # merged into the next committed row, as wandb does
    run.log({"x": 1})
    run.log({"img": runtree.Image(_img(5)), "x": 5}, step=5)
    run.log({"h": np.arange(40)}, step=7, commit=True)
    run.finish()
    store = open_store()
    rows = list(store.read_rows(store.read_segments(run.uid)))
    assert [(r["_step"], sorted(k for k in r if not k.startswith("_"))) for r in rows] == [(0, ["img", "x"]), (5, ["img", "x"]), (7, ["h"])]
    assert [(f.step, f.key) for f in store.list_media(store.read_segments(run.uid))] == [(0, "img"), (5, "img")]
    assert rows[1]["img"]["path"].startswith("media/images/img_5_") and rows[2]["h"]["_type"] == "histogram"


def test_a_drained_spool_leaves_no_media_behind(rt_dir: Path, sqlite_server: Server) -> None:
    from runtree.domain import lineage
    from runtree.domain.records import RunRecord
    from runtree.sdk.spool import SpoolingStore
    from runtree.store.remote import RemoteStore
    from runtree.store.sqlite import SqliteStore

    sqlite_server.wipe()
    spool_dir = rt_dir / "spool"
    spool_dir.mkdir(parents=True)
    local = SqliteStore(spool_dir / "u1-abcd.db")
    rec = RunRecord(uid="u1" + "0" * 30, entity="tester", project="media", id="spooled1", name="s", created_at=1.0)
    local.create_run(rec, lineage.new_run(rec.uid))
    remote = RemoteStore(sqlite_server.url, sqlite_server.admin_key)
    spool = SpoolingStore(remote, spool_dir, rec, lineage.new_run(rec.uid), local=local, uplink_interval=3600)
    try:
        from runtree.sdk.media.rows import encode_row

        row: dict[str, Any] = {"_step": 0, "_timestamp": 1.0, "img": runtree.Image(_img(3))}
        files, blobs = encode_row(0, row)
        spool.put_media(rec.uid, 0, files, blobs)  # while diverted: into the spool and its own blob folder
        spool.append_rows(rec.uid, 0, [(0, 1.0, row)])
        assert (spool_dir / "u1-abcd.files").is_dir() and not (spool_dir / "files").exists()
        assert spool.drain()
        assert remote.read_media(rec.uid, row["img"]["sha256"])[:4] == b"\x89PNG"
        assert not (spool_dir / "u1-abcd.db").exists() and not (spool_dir / "u1-abcd.files").exists()
    finally:
        spool.finish(timeout=0, quiet=True)
