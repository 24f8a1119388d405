"""API keys and the server's 401/403 decisions: who is calling, and may they touch this entity.

A key is `rt_` + 43 random characters of [A-Za-z0-9_] (257 bits; 46 characters, as W&B's client wants at
least 40, and no '-': the wandb client takes what follows a first '-' for the key and checks its length).
The store keeps only its sha256 hex digest: with that much entropy a plain digest cannot be
reversed or guessed, so no salt or slow hash is needed, and a key is found by an indexed lookup of its
digest. The digest found is compared again in constant time. Every request names its key as
`Authorization: Bearer <key>` or as HTTP Basic `api:<key>` (what the wandb client sends). Nothing is
cached: each request reads its key from the store, so a revoked key stops working at once, on every
server process. The web UI keeps its key in an HttpOnly cookie instead (KeyCookie below).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from runtree.domain import ids
from runtree.errors import UsageError
from runtree.store.base import ApiKey, Store

KEY_PREFIX = "rt_"
MIN_KEY_LENGTH = 40
COOKIE = "runtree_key"  # the web UI's key, HttpOnly, SameSite=Strict
UI_HEADER = b"x-runtree-ui"  # sent by the UI's scripts; a form or image on another site cannot send it
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_KEY_ALPHABET = string.ascii_letters + string.digits + "_"
_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]{40,200}$")


class Unauthorized(Exception):
    """No key, or a key the store does not know: 401."""


class Forbidden(Exception):
    """A known key asking for an entity it may not touch: 403."""


def new_key() -> str:
    """A fresh random API key."""
    return KEY_PREFIX + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(43))


def hash_key(key: str) -> str:
    """The sha256 hex digest the store keeps instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def make_key(entities: Iterable[str] = (), *, admin: bool = False, label: str = "") -> tuple[str, ApiKey]:
    """A new key and its stored form; entities are checked as entity names."""
    ents = tuple(dict.fromkeys(ids.validate_scope_name("entity", e) for e in entities))
    if not ents and not admin:
        raise UsageError("a key needs at least one entity it may read and write, or admin=True")
    key = new_key()
    return key, ApiKey(hash_key(key), ents, admin, label, key[:8], time.time())


def create_key(store: Store, entities: Iterable[str] = (), *, admin: bool = False, label: str = "") -> str:
    """Create and store a key; return it (the only time it is ever shown)."""
    key, stored = make_key(entities, admin=admin, label=label)
    store.create_key(stored)
    return key


def ensure_first_key(store: Store) -> str | None:
    """An admin key when the store has no key at all (a new server), else None. Safe against a race."""
    key, stored = make_key(admin=True, label="first admin key")
    return key if store.create_key(stored, only_if_first=True) else None


@dataclass(frozen=True)
class Principal:
    """The caller behind a request: an admin, or a key limited to some entities."""

    admin: bool
    entities: frozenset[str]
    prefix: str = ""
    key_hash: str = ""  # the sha256 digest of the caller's key; "" in open mode (no keys)

    def can(self, entity: str) -> bool:
        return self.admin or entity in self.entities

    def check(self, entity: str, what: str = "") -> None:
        if not self.can(entity):
            allowed = ", ".join(sorted(self.entities)) or "none"
            raise Forbidden(f"key {self.prefix}... may not access entity {entity!r}{what} (it may access: {allowed})")


ADMIN = Principal(admin=True, entities=frozenset(), prefix="local")


def key_from_header(authorization: str | None) -> str:
    """The key in an Authorization header: `Bearer <key>` or Basic with the key as password."""
    if not authorization:
        raise Unauthorized("no API key: send 'Authorization: Bearer <key>' (create one with `runtree keys create`)")
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value
    if scheme.lower() == "basic":
        try:
            user_pass = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("the Basic credentials are not valid base64 of 'api:<key>'") from None
        return user_pass.partition(":")[2]
    raise Unauthorized(f"unsupported Authorization scheme {scheme!r}; use 'Bearer <key>' or Basic 'api:<key>'")


class KeyAuth:
    """Checks each request's key against the store's api_keys."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def authenticate(self, authorization: str | None) -> Principal:
        key = key_from_header(authorization)
        if not _KEY_RE.match(key):
            raise Unauthorized(f"invalid API key: a runtree key has at least {MIN_KEY_LENGTH} characters [A-Za-z0-9_-]")
        digest = hash_key(key)
        found = self.store.find_key(digest)
        if found is None or not hmac.compare_digest(found.key_hash, digest):
            raise Unauthorized(f"invalid API key {key[:8]}...: no such key on this server (or it was revoked)")
        return Principal(found.admin, frozenset(found.entities), found.prefix, found.key_hash)


class OpenAuth:
    """No keys at all: every caller is an admin. Only for a server bound to the loopback interface (`runtree ui`)."""

    def authenticate(self, authorization: str | None) -> Principal:
        return ADMIN


class KeyCookie:
    """ASGI middleware: a request with no Authorization header but the UI's key cookie is authenticated by that key.

    A change (POST, PATCH, PUT, DELETE) uses the cookie only when the request also carries the
    X-Runtree-UI header, which only the UI's own scripts send: a page on another site that makes the
    browser send the cookie (CSRF) cannot set it, so its request meets a 401.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers: list[tuple[bytes, bytes]] = list(scope["headers"])
            names = {k.lower() for k, _ in headers}
            if b"authorization" not in names and (scope["method"] in _SAFE_METHODS or UI_HEADER in names):
                key = _cookie_key(headers)
                if key:
                    scope = {**scope, "headers": [*headers, (b"authorization", b"Bearer " + key.encode("latin-1"))]}
        await self.app(scope, receive, send)


def _cookie_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:  # a malformed Cookie header: as if there were none
                continue
            if COOKIE in jar and _KEY_RE.match(jar[COOKIE].value):
                return jar[COOKIE].value
    return None
