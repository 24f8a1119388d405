"""Terminal pictures of stored runs with rich: the runs table and the fork tree, for the CLI and the demo alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from runtree.api import Api, ApiRun
from runtree.domain.records import Rewind
from runtree.errors import NoSuchRun

STATE_STYLES = {"finished": "green", "running": "cyan", "failed": "red", "crashed": "bold red"}


def runs_table(api: Api, runs: Sequence[ApiRun], header: bool = True) -> Table:
    """One row per run: id, name, state, parent id, fork step, last step, created. Columns have fixed minimum
    widths, so the tables of successive pages (header=False after the first) line up."""
    by_uid = {r.uid: r for r in runs}
    table = Table(show_edge=False, header_style="bold", show_header=header)
    table.add_column("id", no_wrap=True, min_width=8)
    table.add_column("name", no_wrap=True, min_width=24)
    table.add_column("state", no_wrap=True, min_width=8)
    table.add_column("parent", no_wrap=True, min_width=8)
    table.add_column("fork step", justify="right", no_wrap=True, min_width=9)
    table.add_column("last step", justify="right", no_wrap=True, min_width=9)
    table.add_column("created", no_wrap=True, min_width=16)
    for run in runs:
        table.add_row(
            run.id,
            Text(run.name),
            Text(run.state, style=STATE_STYLES.get(run.state, "")),
            _parent_ref(api, run, by_uid),
            "" if run.fork_step is None else str(run.fork_step),
            _last_step(run),
            _time(run.created_at),
        )
    return table


def fork_tree(api: Api, project: str) -> Tree:
    """The fork tree of `project` ('project' or 'entity/project'): roots are runs without a parent in it."""
    runs = api.runs(project)
    if not runs:
        raise NoSuchRun(f"no runs in project {project!r} in {api.store.url}")
    by_uid = {r.uid: r for r in runs}
    children: dict[str | None, list[ApiRun]] = {}
    for run in runs:
        parent = run.parent_uid if run.parent_uid in by_uid else None
        children.setdefault(parent, []).append(run)
    tree = Tree(Text(project, style="bold"))

    def add(node: Tree, run: ApiRun) -> None:
        branch = node.add(run_label(api, run, by_uid))
        for child in children.get(run.uid, []):
            add(branch, child)

    for root in children.get(None, []):
        add(tree, root)
    return tree


def run_label(api: Api, run: ApiRun, in_tree: dict[str, ApiRun]) -> Text:
    """'id (name) forked at _step N · state · last step M · ↺ rewound at K (archived K+1–M)'."""
    label = Text.assemble((run.id, "bold"), f" ({run.name})")
    if run.parent_uid is not None:
        if run.parent_uid in in_tree:
            label.append(f" forked at _step {run.fork_step}")
        else:
            label.append(f" forked from {_parent_ref(api, run, in_tree)} at _step {run.fork_step}")
    label.append(" · ")
    label.append(run.state, style=STATE_STYLES.get(run.state, ""))
    label.append(f" · last step {_last_step(run)}")
    for rewind in run.rewinds():
        label.append(" · ")
        label.append(rewind_marker(api, rewind), style="yellow")
    return label


def rewind_marker(api: Api, rewind: Rewind) -> str:
    """'↺ rewound at 150 (archived 151–299)': the steps the rewind cut off that hold stored rows."""
    firsts: list[int] = []
    lasts: list[int] = []
    for seg in rewind.archived:
        # An archived segment that was the open one has no last_step; the store knows its last row in one query.
        last = api.store.last_row([seg])
        if last is not None:
            firsts.append(seg.first_step)
            lasts.append(last[0])
    if not lasts:
        return f"↺ rewound at {rewind.at_step}"
    return f"↺ rewound at {rewind.at_step} (archived {min(firsts)}–{max(lasts)})"


def _parent_ref(api: Api, run: ApiRun, known: dict[str, ApiRun]) -> str:
    """The parent's id, qualified by its project when that differs from the run's."""
    if run.parent_uid is None:
        return ""
    parent = known.get(run.parent_uid)
    if parent is None:
        try:
            parent = api.run(run.parent_uid)
        except NoSuchRun:
            return f"{run.parent_uid} (deleted)"
    if (parent.entity, parent.project) == (run.entity, run.project):
        return str(parent.id)
    if parent.entity == run.entity:
        return f"{parent.project}/{parent.id}"
    return str(parent.path)


def _last_step(run: ApiRun) -> str:
    last = run.last_step
    if last is None:
        # A fork that has logged nothing of its own yet still shows its parent's rows up to the fork step.
        last = run.fork_step
    return "—" if last is None else str(last)


def _time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""
