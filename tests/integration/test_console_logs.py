"""Console capture: what a run prints lands in its log, in order, with its step; tqdm bars collapse."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import runtree

PRINTS = """
import sys, runtree
run = runtree.init(project="con", id="p", settings={"console": "auto"})
print("before any log")
for i in range(3):
    print(f"out {i}")
    print(f"err {i}", file=sys.stderr)
    run.log({"x": i})
sys.stdout.write("no newline at the end")
run.finish()
print("after finish")
"""

TQDM = """
import sys, runtree
from tqdm import tqdm
run = runtree.init(project="con", id="bars", settings={"console": "auto"})
for _ in tqdm(range(50), mininterval=0, desc="train"):
    run.log({"x": 1})
for _ in tqdm(range(5), mininterval=0, leave=False, desc="gone"):
    pass
print("between bars")
bar = tqdm(total=10, mininterval=0, desc="open")
bar.update(4)
run.finish()
bar.close()
"""


def _env(rt_dir: Path) -> dict[str, str]:
    env = {**os.environ, "RUNTREE_DIR": str(rt_dir)}
    env.pop("RUNTREE_CONSOLE")  # rt_dir turns capture off for in-process tests; these pass console= themselves
    return env


def _run(script: str, rt_dir: Path) -> tuple[str, str]:
    """(stdout, stderr) of the script, carriage returns kept."""
    p = subprocess.run([sys.executable, "-c", script], env=_env(rt_dir), capture_output=True, timeout=60)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, err
    return out, err


def test_printed_lines_are_stored_in_order_with_steps(rt_dir: Path) -> None:
    out, err = _run(PRINTS, rt_dir)
    assert out == "before any log\nout 0\nout 1\nout 2\nno newline at the endafter finish\n"  # the user still sees it
    assert err == "err 0\nerr 1\nerr 2\n"
    logs = runtree.Api().run("con/p").logs()
    assert [(x["stream"], x["step"], x["text"]) for x in logs] == [
        ("stdout", 0, "before any log"),
        ("stdout", 0, "out 0"),
        ("stderr", 0, "err 0"),
        ("stdout", 1, "out 1"),
        ("stderr", 1, "err 1"),
        ("stdout", 2, "out 2"),
        ("stderr", 2, "err 2"),
        ("stdout", 3, "no newline at the end"),
    ]
    ts = [x["timestamp"] for x in logs]
    assert ts == sorted(ts)


def test_tqdm_bars_are_stored_as_their_final_state(rt_dir: Path) -> None:
    _, err = _run(TQDM, rt_dir)
    assert err.count("\r") > 50  # the terminal got every refresh
    texts = [x["text"] for x in runtree.Api().run("con/bars").logs()]
    assert len(texts) == 3, texts
    assert texts[0].startswith("train: 100%|") and "50/50" in texts[0]
    assert texts[1] == "between bars"  # the leave=False bar blanked itself: nothing of it is kept
    assert texts[2].startswith("open:  40%|") and "4/10" in texts[2]  # still open at finish: stored as it stood


def test_resumed_run_numbers_its_lines_on(rt_dir: Path) -> None:
    for word in ("first", "second"):
        run = runtree.init(project="con", id="again", resume="allow", settings={"console": "auto"})
        print(f"{word} a")
        print(f"{word} b")
        run.finish()
    assert [x["text"] for x in runtree.Api().run("con/again").logs()] == ["first a", "first b", "second a", "second b"]


def test_console_off_leaves_the_streams_alone(rt_dir: Path) -> None:
    out, err = sys.stdout, sys.stderr
    run = runtree.init(project="con", settings={"console": "off"})
    assert sys.stdout is out and sys.stderr is err
    print("not captured")
    run.finish()
    assert runtree.Api().run(run.path).logs() == []


def test_nested_runs_share_the_console_and_restore_it(rt_dir: Path) -> None:
    out, err = sys.stdout, sys.stderr
    outer = runtree.init(project="con", id="outer", settings={"console": "auto"})
    print("outer only")
    inner = runtree.init(project="con", id="inner", reinit="create_new", settings={"console": "auto"})
    print("both")
    inner.finish()
    assert sys.stdout is not out  # the outer run still captures
    print("outer again")
    outer.finish()
    assert sys.stdout is out and sys.stderr is err
    api = runtree.Api()
    assert [x["text"] for x in api.run("con/outer").logs()] == ["outer only", "both", "outer again"]
    assert [x["text"] for x in api.run("con/inner").logs()] == ["both"]


def test_runs_finished_out_of_order_restore_the_streams(rt_dir: Path) -> None:
    out = sys.stdout
    a = runtree.init(project="con", id="a", settings={"console": "auto"})
    b = runtree.init(project="con", id="b", reinit="create_new", settings={"console": "auto"})
    a.finish()
    print("b alone")
    b.finish()
    assert sys.stdout is out
    assert [x["text"] for x in runtree.Api().run("con/b").logs()] == ["b alone"]
    assert runtree.Api().run("con/a").logs() == []


def test_a_stream_replaced_during_the_run_is_left_in_place(rt_dir: Path) -> None:
    out = sys.stdout
    run = runtree.init(project="con", id="r", settings={"console": "auto"})
    teed = sys.stdout
    replacement = open(os.devnull, "w")  # noqa: SIM115 - stands in for a user's own redirect
    try:
        sys.stdout = replacement
        run.finish()
        assert sys.stdout is replacement  # not ours to undo
    finally:
        sys.stdout = out
        replacement.close()
    teed.write("written to the detached tee\n")  # passes through, stored nowhere
    assert runtree.Api().run("con/r").logs() == []


LIVE = """
import os, sys, time, runtree
run = runtree.init(project="con", id="live", settings={"console": "auto"})
print("start")
i = 0
while not os.path.exists(sys.argv[1]) and i < 1200:  # until the test has seen the bar (at most a minute)
    i += 1
    sys.stdout.write(f"\\rwork {i % 10}/10")
    sys.stdout.flush()
    time.sleep(0.05)
sys.stdout.write("\\rwork 10/10   \\n")
print("done")
run.finish()
"""


def test_an_unfinished_progress_line_is_shown_while_it_runs(rt_dir: Path) -> None:
    go = rt_dir / "go"
    p = subprocess.Popen([sys.executable, "-c", LIVE, str(go)], env=_env(rt_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 50
        while time.monotonic() < deadline and p.poll() is None:
            try:
                texts = [x["text"] for x in runtree.Api().run("con/live").logs()]
            except LookupError:  # not created yet
                texts = []
            if len(texts) == 2 and texts[1].startswith("work "):
                seen = texts
                break
            time.sleep(0.1)
        assert seen and p.poll() is None, "the bar's state was not stored while the script ran"
        assert seen[0] == "start" and seen[1] != "work 10/10", seen  # the unfinished line, as it stood
    finally:
        go.touch()
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()
    assert out.decode().count("\r") > 2  # the terminal got the redraws
    # The final state replaced the live ones: the log is what it is when no state was sent while running.
    assert [x["text"] for x in runtree.Api().run("con/live").logs()] == ["start", "work 10/10", "done"]
