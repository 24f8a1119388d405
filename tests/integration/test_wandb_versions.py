"""The real wandb clients 0.17.9, 0.18.7, 0.19.11, 0.22.3 and 0.31.0, each from its own venv (wandb_venvs.py),
against a real `runtree server` subprocess: init, scalars and media, fork, rewind, resume, `wandb.Api()` reading
it all back (filters, order, history, scan_history, files, update), and offline runs uploaded by `wandb sync`.

What each client logged is read back through runtree.Api and compared value by value.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runtree
from runtree.server import auth
from runtree.store.remote import RemoteStore
from tests.integration.server_fixture import Server
from tests.integration.wandb_venvs import NEWEST, VERSIONS, version_tuple, wandb_python

pytestmark = pytest.mark.slow
ENTITY = "team"

LOG = """
import json, os
import numpy as np
import wandb
newest = {newest}
p = wandb.init(project="v", entity="team", config={{"lr": 0.1, "opt": {{"name": "adam"}}}}, tags=["base"])
for i in range(30):
    d = {{"loss": 1 / (i + 1)}}
    if i == 3:
        d["img"] = wandb.Image(np.full((8, 8, 3), 7, dtype=np.uint8), caption="seven")
        d["hist"] = wandb.Histogram([1, 2, 3, 3])
        d["lst"] = [1, 2, 3]
        if newest:
            d["tab"] = wandb.Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]])
    p.log(d)
p.summary["best"] = 42
p.finish()
c = wandb.init(project="v", entity="team", fork_from=f"{{p.id}}?_step=20", config={{"lr": 0.01}})
for i in range(21, 25):
    c.log({{"loss": -i}})
c.finish()
r = wandb.init(project="v", entity="team", resume_from=f"{{p.id}}?_step=10")
for i in range(11, 15):
    r.log({{"loss": 1000 + i}})
r.finish()
r2 = wandb.init(project="v", entity="team", id=p.id, resume="must")
r2.log({{"loss": 7}})
r2.finish()
table_error = None
if not newest:  # before 0.31 a Table is saved as an artifact: refused, and the client says so at the call
    t = wandb.init(project="tables", entity="team")
    try:
        t.log({{"tab": wandb.Table(columns=["a"], data=[[1]])}})
    except Exception as e:
        table_error = str(e)
    t.finish()
print(json.dumps({{"parent": p.id, "child": c.id, "table_error": table_error}}))
"""

API = """
import json, sys
import wandb
ids = json.loads(sys.argv[1])
api = wandb.Api()
out = {"entity": api.default_entity, "projects": sorted(p.name for p in api.projects("team"))}
runs = api.runs("team/v", filters={"config.lr": {"$gt": 0.05}}, order="+created_at", per_page=1)
out["filtered"] = [r.id for r in runs]
out["ordered"] = [r.id for r in api.runs("team/v", order="-config.lr")]
out["regex"] = [r.id for r in api.runs("team/v", filters={"$or": [{"tags": "base"}, {"config.lr": {"$lt": 0.05}}]})]
p = api.run("team/v/" + ids["parent"])
out["config"], out["summary"], out["state"] = dict(p.config), json.loads(json.dumps(dict(p.summary), default=dict)), p.state
out["history"] = p.history(samples=1000, pandas=False)
out["scan"] = list(p.scan_history(page_size=4))
out["keyed"] = p.history(keys=["loss"], pandas=False)
out["files"] = {f.name: f.size for f in p.files()}
img = [r for r in out["scan"] if "img" in r][0]["img"]["path"]
p.file(img).download(root=sys.argv[2], replace=True)
p.summary["note"] = "set by the api"
p.config["extra"] = 3
p.tags.append("reviewed")
p.update()
print(json.dumps(out, default=dict))
"""

OFFLINE = """
import json, time
import wandb
p = wandb.init(project="off", entity="team", mode="offline")
for i in range(40):
    p.log({"m": i})
