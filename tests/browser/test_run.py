"""A run's page on the demo's runs: a fork's charts, renaming, copying the immutable id, archived segments, not found."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

import runtree
from runtree.api import Api
from runtree.demo import DemoResult
from tests.browser.conftest import UiServer, snapshot


def _run(demo: DemoResult, name: str) -> str:
    return next(r.uid for r in Api(store=str(demo.directory)).runs("demo") if r.name == name)


def test_a_forks_charts_mark_the_fork_and_overlay_the_parent_and_siblings(page: Page, ui_server: UiServer, demo_store: DemoResult) -> None:
    uid = _run(demo_store, "faster")
    page.goto(f"{ui_server.url}/r/{uid}")
    loss = page.locator('section.chart-card[data-key="loss"]')
    expect(loss.locator(".chart")).to_have_attribute("data-points", "300")  # steps 0..299: 0..150 inherited, then its own
    marker = loss.locator(".chart-marker.marker-fork")
    expect(marker).to_have_text(f"fork @ {demo_store.fork_step}")
    legend = loss.locator(".u-legend")
    expect(legend).to_contain_text("loss · inherited")  # the inherited part is its own, lighter series

    page.get_by_test_id("overlay-family").check()
    expect(legend).to_contain_text("parent: baseline")
    expect(page.locator('section.chart-card[data-key="val/acc"] .u-legend')).to_contain_text("parent: baseline")
    expect(legend).not_to_contain_text("sibling")  # the baseline's only fork is this run

    # Hovering shows the exact values at the cursor, for every series.
    box = loss.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    expect(legend.locator(".u-series").first.locator(".u-value")).to_have_text(re.compile(r"^\d+$"))  # the _step under the cursor
    expect(legend.locator(".u-series").nth(2).locator(".u-value")).to_have_text(re.compile(r"^\d+\.\d+"))
    page.mouse.move(0, 0)

    page.wait_for_timeout(150)
    snapshot(page, "fork-chart")  # the header, the tabs and the first charts


def test_a_fork_of_a_fork_overlays_its_sibling_forks(page: Page, ui_server: UiServer, demo_store: DemoResult, rt_dir: Path) -> None:
    api = Api(store=str(demo_store.directory))
    parent = api.run(demo_store.fork)
    # A second fork of `faster`, made for this test: it is faster-annealed's sibling.
    sib = runtree.init(entity="tester", project="demo", dir=demo_store.directory, fork_from=f"{parent.id}?_step=260", name="sibling-fork")
    sib.log({"loss": 0.5})
    sib.finish()
    try:
        uid = _run(demo_store, "faster-annealed")
        page.goto(f"{ui_server.url}/r/{uid}/charts")
        page.get_by_test_id("overlay-family").check()
        legend = page.locator('section.chart-card[data-key="loss"] .u-legend')
        expect(legend).to_contain_text("parent: faster")
        expect(legend).to_contain_text("sibling: sibling-fork (fork @ 260)")
        # The sibling's line starts after its fork step: up to there it is the parent's history, drawn once.
        labels = legend.locator(".u-series .u-label").all_inner_texts()[1:]
        starts = page.locator('section.chart-card[data-key="loss"] .chart').get_attribute("data-starts").split(",")  # type: ignore[union-attr]
        sibling = next(i for i, t in enumerate(labels) if t.startswith("sibling: sibling-fork"))
        parent_line = next(i for i, t in enumerate(labels) if t.startswith("parent: faster"))
        assert float(starts[sibling]) > 260
        assert float(starts[parent_line]) == 0
    finally:
        api.store.update_run(sib.uid, project="scratch")  # out of the demo project, which other tests count


def test_renaming_a_run_in_place_is_stored(page: Page, ui_server: UiServer, demo_store: DemoResult) -> None:
    uid = _run(demo_store, "baseline")
    page.goto(f"{ui_server.url}/r/{uid}/overview")
    try:
        page.get_by_role("button", name="Rename run").click()
        field = page.get_by_label("run name")
        field.fill("baseline-renamed")
        field.press("Enter")
        expect(page.locator(".name-text")).to_have_text("baseline-renamed")
        expect(page.locator("h1.run-name")).to_have_text("baseline-renamed")
        expect(page.locator("#toast")).to_have_text("Saved the name")
        assert Api(store=str(demo_store.directory)).run(uid).name == "baseline-renamed"
        # Escape leaves the name as it was.
        page.locator(".name-text").click()
        page.get_by_label("run name").fill("not this")
        page.get_by_label("run name").press("Escape")
        expect(page.locator(".name-text")).to_have_text("baseline-renamed")
    finally:
        Api(store=str(demo_store.directory)).run(uid).name = "baseline"


def test_notes_and_tags_are_edited_in_place(page: Page, ui_server: UiServer, demo_store: DemoResult) -> None:
    uid = _run(demo_store, "too-hot")
    page.goto(f"{ui_server.url}/r/{uid}/overview")
    try:
        page.get_by_role("button", name="Add notes").click()
        page.get_by_label("notes").fill("lr 100 diverged; rewound to 100")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".notes-text")).to_have_text("lr 100 diverged; rewound to 100")
        page.get_by_label("add a tag").fill("diverged")
        page.get_by_label("add a tag").press("Enter")
        expect(page.locator(".editable.tags .tag")).to_have_text(["diverged×"])
        run = Api(store=str(demo_store.directory)).run(uid)
        assert (run.notes, run.tags) == ("lr 100 diverged; rewound to 100", ["diverged"])
        page.get_by_role("button", name="remove tag diverged").click()
        expect(page.locator(".editable.tags .tag")).to_have_count(0)
        assert Api(store=str(demo_store.directory)).run(uid).tags == []
    finally:
        Api(store=str(demo_store.directory)).store.update_run(uid, notes=None, tags=())


def test_copy_immutable_run_id_puts_the_uid_on_the_clipboard(page: Page, ui_server: UiServer, demo_store: DemoResult) -> None:
    uid = _run(demo_store, "faster")
    page.goto(f"{ui_server.url}/r/{uid}/overview")
    page.get_by_role("button", name="Run actions").click()
    page.get_by_role("menuitem", name="Copy immutable run ID").click()
    expect(page.locator("#toast")).to_have_text("Copied the immutable run ID")
    assert page.evaluate("navigator.clipboard.readText()") == uid


def test_an_archived_segment_of_a_rewound_run_opens(page: Page, ui_server: UiServer, demo_store: DemoResult) -> None:
    uid = _run(demo_store, "too-hot")
    page.goto(f"{ui_server.url}/r/{uid}/overview")
    link = page.locator("a.archive-link")
    expect(link).to_have_text(f"archived segment 1: steps {demo_store.rewind_step + 1}–299 (epoch 0)")
    link.click()
    expect(page).to_have_url(re.compile(f"/r/{uid}/archive/0$"))
    head = page.get_by_test_id("archived-segment")
    expect(head).to_contain_text(f"Steps {demo_store.rewind_step + 1}–299 of epoch 0")
    expect(head).to_contain_text(f"rewound to _step {demo_store.rewind_step}")
    loss = page.locator('section.chart-card[data-key="loss"]')
    expect(loss.locator(".u-legend")).to_contain_text("loss · archived (epoch 0)")
    expect(loss.locator(".chart-marker.marker-rewind")).to_have_text(f"↺ {demo_store.rewind_step}")

    # On the Charts tab, the archived rows are a dashed overlay.
    page.goto(f"{ui_server.url}/r/{uid}")
    page.get_by_test_id("overlay-archived").check()
    expect(page.locator('section.chart-card[data-key="loss"] .u-legend')).to_contain_text(
        f"archived: steps {demo_store.rewind_step + 1}–299 (rewound @ {demo_store.rewind_step})"
    )


def test_bad_ids_and_paths_show_a_not_found_page(page: Page, ui_server: UiServer) -> None:
    for path, title in [
        ("/r/0123456789abcdef0123456789abcdef", "Run not found"),
        ("/r/no-such-run/logs", "Run not found"),
        ("/p/tester/no-such-project", "Project not found"),
        ("/what/is/this", "Page not found"),
    ]:
        response = page.goto(ui_server.url + path)
        assert response is not None
        assert response.status == (404 if path == "/what/is/this" else 200)
        expect(page.get_by_test_id("not-found").locator("h1")).to_have_text(title)


def test_a_metric_with_a_step_metric_is_charted_against_it(page: Page, ui_server: UiServer, rt_dir: Path) -> None:
    run = runtree.init(entity="tester", project="stepmetric", dir=ui_server.store_dir, name="epochs")
    run.define_metric("val_loss", step_metric="epoch")
    for step in range(50):
        row: dict[str, float] = {"loss": 1 / (step + 1)}
        if step % 10 == 9:
            row.update(epoch=step // 10, val_loss=2 / (step + 1))
        run.log(row)
    run.finish()
    page.goto(f"{ui_server.url}/r/{run.uid}")
    card = page.locator('section.chart-card[data-key="val_loss"]')
    expect(card.locator(".chart-title")).to_have_text("val_loss vs epoch")
    expect(card.locator(".chart")).to_have_attribute("data-last-x", "4")  # epochs 0..4, not steps 9..49
    expect(card.locator(".chart")).to_have_attribute("data-points", "5")
    expect(page.locator('section.chart-card[data-key="loss"] .chart')).to_have_attribute("data-last-x", "49")


def test_overlays_and_zoom_of_a_runs_charts_are_in_the_url(page: Page, ui_server: UiServer, demo_store: DemoResult) -> None:
    uid = _run(demo_store, "faster")
    page.goto(f"{ui_server.url}/r/{uid}/charts")
    page.get_by_test_id("overlay-family").check()
    expect(page).to_have_url(re.compile("family=1"))
    card = page.locator('section.chart-card[data-key="loss"]')
    card.scroll_into_view_if_needed()
    expect(card.locator(".u-legend")).to_contain_text("parent: baseline")
    box = card.locator(".u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    expect(card).to_have_attribute("data-zoomed", re.compile(r"^\d+-\d+$"))
    expect(page).to_have_url(re.compile("zoom="))
    zoomed = card.get_attribute("data-zoomed")

    page.goto(page.url)  # the shared link: the same overlays, the same zoom
    expect(page.get_by_test_id("overlay-family")).to_be_checked()
    page.locator('section.chart-card[data-key="loss"]').scroll_into_view_if_needed()
    expect(page.locator('section.chart-card[data-key="loss"] .u-legend')).to_contain_text("parent: baseline")
    expect(page.locator('section.chart-card[data-key="loss"]')).to_have_attribute("data-zoomed", zoomed or "")
