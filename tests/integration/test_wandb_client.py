"""The unmodified wandb client (PyPI) logging to a real `runtree server` subprocess on PostgreSQL, over real HTTP.

Each script runs in a subprocess with only WANDB_BASE_URL and WANDB_API_KEY (a runtree key) pointing it at
the server; what it logged is read back through runtree.Api and compared with the same script run with
`import runtree as wandb` on the embedded store: the seed's fork, a rewind, a resumed fork, define_metric
summaries, console output, system metrics, a wrong key, and `wandb offline` then `wandb sync`.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

pytest.importorskip("wandb", reason="the real wandb client is what these tests drive: pip install wandb")

import runtree
from runtree.domain.records import Segment
from runtree.server import auth
from runtree.store import default_store_url
from runtree.store.remote import RemoteStore
from tests.integration.server_fixture import Server

pytestmark = pytest.mark.slow

ENTITY = "team"
METRICS = ["_step", "metric", "additional_metric"]

SEED_FORK = """
import json, math
{import_line}

run1 = wandb.init(project="seed", entity="team")
for i in range(300):
    run1.log({{"metric": i}})
run1.finish()

run2 = wandb.init(project="seed", entity="team", fork_from=f"{{run1.id}}?_step=200")
for i in range(200, 300):
    if i < 250:
        run2.log({{"metric": i}})
    else:
        subtle_spike = i + (2 * math.sin(i / 3.0))
        run2.log({{"metric": subtle_spike}})
    run2.log({{"additional_metric": i * 1.1}})
run2.finish()
print(json.dumps({{"parent": run1.id, "child": run2.id}}))
"""

METRIC_DEFS = """
import json, sys, time
{import_line}

run = wandb.init(project="defs", entity="team", {settings})
run.define_metric("loss", summary="min")
run.define_metric("acc", summary="max,mean")
for i in range(20):
    run.log({{"loss": 1.0 / (i + 1) + (0.5 if i == 7 else 0.0), "acc": i % 7, "nested": {{"a": i}}}})
run.summary["note"] = "kept"
print("hello from the run")
for k in range(5):
    sys.stdout.write(f"\\rprogress {{k * 25}}%")
    sys.stdout.flush()
    time.sleep(0.05)
print()
print("oops", file=sys.stderr)
time.sleep({sleep})
run.finish()
print(json.dumps({{"id": run.id}}))
"""


@pytest.fixture
def server(postgres_server: Server) -> Iterator[Server]:
    postgres_server.wipe()
    yield postgres_server


def new_key(server: Server, entity: str) -> str:
    admin = RemoteStore(server.url, server.admin_key)
    try:
        return auth.create_key(admin, [entity])
    finally:
        admin.close()


@pytest.fixture
def key(server: Server) -> str:
    """A runtree key limited to the entity the scripts log to."""
    return new_key(server, ENTITY)


@pytest.fixture
def api(server: Server, key: str, monkeypatch: pytest.MonkeyPatch) -> runtree.Api:
    monkeypatch.setenv("RUNTREE_API_KEY", key)
    return runtree.Api(store=server.url)


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNTREE_"))}
    for d in ("wandb", "config", "cache", "home"):
        (home / d).mkdir(parents=True, exist_ok=True)
    env.update(
        WANDB_ERROR_REPORTING="false",
        WANDB_SILENT="true",
        WANDB_DIR=str(home / "wandb"),
        WANDB_CONFIG_DIR=str(home / "config"),
        WANDB_CACHE_DIR=str(home / "cache"),
        HOME=str(home / "home"),
    )
    return env


def wandb_env(server: Server, key: str | None, home: Path) -> dict[str, str]:
    env = _clean_env(home)
    env["WANDB_BASE_URL"] = server.url
    if key is not None:
        env["WANDB_API_KEY"] = key
    return env


def run_script(code: str, env: dict[str, str], cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, f"the script failed:\n{done.stdout}\n{done.stderr}"
    return done


def ids_of(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def embedded(code: str, tmp_path: Path) -> tuple[runtree.Api, dict[str, str]]:
    """The script with `import runtree as wandb`, on an embedded store; the Api reading it and the ids printed."""
    env = _clean_env(tmp_path / "embedded-home")
    env.update(RUNTREE_DIR=str(tmp_path / "rt"), RUNTREE_CONSOLE="auto")
    ids = ids_of(run_script(code, env, tmp_path))
    return runtree.Api(store=default_store_url(tmp_path / "rt")), ids


def test_seed_fork_gives_the_history_runtree_gives(server: Server, key: str, api: runtree.Api, tmp_path: Path) -> None:
    done = run_script(SEED_FORK.format(import_line="import wandb"), wandb_env(server, key, tmp_path / "w"), tmp_path)
    ids = ids_of(done)
    local, local_ids = embedded(SEED_FORK.format(import_line="import runtree as wandb"), tmp_path)

    for which in ("parent", "child"):
        got = api.run(f"{ENTITY}/seed/{ids[which]}")
        want = local.run(f"{ENTITY}/seed/{local_ids[which]}")
        cols = [c for c in METRICS if c in want.history().columns]
        pd.testing.assert_frame_equal(got.history()[cols].reset_index(drop=True), want.history()[cols].reset_index(drop=True))
        assert got.state == want.state == "finished"
    child, parent = api.run(f"{ENTITY}/seed/{ids['child']}"), api.run(f"{ENTITY}/seed/{ids['parent']}")
    assert len(child.history()) == 401 and child.history()["_step"].tolist() == list(range(401))
    # A fork, not a copy: the parent's rows up to 200, then the child's own from 201.
    assert [(s.source_uid, s.epoch, s.first_step, s.last_step) for s in child.segments] == [
        (parent.uid, 0, 0, 200),
        (child.uid, 0, 201, None),
    ]
    own = list(api.store.read_rows([Segment(child.uid, 0, 0)]))
    assert own[0]["_step"] == 201 and len(own) == 200
    assert child.parent is not None and child.parent.uid == parent.uid
    assert "_wandb" not in child.config and "_wandb" not in child.summary


def test_rewind_and_a_resumed_fork_keep_their_lineage(server: Server, key: str, api: runtree.Api, tmp_path: Path) -> None:
    script = """
