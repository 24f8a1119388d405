"""The issue-2 seed scripts, unchanged, against a server (RUNTREE_BASE_URL + RUNTREE_API_KEY), read back through runtree.Api().

Also: several server processes serving one database at once, and a server that is down.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import runtree
from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.errors import StoreError
from runtree.server import auth
from runtree.store.remote import RemoteStore
from tests.integration.server_fixture import Server, free_port, running_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VOLATILE = ["_timestamp", "_runtime"]  # wall-clock values differ between two runs of a script


@pytest.fixture
def server(sqlite_server: Server) -> Iterator[Server]:
    sqlite_server.wipe()
    yield sqlite_server


def _key_for(server: Server, entity: str) -> str:
    admin = RemoteStore(server.url, server.admin_key)
    try:
        return auth.create_key(admin, [entity])
    finally:
        admin.close()


def _run_example(name: str, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _histories(api: runtree.Api) -> list[tuple[pd.DataFrame, dict[str, object], int | None]]:
    runs = api.runs("your_entity_name/your_project_name")
    assert len(runs) == 2 and all(r.state == "finished" for r in runs)
    assert runs[1].parent_uid == runs[0].uid
    out = []
    for r in runs:
        h = r.history().drop(columns=VOLATILE)
        summary = {k: v for k, v in r.summary.items() if k not in VOLATILE}
        out.append((h, summary, r.fork_step))
    return out


@pytest.mark.parametrize("example", ["fork_seed.py", "fork_seed_keywords.py"])
def test_seed_example_through_the_server_equals_the_embedded_run(
    example: str, server: Server, rt_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded_dir = tmp_path / "embedded"
    _run_example(example, tmp_path, {**os.environ, "RUNTREE_DIR": str(embedded_dir)})
    expected = _histories(runtree.Api(store=str(embedded_dir)))

    monkeypatch.setenv("RUNTREE_BASE_URL", server.url)
    monkeypatch.setenv("RUNTREE_API_KEY", _key_for(server, "your_entity_name"))
    _run_example(example, tmp_path, dict(os.environ))
    assert not (rt_dir / "runtree.db").exists()  # everything went to the server
    got = _histories(runtree.Api())
    assert isinstance(runtree.Api().store, RemoteStore)
    for (h_got, s_got, f_got), (h_exp, s_exp, f_exp) in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(h_got, h_exp)
        assert s_got == s_exp and f_got == f_exp


def test_several_server_processes_serve_one_database(tmp_path: Path) -> None:
    with running_server(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path, workers=2) as server:
        admin = RemoteStore(server.url, server.admin_key)
        uids = [f"{i:032x}" for i in range(8)]
        for uid in uids:
            admin.create_run(RunRecord(uid=uid, entity="e", project="p", id=uid[-8:], name="w"), lineage.new_run(uid))
        errors: list[BaseException] = []

        def log(uid: str) -> None:
            store = RemoteStore(server.url, server.admin_key)  # connections of its own: requests spread over both workers
            try:
                for first in range(0, 3000, 500):
                    store.append_rows(uid, 0, [(s, float(s), {"_step": s, "v": s}) for s in range(first, first + 500)])
                    store.append_rows(uid, 0, [(first, 0.0, {"_step": first, "v": -1})])  # a retried row: ignored
            except BaseException as e:
                errors.append(e)
            finally:
                store.close()

        threads = [threading.Thread(target=log, args=(uid,)) for uid in uids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for uid in uids:
            assert [r["v"] for r in admin.read_rows(lineage.new_run(uid))] == list(range(3000))
        admin.close()
        assert server.log().count("Started server process") == 2


def test_a_server_that_is_down_is_a_store_error_after_retries() -> None:
    store = RemoteStore(f"http://127.0.0.1:{free_port()}", "rt_" + "k" * 43, retries=2)
    try:
        with pytest.raises(StoreError, match=r"cannot reach the runtree server at http://127\.0\.0\.1:\d+ \(GET /runs\)"):
            store.list_runs()
    finally:
        store.close()
