"""`python -m runtree.server`: serve a store over HTTP, or manage its API keys (what `runtree server` runs).

python -m runtree.server --db sqlite:///runs.db --host 0.0.0.0 --port 8080 --workers 4
python -m runtree.server keys create --db URL --entity alice [--entity team] [--admin] [--label TEXT]
python -m runtree.server keys list --db URL
python -m runtree.server keys revoke --db URL PREFIX_OR_DIGEST
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence

from runtree.errors import RuntreeError, UsageError
from runtree.server import auth
from runtree.server.serve import serve
from runtree.server.wandb.uploads import ENV_SECRET
from runtree.store import default_store_url, open_store


def _default_db() -> str:
    return os.environ.get("RUNTREE_STORE_URL") or default_store_url()


def _serve(argv: Sequence[str]) -> None:
    p = argparse.ArgumentParser(prog="runtree server", description="Serve a runtree store over HTTP (JSON API under /api/v1).")
    p.add_argument(
        "--db", default=None, help="store URL: sqlite:///file.db, postgresql://..., or a directory (default: the embedded store)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=1, help="server processes (each stateless)")
    p.add_argument("--open", action="store_true", help="no API keys: every caller is admin (loopback only)")
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name clients reach the server by, checked against the Host header (repeat; default: any with keys, "
        "loopback names with --open)",
    )
    p.add_argument("--no-access-log", action="store_true")
    a = p.parse_args(argv)
    # One secret for every worker of this launch: it signs the W&B upload URLs (runtree.server.wandb.uploads).
    os.environ.setdefault(ENV_SECRET, secrets.token_hex(32))
    serve(
        a.db or _default_db(), a.host, a.port, a.workers, open_access=a.open, allowed_hosts=a.allowed_host, access_log=not a.no_access_log
    )


def keys_main(argv: Sequence[str]) -> None:
    p = argparse.ArgumentParser(prog="runtree keys", description="Manage the server's API keys (stored hashed).")
    sub = p.add_subparsers(dest="action", required=True)
    c = sub.add_parser("create", help="create a key and print it (shown once)")
    c.add_argument("--entity", action="append", default=[], help="an entity the key may read and write (repeat for more)")
    c.add_argument("--admin", action="store_true", help="a key for every entity, that may also manage keys")
    c.add_argument("--label", default="")
    lst = sub.add_parser("list", help="list keys (prefix, entities, label; never the keys)")
    rv = sub.add_parser("revoke", help="revoke a key by its prefix (as listed) or its sha256 digest")
    rv.add_argument("which")
    for q in (c, lst, rv):
        q.add_argument("--db", default=None, help="store URL (default: $RUNTREE_STORE_URL or the embedded store)")
    a = p.parse_args(argv)
    store = open_store(a.db or _default_db())
    if a.action == "create":
        print(auth.create_key(store, a.entity, admin=a.admin, label=a.label))
    elif a.action == "list":
        for k in store.list_keys():
            scope = "admin" if k.admin else ",".join(k.entities)
            print(f"{k.prefix}...\t{scope}\t{k.label}")
    else:
        found = [k for k in store.list_keys() if a.which in (k.key_hash, k.prefix)]
        if len(found) != 1:
            raise UsageError(f"{a.which!r} names {len(found)} keys; give the prefix `keys list` shows, or the full digest")
        store.delete_key(found[0].key_hash)
        print(f"revoked {found[0].prefix}...")


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["keys"]:
            keys_main(args[1:])
        else:
            _serve(args)
    except RuntreeError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
