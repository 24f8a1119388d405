"""Lineage without copying: a run's visible history is a list of Segments; fork and rewind edit that list.

Every function here costs O(number of segments), which is O(depth of lineage), never O(rows).
Invariants of a segment list: segments are in step order, do not overlap, and only the last one may be open.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtree.domain.records import Segment


def new_run(uid: str) -> list[Segment]:
    """The segment list of a brand-new run: its own rows from step 0, open-ended."""
    return [Segment(uid, 0, 0)]


def clip(segments: Sequence[Segment], step: int, cut_time: float | None) -> list[Segment]:
    """The part of `segments` with _step <= step; the segment holding `step` is closed there and its
    time-keyed streams are cut at `cut_time` (the wall-clock time of the last row at or before `step`)."""
    out: list[Segment] = []
    for seg in segments:
        if seg.first_step > step:
            break
        if seg.last_step is not None and seg.last_step <= step and seg is not segments[-1]:
            out.append(seg)
            continue
        until = seg.until_time
        if cut_time is not None and (until is None or cut_time < until):
            until = cut_time
        last = step if seg.last_step is None else min(seg.last_step, step)
        out.append(Segment(seg.source_uid, seg.epoch, seg.first_step, last, until))
        break
    return out


def fork(parent: Sequence[Segment], step: int, child_uid: str, cut_time: float | None) -> list[Segment]:
    """A fork of `parent` at `step`: the parent's history up to `step`, then the child's own rows."""
    return [*clip(parent, step, cut_time), Segment(child_uid, 0, step + 1)]


def rewind(segments: Sequence[Segment], uid: str, step: int, new_epoch: int, cut_time: float | None) -> tuple[list[Segment], list[Segment]]:
    """Rewind run `uid` to `step`: return (new visible segments, archived segments).

    The run's own rows above `step` are not touched; they become the archived segments, and new rows
    go to `new_epoch` so they never collide with them.
    """
    kept = clip(segments, step, cut_time)
    archived: list[Segment] = []
    for seg in segments:
        if seg.source_uid != uid or (seg.last_step is not None and seg.last_step <= step):
            continue
        archived.append(Segment(uid, seg.epoch, max(seg.first_step, step + 1), seg.last_step, seg.until_time))
    return [*kept, Segment(uid, new_epoch, step + 1)], archived


def segment_for(segments: Sequence[Segment], step: int) -> Segment | None:
    """The segment whose step range holds `step`, if any."""
    for seg in segments:
        if seg.covers(step):
            return seg
    return None


def ancestors(segments: Sequence[Segment], uid: str) -> list[str]:
    """The uids whose rows `uid`'s history borrows, oldest first (without `uid` itself)."""
    seen: list[str] = []
    for seg in segments:
        if seg.source_uid != uid and seg.source_uid not in seen:
            seen.append(seg.source_uid)
    return seen
