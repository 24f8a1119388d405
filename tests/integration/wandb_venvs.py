"""One scratch venv per wandb client version (scripts/wandb-venv.sh), cached outside the checkout for CI to reuse.

`wandb_python(version)` is the venv's python, built on first use (about a minute each, from PyPI); a machine
that cannot build it skips the tests that need it, except in CI ($CI set), where that is a failure.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLDEST, NEWEST = "0.17.9", "0.31.0"
VERSIONS = (OLDEST, "0.18.7", "0.19.11", "0.22.3", NEWEST)


@functools.cache
def _build(version: str) -> tuple[str | None, str]:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "wandb-venv.sh"), version], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        return None, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1], ""


def wandb_python(version: str) -> str:
    python, problem = _build(version)
    if python is None:
        message = f"cannot build a venv with wandb {version}: {problem}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return python


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))
