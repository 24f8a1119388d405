"""The wandb calls beyond init/log/finish, on the embedded store: save/restore, alert, log_code, YAML config,
define_metric(summary='best'), nested summaries, run.url."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import runtree
from runtree.store import open_store


def test_files_alerts_code_and_urls(rt_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    (work / "pkg").mkdir(parents=True)
    (work / "train.py").write_text("print('train')\n")
    (work / "pkg" / "model.py").write_text("X = 1\n")
    (work / "notes.txt").write_text("v1")
    monkeypatch.chdir(work)
    run = runtree.init(project="surface")
    assert run.save("notes.txt", policy="end") == ["notes.txt"]
    (work / "notes.txt").write_text("v2")  # policy='end': stored as it is at finish
    run.log_code(".")
    runtree.alert("diverged", "loss is nan", level=runtree.AlertLevel.ERROR)
    assert run.url == f"http://127.0.0.1:8765/r/{run.uid}" and run.get_project_url().endswith("/p/tester/surface")
    assert run.project_name() == "surface" and run.status().sync_items_pending >= 0
    run.finish()
    store = open_store()
    assert {"notes.txt", "code/train.py", "code/pkg/model.py", "alerts.json"} <= set(store.list_files(run.uid))
    assert store.read_file(run.uid, "notes.txt") == b"v2"
    assert json.loads(store.read_file(run.uid, "alerts.json"))[0] | {"time": 0} == {
        "title": "diverged",
        "text": "loss is nan",
        "level": "ERROR",
        "step": 0,
        "time": 0,
    }
    f = runtree.restore("notes.txt", run_path=f"tester/surface/{run.id}", root=str(tmp_path / "restored"))
    assert f is not None and f.read() == "v2"
    f.close()


def test_yaml_config_best_summary_nested_summary(rt_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config-defaults.yaml"
    cfg.write_text("wandb_version: 1\nlr:\n  desc: learning rate\n  value: 0.01\nlayers: 3\n")
    run = runtree.init(project="surface", config=str(cfg), magic=True)
    assert run.config.as_dict() == {"lr": 0.01, "layers": 3}
    run.define_metric("loss", summary="best", goal="minimize")
    run.define_metric("acc", summary="best,last", goal="maximize")
    for loss, acc in ((3.0, 0.1), (1.0, 0.7), (2.0, 0.5)):
        run.log({"loss": loss, "acc": acc, "eval": {"top1": acc}}, sync=False)
    run.summary["best_model"] = {"epoch": {"n": 2}, "path": "m.pt"}
    assert run.summary["loss"] == {"best": 1.0} and run.summary["acc"] == {"best": 0.7, "last": 0.5}
    assert run.summary["eval"] == {"top1": 0.5} and run.summary["eval.top1"] == 0.5
    assert run.summary["best_model"] == {"epoch": {"n": 2}, "path": "m.pt"} and "best_model" in run.summary
    with pytest.raises(runtree.UsageError, match="goal"):
        run.define_metric("x", summary="best")
    run.finish()
    stored = open_store().get_run(run.uid).summary
    assert stored["best_model.epoch.n"] == 2 and stored["eval.top1"] == 0.5  # stored flat, as the wandb client's keys are


def test_a_list_no_longer_drops_the_row(rt_dir: Path) -> None:
    run = runtree.init(project="surface")
    with pytest.warns(runtree.RuntreeWarning, match="'obj'"):
        run.log({"loss": 1.0, "lst": [1, 2], "obj": object()})
    run.log({"loss": 0.5, "obj": object()})  # warned once per key: no second warning
    run.finish()
    rows = list(runtree.Api().run(f"surface/{run.id}").scan_history())
    assert [(r["loss"], r.get("lst")) for r in rows] == [(1.0, [1, 2]), (0.5, None)]
