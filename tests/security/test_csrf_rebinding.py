"""Issue 9 item 2: CSRF and DNS rebinding against `runtree ui` (open mode: no keys, every caller is admin).

A page on another origin, in real Chromium, sends the no-cors text/plain POSTs the issue found working: a
GraphQL rename and rewind, file_stream rows and a failed exit, a REST row batch. The run must come out
unchanged. A Host header that is not a loopback name (a rebinding page) is refused for reads and writes;
the UI's own writes and the real wandb client (no Origin header) keep working.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.store import close_all, default_store_url, open_store
from tests.browser.conftest import base_env
from tests.integration.server_fixture import Server, free_port, stop, wait_ready

pytest.importorskip("playwright")
from playwright.sync_api import Page

UID = "c" * 32
ATTACK = """<!doctype html><title>cat pictures</title><script>
const ui = %(ui)r, uid = %(uid)r;
const gql = (query) => JSON.stringify({query});
const rename = 'upsertBucket(input: {id: "' + uid + '", displayName: "pwned", notes: "csrf"}) { bucket { id } }';
const rewind = 'rewindRun(input: {runName: "victim", entityName: "e", projectName: "p", metricName: "_step", metricValue: 1})';
const rows = {'wandb-history.jsonl': {offset: 0, content: ['{"_step": 99, "injected": 1}']}};
const sends = [
  [ui + '/graphql', gql('mutation { ' + rename + ' }')],
  [ui + '/graphql', gql('mutation { ' + rewind + ' { rewoundRun { id } } }')],
  [ui + '/files/e/p/victim/file_stream', JSON.stringify({files: rows, complete: true, exitcode: 1})],
  [ui + '/api/v1/runs/' + uid + '/rows', JSON.stringify({epoch: 0, rows: [[98, 1.0, {_step: 98, injected: 1}]]})],
];
Promise.allSettled(sends.map(([url, body]) => fetch(url, {method: 'POST', mode: 'no-cors', body, headers: {'Content-Type': 'text/plain'}})))
  .then(() => fetch(ui + '/api/v1/runs/' + uid + '/rows', {method: 'POST', mode: 'no-cors', body: new Blob(['{"epoch": 0, "rows": []}'])}))
  .finally(() => { document.title = 'sent'; });
</script>"""


@dataclass
class Ui:
    url: str
    port: int
    store_dir: Path


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Ui]:
    """`runtree ui` over a fresh store holding run e/p/victim, steps 0..4, running."""
    store_dir = tmp_path / "store"
    store = open_store(default_store_url(store_dir))
    store.create_run(RunRecord(uid=UID, entity="e", project="p", id="victim", name="victim", created_at=1.0), lineage.new_run(UID))
    store.append_rows(UID, 0, [(s, float(s), {"_step": s, "loss": 1.0 / (s + 1)}) for s in range(5)])
    close_all()
    port = free_port()
    log_path = tmp_path / "ui.log"
    cmd = [sys.executable, "-m", "runtree.cli", "ui", "--dir", str(store_dir), "--port", str(port), "--no-browser"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=base_env())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, log_path)
        yield Ui(url, port, store_dir)
    finally:
        stop(proc)


@pytest.fixture
def attacker(tmp_path: Path, ui: Ui) -> Iterator[str]:
    """Another origin (its own port) serving the attack page."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(ATTACK % {"ui": ui.url, "uid": UID})

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(site), **kw)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def _state(ui: Ui) -> tuple[str, str | None, str, int, list[int]]:
    with httpx.Client(base_url=f"{ui.url}/api/v1") as c:
        run = c.get(f"/runs/{UID}").json()
        history = c.get(f"/runs/{UID}/history").json()
    steps = [int(s) for s in history["columns"]["_step"]] if "columns" in history else history
    return run["name"], run["notes"], run["state"], run["epoch"], steps


def test_a_page_on_another_origin_cannot_change_a_local_run(page: Page, ui: Ui, attacker: str) -> None:
    before = _state(ui)
    assert before == ("victim", None, "running", 0, [0, 1, 2, 3, 4])
    page.goto(attacker)
    page.wait_for_function("document.title === 'sent'")
    assert _state(ui) == before


def test_the_ui_itself_still_renames_a_run(page: Page, ui: Ui) -> None:
    page.goto(f"{ui.url}/r/{UID}")
    status = page.evaluate(
        """async (uid) => (await fetch('/api/v1/runs/' + uid, {method: 'PATCH', body: JSON.stringify({fields: {name: 'renamed'}}),
           headers: {'Content-Type': 'application/json', 'X-Runtree-UI': '1'}})).status""",
        UID,
    )
    assert status == 204 and _state(ui)[0] == "renamed"


