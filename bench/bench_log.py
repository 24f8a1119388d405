"""runtree vs wandb (offline), MLflow (sqlite) and Aim on one workload: `log` calls of 10 float scalars.

    bench/run.sh [--calls 100000] [--sustained-calls 1000000] [--only runtree,wandb]   # makes bench/.venv
    bench/.venv/bin/python bench/bench_log.py --help

Each tracker runs in its own subprocess (one cannot disturb another's threads, imports or GC) and is
measured on the same loop: build a dict of 10 floats (not timed), call log (timed, perf_counter_ns).
Measured: init time; mean/p50/p99 of one log call on the training thread; time from the last log to
finish returning; ingest = points (calls x 10) / (first log -> finish returned). For runtree also:
sustained ingest of --sustained-calls calls into SQLite (stored rows counted back with sqlite3), and the
cost of a fork (init(fork_from=...) until it returns; its finish() apart) of a 10-row run and of the
sustained run, at its last and middle step. MLflow and Aim have no fork and wandb cannot fork offline:
for MLflow the equivalent, copying the history into a new run, is measured (and extrapolated).
Results are printed as a table with ratios vs runtree and written to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
METRICS = 10
KEYS = tuple(f"m{i}" for i in range(METRICS))
LOG_TARGET_US = 5.0
INGEST_TARGET = 1_000_000  # points/s
FORK_RATIO_LIMIT = 2.0  # fork of the long run / fork of the 10-row run; "independent of history length"

TRACKERS = ("runtree", "wandb", "mlflow", "mlflow-async", "aim")
TITLES = {
    "runtree": "runtree",
    "wandb": "wandb offline",
    "mlflow": "MLflow sqlite",
    "mlflow-async": "MLflow async",
    "aim": "Aim",
}
SETTINGS = {
    "runtree": "sqlite store in a temp dir; system_sample_interval=0, console='off'; everything else default",
    "wandb": "mode='offline', WANDB_SILENT=true, WANDB_DIR=temp dir, Settings(x_disable_stats=True, console='off')",
    "mlflow": "set_tracking_uri('sqlite:///<temp>/mlflow.db'); mlflow.log_metrics(dict, step=i) per call",
    "mlflow-async": "as MLflow sqlite, with log_metrics(..., synchronous=False); end_run() waits for the queue",
    "aim": "aim.Run(repo=temp, system_tracking_interval=None, capture_terminal_logs=False, log_system_params=False); "
    "run.track(dict, step=i) per call",
}

Result = dict[str, Any]


# -- the measured loop, shared by every tracker ----------------------------------------------------
def row(i: int) -> dict[str, float]:
    x = i * 1e-3
    return {k: x + j for j, k in enumerate(KEYS)}


def timed_loop(log: Callable[[int, dict[str, float]], object], calls: int) -> tuple[array[int], float, float]:
    """Call log(i, row) `calls` times; return (ns per call, perf_counter at the first call, at the end)."""
    pc = time.perf_counter_ns
    durs = array("q", bytes(8 * calls))
    start = time.perf_counter()
    for i in range(calls):
        data = row(i)
        t = pc()
        log(i, data)
        durs[i] = pc() - t
    return durs, start, time.perf_counter()


def timer_overhead_ns(n: int = 200_000) -> float:
    pc = time.perf_counter_ns
    durs = array("q", bytes(8 * n))
    for i in range(n):
        t = pc()
        durs[i] = pc() - t
    return float(statistics.fmean(durs))


def per_call(durs: array[int]) -> Result:
    s = sorted(durs)
    n = len(s)
    return {
        "mean_us": statistics.fmean(s) / 1e3,
        "p50_us": s[n // 2] / 1e3,
        "p99_us": s[min(n - 1, int(n * 0.99))] / 1e3,
        "max_us": s[-1] / 1e3,
        "total_in_log_s": sum(s) / 1e9,
    }


def log_result(calls: int, init_s: float, durs: array[int], start: float, last: float, done: float, **extra: Any) -> Result:
    return {
        "calls": calls,
        "points": calls * METRICS,
        "init_s": init_s,
        "log": per_call(durs),
        "finish_s": done - last,
        "ingest_points_per_s": calls * METRICS / (done - start),
        "timer_overhead_ns": timer_overhead_ns(),
        **extra,
    }


# -- runtree -------------------------------------------------------------------------------------
RT_SETTINGS = {"console": "off", "system_sample_interval": 0}


def stored_rows(store_dir: str, uid: str) -> int:
    with sqlite3.connect(Path(store_dir) / "runtree.db") as c:
        return int(c.execute("SELECT count(*) FROM history WHERE uid=?", (uid,)).fetchone()[0])


def w_runtree(calls: int, work: str) -> Result:
    import runtree

    t = time.perf_counter()
    run = runtree.init(project="bench", dir=work, settings=RT_SETTINGS)
    init_s = time.perf_counter() - t
    durs, start, last = timed_loop(lambda i, d: run.log(d), calls)
    run.finish()
    done = time.perf_counter()
    return log_result(
        calls,
        init_s,
        durs,
        start,
        last,
        done,
        stored_rows=stored_rows(work, run.uid),
        settings=SETTINGS["runtree"],
        module=runtree.__file__,
    )


def w_runtree_sustained(calls: int, work: str) -> Result:
    """Log `calls` rows as fast as the loop goes (no per-call timer); points/s actually stored."""
    import runtree

    run = runtree.init(project="bench", id="sustained", dir=work, settings=RT_SETTINGS)
    log = run.log
    cpu0 = time.process_time()
    start = time.perf_counter()
    for i in range(calls):
        log(row(i))
    last = time.perf_counter()
    run.finish()
    done = time.perf_counter()
    cpu = time.process_time() - cpu0
    n = stored_rows(work, run.uid)
    return {
        "calls": calls,
        "points": calls * METRICS,
        "loop_s": last - start,
        "finish_s": done - last,
        "total_s": done - start,
        "points_per_s": n * METRICS / (done - start),
        "stored_rows": n,
        "all_stored": n == calls,
        "cpu_s": cpu,
        "cpu_per_row_us": cpu / calls * 1e6,
        "run_id": run.id,
        "module": runtree.__file__,
    }


def w_runtree_fork(work: str, big_id: str, repeats: int) -> Result:
    """Fork a 10-row run and the sustained run (`big_id`) at their last and middle steps, in a fresh process."""
    import runtree

    small = runtree.init(project="bench", id="small", dir=work, settings=RT_SETTINGS)
    for i in range(10):
        small.log(row(i))
    small.finish()
    big_rows = stored_rows(work, runtree.Api(store=work).run(f"bench/{big_id}").uid)
    cases = {
        "small_last": ("small", 9, 10),
        "small_mid": ("small", 4, 10),
        "big_last": (big_id, big_rows - 1, big_rows),
        "big_mid": (big_id, big_rows // 2 - 1, big_rows),
    }
    init_times: dict[str, list[float]] = {k: [] for k in cases}
    finish_times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for case, (pid, step, _rows) in cases.items():
            gc.collect()
            t = time.perf_counter()
            child = runtree.init(project="bench", dir=work, fork_from=f"{pid}?_step={step}", settings=RT_SETTINGS, reinit="create_new")
            init_times[case].append(time.perf_counter() - t)
            child.log(row(step + 1))
            t = time.perf_counter()
            child.finish()
            finish_times[case].append(time.perf_counter() - t)
    out: Result = {"repeats": repeats, "cases": {}}
    for case, (_pid, step, rows) in cases.items():
        out["cases"][case] = {
            "parent_rows": rows,
            "fork_step": step,
            "init_s_median": statistics.median(init_times[case]),
            "init_s_all": init_times[case],
            "finish_s_median": statistics.median(finish_times[case]),
            "finish_s_all": finish_times[case],
        }
    return out


# -- wandb ---------------------------------------------------------------------------------------
def w_wandb(calls: int, work: str) -> Result:
    os.environ["WANDB_SILENT"] = "true"
    os.environ["WANDB_DIR"] = work
    import wandb

    t = time.perf_counter()
    run = wandb.init(project="bench", mode="offline", dir=work, settings=wandb.Settings(x_disable_stats=True, console="off"))
    init_s = time.perf_counter() - t
    durs, start, last = timed_loop(lambda i, d: run.log(d), calls)
    run.finish()
    done = time.perf_counter()
    return log_result(calls, init_s, durs, start, last, done, version=wandb.__version__, settings=SETTINGS["wandb"])


# -- MLflow --------------------------------------------------------------------------------------
def _mlflow(work: str) -> Any:
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{work}/mlflow.db")
    mlflow.set_experiment("bench")
    return mlflow


def _mlflow_rows(work: str, run_id: str) -> int:
    with sqlite3.connect(f"{work}/mlflow.db") as c:
        return int(c.execute("SELECT count(*) FROM metrics WHERE run_uuid=?", (run_id,)).fetchone()[0]) // METRICS


def w_mlflow(calls: int, work: str, synchronous: bool = True) -> Result:
    mlflow = _mlflow(work)  # creating the database's tables is not counted in init
    t = time.perf_counter()
    run = mlflow.start_run()
    init_s = time.perf_counter() - t
    if synchronous:
        durs, start, last = timed_loop(lambda i, d: mlflow.log_metrics(d, step=i), calls)
    else:
        durs, start, last = timed_loop(lambda i, d: mlflow.log_metrics(d, step=i, synchronous=False), calls)
    mlflow.end_run()
    done = time.perf_counter()
    key = "mlflow" if synchronous else "mlflow-async"
    return log_result(
        calls,
        init_s,
        durs,
        start,
        last,
        done,
        stored_rows=_mlflow_rows(work, run.info.run_id),
        version=mlflow.__version__,
        settings=SETTINGS[key],
    )


def w_mlflow_copy(work: str, sizes: list[int]) -> Result:
    """MLflow's nearest thing to a fork: a new run, the parent's metric history read and written into it with log_batch."""
    mlflow = _mlflow(work)
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = mlflow.get_experiment_by_name("bench").experiment_id

    def log_batch(run_id: str, metrics: list[Any]) -> None:
        for i in range(0, len(metrics), 1000):  # MLflow's limit per log_batch call
            client.log_batch(run_id, metrics=metrics[i : i + 1000])

    out: Result = {"cases": {}}
    for rows in sizes:
        parent = client.create_run(exp).info.run_id
        log_batch(parent, [Metric(k, v, 0, i) for i in range(rows) for k, v in row(i).items()])
        client.set_terminated(parent)
        t = time.perf_counter()
        child = client.create_run(exp).info.run_id
        history = [m for k in KEYS for m in client.get_metric_history(parent, k)]
        log_batch(child, history)
        client.set_terminated(child)
        elapsed = time.perf_counter() - t
        out["cases"][str(rows)] = {"rows": rows, "copy_s": elapsed, "copied_rows": _mlflow_rows(work, child)}
    return out


# -- Aim -----------------------------------------------------------------------------------------
def w_aim(calls: int, work: str) -> Result:
    import aim

    t = time.perf_counter()
    run = aim.Run(repo=work, experiment="bench", system_tracking_interval=None, capture_terminal_logs=False, log_system_params=False)
    init_s = time.perf_counter() - t
    durs, start, last = timed_loop(lambda i, d: run.track(d, step=i), calls)
    run.close()
    done = time.perf_counter()
    return log_result(calls, init_s, durs, start, last, done, version=version("aim"), settings=SETTINGS["aim"])


# -- worker processes ----------------------------------------------------------------------------
def worker(job: str, params: Result, out: str) -> None:
    gc.collect()
    work = params["work"]
    res: Result
    if job == "runtree":
        res = w_runtree(params["calls"], work)
    elif job == "runtree-sustained":
        res = w_runtree_sustained(params["calls"], work)
    elif job == "runtree-fork":
        res = w_runtree_fork(work, params["big_id"], params["repeats"])
    elif job == "wandb":
        res = w_wandb(params["calls"], work)
    elif job == "mlflow":
        res = w_mlflow(params["calls"], work)
    elif job == "mlflow-async":
        res = w_mlflow(params["calls"], work, synchronous=False)
    elif job == "mlflow-copy":
        res = w_mlflow_copy(work, params["sizes"])
    elif job == "aim":
        res = w_aim(params["calls"], work)
    else:
        raise SystemExit(f"unknown job {job!r}")
    Path(out).write_text(json.dumps(res))


def run_job(job: str, params: Result, logs: Path, timeout: float) -> Result:
    """Run one job in a fresh interpreter; its output goes to logs/<job>.log. Returns its result or {'error': ...}."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    log_path = logs / f"{job}.log"
    print(f"  {job} ...", end="", flush=True)
    t = time.perf_counter()
    try:
        with open(log_path, "w") as log:
            p = subprocess.run(
                [sys.executable, __file__, "--worker", job, "--params", json.dumps(params), "--out", out],
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                cwd=params["work"],
                check=False,
            )
        if p.returncode != 0:
            tail = log_path.read_text().strip().splitlines()[-1:] or ["(no output)"]
            res: Result = {"error": f"exit {p.returncode}: {tail[0][:200]} (see {log_path})"}
        else:
            res = json.loads(Path(out).read_text())
    except subprocess.TimeoutExpired:
        res = {"error": f"timed out after {timeout:.0f}s (see {log_path})"}
    finally:
        Path(out).unlink(missing_ok=True)
    print(f" {time.perf_counter() - t:.1f}s" + (f"  ERROR {res['error']}" if "error" in res else ""), flush=True)
    return res


