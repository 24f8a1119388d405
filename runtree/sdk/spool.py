"""The spool: where a run's data waits on local disk while its runtree server cannot be reached.

A run logging to a server writes through a SpoolingStore. While the server answers, every batch goes
straight to it. When a batch fails because the server is unreachable (connection refused, timeout, a 5xx
such as its database restarting), that batch and every later one go to a local SQLite store at
RUNTREE_DIR/spool/<uid>-<token>.db, holding a copy of the run's record, and an uplink thread runs
runtree.store.sync.sync_run from it to the server every few seconds. Once a pass succeeds the uplink
takes the writer's lock, syncs what arrived meanwhile, switches the run back to the server and deletes the
spool file. The server is the watermark (sync sends only rows above its last stored step), so nothing is
sent twice and nothing is skipped; rows keep their order because, once diverted, no batch goes to the
server directly until the spool is drained.

When init itself cannot reach the server, a new run is created in the spool (with its own uid) and the
uplink creates it on the server later. At finish with the server still down, the spool is kept and one
line tells the user to run `runtree sync`; the process is not held up.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from runtree.domain.records import RunRecord, Segment
from runtree.errors import StoreError
from runtree.sdk import start as start_mod
from runtree.store import api_key
from runtree.store.base import Store
from runtree.store.remote import AccessRefused, RemoteStore
from runtree.store.sqlite import SqliteStore
from runtree.store.sync import SyncReport, sync_run

log = logging.getLogger("runtree")
UPLINK_INTERVAL = 2.0  # seconds between the uplink's attempts to drain the spool
FINAL_DRAIN = 5.0  # seconds finish() spends trying to drain before leaving the spool for `runtree sync`


PROBE_TIMEOUT = 5.0  # seconds init waits for the server's first answer before it logs to the spool


def unreachable(e: BaseException) -> bool:
    """Whether `e` says the server (or its database) cannot be reached now, rather than that the call is wrong."""
    if isinstance(e, AccessRefused):  # a PermissionError, so an OSError: but the server answered, and said no
        return False
    if isinstance(e, httpx.TransportError | OSError | TimeoutError):
        return True
    # RemoteStore raises a plain StoreError for transport failures, 5xx answers and the server's storage errors;
    # its subclasses and the other RuntreeErrors (NoSuchRun, UsageError, ...) are the caller's mistakes.
    return type(e) is StoreError


class SpoolingStore:
    """The sink of one run's Writer: the server while it answers, the local spool while it does not."""

    def __init__(
        self,
        remote: Store,
        spool_dir: Path,
        record: RunRecord,
        segments: Sequence[Segment],
        *,
        local: SqliteStore | None = None,
        uplink_interval: float = UPLINK_INTERVAL,
    ) -> None:
        self.remote = remote
        self.spool_dir = spool_dir
        self.uid = record.uid
        self._record = record
        self._segments = list(segments)
        self._fields: dict[str, Any] = {}  # the run's fields as last written, for the spool's copy of the record
        self._lock = threading.Lock()
        self._local: SqliteStore | None = local
        self._path: Path | None = Path(local.url[len("sqlite:///") :]) if local is not None else None
        self._stop = threading.Event()
        self._uplink: threading.Thread | None = None
        self.uplink_interval = uplink_interval
        self.drained = 0  # times the spool was drained into the server
        if local is not None:
            self._start_uplink()

    @property
    def diverted(self) -> bool:
        """Whether batches go to the local spool now."""
        return self._local is not None

    @property
    def spool_path(self) -> Path | None:
        return self._path

    # -- the writer's side: the Store calls the Writer makes ------------------------------------
    def append_rows(self, uid: str, epoch: int, rows: Any) -> None:
        self._write("append_rows", uid, epoch, rows)

    def append_system(self, uid: str, epoch: int, samples: Any) -> None:
        self._write("append_system", uid, epoch, samples)

    def append_logs(self, uid: str, epoch: int, lines: Any) -> None:
        self._write("append_logs", uid, epoch, lines)

    def put_logs(self, uid: str, epoch: int, lines: Any) -> None:
        self._write("put_logs", uid, epoch, lines)

    def put_file(self, uid: str, name: str, data: bytes) -> None:
        self._write("put_file", uid, name, data)

    def put_media(self, uid: str, epoch: int, files: Any, data: Any) -> None:
        self._write("put_media", uid, epoch, files, data)

    def __getattr__(self, name: str) -> Any:
        # Anything else (reads) is the server's.
        return getattr(self.remote, name)

    def update_run(self, uid: str, **fields: Any) -> None:
        with self._lock:
            self._fields.update(fields)
        self._write("update_run", uid, **fields)

    def _write(self, method: str, uid: str, /, *args: Any, **kw: Any) -> None:
        # Positional-only: the run's own fields (name=..., uid is not one) pass through **kw untouched.
        with self._lock:
            if self._local is None:
                try:
                    getattr(self.remote, method)(uid, *args, **kw)
                    return
                except Exception as e:
                    if not unreachable(e):
                        raise
                    self._divert(e)
            assert self._local is not None
            getattr(self._local, method)(uid, *args, **kw)

    def _divert(self, why: BaseException) -> None:
        """Open a spool holding the run's record as last written; start the uplink. Called under the lock."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._path = self.spool_dir / f"{self.uid}-{secrets.token_hex(4)}.db"
        local = SqliteStore(str(self._path))
        fields = {k: v for k, v in self._fields.items() if hasattr(self._record, k)}
        local.create_run(self._record.evolve(**fields), self._segments)
        self._local = local
        log.warning("runtree: the server is unreachable (%s); run %s goes on into the spool %s", why, self.uid, self._path)
        self._start_uplink()

    # -- the uplink ------------------------------------------------------------------------------
    def _start_uplink(self) -> None:
        self._stop.clear()
        self._uplink = threading.Thread(target=self._uplink_loop, name=f"runtree-uplink-{self.uid[:8]}", daemon=True)
        self._uplink.start()

    def _uplink_loop(self) -> None:
        while not self._stop.wait(self.uplink_interval):
            if self.drain():
                return

    def drain(self) -> bool:
        """Try once to bring the server up to date with the spool and switch back to it; True when done."""
        local = self._local
        if local is None:
            return True
        try:
            sync_run(local, self.remote, local.get_run(self.uid), SyncReport())  # the bulk, the writer going on
            with self._lock:
                sync_run(local, self.remote, local.get_run(self.uid), SyncReport())  # what came in meanwhile
                self._local = None
                path, self._path = self._path, None
                local.close()
        except Exception as e:
            if not unreachable(e):
                log.warning("runtree: draining the spool of run %s failed: %s", self.uid, e)
            return False
        self.drained += 1
        if path is not None:
            for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                p.unlink(missing_ok=True)
            shutil.rmtree(path.with_suffix(".files"), ignore_errors=True)  # its media blobs (SqliteStore keeps them there)
        log.warning("runtree: the server answers again; run %s's spool is drained", self.uid)
        return True

    def finish(self, timeout: float = FINAL_DRAIN, quiet: bool = False) -> None:
        """After the writer's last batch: drain what is spooled within `timeout`, else leave it for `runtree sync`."""
        self._stop.set()
        if self._uplink is not None and self._uplink is not threading.current_thread():
            self._uplink.join(timeout)
        deadline = time.monotonic() + timeout
        while self._local is not None and time.monotonic() < deadline:
            if self.drain():
                break
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        self.remote.close()  # the writer's connection; reads go through the process's shared store
        local = self._local
        if local is not None:
            local.close()
            if not quiet:
                where = self._path.parent if self._path is not None else self.spool_dir
                print(
                    f"runtree: the server was unreachable; run {self._record.path} is kept in {self._path}. "
                    f"Upload it with: runtree sync {where}",
                    file=sys.stderr,
                )


