"""Behind a server with API keys: the UI asks for a key once, keeps it in an HttpOnly cookie, shows what it may read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

import runtree
from runtree.server import auth
from runtree.store import open_store
from tests.integration.server_fixture import Server, running_server


@dataclass
class KeyedServer:
    server: Server
    alice_key: str
    alice_uid: str
    bob_uid: str


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedServer]:
    """`python -m runtree.server` with keys over a store holding a run of alice's and one of bob's; a key for alice only."""
    d = tmp_path_factory.mktemp("keyed")
    uids = {}
    for entity, project in (("alice", "vision"), ("bob", "speech")):
        quiet = {"system_sample_interval": 0, "console": "off"}
        run = runtree.init(entity=entity, project=project, dir=d, name=f"{entity}-run", settings=quiet)
        for step in range(20):
            run.log({"loss": 1 / (step + 1)})
        run.finish()
        uids[entity] = run.uid
    store = open_store(str(d))
    alice_key = auth.create_key(store, ["alice"], label="alice")
    store.close()
    with running_server(f"sqlite:///{d / 'runtree.db'}", d / "logs") as server:
        yield KeyedServer(server, alice_key, uids["alice"], uids["bob"])


def test_the_ui_asks_for_a_key_once_and_shows_only_what_it_may_read(page: Page, keyed_server: KeyedServer) -> None:
    url = keyed_server.server.url
    page.goto(url + "/")
    expect(page.get_by_role("heading", name="Sign in to runtree")).to_be_visible()

    page.get_by_label("API key").fill("rt_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("p.error")).to_have_text("That key is not valid on this server (or it was revoked).")

    page.get_by_label("API key").fill(keyed_server.alice_key)
    page.get_by_role("button", name="Sign in").click()
    projects = page.locator("table.projects tbody tr")
    expect(projects).to_have_count(1)
    expect(projects.first).to_contain_text("vision")
    expect(page.locator("#whoami")).to_contain_text("alice")

    cookie = next(c for c in page.context.cookies() if c["name"] == auth.COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # the page's scripts never see the key

    # Asked once: a new page in the same browser goes straight in.
    page.goto(f"{url}/r/{keyed_server.alice_uid}")
    expect(page.locator("h1.run-name")).to_have_text("alice-run")
    expect(page.locator('section.chart-card[data-key="loss"] .chart')).to_have_attribute("data-points", "20")

    # Another entity's run is not shown.
    page.goto(f"{url}/r/{keyed_server.bob_uid}")
    expect(page.get_by_test_id("not-found").locator("h1")).to_have_text("Not allowed")

    # Renaming works through the cookie; a change without the UI's header (a cross-site form) is refused.
    page.goto(f"{url}/r/{keyed_server.alice_uid}/overview")
    page.get_by_role("button", name="Rename run").click()
    page.get_by_label("run name").fill("alice-renamed")
    page.get_by_label("run name").press("Enter")
    expect(page.locator("h1.run-name")).to_have_text("alice-renamed")
    status = page.evaluate(
        """async (uid) => (await fetch(`/api/v1/runs/${uid}`, {method: 'PATCH', headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({fields: {name: 'csrf'}})})).status""",
        keyed_server.alice_uid,
    )
    assert status == 401

    # Signing out forgets the key.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to runtree")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == auth.COOKIE]


def test_the_api_takes_the_key_from_the_cookie_and_still_from_headers(keyed_server: KeyedServer) -> None:
    url = keyed_server.server.url + "/api/v1"
    key = keyed_server.alice_key
    login = httpx.post(f"{url}/session", json={"key": key})
    assert login.status_code == 200 and login.json()["entities"] == ["alice"]
    assert re.search(r"HttpOnly", login.headers["set-cookie"], re.I) and "SameSite=strict" in login.headers["set-cookie"]
    with httpx.Client(cookies={auth.COOKIE: key}) as c:
        assert c.get(f"{url}/whoami").json()["entities"] == ["alice"]
        assert c.get(f"{url}/runs/{keyed_server.bob_uid}").status_code == 403
    assert httpx.get(f"{url}/whoami", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert httpx.get(f"{url}/whoami", auth=("api", key)).status_code == 200
    assert httpx.get(f"{url}/whoami").status_code == 401
    assert httpx.post(f"{url}/session", json={"key": "rt_" + "y" * 43}).status_code == 401


def test_pages_and_static_files_need_no_key(keyed_server: KeyedServer) -> None:
    url = keyed_server.server.url
    for path in ("/", "/p/alice/vision", f"/r/{keyed_server.alice_uid}", "/static/app.js", "/static/vendor/uPlot.iife.min.js"):
        assert httpx.get(url + path).status_code == 200, path
    assert httpx.get(url + "/no/such/page").status_code == 404
    assert httpx.get(url + "/static/no-such-file.js").status_code == 404
