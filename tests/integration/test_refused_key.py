"""A refused key is not an outage (issue 9 item 5), against a real server on PostgreSQL.

401/403 make init raise at once, naming the key's prefix and the entities it may write, instead of
diverting the run to a spool it can never leave. With no entity named, a run goes to the key's own entity.
With the server down, init spools at once (not after ~9 s of retries) and console capture still starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import runtree
from runtree.sdk.spool import unreachable
from runtree.server import auth
from runtree.store.remote import AccessRefused
from runtree.store.sqlite import SqliteStore
from tests.integration.server_fixture import Server, free_port


@pytest.fixture
def server(postgres_server: Server, rt_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Server:
    postgres_server.fresh_store().close()
    monkeypatch.delenv("RUNTREE_ENTITY")  # the key's entity is the default
    monkeypatch.setenv("RUNTREE_BASE_URL", postgres_server.url)
    return postgres_server


def _key(server: Server, *entities: str) -> str:
    from runtree.store.remote import RemoteStore

    admin = RemoteStore(server.url, server.admin_key)
    try:
        return auth.create_key(admin, entities)
    finally:
        admin.close()


def test_a_wrong_key_raises_at_init_naming_its_prefix(server: Server, rt_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTREE_API_KEY", "rt_" + "x" * 43)
    with pytest.raises(AccessRefused, match=r"refused API key rt_xxxxx\.\.\.") as caught:
        runtree.init(project="p")
    assert not unreachable(caught.value)
    assert not (rt_dir / "spool").exists()  # nothing diverted to a spool that could never upload


def test_a_forbidden_entity_raises_at_init_naming_the_entities_the_key_may_write(
    server: Server, rt_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _key(server, "alice", "carol")
    monkeypatch.setenv("RUNTREE_API_KEY", key)
    with pytest.raises(AccessRefused, match=rf"API key {key[:8]}\.\.\. may not write to entity 'bob'.*it may write: alice, carol"):
        runtree.init(project="p", entity="bob")
    assert not (rt_dir / "spool").exists()


def test_the_default_entity_on_a_server_is_the_keys(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTREE_API_KEY", _key(server, "alice"))
    run = runtree.init(project="p", id="mine")
    run.log({"x": 1.0})
    run.finish()
    assert run.entity == "alice"
    assert runtree.Api().run("p/mine").entity == "alice"  # Api() resolves the same default


CHILD = """
import json, sys, time
t = time.monotonic()
import runtree
run = runtree.init(project="down", id="d")
took = time.monotonic() - t
print("hello from the training loop", flush=True)
run.log({"x": 1.0})
run.finish()
sys.stderr.write(json.dumps({"init": took}) + "\\n")
"""


def test_init_with_the_server_down_spools_at_once_and_captures_the_console(tmp_path: Path) -> None:
    rt = tmp_path / "rt"
    env = {
        **os.environ,
        "RUNTREE_BASE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "RUNTREE_API_KEY": "rt_" + "y" * 43,
        "RUNTREE_DIR": str(rt),
        "RUNTREE_ENTITY": "tester",
        "RUNTREE_CONSOLE": "auto",
        "RUNTREE_SYSTEM_SAMPLE_INTERVAL": "0",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    env.pop("RUNTREE_STORE_URL", None)
    p = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    took = json.loads(p.stderr.strip().splitlines()[-1])["init"]
    assert took < 4.0, f"init took {took:.1f}s with the server down"  # it took ~9 s of retries before
    spools = list((rt / "spool").glob("*.db"))
    assert len(spools) == 1, p.stderr
    store = SqliteStore(spools[0])
    run = store.find_run("tester", "down", "d")
    assert run is not None
    segs = store.read_segments(run.uid)
    assert [r["x"] for r in store.read_rows(segs)] == [1.0]
    assert any("hello from the training loop" in text for _ts, _step, _stream, text in store.read_logs(segs))
    store.close()
