"""RemoteStore: the Store protocol over HTTP to a `runtree server`, so the SDK and the Api need no remote branch.

One httpx client per store keeps connections alive across threads. Calls that are safe to repeat
(reads, updates, appends, which the server ignores when their keys are stored already) are retried with
backoff on connection errors and on 502/503/504; creating a run is retried too, and a retry that meets its
own uid counts as done; a rewind is retried only when the request certainly never left. Large request
bodies are gzipped. History is read in pages of columns (runtree.store.wire), the next page fetched
while the caller consumes the current one.
"""

from __future__ import annotations

import gzip
import json
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from runtree.domain import runfilter
from runtree.domain.records import RUNNING, Rewind, RunRecord, Segment
from runtree.domain.runfilter import Node, OrderBy
from runtree.errors import (
    BadForkSpec,
    ConfigError,
    ConflictingOptions,
    NoSuchFile,
    NoSuchRun,
    RunExists,
    RunIsActive,
    StepNotMonotonic,
    StepOutOfRange,
    StoreError,
    UsageError,
)
from runtree.store.base import ApiKey, RowIn
from runtree.store.wire import (
    EXACT_MEDIA_TYPE,
    decode_columns,
    dumps_exact,
    key_from_json,
    key_to_json,
    loads,
    rewind_from_json,
    rewind_to_json,
    run_from_json,
    run_to_json,
    segment_from_json,
    segment_to_json,
)

API_KEY_ENV = "RUNTREE_API_KEY"
BATCH = 10_000  # items per append request: the server's limit
# Rows per append request. A request's latency is about (rows in flight from every client) / (server rows/s):
# with 16 clients on a 2-core server (~17k rows/s) 10,000-row requests took 9-15 s each, 500-row ones ~0.5 s.
ROWS_PER_REQUEST = 500
PAGE_ROWS = 50_000  # rows per history page
GZIP_OVER = 64 << 10  # request bodies at least this large are gzipped
_RETRY_STATUS = frozenset({502, 503, 504})
_ERRORS: dict[str, type[Exception]] = {
    c.__name__: c
    for c in (
        NoSuchRun,
        NoSuchFile,
        RunExists,
        RunIsActive,
        StepOutOfRange,
        UsageError,
        BadForkSpec,
        ConflictingOptions,
        StepNotMonotonic,
        ConfigError,
        StoreError,
    )
}
_END = object()


class _NotFound(StoreError):
    """A 404 that is not a runtree error (no such key, no such route)."""


class AccessRefused(StoreError, PermissionError):
    """The server refused the API key (401) or its access to an entity (403): retrying will not help."""


def _q(part: str) -> str:
    return quote(part, safe="")


_ORJSON_PLAIN = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _encode(body: Any) -> bytes:
    """`body` in the exact dialect; orjson (~3x faster) when its output is the same, the codec's encoder otherwise."""
    try:
        data = orjson.dumps(body, option=_ORJSON_PLAIN)
    except TypeError:  # an integer beyond 64 bits, a type the codec writes with str(), a non-str key
        return dumps_exact(body).encode()
    # orjson writes NaN and ±inf as null; a body holding no null at all cannot have lost one.
    return data if b"null" not in data else dumps_exact(body).encode()


def _segments(segments: Sequence[Segment]) -> list[dict[str, Any]]:
    return [segment_to_json(s) for s in segments]


def _increasing(rows: Sequence[RowIn]) -> Sequence[RowIn]:
    """Rows by strictly increasing step, as the server wants them; of rows sharing a step the first wins (as the stores keep)."""
    if all(rows[i][0] < rows[i + 1][0] for i in range(len(rows) - 1)):
        return rows
    seen: dict[int, RowIn] = {}
    for row in rows:
        seen.setdefault(row[0], row)
    return [seen[s] for s in sorted(seen)]


