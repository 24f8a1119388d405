"""Shared fixtures: a fresh embedded store per test, and no run or store left open afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtree.sdk import run as run_mod
from runtree.store import close_all


@pytest.fixture
def rt_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary RUNTREE_DIR: runtree.init() and runtree.Api() use the store inside it."""
    d = tmp_path / "rt"
    monkeypatch.setenv("RUNTREE_DIR", str(d))
    monkeypatch.setenv("RUNTREE_ENTITY", "tester")
    monkeypatch.setenv("RUNTREE_SYSTEM_SAMPLE_INTERVAL", "0")
    monkeypatch.setenv("RUNTREE_CONSOLE", "off")
    for var in ("WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_ID", "WANDB_RESUME", "RUNTREE_STORE_URL"):
        monkeypatch.delenv(var, raising=False)
    return d


@pytest.fixture(autouse=True)
def _no_leftovers() -> Iterator[None]:
    yield
    for run in list(run_mod._active):
        run.finish()
    close_all()
