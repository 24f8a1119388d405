import math

import numpy as np
import pytest

from runtree.domain.values import check_row


def test_plain_scalars_pass_through_as_a_copy() -> None:
    data = {"a": 1, "b": 2.5, "c": True, "d": "x", "e": None}
    out = check_row(data)
    assert out == data and out is not data


def test_nan_and_inf_are_kept() -> None:
    out = check_row({"n": math.nan, "i": math.inf, "j": -math.inf})
    assert math.isnan(out["n"]) and out["i"] == math.inf and out["j"] == -math.inf


def test_numpy_scalars_and_0d_arrays() -> None:
    out = check_row({"f": np.float32(1.5), "i": np.int64(3), "b": np.bool_(True), "z": np.array(2.0)})
    assert out == {"f": 1.5, "i": 3, "b": True, "z": 2.0}
    assert type(out["i"]) is int and type(out["z"]) is float


def test_nested_dicts_become_dotted_keys() -> None:
    assert check_row({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}


@pytest.mark.parametrize("value", [[1, 2], object(), np.zeros(3), {1, 2}])
def test_unloggable_values_name_key_and_type(value: object) -> None:
    with pytest.raises(TypeError) as e:
        check_row({"ok": 1, "bad": value})
    assert "'bad'" in str(e.value) and type(value).__name__ in str(e.value)


def test_non_string_keys() -> None:
    with pytest.raises(TypeError, match="keys must be strings"):
        check_row({1: 2})  # type: ignore[dict-item]


def test_not_a_dict() -> None:
    with pytest.raises(TypeError, match="takes a dict"):
        check_row([1, 2])  # type: ignore[arg-type]
