"""The web UI's routes: the single-page app's files, its client-side routes, and the login that sets the key cookie.

`mount_ui(app)` adds them to an app made by create_app, after the JSON API, so no API route is shadowed.
Every client-side route (`/p/{entity}/{project}`, `/r/{uid}`, ...) answers index.html and the app draws
the page; an unknown path gets index.html too, with status 404, and the app shows its not-found page.
`serve_local` is what `runtree ui` and `runtree demo` run: the embedded store, no keys, loopback only.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from runtree.server.auth import COOKIE, KeyAuth, KeyCookie, OpenAuth, Principal

API = "/api/v1"
SESSION_DAYS = 30
DEFAULT_PORT = 8765
# First path parts the app draws a page for; any other path is a not-found page (status 404).
PAGES = ("", "p", "r")


def static_files() -> resources.abc.Traversable:
    """The app's folder inside the installed package (index.html, app.js, pages/, vendor/)."""
    return resources.files("runtree.ui") / "static"


class _Static(StaticFiles):
    """Static files that the browser revalidates each time (cheap: ETag), so an upgrade never mixes old and new modules."""

    def file_response(self, full_path: Any, stat_result: os.stat_result, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=200, description="an API key of this server")


def _index(status: int = 200) -> Response:
    html = (static_files() / "index.html").read_bytes()
    return Response(html, status_code=status, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


def _whoami(who: Principal) -> dict[str, Any]:
    return {"admin": who.admin, "entities": sorted(who.entities), "prefix": who.prefix}


def _session_routes() -> APIRouter:
    r = APIRouter(prefix=API, tags=["web UI"])

    @r.post("/session", summary="Check an API key and keep it in an HttpOnly cookie for the web UI")
    def login(request: Request, body: Login) -> Response:
        auth: KeyAuth | OpenAuth = request.app.state.auth
        who = auth.authenticate(f"Bearer {body.key.strip()}")  # Unauthorized (401) for a key the store does not know
        response = Response(orjson.dumps(_whoami(who)), media_type="application/json")
        response.set_cookie(
            COOKIE,
            body.key.strip(),
            max_age=SESSION_DAYS * 86400,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @r.delete("/session", status_code=204, summary="Forget the web UI's key cookie (sign out)")
    def logout(request: Request) -> Response:
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    return r


def _page_routes() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/")
    def home() -> Response:
        return _index()

    @r.get("/{path:path}")
    def page(path: str) -> Response:
        first = path.split("/", 1)[0]
        if first in ("api", "static"):
            raise HTTPException(404)  # the API's JSON not-found answer, not a page
        return _index(200 if first in PAGES else 404)

    return r


def mount_ui(app: FastAPI) -> None:
    """Serve the web UI from `app`: call after every API route is added (the page route matches any path)."""
    app.add_middleware(KeyCookie)
    app.include_router(_session_routes())
    app.mount("/static", _Static(packages=[("runtree.ui", "static")]), name="static")
    app.include_router(_page_routes())


# -- `runtree ui`: the embedded store on the loopback interface ------------------------------------
def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def pick_port(host: str, port: int | None) -> int:
    """`port` when given (it must be free); else DEFAULT_PORT, or any free port when that one is taken."""
    if port is not None:
        return port
    if _port_free(host, DEFAULT_PORT):
        return DEFAULT_PORT
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_local(
    store_url: str, *, port: int | None = None, open_browser: bool = True, path: str = "/", say: Callable[[str], None] = print
) -> None:
    """Serve the UI (and the API) over `store_url` on 127.0.0.1 without API keys, until Ctrl-C.

    `path` is the page the browser opens at. Only the loopback interface is bound: with no keys, anyone
    who can reach the port may rename runs, so it must not be reachable from another machine.
    """
    import uvicorn

    from runtree.server.app import create_app
    from runtree.store import open_store

    host = "127.0.0.1"
    chosen = pick_port(host, port)
    store = open_store(store_url)
    app = create_app(store, OpenAuth())
    from runtree.store.reaper import Reaper

    Reaper(store).start()  # a run killed while the UI is open shows crashed without a reload of the Api
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=chosen, log_level="warning", access_log=False, timeout_keep_alive=60))
    url = f"http://{host}:{chosen}{path}"

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            threading.Event().wait(0.05)
        say(f"runtree ui: serving {store.url} at {url} (no API keys, this machine only); press Ctrl-C to stop")
        if open_browser:
            webbrowser.open(url)

    threading.Thread(target=announce, name="runtree-ui-announce", daemon=True).start()
    try:
        server.run()
    finally:
        store.close()
    if not server.started:
        print(f"runtree ui: could not listen on {host}:{chosen} (is the port in use? pick another with --port)", file=sys.stderr)
        raise SystemExit(1)