def test_a_rebound_host_name_can_neither_read_nor_write(ui: Ui) -> None:
    evil = {"Host": f"evil.example:{ui.port}"}
    r = httpx.get(f"{ui.url}/api/v1/runs", headers=evil)
    assert r.status_code == 421 and "does not answer to the Host 'evil.example" in r.json()["error"]["message"]
    assert httpx.get(f"{ui.url}/", headers=evil).status_code == 421
    r = httpx.patch(f"{ui.url}/api/v1/runs/{UID}", json={"fields": {"name": "x"}}, headers=evil)
    assert r.status_code == 421
    for name in ("127.0.0.1", "localhost"):
        assert httpx.get(f"{ui.url}/api/v1/runs", headers={"Host": f"{name}:{ui.port}"}).status_code == 200
    assert _state(ui)[0] == "victim"


def test_writes_without_json_or_from_another_origin_are_refused_over_http(ui: Ui) -> None:
    body = '{"fields": {"name": "x"}}'
    plain = httpx.patch(f"{ui.url}/api/v1/runs/{UID}", content=body, headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and "application/json" in plain.json()["error"]["message"]
    foreign = httpx.patch(f"{ui.url}/api/v1/runs/{UID}", content=body,
                          headers={"Content-Type": "application/json", "Origin": "http://evil.example"})  # fmt: skip
    assert foreign.status_code == 403 and foreign.json()["error"]["type"] == "cross_origin"
    site = httpx.patch(f"{ui.url}/api/v1/runs/{UID}", content=body,
                       headers={"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"})  # fmt: skip
    assert site.status_code == 403
    assert _state(ui)[0] == "victim"
    # What the wandb client and runtree's clients send: JSON, no Origin.
    ok = httpx.patch(f"{ui.url}/api/v1/runs/{UID}", content=body, headers={"Content-Type": "application/json"})
    assert ok.status_code == 204 and _state(ui)[0] == "x"


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    with open(log_path, "wb") as log:
        cmd = [sys.executable, "-m", "runtree.server", "--port", str(port), "--no-access-log", *args]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=base_env())
    return proc, f"http://127.0.0.1:{port}", log_path


def test_a_team_server_answers_to_the_names_it_is_given(sqlite_server: Server, tmp_path: Path) -> None:
    """`runtree server --allowed-host NAME` answers to NAME only; without it, to any name (a page has no key)."""
    port = int(sqlite_server.url.rsplit(":", 1)[1])
    assert httpx.get(f"{sqlite_server.url}/api/v1/health", headers={"Host": f"proxy.example:{port}"}).status_code == 200
    proc, url, log_path = _serve(tmp_path, "--db", sqlite_server.db_url, "--allowed-host", "runtree.example.com")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{url}/api/v1/health", headers={"Host": "runtree.example.com"}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert httpx.get(f"{url}/api/v1/health", headers={"Host": "runtree.example.com:443"}).status_code == 200, log_path.read_text()
        assert httpx.get(f"{url}/api/v1/health", headers={"Host": "evil.example"}).status_code == 421
        assert httpx.get(f"{url}/api/v1/health").status_code == 421  # 127.0.0.1 is not a name it was given
    finally:
        stop(proc)


def test_the_real_wandb_client_still_logs_to_a_server_without_keys(tmp_path: Path) -> None:
    """The wandb client sends no Origin: the guards let it through in open mode (and it uploads its files)."""
    pytest.importorskip("wandb")
    from tests.integration.test_wandb_client import run_script, wandb_env

    proc, url, log_path = _serve(tmp_path, "--db", f"sqlite:///{tmp_path / 'open.db'}", "--open")
    try:
        wait_ready(proc, url, log_path)
        server = Server(url, "", "", log_path, proc)
        script = 'import wandb\nrun = wandb.init(project="open", entity="me")\nrun.log({"a": 1})\nrun.finish()\n'
        run_script(script, wandb_env(server, "rt_" + "o" * 43, tmp_path / "w"), tmp_path)
        runs = httpx.get(f"{url}/api/v1/runs").json()["runs"]
        assert [(r["entity"], r["project"], r["state"]) for r in runs] == [("me", "open", "finished")]
        assert "wandb-metadata.json" in httpx.get(f"{url}/api/v1/runs/{runs[0]['uid']}/files").json()["files"]
    finally:
        stop(proc)
