"""The store codec keeps every loggable value exactly, on its fast path and its fallback."""

import math

import pytest

from runtree.store.codec import dumps_row, loads_row


@pytest.mark.parametrize(
    "row",
    [
        {"a": 1, "b": 2.5, "c": "text", "d": True, "e": None, "f": 0.1 + 0.2, "g": 1e300, "h": -0.0, "i": "ünï\x00"},
        {"big": 2**80, "neg": -(2**70)},
        {"inf": math.inf, "ninf": -math.inf, "x": 1.0},
        {"nested": {"k": [1, 2]}, "t": (1, 2)},
    ],
)
def test_round_trip(row: dict[str, object]) -> None:
    back = loads_row(dumps_row(row))
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in row.items()}
    assert back == expected
    assert [type(v) for v in back.values()] == [type(v) for v in expected.values()]


def test_nan_is_not_turned_into_null() -> None:
    back = loads_row(dumps_row({"n": math.nan}))
    assert math.isnan(back["n"])


def test_plain_rows_take_the_fast_path_and_odd_ones_are_marked() -> None:
    assert dumps_row({"a": 1.5}) == '{"a":1.5}'
    assert dumps_row({"a": math.inf}).startswith("~")
    assert loads_row('{"a":NaN}')["a"] != 0  # text written by json alone still reads
