"""Disk full under the embedded store (issue 9 item 8), on a real filesystem of 8 MiB (a tmpfs mounted as root).

The training process keeps what it could not store, log() waits once its queue is full (and says so), the
writer says "disk full" with the path and retries; once space is freed every row is stored. If space never
comes back, finish() raises DataNotStored naming what is missing, and the process exits non-zero.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtree.domain.records import FINISHED
from runtree.sdk.run import DATA_NOT_STORED_EXIT
from runtree.store.sqlite import SqliteStore

ROWS = 4_000

CHILD = """
import sys, time, runtree
from pathlib import Path
from runtree.errors import DataNotStored
flags = Path(sys.argv[1])
run = runtree.init(project="full", id="r")
run.log({"x": 0.0})
run._writer.sync()
(flags / "ready").touch()
while not (flags / "go").exists():
    time.sleep(0.05)
for step in range(1, int(sys.argv[2])):
    run.log({f"m{j}": float(step * 10 + j) for j in range(10)})
(flags / "logged").touch()
if len(sys.argv) > 3:  # the run is finished at exit
    sys.exit(0)
try:
    run.finish()
except DataNotStored as e:
    print("NOT STORED:", e, flush=True)
    sys.exit(3)
print("FINISHED", flush=True)
"""


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs: the disk a store can really fill. Needs root (CI and the dev container run as root)."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; return it (deleting it frees the space)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def start(
    small_fs: Path, tmp_path: Path, finish_timeout: float, rows: int = ROWS, queue_bytes: int = 1 << 20, at_exit: bool = False
) -> tuple[subprocess.Popen[str], Path, Path]:
    flags = tmp_path / "flags"
    flags.mkdir()
    err = tmp_path / "stderr.txt"
    env = {
        **os.environ,
        "RUNTREE_DIR": str(small_fs / "rt"),
        "RUNTREE_ENTITY": "tester",
        "RUNTREE_CONSOLE": "off",
        "RUNTREE_SYSTEM_SAMPLE_INTERVAL": "0",
        "RUNTREE_MAX_QUEUE_BYTES": str(queue_bytes),  # 1 MiB: about 700 rows; log() must wait while the disk is full
        "RUNTREE_FINISH_TIMEOUT": str(finish_timeout),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    for var in ("RUNTREE_BASE_URL", "RUNTREE_STORE_URL", "RUNTREE_API_KEY"):
        env.pop(var, None)
    with open(err, "w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(flags), str(rows), *(["at-exit"] if at_exit else [])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=f,
            text=True,
        )
    wait_for(lambda: (flags / "ready").exists(), proc, err)
    return proc, flags, err


def wait_for(cond: object, proc: subprocess.Popen[str], err: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert proc.poll() is None, f"child exited {proc.returncode}: {err.read_text()}"
        assert time.monotonic() < deadline, f"timed out; child stderr: {err.read_text()}"
        time.sleep(0.05)


def test_rows_wait_while_the_disk_is_full_and_are_stored_when_space_returns(small_fs: Path, tmp_path: Path) -> None:
    proc, flags, err = start(small_fs, tmp_path, finish_timeout=120)
    filler = fill(small_fs)
    (flags / "go").touch()
    db = small_fs / "rt" / "runtree.db"
    wait_for(lambda: "disk full" in err.read_text() and str(db) in err.read_text(), proc, err)
    wait_for(lambda: "log() waits" in err.read_text(), proc, err)
    assert not (flags / "logged").exists()  # back-pressure: the training loop is held, not its rows dropped
    filler.unlink()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.read_text()
    assert "FINISHED" in out
    assert "cannot rollback" not in err.read_text()
    assert err.read_text().count("log() waits") == 1  # said once, not at every wait
    store = SqliteStore(db)
    run = store.find_run("tester", "full", "r")
    assert run is not None and run.state == FINISHED and run.last_step == ROWS - 1
    assert sum(1 for _ in store.read_rows(store.read_segments(run.uid))) == ROWS
    assert run.summary["m0"] == float((ROWS - 1) * 10)
    store.close()


def test_finish_raises_when_the_disk_stays_full(small_fs: Path, tmp_path: Path) -> None:
    proc, flags, err = start(small_fs, tmp_path, finish_timeout=2, rows=1500, queue_bytes=64 << 20)
    filler = fill(small_fs)
    (flags / "go").touch()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 3, (out, err.read_text())
    assert "NOT STORED" in out and "disk full" in out and str(small_fs / "rt" / "runtree.db") in out
    assert re.search(r"not stored in .*: \d+ rows", out), out
    filler.unlink()


def test_a_process_that_leaves_data_unstored_at_exit_exits_non_zero(small_fs: Path, tmp_path: Path) -> None:
    proc, flags, err = start(small_fs, tmp_path, finish_timeout=2, rows=1500, queue_bytes=64 << 20, at_exit=True)
    filler = fill(small_fs)
    (flags / "go").touch()
    proc.communicate(timeout=120)
    assert proc.returncode == DATA_NOT_STORED_EXIT, err.read_text()
    assert "not stored" in err.read_text() and "disk full" in err.read_text()
    filler.unlink()