def importable(module: str) -> str | None:
    """None when `module` imports in a fresh interpreter, else why not (plus what run.sh's install said)."""
    p = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False)
    if p.returncode == 0:
        return None
    why = (p.stderr.strip().splitlines() or ["import failed"])[-1]
    note = HERE / ".venv" / f"install-{module}.log"
    if note.exists():
        lines = [ln for ln in note.read_text().splitlines() if ln.strip() and "is ignored" not in ln]
        why += f"; pip install said: {lines[-1][:300] if lines else '(nothing)'} (see {note})"
    return why


# -- report --------------------------------------------------------------------------------------
def fmt_us(v: float) -> str:
    return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"


def fmt_s(v: float) -> str:
    return f"{v * 1e3:,.1f} ms" if v < 1 else f"{v:,.2f} s" if v < 100 else f"{v:,.0f} s"


def fmt_rate(v: float) -> str:
    return f"{v / 1e6:,.2f} M" if v >= 1e6 else f"{v / 1e3:,.1f} k" if v >= 1e3 else f"{v:,.0f}"


def ratio(peer: float, rt: float, higher_is_better: bool = False) -> str:
    if not rt or not peer:
        return "-"
    r = rt / peer if higher_is_better else peer / rt
    return f"{r:.2g}x" if r < 10 else f"{r:,.1f}x" if r < 100 else f"{r:,.0f}x"


