"""Numbered schema steps per dialect (`sqlite/0001_*.sql`, ...); each applied in one transaction."""

from __future__ import annotations

from importlib import resources

SEALED = 7  # before this step, a store converts its history rows into chunks (runtree.store.chunked.seal)


def load(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every step for `dialect`, in order."""
    steps = []
    for f in resources.files(__package__).joinpath(dialect).iterdir():
        if f.name.endswith(".sql"):
            steps.append((int(f.name.split("_", 1)[0]), f.name, f.read_text()))
    return sorted(steps)
