"""Attribute setters, config values and steps, checked at the call; no batch lost to a value the store refuses.

Issue 9 items 4 and 7: `run.name = "x"` on a server-backed run broke every later metadata write; a step
beyond what the stores can hold, or a dict as notes, lost whole batches and left the run unfinished.
"""

from __future__ import annotations

import datetime
import enum
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wandb.util

import runtree
from runtree.domain import lineage
from runtree.domain.records import FINISHED, RunRecord
from runtree.domain.steps import STEP_LIMIT
from runtree.domain.summary import SummaryBuilder
from runtree.errors import UsageError
from runtree.sdk.writer import Writer
from runtree.store.sqlite import SqliteStore
from tests.integration.server_fixture import Server

SETTERS = """
import json, sys, runtree
run = runtree.init(project="attrs", id="r1", config={"lr": 0.1})
run.log({"loss": 1.0})
run.name = "renamed"
run.notes = "some notes"
run.tags = ["a", "b"]
run.config.update({"batch": 32})
run.summary["best"] = 0.5
run.log({"loss": 0.5})
run.finish()
print(json.dumps({"name": run.name}))
"""


def test_setters_on_a_server_backed_run_are_stored(postgres_server: Server, tmp_path: Path) -> None:
    admin = postgres_server.fresh_store()
    env = {
        **os.environ,
        "RUNTREE_BASE_URL": postgres_server.url,
        "RUNTREE_API_KEY": postgres_server.admin_key,
        "RUNTREE_DIR": str(tmp_path / "rt"),
        "RUNTREE_ENTITY": "tester",
        "RUNTREE_CONSOLE": "off",
        "RUNTREE_SYSTEM_SAMPLE_INTERVAL": "0",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    p = subprocess.run([sys.executable, "-c", SETTERS], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "multiple values" not in p.stderr
    run = admin.find_run("tester", "attrs", "r1")
    assert run is not None
    assert (run.name, run.notes, run.tags, run.state) == ("renamed", "some notes", ("a", "b"), FINISHED)
    assert run.config == {"lr": 0.1, "batch": 32}
    assert run.summary["best"] == 0.5 and run.summary["loss"] == 0.5
    assert run.last_step == 1
    admin.close()


def test_setters_refuse_values_no_store_can_hold_and_the_run_finishes(rt_dir: Path) -> None:
    run = runtree.init(project="attrs", id="bad")
    run.log({"x": 1.0})
    with pytest.raises(UsageError, match=r"run\.notes must be a string"):
        run.notes = {"a": 1}  # type: ignore[assignment]
    with pytest.raises(UsageError, match="NUL"):
        run.name = "a\x00b"
    with pytest.raises(UsageError, match="lone surrogate"):
        run.tags = ["ok", "\ud800"]
    with pytest.raises(UsageError, match="list of non-empty strings"):
        run.tags = "abc"
    with pytest.raises(AttributeError):
        run.group = "g"  # type: ignore[misc]  # read-only, as in wandb
    run.notes = "fine"
    run.log({"x": 2.0})
    run.finish()
    with pytest.raises(UsageError, match="finished"):
        run.name = "late"
    stored = runtree.Api().run("attrs/bad")
    assert stored.state == FINISHED and stored.notes == "fine"
    assert list(stored.history()["x"]) == [1.0, 2.0]


def test_steps_beyond_what_the_stores_hold_are_refused_at_log(rt_dir: Path) -> None:
    run = runtree.init(project="steps", id="big")
    run.log({"x": 0.0})
    for bad in (2**63, STEP_LIMIT, 2**62 + 5):
        with pytest.raises(UsageError, match="steps go up to"):
            run.log({"x": 1.0}, step=bad)
    run.log({"x": 2.0}, step=STEP_LIMIT - 1, commit=True)  # the largest step: stored and readable
    with pytest.raises(UsageError, match="beyond the largest step"):
        run.log({"x": 3.0})
    run.finish()
    h = runtree.Api().run("steps/big").history()
    assert list(h["_step"]) == [0, STEP_LIMIT - 1]
    assert runtree.Api().run("steps/big").state == FINISHED


class Color(enum.Enum):
    RED = 1


@dataclass
class Opt:
    lr: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)


def _adam() -> None:
    pass


CONFIG: dict[str, Any] = {
    "blob": b"utf8 bytes",
    "ids": {3},
    "pair": (1, 2),
    "when": datetime.date(2026, 1, 2),
    "color": Color.RED,
    "fn": _adam,
    "opt": Opt(),
    "cut": slice(1, 10, 2),
    "np_scalar": np.float32(0.5),
    "np_small": np.arange(4),
    "nan": float("nan"),
    "nested": {"inner": b"x", "s": {7}},
}


def test_config_values_are_converted_as_wandb_converts_them(rt_dir: Path) -> None:
    run = runtree.init(project="cfg", id="c", config=CONFIG)
    run.config.update({"later": {5}})
    run.finish()
    stored = runtree.Api().run("cfg/c").config
    for key, value in {**CONFIG, "later": {5}}.items():
        assert stored[key] == wandb.util.json_friendly_val(value), key


def test_config_objects_without_a_readable_form_warn_and_unstorable_text_raises(rt_dir: Path) -> None:
    class Model:
        pass

    run = runtree.init(project="cfg", id="o")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.config["model"] = Model()
    assert any("no readable form" in str(w.message) for w in caught)
    with pytest.raises(UsageError, match="not UTF-8"):
        run.config["raw"] = b"\xff\xfe"
    with pytest.raises(UsageError, match="NUL"):
        run.config["k"] = "a\x00"
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(UsageError, match="nested deeper"):
        run.config["loop"] = loop
    run.finish()
    assert runtree.Api().run("cfg/o").state == FINISHED


def test_a_row_the_store_refuses_does_not_take_the_valid_rows_of_its_batch(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    uid = "w" * 32
    store.create_run(RunRecord(uid=uid, entity="e", project="p", id="w", name="w", created_at=1.0), lineage.new_run(uid))
    writer = Writer(store, uid, 0, SummaryBuilder({}), flush_interval=60)
    for step in range(10):
        writer.put(step, float(step), {"_step": step, "x": float(step)})
    writer.put(2**63, 10.0, {"_step": 2**63, "x": 10.0})  # past log()'s check: the store cannot hold it
    for step in range(11, 20):
        writer.put(step, float(step), {"_step": step, "x": float(step)})
    left = writer.close(state=FINISHED)
    assert left.refused_steps == [2**63] and "refused" in left.describe()
    assert [r["_step"] for r in store.read_rows(store.read_segments(uid))] == [*range(10), *range(11, 20)]
    assert store.get_run(uid).state == FINISHED
    store.close()


def test_log_refuses_text_no_store_can_hold_at_the_call(rt_dir: Path) -> None:
    run = runtree.init(project="attrs", id="text")
    run.log({"x": 1.0, "note": "fine ünïcode"})
    for bad in ({"a\x00b": 1.0}, {"k\ud800": 1.0}, {"x": 2.0, "note": "nul\x00"}, {"x": 2.0, "note": "lone \udc80"}):
        with pytest.raises(UsageError, match=r"NUL|lone surrogate"):
            run.log(bad)
    run.log({"x": 3.0})
    run.finish()
    h = runtree.Api().run("attrs/text").history()
    assert list(h["_step"]) == [0, 1]  # a refused row uses up no step
    assert list(h["x"]) == [1.0, 3.0] and h["note"][0] == "fine ünïcode"