def report(results: Result, args: argparse.Namespace) -> Result:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(160, Console().width))
    logs: Result = results["log"]
    cols = [t for t in TRACKERS if t in logs]
    table = Table(title=f"log({METRICS} float scalars): one run per tracker, each in its own process", show_lines=False)
    table.add_column("measure", style="bold", no_wrap=True)
    for t in cols:
        n = logs[t].get("calls")
        table.add_column(f"{TITLES[t]}\n({n:,} calls)" if n else TITLES[t], justify="right", no_wrap=True)

    def cell(t: str, get: Callable[[Result], float], fmt: Callable[[float], str]) -> str:
        r = logs[t]
        if "error" in r:
            return "[red]" + ("not installed" if r.get("missing") else "failed") + "[/red]"
        return fmt(get(r))

    measures: list[tuple[str, Callable[[Result], float], Callable[[float], str], bool, bool]] = [
        # label, getter, format, ratio row?, higher is better
        ("init() returns", lambda r: r["init_s"], fmt_s, False, False),
        ("log(): mean, µs on the training thread", lambda r: r["log"]["mean_us"], fmt_us, True, False),
        ("log(): p50, µs", lambda r: r["log"]["p50_us"], fmt_us, True, False),
        ("log(): p99, µs", lambda r: r["log"]["p99_us"], fmt_us, True, False),
        ("log(): max, µs", lambda r: r["log"]["max_us"], fmt_us, False, False),
        ("last log -> finish() returned", lambda r: r["finish_s"], fmt_s, True, False),
        ("ingest: points/s, first log -> finish", lambda r: r["ingest_points_per_s"], fmt_rate, True, True),
    ]
    rt = logs.get("runtree", {})
    for label, get, fmt, with_ratio, hib in measures:
        table.add_row(label, *(cell(t, get, fmt) for t in cols))
        if with_ratio and "error" not in rt and rt:
            cells = []
            for t in cols:
                if t == "runtree" or "error" in logs[t]:
                    cells.append("")
                else:
                    cells.append(f"[yellow]{ratio(get(logs[t]), get(rt), hib)}[/yellow]")
            table.add_row(f"  [dim]ratio vs runtree ({'runtree / peer' if hib else 'peer / runtree'})[/dim]", *cells)

    # fork section
    fork = results.get("fork", {})
    copy = results.get("mlflow-copy", {})
    table.add_section()
    fork_rows: list[tuple[str, str, int]] = [
        ("fork 10-row run at last step: init / finish", "small_last", 10),
        ("fork 10-row run at middle: init / finish", "small_mid", 10),
    ]
    big_n = fork.get("cases", {}).get("big_last", {}).get("parent_rows", args.sustained_calls)
    fork_rows += [(f"fork {big_n:,}-row run at last step", "big_last", big_n), (f"fork {big_n:,}-row run at middle", "big_mid", big_n)]
    copy_cases = copy.get("cases", {})
    extrapolated = ""
    for label, case, n in fork_rows:
        cells = []
        for t in cols:
            if t == "runtree":
                c = fork.get("cases", {}).get(case)
                cells.append(f"{fmt_s(c['init_s_median'])} / {fmt_s(c['finish_s_median'])}" if c else "[red]failed[/red]")
            elif t == "wandb":
                cells.append("not possible offline")
            elif t == "mlflow" and copy_cases and "error" not in copy:
                rows = n if not case.endswith("mid") else n // 2
                if str(rows) in copy_cases:
                    cells.append(f"copy {fmt_s(copy_cases[str(rows)]['copy_s'])}")
                else:
                    b = max(copy_cases.values(), key=lambda c: c["rows"])
                    cells.append(f"copy ~{fmt_s(b['copy_s'] * rows / b['rows'])} *")
                    extrapolated = f"* extrapolated in proportion to rows from MLflow's copy of {b['rows']:,} rows ({fmt_s(b['copy_s'])})"
            elif t == "aim":
                cells.append("no fork")
            else:
                cells.append("no fork" if t.startswith("mlflow") else "")
        table.add_row(label, *cells)
    fr = fork_ratio(fork)
    if fr is not None:
        table.add_row(
            f"  [dim]fork {big_n:,} rows / fork 10 rows (fastest init)[/dim]",
            *[f"[yellow]{fr:.2f}x[/yellow]" if t == "runtree" else "" for t in cols],
        )

    # sustained section
    sus = results.get("sustained", {})
    table.add_section()
    if "error" in sus or not sus:
        table.add_row("sustained ingest into SQLite", "[red]failed[/red]", *[""] * (len(cols) - 1))
    else:
        table.add_row(
            f"sustained ingest, {sus['calls']:,} calls",
            f"{fmt_rate(sus['points_per_s'])} points/s",
            *[""] * (len(cols) - 1),
        )
        table.add_row(
            "  rows stored / loop / finish",
            f"{sus['stored_rows']:,} / {fmt_s(sus['loop_s'])} / {fmt_s(sus['finish_s'])}",
            *[""] * (len(cols) - 1),
        )
        table.add_row("  process CPU per row", f"{sus['cpu_per_row_us']:.1f} µs", *[""] * (len(cols) - 1))
    console.print(table)

    # targets
    targets = Table(title="targets")
    for c in ("target", "measured", ""):
        targets.add_column(c)
    verdicts: Result = {}

    def verdict(name: str, label: str, measured: str, ok: bool | None) -> None:
        verdicts[name] = {"measured": measured, "pass": ok}
        mark = "[green]PASS[/green]" if ok else "[red]FAIL[/red]" if ok is not None else "[yellow]n/a[/yellow]"
        targets.add_row(label, measured, mark)

    if "error" not in rt and rt:
        m = rt["log"]["mean_us"]
        verdict(
            "log_us",
            f"log() of 10 scalars < {LOG_TARGET_US:g} µs (mean)",
            f"{m:.2f} µs (p50 {rt['log']['p50_us']:.2f} µs)",
            m < LOG_TARGET_US,
        )
    else:
        verdict("log_us", f"log() of 10 scalars < {LOG_TARGET_US:g} µs", "not measured", None)
    if sus and "error" not in sus:
        ok = sus["points_per_s"] >= INGEST_TARGET and sus["all_stored"]
        verdict("ingest", "sustained ingest >= 1,000,000 points/s into SQLite", f"{sus['points_per_s']:,.0f} points/s", ok)
    else:
        verdict("ingest", "sustained ingest >= 1,000,000 points/s into SQLite", "not measured", None)
    if fr is not None:
        verdict("fork", f"fork time independent of history length (ratio <= {FORK_RATIO_LIMIT:g})", f"{fr:.2f}x", fr <= FORK_RATIO_LIMIT)
    else:
        verdict("fork", "fork time independent of history length", "not measured", None)
    console.print(targets)

    notes = [f"Per-call timings include the timer itself (~{rt.get('timer_overhead_ns', 0):.0f} ns per call here; not subtracted)."]
    scaled = [f"{TITLES[t]} {logs[t]['calls']:,}" for t in cols if t != "runtree" and "calls" in logs[t] and logs[t]["calls"] != args.calls]
    if scaled:
        notes.append(
            f"Peers run fewer calls than runtree ({args.calls:,}) to bound the bench's time: {', '.join(scaled)}; "
            "per-call figures stay comparable."
        )
    notes.append(
        "Fork: runtree init(fork_from=...) until it returns; the child logs one row; its finish() is timed apart "
        f"(medians of {fork.get('repeats', '?')}; the ratio compares the fastest inits). "
        "MLflow: new run + get_metric_history + log_batch (1000 metrics per call) of the rows up to the fork step."
    )
    if rt and "error" not in rt:
        notes.append(
            f"runtree's finish() waits for its background writer: log() hands rows over in ~{rt['log']['p50_us']:.0f} µs and they are "
            f"stored behind it, so 'last log -> finish' is the writer's backlog ({fmt_s(rt['finish_s'])} for {rt['calls']:,} calls)."
        )
    for t in cols:
        if "error" in logs[t]:
            notes.append(f"{TITLES[t]}: {logs[t]['error']}")
        else:
            notes.append(f"{TITLES[t]}{' ' + logs[t]['version'] if 'version' in logs[t] else ''}: {logs[t].get('settings', '')}")
    if extrapolated:
        notes.append(extrapolated + ".")
    for n in notes:
        console.print(f"[dim]- {n}[/dim]", soft_wrap=True)
    return verdicts


