"""Run metadata: host, OS, Python, command line, working directory, git state and installed packages.

Collected on a background thread (git and the package listing take 100+ ms). The small part is stored on
the run; the installed packages go to the run file `requirements.txt` (as W&B does: a few KB per run that
listing runs need not parse) and a dirty working tree's diff against HEAD to `diff.patch`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import platform
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("runtree")

DIFF_FILE = "diff.patch"
REQUIREMENTS_FILE = "requirements.txt"
_GIT_TIMEOUT = 10.0  # seconds per git command; finish() waits for the collector


def _git(cwd: str, *args: str) -> bytes | None:
    """git's stdout, or None when git is missing, fails or is not in a repository."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        p = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=_GIT_TIMEOUT, env=env, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout if p.returncode == 0 else None


def redact_remote(url: str) -> str:
    """A remote URL without any password or token in it (https://user:token@host/... -> https://user@host/...)."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))


def git_state(cwd: str) -> tuple[dict[str, Any] | None, bytes | None]:
    """({root, commit, branch, remote, dirty}, diff against HEAD when dirty); (None, None) outside a repository."""
    out = _git(cwd, "rev-parse", "--show-toplevel")
    if out is None:
        return None, None
    info: dict[str, Any] = {"root": out.decode(errors="replace").strip()}
    commit = _git(cwd, "rev-parse", "--verify", "-q", "HEAD")
    info["commit"] = commit.decode().strip() if commit else None  # None in a repository without commits
    branch = _git(cwd, "symbolic-ref", "--short", "-q", "HEAD")
    info["branch"] = branch.decode(errors="replace").strip() if branch else None  # None on a detached HEAD
    remote = _git(cwd, "config", "--get", "remote.origin.url")
    info["remote"] = redact_remote(remote.decode(errors="replace").strip()) if remote else None
    diff = _git(cwd, "diff", "HEAD", "--no-color", "--no-ext-diff") if commit else None
    info["dirty"] = bool(diff) if commit else None
    return info, (diff or None)


@functools.cache
def installed_packages() -> tuple[str, ...]:
    """Every distribution importable here as 'name==version', sorted by name; read once per process."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = cast(Any, dist.metadata).get("Name")  # a Message underneath; missing Name gives None, no warning
        if name and name.lower() not in found:  # the first on sys.path is the one imported
            found[name.lower()] = f"{name}=={dist.version}"
    return tuple(found[k] for k in sorted(found))


def collect(argv: Sequence[str], cwd: str, started_at: float) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The run's metadata, and its files: requirements.txt and, for a dirty git working tree, diff.patch."""
    meta: dict[str, Any] = {
        "host": socket.gethostname(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "program": argv[0] if argv else None,
        "args": list(argv[1:]),
        "cwd": cwd,
        "startedAt": datetime.fromtimestamp(started_at, UTC).isoformat(),
        "cpu_count_logical": os.cpu_count(),
    }
    git, diff = git_state(cwd)
    if git is not None:
        meta["git"] = git
    files = {REQUIREMENTS_FILE: "".join(f"{p}\n" for p in installed_packages()).encode()}
    if diff:
        files[DIFF_FILE] = diff
    return meta, files


class MetadataCollector:
    """Collects the metadata on its own thread, then stores it with `set_metadata` and its files with `put_file`."""

    def __init__(
        self,
        set_metadata: Callable[[dict[str, Any]], None],
        put_file: Callable[[str, bytes], None],
        started_at: float,
        *,
        argv: Sequence[str] | None = None,
        cwd: str | None = None,
        name: str = "runtree-metadata",
    ) -> None:
        self._set_metadata = set_metadata
        self._put_file = put_file
        self._started_at = started_at
        self._argv = list(sys.argv if argv is None else argv)  # read now: the program may change them later
        self._cwd = os.getcwd() if cwd is None else cwd
        self._thread = threading.Thread(target=self._collect, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Wait for the collection to end, so finish() stores it with the run."""
        if self._thread.is_alive():
            self._thread.join()

    def _collect(self) -> None:
        try:
            meta, files = collect(self._argv, self._cwd, self._started_at)
            for name, data in files.items():
                self._put_file(name, data)
            self._set_metadata(meta)
        except Exception as e:  # metadata is a nicety: never a reason to disturb the run
            log.warning("runtree: could not collect the run's metadata: %s", e)
