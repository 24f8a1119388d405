"""W&B's links, as the wandb client prints them ("View run at ..."), redirected to the web UI's pages.

- `/<entity>/<project>` -> `/p/<entity>/<project>`
- `/<entity>/<project>/runs/<id>[/overview|logs|files|system|charts|workspace]` -> `/r/<uid>/<tab>` when the
  caller's key (header or the UI's cookie) may see the run; otherwise to its project's page, where the UI asks
  for a key. Paths of the UI itself (`/p/...`, `/r/...`) and of the API are left to them.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from runtree.server.auth import Forbidden, KeyAuth, OpenAuth, Unauthorized
from runtree.server.wandb import runs
from runtree.store.base import Store

# W&B's run tabs -> the UI's
TABS = {"overview": "overview", "logs": "logs", "files": "overview", "system": "system", "charts": "charts", "workspace": "charts"}
# First path segments that are not entities: the UI's pages and files, the API, the wandb client's endpoints.
NOT_ENTITIES = ("p", "r", "api", "static", "graphql", "files", "files-upload", "sdk", "session")


class EntityConvertor(Convertor[str]):
    """A path segment that can be an entity: these links never shadow a route of the UI or the API."""

    regex = "(?!(?:" + "|".join(NOT_ENTITIES) + ")/)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class TabConvertor(EntityConvertor):
    regex = "(?:" + "|".join(TABS) + ")"


register_url_convertor("wandb_entity", EntityConvertor())
register_url_convertor("wandb_tab", TabConvertor())


def _project_page(entity: str, project: str) -> Response:
    return RedirectResponse(f"/p/{quote(entity, safe='')}/{quote(project, safe='')}", status_code=302)


def links_router(store: Store, auth: KeyAuth | OpenAuth) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/{entity:wandb_entity}/{project}")
    def project_link(entity: str, project: str) -> Response:
        return _project_page(entity, project)

    async def run_link(request: Request, entity: str, project: str, run_id: str, tab: str | None) -> Response:
        try:
            who = await run_in_threadpool(auth.authenticate, request.headers.get("authorization"))
            run = await run_in_threadpool(runs.find, store, who, entity, project, run_id)
        except (Unauthorized, Forbidden, ValueError):
            run = None
        if run is None:
            return _project_page(entity, project)
        return RedirectResponse(f"/r/{quote(run.uid, safe='')}/{TABS[tab or 'charts']}", status_code=302)

    @r.get("/{entity:wandb_entity}/{project}/runs/{run_id}")
    async def run_page(request: Request, entity: str, project: str, run_id: str) -> Response:
        return await run_link(request, entity, project, run_id, None)

    @r.get("/{entity:wandb_entity}/{project}/runs/{run_id}/{tab:wandb_tab}")
    async def run_tab(request: Request, entity: str, project: str, run_id: str, tab: str) -> Response:
        return await run_link(request, entity, project, run_id, tab)

    return r
