"""The `runtree` command: list runs, draw fork trees, export history and console logs, run the demo.

A thin layer over runtree.api.Api (and runtree.render for the pictures); it never touches SQL.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from runtree import demo as demo_mod
from runtree import render
from runtree.api import Api
from runtree.errors import RuntreeError, StoreError, UsageError
from runtree.store import default_store_url, resolve_store_url

app = typer.Typer(
    name="runtree",
    help="Experiment tracking where runs form a tree: list runs, draw fork trees, export history.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

DirOption = Annotated[
    str | None,
    typer.Option(
        "--dir", help="The store: a directory holding runtree.db, a .db file or a sqlite:/// URL. Default: $RUNTREE_DIR or ./runtree."
    ),
]


@app.callback()
def _global(ctx: typer.Context, dir: DirOption = None) -> None:
    ctx.obj = dir


def _store_arg(ctx: typer.Context, dir: str | None) -> str | None:
    """The store a command reads: its own --dir, else the global one, else None (Api's defaults and env)."""
    given = dir if dir is not None else ctx.obj
    return str(given) if given is not None else None


def _api(ctx: typer.Context, dir: str | None) -> Api:
    url = resolve_store_url(_store_arg(ctx, dir))  # --dir, else the environment, else `runtree login`'s server
    path = _sqlite_file(url)
    # Reading must not leave an empty store behind where the user mistyped a directory.
    if path is not None and not path.exists():
        raise StoreError(
            f"no runtree store at {path} (give --dir, set RUNTREE_DIR to the directory your runs logged to, "
            "or RUNTREE_BASE_URL / `runtree login` for a server)"
        )
    return Api(store=url)


def _sqlite_file(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :])
    if "://" in url:
        return None
    p = Path(url)
    return p if p.suffix == ".db" else p / "runtree.db"


def _console() -> Console:
    # Piped output gets a wide line so ids and names are never cut or wrapped.
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=400)
    return console


@app.command()
def runs(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Argument(help="'project' or 'entity/project'; all runs when left out.")] = None,
    dir: DirOption = None,
) -> None:
    """List runs: id, name, state, parent, fork step, last step, created."""
    api = _api(ctx, dir)
    found = api.runs(project)
    if not found:
        where = f"project {project!r}" if project else "the store"
        if project:
            raise UsageError(f"no runs in {where} ({api.store.url})")
        print(f"no runs in {where} ({api.store.url})", file=sys.stderr)
        return
    _console().print(render.runs_table(api, found))


@app.command()
def tree(ctx: typer.Context, project: Annotated[str, typer.Argument(help="'project' or 'entity/project'.")], dir: DirOption = None) -> None:
    """Draw the fork tree of a project: children under their parent at the fork step, rewinds marked ↺."""
    api = _api(ctx, dir)
    _console().print(render.fork_tree(api, project))


@app.command()
def history(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="The run: 'entity/project/id', 'project/id' or a uid.")],
    keys: Annotated[str | None, typer.Option("--keys", help="Comma-separated metric names; rows with none of them are left out.")] = None,
    format: Annotated[str, typer.Option("--format", help="csv or json (one JSON object a line; NaN and ±inf as null).")] = "csv",
    min_step: Annotated[int | None, typer.Option("--min-step", help="Leave out rows before this _step.")] = None,
    max_step: Annotated[int | None, typer.Option("--max-step", help="Leave out rows after this _step.")] = None,
    dir: DirOption = None,
) -> None:
    """Print a run's visible history (inherited rows included) as CSV or JSON lines."""
    if format not in ("csv", "json"):
        raise UsageError(f"--format {format!r} is not supported; use csv or json")
    key_list = [k.strip() for k in keys.split(",") if k.strip()] if keys is not None else None
    if key_list is not None and not key_list:
        raise UsageError(f"--keys {keys!r} names no metric; give comma-separated names such as loss,acc")
    run = _api(ctx, dir).run(path)
    rows = run.scan_history(keys=key_list, min_step=min_step, max_step=max_step)
    if format == "json":
        for row in rows:
            sys.stdout.write(json.dumps(_finite(row), allow_nan=False) + "\n")
        return
    if key_list is not None:
        _write_csv(["_step", *[k for k in key_list if k != "_step"]], rows)
    else:
        materialized = list(rows)
        _write_csv(_columns(materialized), materialized)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """_step first, then metrics in order of first appearance, then the other underscore keys."""
    seen: dict[str, None] = {"_step": None}
    for row in rows:
        seen.update((k, None) for k in row if not k.startswith("_"))
    for row in rows:
        seen.update((k, None) for k in row if k.startswith("_"))
    return list(seen)


