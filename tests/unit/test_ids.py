import re

import pytest

from runtree.domain import ids
from runtree.errors import UsageError


def test_made_ids_have_wandb_shape() -> None:
    assert re.fullmatch(r"[0-9a-z]{8}", ids.make_id())
    assert ids.looks_like_uid(ids.make_uid())
    assert ids.make_uid() != ids.make_uid()
    assert re.fullmatch(r"[a-z]+-[a-z]+-7", ids.make_name(7))


@pytest.mark.parametrize("bad", ["a/b", "a?b", "", "has space"])
def test_bad_ids_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        ids.validate_id(bad)


def test_parse_path() -> None:
    assert ids.parse_path("e/p/r") == ids.RunPath("e", "p", "r")
    assert ids.parse_path("e/p/runs/r") == ids.RunPath("e", "p", "r")
    assert ids.parse_path("p/r") == ids.RunPath(None, "p", "r")
    assert ids.parse_path("r") == ids.RunPath(None, None, "r")
    with pytest.raises(UsageError, match="has 5 parts"):
        ids.parse_path("a/b/c/d/e")
