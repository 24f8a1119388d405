"""The columnar chunk format: exact round trips (property-based) and aggregates that combine like rows fold."""

import math
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runtree.domain import chunks
from runtree.domain.chunks import Agg, aggregate, aggregate_rows, combine, combine_all, encode_chunk
from runtree.domain.summary import MetricDef, SummaryBuilder

scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    st.integers(min_value=1 << 63, max_value=1 << 80),
    st.integers(max_value=-(1 << 63) - 1, min_value=-(1 << 80)),
    st.booleans(),
    st.text(max_size=8),
    st.none(),
)
json_values = st.recursive(
    scalars.filter(lambda v: not (isinstance(v, float) and math.isnan(v))),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
value = st.one_of(scalars, json_values)


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, and the same type and sign of zero (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _decode(ch: chunks.Chunk) -> list[tuple[int, dict[str, Any]]]:
    cols = {k: chunks.decode_column(b, ch.n) for k, b in zip(ch.keys, ch.columns, strict=True)}
    return chunks.rows_of(chunks.decode_steps(ch.steps), chunks.decode_times(ch.times), ch.implied, cols)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[int, float, dict[str, Any]]]:
    keys = draw(st.lists(st.sampled_from(["loss", "acc", "img", "note", "_runtime", "n"]), unique=True, max_size=5))
    n = draw(st.integers(min_value=1, max_value=40))
    gaps = draw(st.lists(st.integers(min_value=1, max_value=1000), min_size=n, max_size=n))
    step = draw(st.integers(min_value=0, max_value=1 << 40))
    rows = []
    for i in range(n):
        step += gaps[i] if i else 0
        ts = draw(st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=4e9))
        row: dict[str, Any] = {"_step": step, "_timestamp": ts}
        for k in keys:
            if draw(st.booleans()):
                row[k] = draw(value)
        rows.append((step, ts, row))
    return rows


@settings(max_examples=150, deadline=None)
@given(histories())
def test_rows_round_trip_exactly(rows: list[tuple[int, float, dict[str, Any]]]) -> None:
    ch = encode_chunk(rows)
    back = _decode(ch)
    assert [s for s, _ in back] == [s for s, _, _ in rows]
    for (_, got), (_, _, want) in zip(back, rows, strict=True):
        assert _same(got, want), (got, want)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.floats(), st.integers(-5, 5), st.booleans(), st.text(max_size=2)), min_size=1, max_size=6), min_size=1)
)
def test_combined_chunk_aggregates_equal_one_fold(parts: list[list[Any]]) -> None:
    whole = [v for p in parts for v in p]
    combined: Agg | None = None
    for p in parts:
        combined = combine(combined, aggregate(p))
    want = aggregate(whole)
    assert combined is not None and combined.count == want.count
    for got_v, want_v in ((combined.last, want.last), (combined.min, want.min), (combined.max, want.max), (combined.first, want.first)):
        assert _same(got_v, want_v)
    if want.count:  # a sum in pieces rounds differently from one fold: equal up to rounding
        assert _same(combined.sum, want.sum) or math.isclose(combined.sum, want.sum, rel_tol=1e-9) or not math.isfinite(want.sum)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["loss", "acc", "name"]), st.one_of(st.floats(), st.integers(-9, 9), st.text(max_size=2))),
        min_size=1,
    ),
    st.integers(min_value=1, max_value=11),
)
def test_summary_from_aggregates_equals_summary_from_rows(rows: list[dict[str, Any]], cut: int) -> None:
    defs = {"loss": MetricDef("loss", summary=("min", "max", "first", "last")), "acc": MetricDef("acc", summary=("max", "mean"))}
    by_rows = SummaryBuilder(defs)
    by_rows.add_all(rows)
    by_aggs = SummaryBuilder(defs)
    by_aggs.absorb(combine_all([aggregate_rows(rows[:cut]), aggregate_rows(rows[cut:])]))
    want, got = by_rows.result(), by_aggs.result()
    assert want.keys() == got.keys()
    for k in want:
        if isinstance(want[k], dict) and "mean" in want[k]:
            assert math.isclose(want[k]["mean"], got[k]["mean"], rel_tol=1e-9, abs_tol=1e-12) or want[k]["mean"] != want[k]["mean"]
            want[k] = {m: v for m, v in want[k].items() if m != "mean"}
            got[k] = {m: v for m, v in got[k].items() if m != "mean"}
        assert _same(want[k], got[k]), (k, want[k], got[k])


def test_typed_columns_and_implied_step_and_time() -> None:
    rows = [(s, 100.0 + s, {"_step": s, "_timestamp": 100.0 + s, "loss": 1.0 / (s + 1), "epoch": s // 10}) for s in range(50)]
    ch = encode_chunk(rows)
    assert ch.implied == "st" and ch.keys == ("loss", "epoch")
    cols = {k: chunks.decode_column(b, ch.n) for k, b in zip(ch.keys, ch.columns, strict=True)}
    assert cols["loss"].kind == chunks.FLOAT and cols["epoch"].kind == chunks.INT and cols["loss"].present is None


def test_sparse_key_has_presence_and_side_column_keeps_json() -> None:
    img = {"_type": "image-file", "path": "media/a.png", "sha256": "ab", "size": 3}
    rows = [(s, float(s), {"_step": s, "x": 1.5} if s % 3 else {"_step": s, "img": img, "big": 1 << 70}) for s in range(9)]
    back = _decode(encode_chunk(rows))
    assert [r for _, r in back] == [r for _, _, r in rows]
    ch = encode_chunk(rows)
    col = chunks.decode_column(ch.columns[ch.keys.index("img")], ch.n)
    assert col.kind == chunks.JSON and chunks.present_rows(col.present or b"", ch.n) == [0, 3, 6]


def test_step_range_of_a_decoded_chunk() -> None:
    rows = [(s, float(s), {"_step": s}) for s in range(0, 100, 10)]
    ch = encode_chunk(rows)
    got = chunks.rows_of(chunks.decode_steps(ch.steps), chunks.decode_times(ch.times), ch.implied, {}, 25, 60)
    assert [s for s, _ in got] == [30, 40, 50, 60]


def test_nan_min_and_bool_not_a_number() -> None:
    a = aggregate([math.nan, 3.0, True, 1.0, math.nan])
    assert a.count == 4 and a.min == 1.0 and a.max == 3.0 and math.isnan(a.first) and math.isnan(a.last)
    b = aggregate([math.nan])
    assert math.isnan(b.min) and b.count == 1
    assert combine(b, aggregate([2])).min == 2
    assert aggregate(["x", True]).count == 0
    assert Agg.from_json(aggregate([1 << 70, 2.5]).to_json()) == aggregate([1 << 70, 2.5])
