"""Metadata helpers that need no process, file or repository: a git remote with its secrets taken out."""

from __future__ import annotations

import pytest

from runtree.sdk.metadata import redact_remote


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:ghp_secret@github.com/o/r.git", "https://user@github.com/o/r.git"),
        ("https://:token@example.com/r", "https://example.com/r"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("ssh://git@host:22/r.git", "ssh://git@host:22/r.git"),
    ],
)
def test_redact_remote(url: str, shown: str) -> None:
    assert redact_remote(url) == shown