import json
import wandb
p = wandb.init(project="rw", entity="team", config={"lr": 0.1})
for i in range(30):
    p.log({"x": i})
p.finish()
c = wandb.init(project="rw", entity="team", fork_from=f"{p.id}?_step=20", config={"lr": 0.01})
for i in range(21, 25):
    c.log({"x": -i})
c.finish()
r = wandb.init(project="rw", entity="team", resume_from=f"{p.id}?_step=10")
assert r.id == p.id
for i in range(11, 15):
    r.log({"x": 1000 + i})
r.finish()
c2 = wandb.init(project="rw", entity="team", id=c.id, resume="must")
for i in range(2):
    c2.log({"x": 5000 + i})
c2.finish()
print(json.dumps({"parent": p.id, "child": c.id}))
"""
    ids = ids_of(run_script(script, wandb_env(server, key, tmp_path / "w"), tmp_path))
    parent, child = api.run(f"{ENTITY}/rw/{ids['parent']}"), api.run(f"{ENTITY}/rw/{ids['child']}")

    h = parent.history()
    assert h["_step"].tolist() == list(range(15))
    assert h["x"].tolist() == [*range(11), 1011, 1012, 1013, 1014]
    (rewind,) = parent.rewinds()
    assert (rewind.at_step, rewind.from_epoch, rewind.to_epoch) == (10, 0, 1)
    assert parent.archived_segments()[0].history()["x"].tolist() == list(range(11, 30))  # archived, still readable
    assert parent.state == "finished" and parent.config == {"lr": 0.1}

    hc = child.history()
    assert hc["_step"].tolist() == list(range(27))
    assert hc["x"].tolist() == [*range(21), -21, -22, -23, -24, 5000, 5001]
    assert [(s.source_uid, s.epoch, s.first_step, s.last_step) for s in child.segments] == [
        (parent.uid, 0, 0, 20),
        (child.uid, 0, 21, None),
    ]
    assert child.state == "finished" and child.config == {"lr": 0.01}
    assert child.summary["x"] == 5001 and child.summary["_step"] == 26


def test_metric_definitions_console_and_system_metrics(server: Server, key: str, api: runtree.Api, tmp_path: Path) -> None:
    code = METRIC_DEFS.format(import_line="import wandb", settings="settings=wandb.Settings(x_stats_sampling_interval=0.5)", sleep=1.6)
    run = api.run(f"{ENTITY}/defs/{ids_of(run_script(code, wandb_env(server, key, tmp_path / 'w'), tmp_path))['id']}")
    local, local_ids = embedded(METRIC_DEFS.format(import_line="import runtree as wandb", settings="", sleep=0), tmp_path)
    want = local.run(f"{ENTITY}/defs/{local_ids['id']}")

    assert run.summary["loss"] == want.summary["loss"] == {"min": pytest.approx(1 / 20)}
    assert run.summary["acc"] == pytest.approx(want.summary["acc"]) and set(run.summary["acc"]) == {"max", "mean"}
    assert run.summary["nested.a"] == want.summary["nested.a"] == 19
    assert run.summary["note"] == "kept" and run.summary["_step"] == 19
    assert run._record.metric_defs == want._record.metric_defs
    assert run.config == {} and "_wandb" not in run.summary
    pd.testing.assert_frame_equal(run.history()[["_step", "loss", "acc", "nested.a"]], want.history()[["_step", "loss", "acc", "nested.a"]])

    lines = [(line["stream"], line["text"]) for line in run.logs()]
    assert ("stdout", "hello from the run") in lines
    assert ("stdout", "progress 100%") in lines and ("stdout", "progress 50%") not in lines  # a redrawn line, as a terminal shows it
    assert ("stderr", "oops") in lines

    system = run.system_metrics()
    assert len(system) >= 2 and "system.memory_percent" in system.columns
    assert all(c == "_timestamp" or c.startswith("system.") for c in system.columns)
    assert {"wandb-metadata.json", "requirements.txt", "config.yaml"} <= set(run.files())
    assert run.metadata["python"] == want.metadata["python"] and run.metadata["host"] == want.metadata["host"]


def test_a_wrong_or_missing_key_is_refused_and_writes_nothing(server: Server, key: str, api: runtree.Api, tmp_path: Path) -> None:
    script = 'import wandb\nrun = wandb.init(project="auth", entity="team")\nrun.log({"a": 1})\nrun.finish()\n'
    wrong = run_script(script, wandb_env(server, "rt_" + "x" * 43, tmp_path / "w1"), tmp_path, ok=False)
    assert wrong.returncode != 0 and "CommError: invalid API key rt_xxxxx" in wrong.stderr
    other = new_key(server, "someone-else")
    denied = run_script(script, wandb_env(server, other, tmp_path / "w2"), tmp_path, ok=False)
    assert denied.returncode != 0 and "may not access entity 'team'" in denied.stderr
    missing = run_script(script, wandb_env(server, None, tmp_path / "w3"), tmp_path, ok=False)
    assert missing.returncode != 0 and "No API key configured" in missing.stderr  # the client asks for one before sending
    assert api.runs(f"{ENTITY}/auth") == []

    # Over plain HTTP: W&B's error shapes, nothing written.
    query = {"query": "query Viewer { viewer { entity username } }", "operationName": "Viewer"}
    r = httpx.post(f"{server.url}/graphql", json=query)
    assert r.status_code == 401 and "no API key" in r.json()["errors"][0]["message"]
    r = httpx.post(f"{server.url}/files/team/auth/x1/file_stream", json={"files": {}})
    assert r.status_code == 401 and "no API key" in r.json()["error"]
    basic = {"Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()}
    r = httpx.post(f"{server.url}/graphql", json=query, headers=basic)
    assert r.status_code == 200 and r.json()["data"]["viewer"] == {"entity": ENTITY, "username": ENTITY}
    r = httpx.post(f"{server.url}/graphql", json={"query": "query Q { launchAgents { id } }", "operationName": "Q"}, headers=basic)
    assert r.status_code == 200 and "launchAgents" in r.json()["errors"][0]["message"]  # an unknown operation: a GraphQL error


def test_signed_upload_urls(server: Server, key: str, api: runtree.Api, tmp_path: Path) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()}

    def gql(query: str, variables: dict[str, Any]) -> Any:
        r = httpx.post(f"{server.url}/graphql", json={"query": query, "variables": variables}, headers=basic)
        assert r.status_code == 200 and "errors" not in r.json(), r.text
        return r.json()["data"]

    upsert = "mutation U($n: String, $p: String) { upsertBucket(input: {name: $n, modelName: $p}) { bucket { id name } inserted } }"
    created = gql(upsert, {"n": "up1", "p": "files"})["upsertBucket"]
    assert created["inserted"] is True and created["bucket"]["name"] == "up1"
    files = (
        "mutation F($f: [String!]!) {"
        ' createRunFiles(input: {entityName: "team", projectName: "files", runName: "up1", files: $f}) { runID files { name uploadUrl } } }'
    )
    (f,) = gql(files, {"f": ["notes/a.txt"]})["createRunFiles"]["files"]
    assert httpx.put(f["uploadUrl"], content=b"hello").status_code == 200  # no Authorization header: the URL is the grant
    assert api.run(f"{ENTITY}/files/up1").file("notes/a.txt") == b"hello"
    forged = f["uploadUrl"].replace("notes/a.txt", "notes/b.txt")
    assert httpx.put(forged, content=b"evil").status_code == 403
    assert httpx.put(f["uploadUrl"].split("&signature=")[0] + "&signature=" + "0" * 64, content=b"evil").status_code == 403
    assert api.run(f"{ENTITY}/files/up1").files() == ["notes/a.txt"]


def test_offline_runs_synced_to_the_server_fork_included(server: Server, key: str, api: runtree.Api, tmp_path: Path) -> None:
    script = """
