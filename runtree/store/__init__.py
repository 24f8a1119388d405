"""open_store(url) -> the Store for a URL: `sqlite:///path/file.db`, a directory holding `runtree.db`, `postgresql://...`
or `http(s)://` (a runtree server, its API key from $RUNTREE_API_KEY).

`runtree login` stores a server's base URL and API key in the user's config (~/.config/runtree/config.json);
the environment ($RUNTREE_STORE_URL, $RUNTREE_BASE_URL, $RUNTREE_API_KEY) wins over it.
"""

from __future__ import annotations

import getpass
import json
import os
import threading
from pathlib import Path

from runtree.errors import StoreError
from runtree.store.base import Store

__all__ = [
    "ENV_STORE_URLS",
    "Store",
    "api_key",
    "config_path",
    "default_entity",
    "default_store_url",
    "env_store_url",
    "is_server_url",
    "open_store",
    "read_user_config",
    "resolve_store_url",
    "write_user_config",
]

DB_FILE = "runtree.db"
# Environment variables naming the store, first set wins: a store URL, then a server's base URL.
ENV_STORE_URLS = ("RUNTREE_STORE_URL", "RUNTREE_BASE_URL")
_cache: dict[tuple[str, int], Store] = {}
_cache_lock = threading.Lock()


def default_store_url(directory: str | os.PathLike[str] | None = None) -> str:
    """The embedded store under `directory`, else $RUNTREE_DIR, else ./runtree."""
    base = Path(directory or os.environ.get("RUNTREE_DIR") or "runtree")
    return f"sqlite:///{(base / DB_FILE).resolve()}"


def default_entity() -> str:
    """The entity runs go to when none is given: $RUNTREE_ENTITY, $WANDB_ENTITY, else the OS user name."""
    env = os.environ.get("RUNTREE_ENTITY") or os.environ.get("WANDB_ENTITY")
    if env:
        return env
    try:
        return getpass.getuser() or "local"
    except (KeyError, OSError):
        return "local"


def config_path() -> Path:
    """The user's runtree config: $XDG_CONFIG_HOME/runtree/config.json, else ~/.config/runtree/config.json."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "runtree" / "config.json"


def read_user_config() -> dict[str, str]:
    """What `runtree login` stored ({} when nothing or unreadable)."""
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def write_user_config(**values: str) -> Path:
    """Merge `values` into the user's config, written mode 0600 (it holds an API key)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**read_user_config(), **values}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def env_store_url() -> str | None:
    """The store the environment names: $RUNTREE_STORE_URL, else $RUNTREE_BASE_URL (a runtree server), else the
    base URL `runtree login` stored, else None."""
    for name in ENV_STORE_URLS:
        if os.environ.get(name):
            return os.environ[name]
    return read_user_config().get("base_url") or None


def resolve_store_url(url: str | None = None, directory: str | os.PathLike[str] | None = None) -> str:
    """The store the SDK, Api() and the CLI use, by one rule; the first that applies wins:

    1. `url` given in code or on the command line (init(settings={"store_url": ...}), Api(store=...));
    2. `directory` given in code or on the command line (init(dir=...), --dir): the embedded store there;
    3. $RUNTREE_STORE_URL, then $RUNTREE_BASE_URL (a runtree server);
    4. $RUNTREE_DIR (or $WANDB_DIR): the embedded store there;
    5. the server `runtree login` stored;
    6. the embedded store in ./runtree.
    """
    if url:
        return url
    if directory is not None:
        return default_store_url(directory)
    for name in ENV_STORE_URLS:
        if os.environ.get(name):
            return os.environ[name]
    env_dir = os.environ.get("RUNTREE_DIR") or os.environ.get("WANDB_DIR")
    if env_dir:
        return default_store_url(env_dir)
    return read_user_config().get("base_url") or default_store_url()


def is_server_url(url: str) -> bool:
    """Whether `url` names a runtree server (rather than a database or a file)."""
    return url.startswith(("http://", "https://"))


def api_key(url: str | None = None) -> str | None:
    """The API key for the server at `url`: $RUNTREE_API_KEY, else the one `runtree login` stored for that
    server (a stored key is never sent to another server)."""
    if os.environ.get("RUNTREE_API_KEY"):
        return os.environ["RUNTREE_API_KEY"]
    stored = read_user_config()
    if url is not None and stored.get("base_url", "").rstrip("/") != url.rstrip("/"):
        return None
    return stored.get("api_key") or None


def _normalize(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url
    if "://" in url:
        return url
    # A bare path: a directory (holding runtree.db) or a .db file.
    p = Path(url)
    if p.suffix == ".db":
        return f"sqlite:///{p.resolve()}"
    return f"sqlite:///{(p / DB_FILE).resolve()}"


def open_store(url: str | None = None) -> Store:
    """The Store for `url` (default: the embedded store), shared by every caller in this process."""
    url = _normalize(url or default_store_url())
    key = (url, os.getpid())  # a forked child must not reuse its parent's connections
    with _cache_lock:
        store = _cache.get(key)
        if store is None:
            store = _open(url)
            _cache[key] = store
        return store


def _open(url: str) -> Store:
    if url.startswith("sqlite:///"):
        from runtree.store.sqlite import SqliteStore

        return SqliteStore(url[len("sqlite:///") :])
    scheme = url.split("://", 1)[0]
    if scheme in ("postgresql", "postgres"):
        try:
            from runtree.store.postgres import PostgresStore
        except ImportError as e:
            raise StoreError(f"cannot open store {scheme}://...: psycopg is not installed (pip install 'runtree[postgres]')") from e
        return PostgresStore(url)
    if scheme in ("http", "https"):
        from runtree.store.remote import RemoteStore

        return RemoteStore(url, api_key(url))
    raise StoreError(
        f"cannot open store {url!r}: scheme {scheme!r} is not supported here "
        "(use sqlite:///path, a directory, postgresql://... or http(s):// for a runtree server)"
    )


def close_all() -> None:
    """Close every cached store (tests, interpreter exit)."""
    with _cache_lock:
        for store in _cache.values():
            store.close()
        _cache.clear()
