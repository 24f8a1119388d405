"""What every request passes before any route sees it: the Host it names, where it comes from, its size, and JSON within bounds.

`Guards` (ASGI middleware, on every route) refuses
- a Host header that is not an address this server answers to (DNS rebinding: a page on evil.example whose
  name now resolves to 127.0.0.1 must not read or write through the victim's browser);
- a write (POST, PUT, PATCH, DELETE) a browser sends from another site (`Sec-Fetch-Site`) or, in open mode,
  another origin (`Origin`);
- in open mode (no keys, every caller is admin), a write whose content type a page on another site can send
  without a CORS preflight (none, text/plain, forms) unless it carries the UI's X-Runtree-UI header.
The real wandb client and runtree's own clients send no Origin and JSON bodies, so they pass. Signed upload
URLs (/files-upload/...) carry their own authorisation and take any body. `BodyLimit` refuses bodies over
MAX_BODY_BYTES (413), after gzip decoding.

`parse_json` reads a request body: orjson when it can, else Python's json, refusing text that has no UTF-8
form (lone surrogates) and nesting deeper than a parser can follow, with a message, never a crash.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtree.server.auth import UI_HEADER

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
SIGNED_PATHS = ("/files-upload/",)  # authorised by their signature, not by a key or an origin
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Content types a cross-origin page may send without a preflight (the Fetch standard's CORS-safelisted ones).
_SIMPLE_TYPES = frozenset({"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
_CROSS_SITE = frozenset({b"cross-site", b"same-site"})

# A number token starting with 19 digits (maybe an integer beyond 64 bits) starts the body or follows one of
# these characters. One character class, then digits: ~10x faster than an alternation with ^, which cost a
# quarter of the server's CPU under 16 logging clients (a value below 0.01 is a 19-digit run after its '.').
_BIG_INT_HEAD = re.compile(rb"[0-9]{19}")
_BIG_INT = re.compile(rb"[,:\[\s-][0-9]{19}")
_SURROGATE_TEXT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")  # an escaped or raw UTF-16 surrogate
MAX_DEPTH = 64  # nesting of a GraphQL request's variables and of a run's config, summary, metadata
MAX_BODY_BYTES = 64 << 20  # a request body, after gzip decoding


class Guards:
    """ASGI middleware: refuse foreign Host headers, cross-origin writes, and (open mode) writes a form could send."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Iterable[str] = (), open_mode: bool = False) -> None:
        self.app = app
        self.allowed = frozenset(h.lower() for h in allowed_hosts)  # empty: any Host (a keyed server behind a proxy)
        self.open_mode = open_mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self.refusal(scope)
            if problem is not None:
                await _send_error(send, problem[0], problem[1], problem[2])
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """(status, type, message) when the request must be refused, else None."""
        headers: dict[bytes, bytes] = {}
        for k, v in scope["headers"]:
            headers.setdefault(k.lower(), v)
        host = headers.get(b"host", b"").decode("latin-1")
        if self.allowed and host_name(host) not in self.allowed:
            names = ", ".join(sorted(self.allowed))
            return 421, "misdirected_request", f"this server does not answer to the Host {host[:100]!r}; it answers to {names}"
        if scope["method"] not in _UNSAFE:
            return None
        if scope["path"].startswith(SIGNED_PATHS):
            return None
        origin = headers.get(b"origin")
        # With keys, a proxy may rewrite Host, so Origin is compared in open mode only (loopback, no proxy);
        # a browser's Sec-Fetch-Site holds either way.
        if self.open_mode and origin is not None and not _same_origin(origin.decode("latin-1"), host):
            page = origin.decode("latin-1")[:100]
            return 403, "cross_origin", f"a write from the page at {page!r} is refused: it is not this server's origin"
        if headers.get(b"sec-fetch-site", b"").lower() in _CROSS_SITE:
            return 403, "cross_origin", "a write sent by a page on another site is refused (Sec-Fetch-Site)"
        if self.open_mode and UI_HEADER not in headers:
            kind = headers.get(b"content-type", b"").decode("latin-1").split(";", 1)[0].strip().lower()
            if kind in _SIMPLE_TYPES:
                return 415, "unsupported_media_type", (
                    f"a write with content type {kind or 'none'!r} is refused on a server without keys: "
                    "send application/json (a page on another site could send this one)"
                )
        return None


def host_name(host: str) -> str:
    """The name in a Host header, without its port, lower case ('[::1]:80' -> '[::1]')."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _same_origin(origin: str, host: str) -> bool:
    if origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.strip().lower()


async def _send_error(send: Send, status: int, kind: str, message: str) -> None:
    body = orjson.dumps({"error": {"type": kind, "message": message}})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: refuse request bodies over `max_bytes` (413) and decode gzip bodies, within the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_error(send, 413, "payload_too_large", f"request body of {int(length)} bytes is over the limit of {self.max_bytes}")
            return
        gzipped = headers.get(b"content-encoding", b"").strip().lower() == b"gzip"
        await self.app(scope, self._limited(receive, gzipped), send)

    def _limited(self, receive: Receive, gzipped: bool) -> Receive:
        seen = 0
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        limit = self.max_bytes

        def too_large() -> HTTPException:
            return HTTPException(413, f"request body is over the limit of {limit} bytes" + (" (after gzip decoding)" if gzipped else ""))

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] != "http.request":
                return message
            body: bytes = message.get("body", b"")
            if inflate is not None:
                try:
                    body = inflate.decompress(body, limit - seen + 1)
                    if not message.get("more_body", False):
                        body += inflate.flush()
                except zlib.error as e:
                    raise HTTPException(400, f"the gzip request body does not decode: {e}") from None
                if inflate.unconsumed_tail:
                    raise too_large()
            seen += len(body)
            if seen > limit:
                raise too_large()
            return {**message, "body": body}

        return wrapped


# -- JSON bodies ---------------------------------------------------------------------------
def parse_json(body: bytes | str) -> Any:
    """A request body: orjson when it can read it exactly, else Python's json (NaN/Infinity tokens, integers of any size).

    json.JSONDecodeError for text that is not JSON, holds a lone surrogate, or nests too deep to parse.
    """
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    # orjson reads an integer beyond 64 bits as an inexact float; such a body goes to json.
    if not _BIG_INT_HEAD.match(raw) and not _BIG_INT.search(raw):
        try:
            return orjson.loads(raw)  # refuses lone surrogates and nesting over 1024
        except orjson.JSONDecodeError:
            pass
    try:
        value = json.loads(raw)  # its JSONDecodeError says what is wrong, and where
    except RecursionError:
        raise json.JSONDecodeError("nested too deep to parse", "", 0) from None
    if _SURROGATE_TEXT.search(raw):
        where = lone_surrogate(value)
        if where is not None:
            raise json.JSONDecodeError(f"a string holds a lone surrogate, text that has no UTF-8 form: {where}", "", 0)
    return value


def lone_surrogate(value: Any) -> str | None:
    """A short quote of the first string or key in `value` with a lone surrogate, if any."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return repr(v[:40])
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep lists and objects nest in `value`, counted up to limit + 1 (no recursion, so any depth is safe)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict | list):
            d += 1
            if d > limit:
                return d
            deepest = max(deepest, d)
            stack.extend((x, d) for x in (v.values() if isinstance(v, dict) else v))
    return deepest
