"""Signed, expiring upload URLs for run files: the wandb client PUTs files there with no Authorization header.

CreateRunFiles answers, for each file, `{base}/files-upload/{uid}/{name}?expires=T&signature=S` with
S = HMAC-SHA256(secret, "PUT uid name T"). The URL authorises only that PUT, of that file of that run,
until T. Nothing is stored: any server process holding the same secret verifies it. The secret is
$RUNTREE_SERVER_SECRET (`runtree server` makes one per launch and hands it to its workers; set the same
value on every host when several hosts serve one database).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from urllib.parse import quote

ENV_SECRET = "RUNTREE_SERVER_SECRET"
PATH = "/files-upload"
TTL = 3600.0  # seconds an upload URL stays valid


class BadSignature(Exception):
    """An upload URL that is forged, altered or expired."""


class Signer:
    """Makes and checks upload URLs with one secret."""

    def __init__(self, secret: str | bytes | None = None, ttl: float = TTL) -> None:
        raw = secret if secret is not None else os.environ.get(ENV_SECRET) or secrets.token_hex(32)
        self._key = raw.encode() if isinstance(raw, str) else raw
        self.ttl = ttl

    def _sign(self, uid: str, name: str, expires: int) -> str:
        return hmac.new(self._key, f"PUT {uid} {name} {expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, base: str, uid: str, name: str, now: float | None = None) -> str:
        """The URL to PUT run `uid`'s file `name` to, valid for ttl seconds."""
        expires = int((time.time() if now is None else now) + self.ttl)
        return f"{base.rstrip('/')}{PATH}/{quote(uid, safe='')}/{quote(name)}?expires={expires}&signature={self._sign(uid, name, expires)}"

    def check(self, uid: str, name: str, expires: str | None, signature: str | None, now: float | None = None) -> None:
        """BadSignature unless the URL for (uid, name, expires) carries this signature and has not expired."""
        if not expires or not signature or not expires.isdigit():
            raise BadSignature("this upload URL has no valid signature: ask for one with the CreateRunFiles mutation")
        if not hmac.compare_digest(self._sign(uid, name, int(expires)), signature):
            raise BadSignature("this upload URL's signature does not match it (forged or altered)")
        if int(expires) < (time.time() if now is None else now):
            raise BadSignature("this upload URL has expired: ask for a new one with the CreateRunFiles mutation")
