"""One rule picks the store for the CLI, the SDK and Api() (issue 9 item 10), against a real server on PostgreSQL.

With RUNTREE_BASE_URL/RUNTREE_API_KEY set, or after `runtree login`, `runtree runs/tree/history/logs` read the
team server, even when a local ./runtree store exists; --dir or RUNTREE_DIR still mean the local store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runtree
from runtree.sdk import settings as settings_mod
from runtree.store import default_store_url, resolve_store_url
from tests.integration.server_fixture import Server


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNTREE_", "WANDB_"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), RUNTREE_ENTITY="tester", RUNTREE_CONSOLE="off",
               RUNTREE_SYSTEM_SAMPLE_INTERVAL="0", COLUMNS="200")  # fmt: skip
    env.update(extra)
    return env


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtree.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


LOG = """
import runtree
run = runtree.init(project="team", id="shared")
print("a console line")
run.log({"loss": 0.25})
run.finish()
"""


@pytest.fixture
def logged(postgres_server: Server, tmp_path: Path) -> Server:
    """A run 'shared' logged to the server, and a different local ./runtree store in the working directory."""
    postgres_server.fresh_store().close()
    env = _env(tmp_path, RUNTREE_BASE_URL=postgres_server.url, RUNTREE_API_KEY=postgres_server.admin_key, RUNTREE_CONSOLE="auto")
    p = subprocess.run([sys.executable, "-c", LOG], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    local = _env(tmp_path, RUNTREE_DIR=str(tmp_path / "runtree"))
    p = subprocess.run([sys.executable, "-c", LOG.replace('"shared"', '"localonly"')], cwd=tmp_path, env=local,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert p.returncode == 0, p.stderr
    return postgres_server


def _check_reads_the_server(tmp_path: Path, env: dict[str, str]) -> None:
    runs = _cli(tmp_path, env, "runs", "team")
    assert runs.returncode == 0, runs.stderr
    assert "shared" in runs.stdout and "localonly" not in runs.stdout
    tree = _cli(tmp_path, env, "tree", "team")
    assert tree.returncode == 0 and "shared" in tree.stdout, tree.stderr
    hist = _cli(tmp_path, env, "history", "tester/team/shared")
    assert hist.returncode == 0 and "0.25" in hist.stdout, hist.stderr
    logs = _cli(tmp_path, env, "logs", "tester/team/shared")
    assert logs.returncode == 0 and "a console line" in logs.stdout, logs.stderr


def test_cli_reads_the_server_named_in_the_environment(logged: Server, tmp_path: Path) -> None:
    _check_reads_the_server(tmp_path, _env(tmp_path, RUNTREE_BASE_URL=logged.url, RUNTREE_API_KEY=logged.admin_key))


def test_cli_reads_the_server_of_runtree_login(logged: Server, tmp_path: Path) -> None:
    env = _env(tmp_path)
    login = _cli(tmp_path, env, "login", logged.url, "--key", logged.admin_key)
    assert login.returncode == 0, login.stderr
    _check_reads_the_server(tmp_path, env)
    local = _cli(tmp_path, env, "--dir", str(tmp_path / "runtree"), "runs", "team")  # --dir still means the local store
    assert local.returncode == 0 and "localonly" in local.stdout and "shared" not in local.stdout, local.stderr


RULES = [
    # (environment, login, explicit url, explicit dir) -> which store
    ({}, False, None, None, "default"),
    ({}, True, None, None, "server"),
    ({"RUNTREE_DIR": "D"}, True, None, None, "dir"),
    ({"RUNTREE_BASE_URL": "SERVER"}, False, None, None, "server"),
    ({"RUNTREE_BASE_URL": "SERVER", "RUNTREE_DIR": "D"}, False, None, None, "server"),
    ({"RUNTREE_BASE_URL": "SERVER"}, False, None, "X", "explicit dir"),
    ({"RUNTREE_BASE_URL": "SERVER"}, True, "sqlite:///u.db", "X", "explicit url"),
]


@pytest.mark.parametrize(("env", "login", "url", "directory", "expected"), RULES)
def test_sdk_api_and_cli_resolve_the_store_by_one_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], login: bool, url: str | None, directory: str | None,
    expected: str,
) -> None:  # fmt: skip
    server = "http://127.0.0.1:9"
    for var in ("RUNTREE_DIR", "WANDB_DIR", "RUNTREE_BASE_URL", "RUNTREE_STORE_URL", "RUNTREE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, server if v == "SERVER" else str(tmp_path / v))
    if login:
        from runtree.store import write_user_config

        write_user_config(base_url=server, api_key="k")
    want = {
        "default": default_store_url(tmp_path / "runtree"),
        "server": server,
        "dir": default_store_url(tmp_path / "D"),
        "explicit dir": default_store_url(tmp_path / "X"),
        "explicit url": "sqlite:///u.db",
    }[expected]
    d = str(tmp_path / directory) if directory else None
    assert resolve_store_url(url, d) == want
    sdk = settings_mod.resolve({"store_url": url} if url else None, dir=d)
    assert sdk.store_url == want
    if not want.startswith("http"):  # Api() opens the store; a server URL here has nothing listening
        api = runtree.Api({"dir": d} if d else None, store=url)
        assert api.store.url == want