class RemoteStore:
    """A Store whose data lives behind a runtree server at `url` (http:// or https://)."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 6,
        page_rows: int = PAGE_ROWS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise StoreError(f"a remote store URL starts with http:// or https://, not {url!r}")
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        headers = {"Accept": EXACT_MEDIA_TYPE, "User-Agent": "runtree-remote-store"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.retries, self.page_rows = retries, page_rows
        self._has_key = bool(key)
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._local = threading.local()
        self._client = httpx.Client(
            base_url=self.url + "/api/v1",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"RemoteStore({self.url!r})"

    # -- the one way requests go out -----------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        repeatable: bool = True,
    ) -> httpx.Response:
        """The response to one call, after retries; an error response raises. Records the attempts it took."""
        headers: dict[str, str] = {}
        if body is not None:
            content = _encode(body)
            headers["Content-Type"] = "application/json"
        elif content is not None:
            headers["Content-Type"] = "application/octet-stream"
        if content is not None and len(content) >= GZIP_OVER:
            content = gzip.compress(content, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
        attempt = 0
        while True:
            attempt += 1
            self._local.attempts = attempt
            try:
                resp = self._client.request(method, path, content=content, params=params, headers=headers)
            except httpx.TransportError as e:
                unsent = isinstance(e, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
                if attempt <= self.retries and (repeatable or unsent):
                    self._pause(attempt)
                    continue
                raise StoreError(f"cannot reach the runtree server at {self.url} ({method} {path}): {type(e).__name__}: {e}") from e
            if resp.status_code in _RETRY_STATUS and repeatable and attempt <= self.retries:
                self._pause(attempt)
                continue
            if resp.status_code >= 400:
                raise self._error(resp, method, path)
            return resp

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self._send(method, path, **kw)
        return loads(resp.content) if resp.content else None

    @staticmethod
    def _pause(attempt: int) -> None:
        time.sleep(min(5.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))

    def _error(self, resp: httpx.Response, method: str, path: str) -> Exception:
        try:
            err = orjson.loads(resp.content)["error"]
            kind, message = str(err["type"]), str(err["message"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            kind, message = "http_error", resp.text[:300]
        cls = _ERRORS.get(kind)
        if cls is not None:
            return cls(message)
        where = f"the runtree server at {self.url} ({method} {path})"
        if resp.status_code == 401:
            hint = "" if self._has_key else f"; set ${API_KEY_ENV} to your API key, or run `runtree login {self.url}`"
            return AccessRefused(f"{where} refused the API key: {message}{hint}")
        if resp.status_code == 403:
            return AccessRefused(f"{where} refused access: {message}")
        if resp.status_code in (400, 413, 422):
            return UsageError(f"{where} refused the request: {message}")
        if resp.status_code == 404:
            return _NotFound(f"{where}: {message}")
        return StoreError(f"{where} answered {resp.status_code} {kind}: {message}")

    def _next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def _append(self, path: str, field: str, epoch: int, items: Sequence[Any], per_request: int = BATCH) -> None:
        """Send `items` in requests of at most `per_request`, in order (a reader never sees a later batch without an earlier one)."""
        for i in range(0, len(items), per_request):
            chunk = [list(x) for x in items[i : i + per_request]]
            self._call("POST", path, body={"epoch": epoch, "seq": self._next_seq(), field: chunk})

    # -- runs ----------------------------------------------------------------------------------
    def create_run(self, run: RunRecord, segments: Sequence[Segment]) -> None:
        try:
            self._send("POST", "/runs", body={"run": run_to_json(run), "segments": _segments(segments)})
        except RunExists:
            # A retry that finds its own uid stored: an earlier attempt got through, its answer did not.
            if self._local.attempts == 1 or not self._created_by_earlier_attempt(run):
                raise

    def _created_by_earlier_attempt(self, run: RunRecord) -> bool:
        try:
            stored = self.get_run(run.uid)
        except NoSuchRun:
            return False
        return (stored.entity, stored.project, stored.id, stored.created_at) == (run.entity, run.project, run.id, run.created_at)

    def get_run(self, uid: str) -> RunRecord:
        return run_from_json(self._call("GET", f"/runs/{_q(uid)}"))

    def find_run(self, entity: str, project: str, run_id: str) -> RunRecord | None:
        try:
            found = self._call("GET", f"/entities/{_q(entity)}/projects/{_q(project)}/runs/{_q(run_id)}")
        except NoSuchRun:
            return None
        return run_from_json(found)

    def list_runs(self, entity: str | None = None, project: str | None = None, *, parent_uid: str | None = None) -> list[RunRecord]:
        params = {k: v for k, v in (("entity", entity), ("project", project), ("parent_uid", parent_uid)) if v is not None}
        return [run_from_json(r) for r in self._call("GET", "/runs", params=params)["runs"]]

    def query_runs(
        self, entity: str | None, project: str | None, where: Node | None, order: list[OrderBy], limit: int | None = None, offset: int = 0
    ) -> list[RunRecord]:
        params = self._query_params(entity, project, where)
        params.update(order=runfilter.order_spec(order), offset=str(offset))
        if limit is not None:
            params["limit"] = str(limit)
        return [run_from_json(r) for r in self._call("GET", "/runs/query", params=params)["runs"]]

    def count_runs(self, entity: str | None, project: str | None, where: Node | None) -> int:
        params = self._query_params(entity, project, where)
        params["count"] = "1"
        return int(self._call("GET", "/runs/query", params=params)["count"])

    @staticmethod
    def _query_params(entity: str | None, project: str | None, where: Node | None) -> dict[str, str]:
        params = {k: v for k, v in (("entity", entity), ("project", project)) if v is not None}
        if where is not None:
            params["filters"] = json.dumps(runfilter.to_spec(where))
        return params

    def update_run(self, uid: str, **fields: Any) -> None:
        self._call("PATCH", f"/runs/{_q(uid)}", body={"fields": fields})

    def claim_run(self, uid: str, **fields: Any) -> RunRecord:
        # Not repeated: a retry after a claim that got through would meet its own process as the live one.
        return run_from_json(self._call("POST", f"/runs/{_q(uid)}/claim", body={"fields": fields}, repeatable=False))

    def running_runs(self) -> list[RunRecord]:
        return [r for r in self.list_runs() if r.state == RUNNING]

    reaps_itself = True  # a runtree server reaps its own runs (runtree.store.reaper.Reaper), with their rows at hand

    def mark_crashed(self, uid: str, heartbeat_at: float, **fields: Any) -> bool:
        return False

    # -- lineage -------------------------------------------------------------------------------
    def read_segments(self, uid: str) -> list[Segment]:
        return [segment_from_json(s) for s in self._call("GET", f"/runs/{_q(uid)}/segments")["segments"]]

    def rewind_run(self, uid: str, segments: Sequence[Segment], rewind: Rewind, **fields: Any) -> None:
        body = {"segments": _segments(segments), "rewind": rewind_to_json(rewind), "fields": fields}
        self._call("POST", f"/runs/{_q(uid)}/rewinds", body=body, repeatable=False)  # a second rewind would be recorded

    def list_rewinds(self, uid: str) -> list[Rewind]:
        return [rewind_from_json(r) for r in self._call("GET", f"/runs/{_q(uid)}/rewinds")["rewinds"]]

    # -- history -------------------------------------------------------------------------------
    def append_rows(self, uid: str, epoch: int, rows: Sequence[RowIn]) -> None:
        if rows:
            self._append(f"/runs/{_q(uid)}/rows", "rows", epoch, _increasing(rows), ROWS_PER_REQUEST)

    def read_rows(
        self, segments: Sequence[Segment], min_step: int | None = None, max_step: int | None = None, *, keys: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The visible rows in step order; `keys` (beyond the Protocol) lets the server send only rows and keys asked for."""
        query = {"segments": _segments(segments), "min_step": min_step, "max_step": max_step, "keys": keys, "limit": self.page_rows}
        for page in self._pages(query):
            yield from decode_columns(page)

    def _page(self, query: Mapping[str, Any]) -> dict[str, Any]:
        resp = self._send("POST", "/query/history", body=query)
        page: dict[str, Any] = orjson.loads(resp.content)
        return page

    def _pages(self, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """History pages in order; after the first, each next page is fetched while the caller decodes this one."""
        first = self._page(query)
        yield first
        if first.get("next_min_step") is None:
            return
        q: queue.Queue[Any] = queue.Queue(maxsize=1)
        stop = threading.Event()

        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def fetch(nxt: int) -> None:
            try:
                while True:
                    page = self._page({**query, "min_step": nxt})
                    if not put(page):
                        return
                    if page.get("next_min_step") is None:
                        break
                    nxt = page["next_min_step"]
            except BaseException as e:  # handed to the reading thread, which raises it
                put(e)
                return
            put(_END)

        worker = threading.Thread(target=fetch, args=(first["next_min_step"],), name="runtree-remote-pages", daemon=True)
        worker.start()
        try:
            while (item := q.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join()

    def last_row(self, segments: Sequence[Segment], at_or_before: int | None = None) -> tuple[int, float] | None:
        found = self._call("POST", "/query/last-row", body={"segments": _segments(segments), "at_or_before": at_or_before})["last"]
        return None if found is None else (int(found[0]), float(found[1]))

    # -- time-keyed streams ----------------------------------------------------------------------
    def append_system(self, uid: str, epoch: int, samples: Sequence[tuple[float, dict[str, Any]]]) -> None:
        if samples:
            self._append(f"/runs/{_q(uid)}/system", "samples", epoch, samples)

    def read_system(self, segments: Sequence[Segment]) -> Iterator[tuple[float, dict[str, Any]]]:
        found = self._call("POST", "/query/system", body={"segments": _segments(segments)})["samples"]
        return ((float(ts), values) for ts, values in found)

    def append_logs(self, uid: str, epoch: int, lines: Sequence[tuple[int, float, int | None, str, str]]) -> None:
        if lines:
            self._append(f"/runs/{_q(uid)}/logs", "lines", epoch, lines)

    def put_logs(self, uid: str, epoch: int, lines: Sequence[tuple[int, float, int | None, str, str]]) -> None:
        for i in range(0, len(lines), BATCH):  # in order: a later line of the same seq must win
            chunk = [list(x) for x in lines[i : i + BATCH]]
            self._call("PUT", f"/runs/{_q(uid)}/logs", body={"epoch": epoch, "seq": self._next_seq(), "lines": chunk})

    def read_logs(self, segments: Sequence[Segment]) -> Iterator[tuple[float, int | None, str, str]]:
        found = self._call("POST", "/query/logs", body={"segments": _segments(segments)})["lines"]
        return ((float(ts), step, stream, text) for ts, step, stream, text in found)

    def last_log_seq(self, uid: str, epoch: int) -> int | None:
        seq = self._call("GET", f"/runs/{_q(uid)}/logs/last-seq", params={"epoch": epoch})["seq"]
        return None if seq is None else int(seq)

    # -- run files -----------------------------------------------------------------------------
    def put_file(self, uid: str, name: str, data: bytes) -> None:
        self._send("PUT", f"/runs/{_q(uid)}/files/{quote(name, safe='/')}", content=bytes(data))

    def read_file(self, uid: str, name: str) -> bytes:
        resp = self._send("GET", f"/runs/{_q(uid)}/files/{quote(name, safe='/')}")
        return resp.content

    def list_files(self, uid: str) -> list[str]:
        return list(self._call("GET", f"/runs/{_q(uid)}/files")["files"])

    def whoami(self) -> dict[str, Any]:
        """What the calling key may touch: {admin, entities, prefix, default_entity} (beyond the Protocol)."""
        found: dict[str, Any] = self._call("GET", "/whoami")
        return found

    # -- server API keys (admin keys only) -------------------------------------------------------
    def create_key(self, key: ApiKey, *, only_if_first: bool = False) -> bool:
        body = {**key_to_json(key), "only_if_first": only_if_first}
        return bool(self._call("POST", "/keys", body=body)["created"])

    def find_key(self, key_hash: str) -> ApiKey | None:
        try:
            return key_from_json(self._call("GET", f"/keys/{_q(key_hash)}"))
        except _NotFound:
            return None

    def list_keys(self) -> list[ApiKey]:
        return [key_from_json(k) for k in self._call("GET", "/keys")["keys"]]

    def delete_key(self, key_hash: str) -> bool:
        return bool(self._call("DELETE", f"/keys/{_q(key_hash)}")["deleted"])

    def get_setting(self, scope: str) -> Any | None:
        return self._call("GET", f"/settings/{_q(scope)}")["value"]

    def put_setting(self, scope: str, value: Any) -> None:
        self._call("PUT", f"/settings/{_q(scope)}", body={"value": value})
