"""Start `runtree server`: migrate the store, print a first admin key on a new store, run uvicorn workers.

Workers are separate processes, each building its app from the environment (`app_from_env`), so one
command line serves a database from N processes; more hosts may serve the same database the same way.
"""

from __future__ import annotations

import gc
import os
import secrets
import sys

from fastapi import FastAPI

from runtree.errors import UsageError
from runtree.server.app import create_app
from runtree.server.auth import KeyAuth, OpenAuth, ensure_first_key
from runtree.server.wandb.uploads import ENV_SECRET
from runtree.store import open_store
from runtree.store.reaper import Reaper

ENV_DB = "RUNTREE_SERVER_DB"
ENV_OPEN = "RUNTREE_SERVER_OPEN"  # "1": no keys, every caller is admin (loopback only)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def app_from_env() -> FastAPI:
    """The app for one worker process: the store named by $RUNTREE_SERVER_DB (uvicorn's app factory)."""
    url = os.environ.get(ENV_DB)
    if not url:
        raise UsageError(f"${ENV_DB} is not set: start the server with `runtree server --db URL`")
    store = open_store(url)
    auth = OpenAuth() if os.environ.get(ENV_OPEN) == "1" else KeyAuth(store)
    app = create_app(store, auth)
    Reaper(store).start()  # a killed run is marked crashed within STALE_AFTER + REAP_INTERVAL, read or not
    # A row batch allocates ~10 objects per row; with the long-lived startup objects frozen out of the
    # collector's view and a larger first generation, collections cost ~30% less server CPU per batch.
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)
    return app


def serve(
    db_url: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    *,
    open_access: bool = False,
    access_log: bool = True,
    log_level: str = "info",
) -> None:
    """Serve the store at `db_url` on host:port with `workers` processes until interrupted."""
    import uvicorn

    if workers < 1:
        raise UsageError(f"workers={workers}: need at least 1")
    if open_access and host not in _LOOPBACK:
        raise UsageError(f"open access (no API keys) is only allowed on the loopback interface, not host={host!r}")
    store = open_store(db_url)  # migrates once, here, before the workers start
    if not open_access:
        key = ensure_first_key(store)
        if key is not None:
            print(
                "runtree server: the store had no API key, so this admin key was created. It is shown only this once:\n\n"
                f"    {key}\n\n"
                "Clients use it as RUNTREE_API_KEY; make keys limited to entities with `runtree keys create --entity NAME`.",
                flush=True,
            )
    os.environ[ENV_DB] = db_url
    os.environ[ENV_OPEN] = "1" if open_access else "0"
    # One secret for all workers of this launch (unless the operator set one for all hosts): it signs W&B upload URLs.
    os.environ.setdefault(ENV_SECRET, secrets.token_hex(32))
    print(f"runtree server: serving {store.url} at http://{host}:{port}/api/v1 with {workers} worker(s)", file=sys.stderr, flush=True)
    uvicorn.run(
        "runtree.server.serve:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=log_level,
        timeout_keep_alive=60,
    )
