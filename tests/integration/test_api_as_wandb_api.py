"""runtree.Api used as wandb.Api: where it finds the store, W&B's filters and order, update(), url, file downloads;
on the embedded store and on a real server subprocess alike."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtree
from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.errors import UsageError
from runtree.server import auth
from runtree.store.base import Store
from runtree.store.remote import RemoteStore
from tests.integration.server_fixture import Server


def _seed(store: Store) -> dict[str, str]:
    """Three finished runs of team/p, oldest first (made through the store: the SDK's own path is tested elsewhere)."""
    runs = {
        "a": ({"lr": 0.1, "opt": {"name": "adam"}}, ("base",), [1.0, 0.5]),
        "b": ({"lr": 0.01, "opt": {"name": "adam"}}, ("gpu",), [2.0]),
        "c": ({"lr": 0.001, "opt": {"name": "adam"}}, (), [0.1]),
    }
    for i, (rid, (config, tags, losses)) in enumerate(runs.items()):
        summary = {"loss": losses[-1], "_step": len(losses) - 1}
        rec = RunRecord(
            uid=f"{rid}" * 32,
            entity="team",
            project="p",
            id=rid,
            name=f"run-{rid}",
            created_at=1000.0 + i,
            state="finished",
            config=config,
            tags=tags,
            summary=summary,
        )
        store.create_run(rec, lineage.new_run(rec.uid))
        store.append_rows(rec.uid, 0, [(s, 1000.0 + s, {"_step": s, "loss": x}) for s, x in enumerate(losses)])
    return {k: k for k in runs}


def _check(api: runtree.Api, ids: dict[str, str], tmp_path: Path, url_base: str) -> None:
    runs = api.runs("team/p", filters={"config.lr": {"$gt": 0.005}}, order="-config.lr")
    assert [r.id for r in runs] == [ids["a"], ids["b"]]
    assert [r.id for r in api.runs("team/p", filters={"$or": [{"tags": "gpu"}, {"summary_metrics.loss": {"$lt": 0.15}}]})] == [
        ids["b"],
        ids["c"],
    ]
    assert [r.id for r in api.runs("team/p", filters={"tags": {"$in": ["base"]}, "state": "finished"})] == [ids["a"]]
    assert [r.id for r in api.runs("team/p", order="-created_at")] == [ids["c"], ids["b"], ids["a"]]
    assert [r.id for r in api.runs("team/p", filters={"config.opt.name": {"$regex": "^ad"}})] == [ids["a"], ids["b"], ids["c"]]
    with pytest.raises(UsageError, match=r"cannot filter or order runs by 'cfg\.lr'"):
        api.runs("team/p", filters={"cfg.lr": 1})

    run = api.run(f"team/p/{ids['a']}")
    assert run.url == f"{url_base}/team/p/runs/{ids['a']}"
    assert api.run(f"team/p/runs/{ids['a']}").uid == run.uid  # the path as W&B's links spell it
    run.config["lr"] = 0.5
    run.config["new"] = [1, 2]
    run.summary["best"] = 0.01
    run.tags.append("reviewed")
    run.notes = "looked at it"
    run.update()
    run.name = "renamed"
    again = api.run(f"team/p/{ids['a']}")
    assert again.config == {"lr": 0.5, "opt": {"name": "adam"}, "new": [1, 2]}
    assert again.summary["best"] == 0.01 and again.summary["loss"] == 0.5
    assert again.tags == ["base", "reviewed"] and again.notes == "looked at it" and again.name == "renamed"
    again.summary.update({"from_update": 1})  # saved at once, as wandb's summary.update
    assert api.run(f"team/p/{ids['a']}").summary["from_update"] == 1
    assert [r.id for r in api.runs("team/p", filters={"config.lr": {"$gte": 0.5}})] == [ids["a"]]  # SQL sees the update


def test_embedded_store(rt_dir: Path, tmp_path: Path) -> None:
    api = runtree.Api()
    ids = _seed(api.store)
    _check(api, ids, tmp_path, "http://127.0.0.1:8765")
    api.store.put_file(api.run(f"team/p/{ids['c']}").uid, "notes/n.txt", b"hi")
    api.run(f"team/p/{ids['c']}").file("notes/n.txt").download(root=tmp_path / "dl").close()
    assert (tmp_path / "dl" / "notes" / "n.txt").read_bytes() == b"hi"


def test_server_named_by_overrides_or_wandb_base_url(
    rt_dir: Path, sqlite_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = sqlite_server.fresh_store()
    try:
        ids = _seed(admin)
        key = auth.create_key(admin, ["team"])
    finally:
        admin.close()

    with runtree.Api(overrides={"base_url": sqlite_server.url}, api_key=key) as api:
        _check(api, ids, tmp_path, sqlite_server.url)

    monkeypatch.setenv("WANDB_BASE_URL", sqlite_server.url)
    monkeypatch.setenv("WANDB_API_KEY", key)
    api = runtree.Api()
    assert isinstance(api.store, RemoteStore) and api.store.url.startswith(sqlite_server.url) and len(api.runs("team/p")) == 3
    api.store.put_file(api.run(f"team/p/{ids['b']}").uid, "media/images/x.png", b"\x89PNG-bytes")
    f = api.run(f"team/p/{ids['b']}").file("media/images/x.png")
    assert f == b"\x89PNG-bytes" and f.name == "media/images/x.png" and f.size == 10
    f.download(root=tmp_path / "dl").close()
    assert (tmp_path / "dl" / "media/images/x.png").read_bytes() == b"\x89PNG-bytes"
    with pytest.raises(FileExistsError, match="replace=True"):
        f.download(root=tmp_path / "dl")
    f.download(root=tmp_path / "dl", replace=True).close()
    api.close()
