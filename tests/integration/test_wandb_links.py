"""The links the wandb client prints (/<entity>/<project>/runs/<id>, ...) redirect to the web UI's pages."""

from __future__ import annotations

import httpx

from runtree.domain import lineage
from runtree.domain.records import RunRecord
from runtree.server import auth
from tests.integration.server_fixture import Server


def test_wandb_links_redirect_to_the_ui(sqlite_server: Server) -> None:
    store = sqlite_server.fresh_store()
    try:
        run = RunRecord(uid="0123456789abcdef0123456789abcdef", entity="team", project="proj", id="abc123", name="n", created_at=1.0)
        store.create_run(run, lineage.new_run(run.uid))
        key = auth.create_key(store, ["team"])
        other = auth.create_key(store, ["else"])
    finally:
        store.close()
    bearer = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=sqlite_server.url, follow_redirects=False) as c:

        def where(path: str, headers: dict[str, str] | None = None) -> tuple[int, str | None]:
            r = c.get(path, headers=headers)
            return r.status_code, r.headers.get("location")

        assert where("/team/proj") == (302, "/p/team/proj")
        assert where("/team/proj/runs/abc123", bearer) == (302, f"/r/{run.uid}/charts")
        assert where("/team/proj/runs/abc123/overview", bearer) == (302, f"/r/{run.uid}/overview")
        assert where("/team/proj/runs/abc123/logs", bearer) == (302, f"/r/{run.uid}/logs")
        assert where("/team/proj/runs/abc123/files", bearer) == (302, f"/r/{run.uid}/overview")
        c.cookies.set("runtree_key", key)
        cookie_answer = where("/team/proj/runs/abc123")
        c.cookies.clear()
        # without a key, or with one for another entity, the uid is not given away: the project page asks for a key
        assert where("/team/proj/runs/abc123") == (302, "/p/team/proj")
        assert where("/team/proj/runs/abc123", {"Authorization": f"Bearer {other}"}) == (302, "/p/team/proj")
        assert where("/team/proj/runs/nope", bearer) == (302, "/p/team/proj")
        # the UI's own pages, its files and the API are not links
        assert c.get("/p/team/proj").status_code == 200 and c.get("/r/" + run.uid).status_code == 200
        assert c.get("/static/app.js").status_code == 200
        assert c.get("/api/v1/health").status_code == 200
        assert c.get("/team/proj/runs/abc123/nonsense").status_code == 404
    assert cookie_answer == (302, f"/r/{run.uid}/charts")  # the UI's cookie is a key too
