import pytest

from runtree.domain.forkspec import ForkSpec, parse_forkspec
from runtree.errors import BadForkSpec


def test_step_moment() -> None:
    assert parse_forkspec("abc?_step=200") == ForkSpec("abc", "_step", 200)
    assert parse_forkspec("abc?_step=200").step == 200


def test_custom_metric_moment() -> None:
    assert parse_forkspec("abc?epoch=3") == ForkSpec("abc", "epoch", 3.0)
    assert parse_forkspec("abc?train/epoch=2.5").value == 2.5


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("abc", "has no '?metric=value'"),
        ("abc?_step=x", "non-negative integer, got 'x'"),
        ("abc?_step=", "has no value"),
        ("abc?_step=-5", "must be >= 0, got -5"),
        ("abc?_step=1.5", "non-negative integer"),
        ("?_step=3", "names no run"),
        ("abc?=3", "must be 'metric=value'"),
        ("abc?epoch=nan", "cannot be NaN"),
        ("abc?epoch=soon", "must be a number"),
    ],
)
def test_malformed_moments_quote_the_text(text: str, fragment: str) -> None:
    with pytest.raises(BadForkSpec) as e:
        parse_forkspec(text, "fork_from")
    assert fragment in str(e.value)
    assert repr(text) in str(e.value)


def test_not_a_string() -> None:
    with pytest.raises(BadForkSpec, match="must be a string"):
        parse_forkspec(123)  # type: ignore[arg-type]