p.summary["best"] = 42
p.finish()
time.sleep(1.1)  # wandb names run directories by the second: keep them in the order they were made
c = wandb.init(project="off", entity="team", mode="offline", fork_from=f"{p.id}?_step=30")
for i in range(31, 35):
    c.log({"m": -i})
c.finish()
time.sleep(1.1)
r = wandb.init(project="off", entity="team", mode="offline", resume_from=f"{p.id}?_step=10")
for i in range(11, 15):
    r.log({"m": 1000 + i})
r.finish()
print(json.dumps({"parent": p.id, "child": c.id}))
"""


@pytest.fixture
def server(sqlite_server: Server) -> Iterator[Server]:
    sqlite_server.wipe()
    yield sqlite_server


@pytest.fixture
def key(server: Server) -> str:
    admin = RemoteStore(server.url, server.admin_key)
    try:
        return auth.create_key(admin, [ENTITY])
    finally:
        admin.close()


@pytest.fixture
def api(server: Server, key: str, monkeypatch: pytest.MonkeyPatch) -> runtree.Api:
    monkeypatch.setenv("RUNTREE_API_KEY", key)
    return runtree.Api(store=server.url)


def env_for(server: Server, key: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNTREE_"))}
    for d in ("wandb", "config", "cache", "home"):
        (home / d).mkdir(parents=True, exist_ok=True)
    env.update(
        WANDB_BASE_URL=server.url,
        WANDB_API_KEY=key,
        WANDB_ERROR_REPORTING="false",
        WANDB_SILENT="true",
        WANDB_DIR=str(home / "wandb"),
        WANDB_CONFIG_DIR=str(home / "config"),
        WANDB_CACHE_DIR=str(home / "cache"),
        HOME=str(home / "home"),
    )
    return env


def run(python: str, args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done.stdout


def last_json(stdout: str) -> Any:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("version", VERSIONS)
def test_a_client_logs_media_forks_rewinds_resumes_and_reads_back_with_wandb_api(
    version: str, server: Server, key: str, api: runtree.Api, tmp_path: Path
) -> None:
    python = wandb_python(version)
    env = env_for(server, key, tmp_path / "w")
    newest = version_tuple(version) >= version_tuple(NEWEST)
    started = time.monotonic()
    ids = last_json(run(python, ["-c", LOG.format(newest=newest)], env, tmp_path))
    logged = time.monotonic() - started

    parent, child = api.run(f"{ENTITY}/v/{ids['parent']}"), api.run(f"{ENTITY}/v/{ids['child']}")
    h = parent.history(pandas=False)
    assert [r["_step"] for r in h] == list(range(16))
    assert [r["loss"] for r in h] == [*(1 / (i + 1) for i in range(11)), 1011, 1012, 1013, 1014, 7]
    (rw,) = parent.rewinds()
    assert rw.at_step == 10 and [r["loss"] for r in parent.archived_segments()[0].history(pandas=False)][:2] == [1 / 12, 1 / 13]
    assert parent.summary["best"] == 42  # a summary-only key outlives the rewind
    assert parent.summary["loss"] == 7 and parent.state == "finished"
    assert parent.config == {"lr": 0.1, "opt": {"name": "adam"}}

    media = h[3]
    img, hist = media["img"], media["hist"]
    assert img["_type"] == "image-file" and img["path"].startswith("media/images/") and img["path"].endswith(".png")
    assert (img["width"], img["height"], img["caption"]) == (8, 8, "seven")
    assert hist["_type"] == "histogram" and sum(hist["values"]) == 4 and len(hist["bins"]) == len(hist["values"]) + 1
    assert media["lst"] == [1, 2, 3]
    assert parent.file(img["path"])[:8] == b"\x89PNG\r\n\x1a\n"  # the row's value names the uploaded file
    if newest:
        tab = media["tab"]
        assert tab["_type"] == "table-file" and tab["path"] in parent.files()
        assert json.loads(parent.file(tab["path"]))["data"] == [[1, "x"], [2, "y"]]
    else:
        assert "runtree does not store W&B artifacts" in ids["table_error"]

    assert [(s.source_uid, s.first_step, s.last_step) for s in child.segments] == [(parent.uid, 0, 20), (child.uid, 21, None)]
    assert [r["loss"] for r in child.history(pandas=False)][19:] == [1 / 20, 1 / 21, -21, -22, -23, -24]
    assert child.config["lr"] == 0.01

    out = last_json(run(python, ["-c", API, json.dumps(ids), str(tmp_path / "dl")], env, tmp_path))
    assert out["entity"] == ENTITY and "v" in out["projects"]
    assert out["filtered"] == [ids["parent"]]
    assert out["ordered"] == [ids["parent"], ids["child"]]
    assert sorted(out["regex"]) == sorted([ids["parent"], ids["child"]])
    assert out["config"] == {"lr": 0.1, "opt": {"name": "adam"}} and out["state"] == "finished"
    assert out["summary"]["best"] == 42 and out["summary"]["loss"] == 7
    assert out["history"] == h == out["scan"]  # every row, media values included, as runtree reads them
    assert out["keyed"] == [{"_step": r["_step"], "loss": r["loss"]} for r in h]
    assert out["files"][img["path"]] == len(parent.file(img["path"]))
    assert (tmp_path / "dl" / img["path"]).read_bytes() == parent.file(img["path"])

    parent.refresh()
    assert parent.summary["note"] == "set by the api" and parent.summary["best"] == 42
    assert parent.config["extra"] == 3 and parent.tags == ["base", "reviewed"]
    print(f"wandb {version}: logging took {logged:.1f}s")


@pytest.mark.parametrize("version", VERSIONS)
def test_offline_runs_with_a_fork_and_a_rewind_synced(version: str, server: Server, key: str, api: runtree.Api, tmp_path: Path) -> None:
    python = wandb_python(version)
    env = env_for(server, key, tmp_path / "w")
    ids = last_json(run(python, ["-c", OFFLINE], env, tmp_path))
    dirs = sorted(str(p) for p in (tmp_path / "w" / "wandb" / "wandb").glob("offline-run-*"))
    assert len(dirs) == 3
    run(python, ["-m", "wandb", "sync", *dirs], env, tmp_path)

    parent, child = api.run(f"{ENTITY}/off/{ids['parent']}"), api.run(f"{ENTITY}/off/{ids['child']}")
    assert [r["m"] for r in parent.history(pandas=False)] == [*range(11), 1011, 1012, 1013, 1014]
    assert parent.rewinds()[0].at_step == 10 and parent.summary["best"] == 42
    assert [r["m"] for r in child.history(pandas=False)] == [*range(31), -31, -32, -33, -34]
    assert child.parent is not None and child.parent.uid == parent.uid and child.state == "finished"


def test_a_fork_synced_after_its_parents_rewind_forks_the_history_it_was_made_from(
    server: Server, key: str, api: runtree.Api, tmp_path: Path
) -> None:
    python = wandb_python(NEWEST)
    env = env_for(server, key, tmp_path / "w")
    ids = last_json(run(python, ["-c", OFFLINE], env, tmp_path))
    parent_dir, fork_dir, rewind_dir = sorted(str(p) for p in (tmp_path / "w" / "wandb" / "wandb").glob("offline-run-*"))
    assert ids["child"] in fork_dir and ids["parent"] in rewind_dir
    run(python, ["-m", "wandb", "sync", parent_dir], env, tmp_path)
    run(python, ["-m", "wandb", "sync", rewind_dir], env, tmp_path)  # the parent is cut at 10 before its fork at 30 arrives
    run(python, ["-m", "wandb", "sync", fork_dir], env, tmp_path)

    parent, child = api.run(f"{ENTITY}/off/{ids['parent']}"), api.run(f"{ENTITY}/off/{ids['child']}")
    assert [r["m"] for r in parent.history(pandas=False)] == [*range(11), 1011, 1012, 1013, 1014]
    assert [r["m"] for r in child.history(pandas=False)] == [*range(31), -31, -32, -33, -34]  # the archived rows 11..30
    assert {(s.source_uid, s.epoch) for s in child.segments} == {(parent.uid, 0), (child.uid, 0)}
