"""Run metadata from a real process: host, Python, command line, git state with its diff, packages."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import runtree
from runtree.api import ApiRun
from runtree.sdk.metadata import installed_packages

SCRIPT = """
import sys, runtree
run = runtree.init(project="meta", id=sys.argv[1])
run.log({"x": 1})
run.finish()
"""


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _train(cwd: Path, rt_dir: Path, run_id: str, *extra: str) -> ApiRun:
    env = {**os.environ, "RUNTREE_DIR": str(rt_dir)}
    p = subprocess.run([sys.executable, "-c", SCRIPT, run_id, *extra], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return runtree.Api().run(f"meta/{run_id}")


def test_metadata_of_a_run_in_a_dirty_git_repository(rt_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://bot:s3cret-token@example.com/team/model.git")
    (repo / "train.py").write_text("lr = 0.1\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "train.py").write_text("lr = 0.01\n")
    commit = _git(repo, "rev-parse", "HEAD")

    run = _train(repo, rt_dir, "dirty", "--lr", "0.01")
    m = run.metadata
    assert m["host"] == socket.gethostname() and m["python"] == platform.python_version()
    assert m["program"] == "-c" and m["args"] == ["dirty", "--lr", "0.01"] and m["cwd"] == str(repo)
    assert m["executable"] == sys.executable and m["startedAt"].endswith("+00:00")
    assert m["git"] == {
        "root": str(repo),
        "commit": commit,
        "branch": "main",
        "remote": "https://bot@example.com/team/model.git",  # the token is not stored
        "dirty": True,
    }
    assert "psutil==" in run.file("requirements.txt").decode()
    assert run.files() == ["diff.patch", "requirements.txt"]
    patch = run.file("diff.patch").decode()
    assert "-lr = 0.1" in patch and "+lr = 0.01" in patch


def test_a_clean_repository_stores_no_diff(rt_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "clean"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-q", "-m", "a")
    run = _train(repo, rt_dir, "clean")
    assert run.metadata["git"]["dirty"] is False and run.metadata["git"]["remote"] is None
    assert run.files() == ["requirements.txt"]


def test_outside_a_repository_there_is_no_git_section(rt_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # tmp_path may sit inside some repository
    run = _train(plain, rt_dir, "nogit")
    assert "git" not in run.metadata and run.metadata["cwd"] == str(plain)
    assert run.files() == ["requirements.txt"]


def test_in_process_run_gets_metadata_by_finish(rt_dir: Path) -> None:
    run = runtree.init(project="meta")
    run.finish()
    m = runtree.Api().run(run.path).metadata
    assert m["cwd"] == os.getcwd() and m["args"] == sys.argv[1:]


def test_requirements_list_every_installed_package_once_sorted(rt_dir: Path) -> None:
    run = runtree.init(project="meta")
    run.finish()
    lines = runtree.Api().run(run.path).file("requirements.txt").decode().splitlines()
    assert lines == list(installed_packages())
    assert any(p.startswith("psutil==") for p in lines) and all(p.count("==") == 1 for p in lines)
    names = [p.split("==")[0].lower() for p in lines]
    assert names == sorted(names) and len(names) == len(set(names))