def _write_csv(columns: list[str], rows: Iterable[dict[str, Any]]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@app.command()
def logs(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="The run: 'entity/project/id', 'project/id' or a uid.")],
    dir: DirOption = None,
) -> None:
    """Print a run's console output (inherited lines included)."""
    for text in _lines(_api(ctx, dir).run(path).logs()):
        sys.stdout.write(text)


def _lines(lines: list[dict[str, Any]]) -> Iterator[str]:
    for line in lines:
        text = str(line["text"])
        yield text if text.endswith("\n") else text + "\n"


@app.command()
def demo(
    ctx: typer.Context,
    dir: Annotated[
        str | None, typer.Option("--dir", help="Directory of the store to write the demo runs to. Default: $RUNTREE_DIR or ./runtree.")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Training steps of each run.")] = 300,
    ui: Annotated[
        bool | None,
        typer.Option("--ui/--no-ui", help="End by serving the web UI on the demo's runs until Ctrl-C. Default: when run in a terminal."),
    ] = None,
) -> None:
    """Train a small model for real, fork it, fork the fork, rewind another run; draw the tree, then open the web UI."""
    directory = dir or ctx.obj or os.environ.get("RUNTREE_DIR") or "runtree"
    if "://" in str(directory) or str(directory).endswith(".db"):
        raise UsageError(f"demo --dir {directory!r}: the demo writes to the embedded store in a directory; give the directory")
    result = demo_mod.run_demo(Path(directory).resolve(), steps=steps)
    demo_mod.show(result, _console())
    # Piped or scripted (CI, tests), the demo must end rather than serve forever; in a terminal it opens the UI.
    if ui if ui is not None else (sys.stdin.isatty() and sys.stdout.isatty()):
        demo_mod.open_ui(result)


@app.command()
def ui(
    ctx: typer.Context,
    dir: DirOption = None,
    port: Annotated[int | None, typer.Option("--port", help="Port on 127.0.0.1. Default: 8765, or a free one when that is taken.")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Only print the URL; do not open a browser.")] = False,
) -> None:
    """Serve the web UI on the embedded store at http://127.0.0.1 (this machine only, no API keys) until Ctrl-C."""
    from runtree.server.ui import serve_local

    url = _store_arg(ctx, dir) or os.environ.get("RUNTREE_STORE_URL") or default_store_url()
    path = _sqlite_file(url)
    # Serving must not leave an empty store behind where the user mistyped a directory.
    if path is not None and not path.exists():
        raise StoreError(f"no runtree store at {path} (give --dir or set RUNTREE_DIR to the directory your runs logged to)")
    serve_local(url, port=port, open_browser=not no_browser)


import_app = typer.Typer(help="Bring runs from other trackers into the store.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("wandb")
def import_wandb(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="W&B run directories (wandb/offline-run-*), their .wandb files, or directories holding them.")
    ],
    dir: Annotated[
        str | None,
        typer.Option("--dir", "--store", help="The store to import into: a directory, a .db file or a URL. Default: $RUNTREE_DIR."),
    ] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", help="Entity for the runs (offline runs carry none). Default: $RUNTREE_ENTITY or you.")
    ] = None,
    project: Annotated[str | None, typer.Option("--project", help="Put every run in this project instead of its own.")] = None,
) -> None:
    """Import W&B offline runs (history, config, summary, system metrics, console output), forks as forks."""
    from runtree.importers.wandb_offline import run_import_cli

    code = run_import_cli([str(p) for p in paths], _store_arg(ctx, dir), _console(), entity=entity, project=project)
    if code:
        raise typer.Exit(code)


@app.command()
def server(
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Store URL: postgresql://..., sqlite:///file.db or a directory. Default: $RUNTREE_STORE_URL or the embedded store."
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8080,
    workers: Annotated[int, typer.Option("--workers", help="Server processes (each stateless).")] = 1,
    open_access: Annotated[bool, typer.Option("--open", help="No API keys: every caller is admin (loopback only).")] = False,
    no_access_log: Annotated[bool, typer.Option("--no-access-log")] = False,
) -> None:
    """Serve a store over HTTP for a team: the JSON API under /api/v1, the W&B-compatible API and the web UI."""
    from runtree.server.__main__ import main as server_main

    argv = ["--host", host, "--port", str(port), "--workers", str(workers)]
    argv += ["--db", db] if db else []
    argv += ["--open"] if open_access else []
    argv += ["--no-access-log"] if no_access_log else []
    server_main(argv)


