"""Signed, expiring upload URLs for run files: the wandb client PUTs files there with no Authorization header.

CreateRunFiles answers, for each file, `{base}/files-upload/{uid}/{name}?expires=T&key=K&signature=S` with
S = HMAC-SHA256(secret, JSON ["PUT", uid, name, T, K]): JSON, so no two (uid, name) pairs share a signed
text whatever characters they hold. K is the sha256 digest of the key that asked for the URL ("" in open
mode); when the URL is used, that key must still exist, so revoking a key ends its URLs at once. The URL
authorises only that PUT, of that file of that run, until T. Nothing is stored: any server process holding
the same secret verifies it. The secret is $RUNTREE_SERVER_SECRET (`runtree server` makes one per launch and
hands it to its workers; set the same value on every host when several hosts serve one database).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from urllib.parse import quote

ENV_SECRET = "RUNTREE_SERVER_SECRET"
PATH = "/files-upload"
TTL = 3600.0  # seconds an upload URL stays valid
_KEY_DIGEST = re.compile(r"^(?:[0-9a-f]{64})?$")


def _well_formed(expires: str, key_hash: str) -> bool:
    return expires.isdigit() and len(expires) <= 12 and bool(_KEY_DIGEST.match(key_hash))


class BadSignature(Exception):
    """An upload URL that is forged, altered or expired."""


class Signer:
    """Makes and checks upload URLs with one secret."""

    def __init__(self, secret: str | bytes | None = None, ttl: float = TTL) -> None:
        raw = secret if secret is not None else os.environ.get(ENV_SECRET) or secrets.token_hex(32)
        self._key = raw.encode() if isinstance(raw, str) else raw
        self.ttl = ttl

    def _sign(self, uid: str, name: str, expires: int, key_hash: str) -> str:
        text = json.dumps(["PUT", uid, name, expires, key_hash], ensure_ascii=True, separators=(",", ":"))
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def url(self, base: str, uid: str, name: str, key_hash: str = "", now: float | None = None) -> str:
        """The URL to PUT run `uid`'s file `name` to, valid for ttl seconds while the key `key_hash` exists."""
        expires = int((time.time() if now is None else now) + self.ttl)
        signature = self._sign(uid, name, expires, key_hash)
        return f"{base.rstrip('/')}{PATH}/{quote(uid, safe='')}/{quote(name)}?expires={expires}&key={key_hash}&signature={signature}"

    def check(
        self, uid: str, name: str, expires: str | None, key_hash: str | None, signature: str | None, now: float | None = None
    ) -> str:
        """The digest of the key the URL was made for; BadSignature unless the URL carries this signature and has not expired."""
        if expires is None or signature is None or key_hash is None or not _well_formed(expires, key_hash):
            raise BadSignature("this upload URL has no valid signature: ask for one with the CreateRunFiles mutation")
        if not hmac.compare_digest(self._sign(uid, name, int(expires), key_hash), signature):
            raise BadSignature("this upload URL's signature does not match it (forged or altered)")
        if int(expires) < (time.time() if now is None else now):
            raise BadSignature("this upload URL has expired: ask for a new one with the CreateRunFiles mutation")
        return key_hash
