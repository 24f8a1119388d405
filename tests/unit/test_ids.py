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


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "x" * 65, "a\x00", "é"])
def test_bad_uids_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="is not a run uid"):
        ids.validate_uid(bad)


def test_ids_refuse_control_characters_and_lone_surrogates() -> None:
    for bad in ("a\x00b", "a\x07b", "x\ud800"):
        with pytest.raises(UsageError):
            ids.validate_id(bad)
        with pytest.raises(UsageError):
            ids.check_text("run name", bad)
    assert ids.check_text("notes", "two\nlines\ttab", lines=True) == "two\nlines\ttab"
    with pytest.raises(UsageError, match="control character"):
        ids.check_text("run name", "two\nlines")


def test_projects_follow_wandb_and_entities_stay_plain() -> None:
    assert ids.validate_project("my project (v2)") == "my project (v2)"
    for bad in ("a/b", "a%b", "a:b", "", " x", "x" * 129, "a\x00"):
        with pytest.raises(UsageError):
            ids.validate_project(bad)
    assert ids.validate_entity("team-1.a_b") == "team-1.a_b"
    for bad in ("a b", "", "a/b"):
        with pytest.raises(UsageError):
            ids.validate_entity(bad)


@pytest.mark.parametrize("bad", ["../x", "a/../b", "/abs", "a\\b", "a//b", "a\x00b", ""])
def test_bad_file_names_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        ids.validate_file_name(bad)