import json
import wandb
run = wandb.init(project="off", entity="team", mode="offline")
for i in range(20):
    run.log({"metric": i})
run.finish()
child = wandb.init(project="off", entity="team", mode="offline", fork_from=f"{run.id}?_step=10")
for i in range(11, 15):
    child.log({"metric": -i})
child.finish()
print(json.dumps({"parent": run.id, "child": child.id}))
"""
    env = wandb_env(server, key, tmp_path / "w")
    ids = ids_of(run_script(script, env, tmp_path))
    assert api.runs(f"{ENTITY}/off") == []  # nothing reached the server yet
    dirs = sorted(str(p) for p in (tmp_path / "w" / "wandb" / "wandb").glob("offline-run-*"))
    assert len(dirs) == 2
    sync = [sys.executable, "-m", "wandb", "sync", *dirs]
    done = subprocess.run(sync, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    parent, child = api.run(f"{ENTITY}/off/{ids['parent']}"), api.run(f"{ENTITY}/off/{ids['child']}")
    assert parent.history()["metric"].tolist() == list(range(20)) and parent.state == "finished"
    assert child.history()["metric"].tolist() == [*range(11), -11, -12, -13, -14] and child.state == "finished"
    assert [(s.source_uid, s.first_step, s.last_step) for s in child.segments] == [(parent.uid, 0, 10), (child.uid, 11, None)]


def test_the_clients_media_files_are_the_runs_media(server: Server, key: str, api: runtree.Api, tmp_path: Path) -> None:
    """An image and a table logged by the real client: their files, uploaded as run files, are also the run's media
    (stored once by sha256, listed at their step) and served by the media routes the UI uses."""
    code = (
        "import json, numpy as np, wandb\n"
        f"run = wandb.init(entity={ENTITY!r}, project='media')\n"
        "for s in range(2):\n"
        "    run.log({'img': wandb.Image(np.full((8, 8, 3), s * 50, dtype=np.uint8)), 't': wandb.Table(columns=['a'], data=[[s]])})\n"
        "run.finish()\n"
        "print(json.dumps({'id': run.id}))\n"
    )
    ids = ids_of(run_script(code, wandb_env(server, key, tmp_path), tmp_path))
    run = api.run(f"{ENTITY}/media/{ids['id']}")
    rows = run.history(pandas=False)
    assert [r["img"]["_type"] for r in rows] == ["image-file", "image-file"]
    headers = {"Authorization": f"Bearer {key}"}
    listed = httpx.get(f"{server.url}/api/v1/runs/{run.uid}/media", headers=headers).json()["media"]
    assert sorted((m["step"], m["key"], m["type"]) for m in listed) == [(0, "img", "image-file"), (0, "t", "table-file"),
                                                                       (1, "img", "image-file"), (1, "t", "table-file")]
    got = httpx.get(f"{server.url}/api/v1/runs/{run.uid}/media/{rows[1]['img']['sha256']}", headers=headers)
    assert got.status_code == 200 and got.content[:4] == b"\x89PNG"