def fork_ratio(fork: Result) -> float | None:
    cases = fork.get("cases", {})
    if not {"small_last", "small_mid", "big_last", "big_mid"} <= set(cases):
        return None
    # The fastest of the repeats: a ms-long init is easily slowed by anything else on the machine.
    small = min(cases["small_last"]["init_s_all"] + cases["small_mid"]["init_s_all"])
    big = min(cases["big_last"]["init_s_all"] + cases["big_mid"]["init_s_all"])
    return float(big / small)


def git_head() -> str | None:
    """The repository's HEAD commit, with '+dirty' when runtree/ has uncommitted changes; None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "runtree"], cwd=HERE.parent, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty.stdout.strip() else "")


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000, help="runtree's log calls (default 100,000)")
    ap.add_argument("--wandb-calls", type=int, default=20_000)
    ap.add_argument("--mlflow-calls", type=int, default=2_000)
    ap.add_argument("--aim-calls", type=int, default=5_000)
    ap.add_argument("--sustained-calls", type=int, default=1_000_000, help="runtree sustained ingest; also the long run forked")
    ap.add_argument("--mlflow-copy-rows", type=int, default=10_000, help="largest MLflow history copied (the rest is extrapolated)")
    ap.add_argument("--fork-repeats", type=int, default=5)
    ap.add_argument("--only", default=",".join(TRACKERS), help=f"comma-separated subset of {','.join(TRACKERS)}")
    ap.add_argument("--skip-sustained", action="store_true", help="skip the sustained ingest and the fork (they share a run)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per worker")
    ap.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    ap.add_argument("--report", metavar="JSON", help="print the tables of a saved results file and exit")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, json.loads(args.params), args.out)
        return

    if args.report:
        saved = json.loads(Path(args.report).read_text())
        report(saved, argparse.Namespace(**{**vars(args), **saved["args"]}))
        return
    only = [t.strip() for t in args.only.split(",") if t.strip()]
    if bad := [t for t in only if t not in TRACKERS]:
        raise SystemExit(f"--only: unknown tracker(s) {bad}; known: {', '.join(TRACKERS)}")
    calls = {
        "runtree": args.calls,
        "wandb": args.wandb_calls,
        "mlflow": args.mlflow_calls,
        "mlflow-async": args.mlflow_calls,
        "aim": args.aim_calls,
    }
    modules = {"runtree": "runtree", "wandb": "wandb", "mlflow": "mlflow", "mlflow-async": "mlflow", "aim": "aim"}
    out = Path(args.out)
    logs_dir = out.parent / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    results: Result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "runtree_commit": git_head(),
        "args": {k: v for k, v in vars(args).items() if k not in ("worker", "params")},
        "log": {},
    }
    print(f"runtree bench on {os.cpu_count()} CPUs, Python {platform.python_version()}; worker logs in {logs_dir}")
    with tempfile.TemporaryDirectory(prefix="runtree-bench-") as tmp:
        for t in only:
            why = importable(modules[t])
            if why is not None:
                results["log"][t] = {"error": f"not installed: {why}", "missing": True}
                print(f"  {t}: not installed ({why})")
                continue
            work = Path(tmp) / t
            work.mkdir()
            results["log"][t] = run_job(t, {"calls": calls[t], "work": str(work)}, logs_dir, args.timeout)
        if "runtree" in only and not args.skip_sustained:
            work = Path(tmp) / "sustained"
            work.mkdir()
            sus = run_job("runtree-sustained", {"calls": args.sustained_calls, "work": str(work)}, logs_dir, args.timeout)
            results["sustained"] = sus
            if "error" not in sus:
                results["fork"] = run_job(
                    "runtree-fork", {"work": str(work), "big_id": sus["run_id"], "repeats": args.fork_repeats}, logs_dir, args.timeout
                )
        if "mlflow" in only and "missing" not in results["log"].get("mlflow", {}):
            work = Path(tmp) / "mlflow-copy"
            work.mkdir()
            sizes = sorted({5, 10, args.mlflow_copy_rows})
            results["mlflow-copy"] = run_job("mlflow-copy", {"work": str(work), "sizes": sizes}, logs_dir, args.timeout)
    print()
    results["targets"] = report(results, args)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
