"""Browser tests: Debian's Chromium driven by Playwright against real server subprocesses.

`demo_store` holds the demo's runs (made by runtree.demo, as `runtree demo` makes them), `ui_server` is
`runtree ui --dir <that store> --no-browser` (the embedded store, no keys), and `page` is a fresh browser
context per test that fails the test on any uncaught JavaScript error. No browser is downloaded:
Playwright launches /usr/bin/chromium (.ci/ensure_chromium.sh installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtree.demo import DemoResult
from tests.browser.workspace_project import Project, make_project
from tests.conftest import _pg_unavailable as _unavailable  # skip locally, fail in CI (CI=true)
from tests.integration.server_fixture import free_port, stop, wait_ready

CHROMIUM = os.environ.get("RUNTREE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
# docs/screenshots/*.png are written only when asked: RUNTREE_SCREENSHOTS=1 pytest tests/browser
WRITE_SCREENSHOTS = os.environ.get("RUNTREE_SCREENSHOTS") == "1"
VIEWPORT = {"width": 1400, "height": 900}

try:
    from playwright.sync_api import Browser, Page, Playwright, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None  # type: ignore[assignment]


def base_env(**extra: str) -> dict[str, str]:
    """The environment of a subprocess: this one's, without store or server settings that would redirect it."""
    drop = ("RUNTREE_BASE_URL", "RUNTREE_STORE_URL", "RUNTREE_API_KEY", "RUNTREE_DIR", "WANDB_MODE", "WANDB_DIR")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update({"RUNTREE_ENTITY": "tester", "PYTHONPATH": str(ROOT), **extra})
    return env


def snapshot(target: Any, name: str) -> None:
    """Save a picture of a page or element as docs/screenshots/<name>.png, only when RUNTREE_SCREENSHOTS=1."""
    if not WRITE_SCREENSHOTS:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@dataclass
class UiServer:
    url: str
    store_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """The demo's runs (baseline, a fork, a fork of the fork, a rewound run) in a fresh embedded store."""
    d = tmp_path_factory.mktemp("demo-store")
    code = (
        "import pickle, sys; from runtree.demo import run_demo; "
        "r = run_demo(sys.argv[1], steps=300, say=print); open(sys.argv[2], 'wb').write(pickle.dumps(r))"
    )
    out = d / "result.pickle"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(d / "store"), str(out)],
        env=base_env(RUNTREE_SYSTEM_SAMPLE_INTERVAL="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    import pickle

    result: DemoResult = pickle.loads(out.read_bytes())
    return result


@pytest.fixture(scope="session")
def ui_server(demo_store: DemoResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """`runtree ui --dir <demo store> --no-browser` on a free port of 127.0.0.1."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("ui-server") / "server.log"
    cmd = [sys.executable, "-m", "runtree.cli", "ui", "--dir", str(demo_store.directory), "--port", str(port), "--no-browser"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=base_env())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, log_path)
        yield UiServer(url, demo_store.directory, proc, log_path)
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def sweep_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The 42-run project of workspace_project.py (fork chain, grid with seeds, rewinds, failed/crashed/live, a long run)."""
    return make_project(tmp_path_factory.mktemp("sweep-store") / "store")


@pytest.fixture(scope="session")
def sweep_server(sweep_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """`runtree ui` over the 42-run project."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("sweep-server") / "server.log"
    cmd = [sys.executable, "-m", "runtree.cli", "ui", "--dir", str(sweep_project.directory), "--port", str(port), "--no-browser"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=base_env())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, log_path)
        yield UiServer(url, sweep_project.directory, proc, log_path)
    finally:
        stop(proc)


# Per module, not per session: while Playwright's sync API is open, its event loop counts as running in
# this thread, and a later test calling asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if sync_playwright is None:
        _unavailable("playwright is not installed: pip install -e '.[dev]'")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM}: run .ci/ensure_chromium.sh (Debian's chromium package)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context (no cookies) with clipboard access; any uncaught JavaScript error fails the test."""
    context = browser.new_context(viewport=VIEWPORT, permissions=["clipboard-read", "clipboard-write"], device_scale_factor=1)
    context.set_default_timeout(10_000)
    errors: list[Any] = []
    pg = context.new_page()
    pg.on("pageerror", lambda e: errors.append(e))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