keys_app = typer.Typer(help="Manage a server's API keys (stored hashed; a key is shown once).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
DbOption = Annotated[str | None, typer.Option("--db", help="The server's store URL. Default: $RUNTREE_STORE_URL or the embedded store.")]


def _keys(argv: list[str], db: str | None) -> None:
    from runtree.server.__main__ import keys_main

    keys_main([*argv, *(["--db", db] if db else [])])


@keys_app.command("create")
def keys_create(
    entity: Annotated[list[str] | None, typer.Option("--entity", help="An entity the key may read and write (repeat for more).")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="A key for every entity, that may also manage keys.")] = False,
    label: Annotated[str, typer.Option("--label")] = "",
    db: DbOption = None,
) -> None:
    """Create a key and print it."""
    argv = ["create", *[a for e in entity or [] for a in ("--entity", e)], "--label", label]
    _keys([*argv, "--admin"] if admin else argv, db)


@keys_app.command("list")
def keys_list(db: DbOption = None) -> None:
    """List keys: prefix, entities, label (never the keys)."""
    _keys(["list"], db)


@keys_app.command("revoke")
def keys_revoke(
    which: Annotated[str, typer.Argument(help="The key's prefix as `keys list` shows it, or its sha256 digest.")], db: DbOption = None
) -> None:
    """Revoke a key."""
    _keys(["revoke", which], db)


@app.command()
def login(
    url: Annotated[str, typer.Argument(help="The runtree server's base URL, e.g. https://runtree.example.com.")],
    key: Annotated[str | None, typer.Option("--key", help="Your API key. Default: asked for (hidden), or $RUNTREE_API_KEY.")] = None,
) -> None:
    """Store a server's URL and API key in ~/.config/runtree/config.json (0600); runtree.init() and Api() then use it."""
    from runtree.store import write_user_config

    if not url.startswith(("http://", "https://")):
        raise UsageError(f"login {url!r}: give the server's URL, starting with http:// or https://")
    if key is None:
        key = os.environ.get("RUNTREE_API_KEY") or typer.prompt("API key", hide_input=True, default="", show_default=False)
    path = write_user_config(base_url=url.rstrip("/"), api_key=key or "")
    print(f"logged in to {url.rstrip('/')} (stored in {path}; $RUNTREE_BASE_URL and $RUNTREE_API_KEY still win)")


@app.command()
def sync(
    path: Annotated[
        str | None,
        typer.Argument(
            help="A RUNTREE_DIR (offline runs, and its spool/), a .db file, or a spool directory. Default: $RUNTREE_DIR or ./runtree."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="The server (or store) to upload to. Default: $RUNTREE_BASE_URL or the URL `runtree login` stored."),
    ] = None,
) -> None:
    """Upload offline and spooled runs to a server. Safe to repeat: nothing already there is sent again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from runtree.store import env_store_url, open_store
    from runtree.store.sync import sync as sync_stores

    target = to or env_store_url()
    if not target:
        raise UsageError("sync: no server to upload to; give --to URL, set RUNTREE_BASE_URL or run `runtree login URL`")
    sources = _sync_sources(Path(path or os.environ.get("RUNTREE_DIR") or "runtree"))
    if not sources:
        raise StoreError(f"sync: no runtree store at {path or os.environ.get('RUNTREE_DIR') or 'runtree'} (nothing to upload)")
    dst = open_store(target)
    stores = [open_store(f"sqlite:///{p.resolve()}") for p in sources]
    plan = [(src, src.list_runs()) for src in stores]
    totals = {"rows": 0, "created": 0, "skipped": 0}
    with Progress(
        TextColumn("[bold]sync"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("", total=sum(len(runs) for _, runs in plan))
        for src, runs in plan:
            report = sync_stores(src, dst, runs, progress=lambda r: bar.update(task, advance=1, description=r.path))
            totals["rows"] += report.rows
            totals["created"] += report.runs_created
            totals["skipped"] += len(report.skipped)
            for why in report.skipped:
                print(f"skipped {why}", file=sys.stderr)
    n_runs = sum(len(r) for _, r in plan)
    print(f"synced {n_runs} runs to {target}: {totals['created']} new, {totals['rows']} rows sent, {totals['skipped']} skipped")


def _sync_sources(path: Path) -> list[Path]:
    """The SQLite stores under `path`: a .db file itself; a directory's runtree.db, its spool/*.db, or its own *.db."""
    if path.suffix == ".db":
        return [path] if path.exists() else []
    found = [path / "runtree.db"] if (path / "runtree.db").exists() else []
    found += sorted((path / "spool").glob("*.db"))
    if not found:
        found = sorted(path.glob("*.db"))
    return found


def main() -> None:
    """Entry point of the `runtree` console script."""
    try:
        app()
    except RuntreeError as e:
        # A user's mistake (unknown run, bad path, missing store): one line naming it, no traceback.
        print(f"runtree: error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
