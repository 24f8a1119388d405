"""The projects list, a project's runs table and its fork tree, on the demo's runs."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from runtree.api import Api
from runtree.demo import DemoResult
from tests.browser.conftest import UiServer, snapshot


def _uids(demo: DemoResult) -> dict[str, str]:
    api = Api(store=str(demo.directory))
    return {r.name: r.uid for r in api.runs("demo")}


def test_projects_page_lists_the_demo_project_with_its_run_count(page: Page, ui_server: UiServer) -> None:
    page.goto(ui_server.url + "/")
    row = page.locator("table.projects tbody tr", has_text="demo")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(2)).to_have_text("4")  # baseline, faster, faster-annealed, too-hot
    expect(row.locator("td").nth(3)).to_contain_text(re.compile(r"ago|just now"))
    row.get_by_role("link", name="demo").click()
    expect(page).to_have_url(re.compile(r"/p/tester/demo$"))


def test_fork_tree_labels_each_fork_edge_with_its_step_and_marks_the_rewind(
    page: Page, ui_server: UiServer, demo_store: DemoResult
) -> None:
    uids = _uids(demo_store)
    page.goto(ui_server.url + "/p/tester/demo")
    page.get_by_role("link", name="Fork tree").click()
    tree = page.get_by_test_id("fork-tree")
    faster_edge = tree.locator(f'g.edge[data-child="{uids["faster"]}"]')
    expect(faster_edge.locator("text.edge-label")).to_have_text(f"fork @ {demo_store.fork_step}")
    expect(tree.locator(f'g.edge[data-child="{uids["faster-annealed"]}"] text.edge-label')).to_have_text(
        f"fork @ {demo_store.fork_of_fork_step}"
    )
    rewound = tree.locator(f'g.node[data-uid="{uids["too-hot"]}"]')
    expect(rewound.locator("g.rewind")).to_have_attribute("data-step", str(demo_store.rewind_step))
    expect(rewound.locator("text.rewind-label")).to_have_text(f"rewound @ {demo_store.rewind_step}")

    page.wait_for_timeout(150)  # let the fonts settle before the picture
    snapshot(tree, "project-tree")

    # Collapsing the baseline hides its fork and the fork's fork; expanding shows them again.
    tree.get_by_role("button", name="collapse baseline").click()
    expect(tree.locator("g.node")).to_have_count(2)
    expect(tree.locator("text.collapsed-count")).to_have_text("+2 hidden")
    tree.get_by_role("button", name="expand baseline").click()
    expect(tree.locator("g.node")).to_have_count(4)

    # A node opens its run.
    tree.locator(f'g.node[data-uid="{uids["faster"]}"] a.run-link').click()
    expect(page).to_have_url(re.compile(f"/r/{uids['faster']}$"))
    expect(page.locator("h1.run-name")).to_have_text("faster")


def test_runs_table_sorts_filters_searches_and_shows_lineage_columns(page: Page, ui_server: UiServer, demo_store: DemoResult) -> None:
    page.goto(ui_server.url + "/p/tester/demo/table")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(4)
    fork = rows.filter(has_text="faster-annealed")
    expect(fork.locator('td[data-col="parent"]')).to_have_text("faster")  # the parent's name, a link to it
    expect(fork.locator('td[data-col="fork_step"]')).to_have_text(str(demo_store.fork_of_fork_step))
    expect(fork.locator('td[data-col="last_step"]')).to_have_text("299")

    # The config column that differs between runs (lr) is shown by default; sort by it.
    header = page.locator('table.runs thead th[data-col="config:lr"]')
    header.click()
    expect(rows.first).to_contain_text("faster")  # lr 3.0, the largest: a first click sorts descending
    expect(rows.first).not_to_contain_text("annealed")
    header.click()
    expect(rows.first).to_contain_text("faster-annealed")  # lr 0.3, the smallest

    page.get_by_label("search runs").fill("hot")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("too-hot")
    page.get_by_label("search runs").fill("")
    page.get_by_label("filter runs").fill("state = running")
    expect(page.locator("table.runs tbody td.empty")).to_have_text("No run matches these filters.")
    page.get_by_label("filter runs").fill("state = finished")
    expect(rows).to_have_count(4)
    page.get_by_label("filter runs").fill("lr = 1")
    expect(rows).to_have_count(2)  # the baseline and the rewound run (lr 1.0 after its rewind)
