"""runtree.domain.wandb_format: W&B's config, metric definitions, rows and console lines as runtree values."""

from __future__ import annotations

import math

from runtree.domain import wandb_format as wf


def test_config_splits_the_users_from_wandbs() -> None:
    sent = {
        "lr": {"value": 0.1, "desc": None},
        "opt": {"value": {"name": "adam"}},
        "_wandb": {"value": {"t": {"1": [1]}, "branch_point": {"run_id": "ab12", "step": 200}}},
    }
    user, wb = wf.split_config(sent)
    assert user == {"lr": 0.1, "opt": {"name": "adam"}}
    assert wf.branch_point(wb) == ("ab12", 200)
    assert wf.split_config(wf.wrap_config(user, wb)) == (user, wb)
    assert wf.branch_point({}) is None and wf.branch_point({"branch_point": {"run_id": "", "step": 3}}) is None


def test_metric_definitions_from_the_encoded_list() -> None:
    encoded = [
        {"1": "loss", "6": [3], "7": [1]},  # define_metric("loss", summary="min")
        {"1": "epoch"},  # added only as the step of val/acc: not a definition of its own
        {"1": "val/acc", "5": 2, "6": [3], "7": [4], "8": 2},  # step_metric="epoch", summary="best", goal="maximize"
        {"1": "hid", "6": [2, 3], "7": [7, 3]},  # hidden, copy + mean
    ]
    assert wf.metric_defs(encoded) == {
        "loss": {"step_metric": None, "summary": ["min"], "hidden": False},
        "val/acc": {"step_metric": "epoch", "summary": ["max"], "hidden": False},
        "hid": {"step_metric": None, "summary": ["mean", "last"], "hidden": True},
    }
    assert wf.metric_defs(None) == {} and wf.metric_defs([{"6": [3]}, "junk"]) == {}


def test_rows_and_summaries_flatten_as_runtree_log_does_media_and_lists_kept() -> None:
    left_out: dict[str, int] = {}
    img = {"_type": "image-file", "path": "media/images/img_3_ab.png", "sha256": "ab", "width": 8, "height": 8}
    row = wf.flatten_row({"_step": 3, "d": {"x": 1, "y": {"z": math.inf}, "img": img}, "img": img, "l": [1, [2]]}, left_out)
    assert row == {"_step": 3, "d.x": 1, "d.y.z": math.inf, "d.img": img, "img": img, "l": [1, [2]]}
    assert left_out == {}
    defs = {"loss": {"summary": ["min"]}}
    summary = {"loss": {"min": 0.2}, "d": {"x": 4}, "_wandb": {"runtime": 3}, "_step": 4, "img": img, "l": [1]}
    assert wf.flatten_summary(summary, defs) == {"loss": {"min": 0.2}, "d.x": 4, "_step": 4, "img": img, "l": [1]}


def test_console_lines() -> None:
    assert wf.parse_console_line("2026-11-29T01:25:22.653365 hello world", 0.0) == ("stdout", 1795915522.653365, "hello world")
    stream, ts, text = wf.parse_console_line("ERROR 2026-11-29T01:25:22.653374 to stderr", 0.0)
    assert (stream, text) == ("stderr", "to stderr") and math.isclose(ts, 1795915522.653374)
    assert wf.parse_console_line("2026-11-29T01:25:22.5 ", 0.0)[2] == ""
    assert wf.parse_console_line("no timestamp here", 7.0) == ("stdout", 7.0, "no timestamp here")


def test_environment_as_runtree_metadata() -> None:
    git = {"commit": "abc", "remote": "r"}
    e = {"w1": {"host": "vm", "os": "Linux", "python": "CPython 3.11.7", "args": ["a"], "git": git, "disk": {}}}
    assert wf.environment({"e": e}) == {"host": "vm", "os": "Linux", "python": "3.11.7", "args": ["a"], "git": git}
    assert wf.environment({}) == {} and wf.environment({"e": {}}) == {}
