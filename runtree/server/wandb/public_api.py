"""What `wandb.Api()` asks of a run and a project: run pages by W&B filter, history samples and pages, files, keys.

Filters and order are evaluated by the store in SQL (runtree.domain.runfilter, Store.query_runs); a page's
cursor is the offset of its last run. History is read through the run's segments (inherited rows included).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import mimetypes
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runtree.domain import runfilter, wandb_format
from runtree.domain.records import RunRecord
from runtree.errors import UsageError
from runtree.store.base import Store
from runtree.store.chunked import rows_in

MAX_PAGE = 1000  # runs or files in one page, whatever `first` asks
MAX_SAMPLES = 100_000  # rows in one history answer


def internal_id(entity: str, project: str) -> str:
    """A number standing for entity/project (the client parses it with int())."""
    return str(zlib.crc32(f"{entity}/{project}".encode()))


def _offset(after: str | None) -> int:
    if not after:
        return 0
    if not after.isdigit() or len(after) > 12:
        raise UsageError(f"not a cursor of this server: {after!r:.40}")
    return int(after)


def _first(first: int | None, default: int = 50) -> int:
    n = default if first is None else first
    if n < 0:
        raise UsageError(f"first must be non-negative, got {n}")
    return min(n, MAX_PAGE)


def parse_filters(text: str | None) -> runfilter.Node | None:
    if not text:
        return None
    try:
        spec = json.loads(text)
    except ValueError as e:
        raise UsageError(f"filters is not JSON: {e}") from None
    return runfilter.parse_filter(spec)


def page_info(offset: int, count: int, more: bool) -> dict[str, Any]:
    return {
        "startCursor": str(offset) if count else None,
        "endCursor": str(offset + count) if count else (str(offset) if offset else None),
        "hasNextPage": more,
        "hasPreviousPage": offset > 0,
    }


def run_page(
    store: Store, entity: str, project: str, filters: str | None, after: str | None, first: int | None, order: str | None
) -> tuple[list[RunRecord], dict[str, Any], int]:
    """(runs of one page, its pageInfo, the offset of its first run)."""
    where = parse_filters(filters)
    offset, n = _offset(after), _first(first)
    found = store.query_runs(entity, project, where, runfilter.parse_order(order), n + 1, offset)
    runs = found[:n]
    return runs, page_info(offset, len(runs), len(found) > n), offset


def _sample(rows: list[Any], samples: int | None) -> list[Any]:
    n = MAX_SAMPLES if samples is None else max(0, min(samples, MAX_SAMPLES))
    if len(rows) <= n:
        return rows
    if n == 0:
        return []
    if n == 1:
        return [rows[-1]]
    stride = (len(rows) - 1) / (n - 1)
    return [rows[round(i * stride)] for i in range(n)]


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def history_lines(store: Store, run: RunRecord, samples: int | None, min_step: int | None, max_step: int | None) -> list[str]:
    """Visible rows with min_step <= _step < max_step, evenly sampled, each as a JSON string."""
    hi = None if max_step is None else max_step - 1
    rows = list(store.read_rows(store.read_segments(run.uid), min_step, hi))
    return [dumps(r) for r in _sample(rows, samples)]


def sampled_history(store: Store, run: RunRecord, specs: Sequence[str]) -> list[list[dict[str, Any]]]:
    """One list per spec `{"keys": [...], "samples": N}`: rows holding every key, with those keys only."""
    parsed = []
    for text in specs[:16]:
        try:
            spec = json.loads(text)
        except ValueError as e:
            raise UsageError(f"a sampledHistory spec is not JSON: {e}") from None
        keys = spec.get("keys") if isinstance(spec, Mapping) else None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise UsageError('a sampledHistory spec is {"keys": [names], "samples": N}')
        samples = spec.get("samples", 500)
        parsed.append((keys, samples if isinstance(samples, int) and not isinstance(samples, bool) else 500))
    if not parsed:
        return []
    wanted = list(dict.fromkeys(k for keys, _ in parsed for k in keys))  # only these columns are decoded
    rows = list(rows_in(store.read_pieces(store.read_segments(run.uid), wanted)))
    out = []
    for keys, samples in parsed:
        picked = [{k: r[k] for k in keys} for r in rows if all(k in r for k in keys)]
        out.append(_sample(picked, samples))
    return out


def live_rows(store: Store, run: RunRecord, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Every visible row, as W&B's live history data: with only `keys` (and `_step`) when keys are named."""
    segments = store.read_segments(run.uid)
    if not keys:
        return list(store.read_rows(segments))
    return list(rows_in(store.read_pieces(segments, list(dict.fromkeys(["_step", *keys])))))  # only those columns decoded


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Mapping):
        t = v.get("_type")
        return t if isinstance(t, str) else "map"
    if isinstance(v, list):
        return "list"
    return "nil"


def history_keys(store: Store, run: RunRecord) -> dict[str, Any]:
    """{lastStep, keys} as W&B answers historyKeys; the keys and types are the summary's (no history scan)."""
    last = store.last_row(store.read_segments(run.uid))
    keys = {k: {"typeCounts": [{"type": _type_name(v), "count": 1}]} for k, v in run.summary.items() if k not in wandb_format.SPECIAL_KEYS}
    return {"lastStep": -1 if last is None else last[0], "keys": keys}


def events_lines(store: Store, run: RunRecord, samples: int | None) -> list[str]:
    rows = [{"_timestamp": ts, **values} for ts, values in store.read_system(store.read_segments(run.uid))]
    return [dumps(r) for r in _sample(rows, samples)]


def select_files(names: Iterable[str], wanted: Sequence[str | None] | None, pattern: str | None) -> list[str]:
    chosen = [n for n in names if not wanted or n in wanted]
    if pattern:
        like = pattern.replace("%", "*")  # W&B's pattern is SQL LIKE
        chosen = [n for n in chosen if fnmatch.fnmatchcase(n, like)]
    return chosen


def file_node(store: Store, run: RunRecord, name: str, base_url: str, updated: str) -> dict[str, Any]:
    data = store.read_file(run.uid, name)
    url = f"{base_url.rstrip('/')}/files/{run.entity}/{run.project}/{run.id}/{name}"
    return {
        "id": f"{run.uid}:{name}",
        "name": name,
        "url": url,
        "directUrl": url,
        "sizeBytes": len(data),
        "mimetype": _mimetype(name),
        "updatedAt": updated,
        "md5": base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(),  # W&B's form
        "digest": hashlib.sha256(data).hexdigest(),
    }


def _mimetype(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