def _key_name(key: str | None) -> str:
    return f"API key {key[:8]}..." if key else "no API key"


def probe(url: str) -> dict[str, Any] | None:
    """Ask the server once, quickly, what this process's key may touch: None when it does not answer.

    A refused key raises AccessRefused at once, naming the key's prefix: it is a mistake to fix, not an outage
    to spool through.
    """
    key = api_key(url)
    remote = RemoteStore(url, key, retries=0, timeout=PROBE_TIMEOUT)
    try:
        return remote.whoami()
    except AccessRefused as e:
        hint = "" if key else " (set $RUNTREE_API_KEY, or run `runtree login`)"
        raise AccessRefused(f"the runtree server at {url} refused {_key_name(key)}{hint}: {e}") from None
    except Exception as e:
        if unreachable(e):
            return None
        return {}  # an older server without /whoami: nothing known, go on
    finally:
        remote.close()


def check_entity(url: str, who: dict[str, Any], entity: str) -> None:
    """Refuse at init, not at the first batch, an entity the key may not write."""
    if who.get("admin") or "entities" not in who or entity in who["entities"]:
        return
    may = ", ".join(who["entities"]) or "none"
    raise AccessRefused(f"{_key_name(api_key(url))} may not write to entity {entity!r} on the runtree server at {url}; it may write: {may}")


def open_run(
    store: Store, url: str, req: start_mod.Request, last_run_id: str | None, spool_dir: Path, *, reachable: bool = True
) -> tuple[start_mod.Start, SpoolingStore]:
    """Open a run on the server at `url`, or in the spool when the server cannot be reached (new runs only).

    `reachable=False` (the probe got no answer) goes to the spool at once rather than after the store's retries.
    """
    remote = RemoteStore(url, api_key(url), retries=2)  # the writer's: fail over to the spool in about a second
    try:
        if not reachable:
            raise StoreError(f"cannot reach the runtree server at {url}")
        start = start_mod.open_run(store, req, last_run_id)
    except Exception as e:
        if not unreachable(e):
            remote.close()
            raise
        if req.fork_from or req.resume_from or req.resume:
            remote.close()
            raise StoreError(f"{e} (a fork, rewind or resume needs the server; only a new run can start while it is unreachable)") from e
        spool_dir.mkdir(parents=True, exist_ok=True)
        local = SqliteStore(str(spool_dir / f"new-{secrets.token_hex(6)}.db"))
        start = start_mod.new(local, req)
        print(f"runtree: the server at {url} is unreachable ({e}); logging run {start.record.path} to the spool", file=sys.stderr)
        return start, SpoolingStore(remote, spool_dir, start.record, start.segments, local=local)
    return start, SpoolingStore(remote, spool_dir, start.record, start.segments)
