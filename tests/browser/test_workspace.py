"""The project workspace on the 42-run project: panels of every metric for every shown run, line settings, the runs
table for real use, views in the URL, grouping and the sweep panels."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import VIEWPORT, UiServer, snapshot
from tests.browser.workspace_project import Project

ALL = 42
# A workspace redraws up to a dozen charts of 42 lines after each change: on a busy 2-core machine that can
# take seconds, so these expectations wait longer than Playwright's default 5 s.
expect.set_options(timeout=15_000)


def _panel(page: Page, key: str) -> Locator:
    p = page.locator(f'section.panel[data-key="{key}"]')
    p.scroll_into_view_if_needed()
    return p


def _open(page: Page, server: UiServer, query: str = "") -> None:
    page.goto(f"{server.url}/p/tester/sweep{query}")
    expect(page.get_by_test_id("workspace")).to_be_visible()


def _query(page: Page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_the_workspace_is_the_project_page_with_a_panel_per_metric_in_sections(page: Page, sweep_server: UiServer) -> None:
    _open(page, sweep_server)
    sections = page.locator(".ws-section[data-section]")
    expect(sections).to_have_count(4)  # Sweep, Charts (lr, epoch), train, val
    expect(page.locator('.ws-section[data-section="val"] section.panel')).to_have_count(2)
    expect(page.locator('.ws-section[data-section="train"] section.panel')).to_have_count(2)
    loss = _panel(page, "train/loss")
    expect(loss).to_have_attribute("data-lines", str(ALL))  # every run of the table, one line each
    # val/* was given `epoch` as its step metric by define_metric("val/*", ...): that is its default x axis.
    expect(_panel(page, "val/acc")).to_have_attribute("data-axis", "epoch")
    expect(_panel(page, "train/acc")).to_have_attribute("data-axis", "_step")
    # The picture for the README: the grid runs, smoothed, from the top of the page.
    page.goto(f"{sweep_server.url}/p/tester/sweep?f=last_step%20%3C%205000&smooth=0.6&sweep=0")
    expect(_panel(page, "val/acc")).to_have_attribute("data-lines", str(ALL - 1))
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
    snapshot(page, "workspace")


def test_run_colours_are_stable_and_the_eye_and_selection_decide_what_panels_draw(page: Page, sweep_server: UiServer) -> None:
    _open(page, sweep_server)
    row = page.locator("table.runs tbody tr", has_text="grid-sgd-32-0.01-s0")
    colour = row.locator(".swatch").evaluate("e => getComputedStyle(e).backgroundColor")
    page.get_by_label("filter runs").fill("optimizer = sgd")
    expect(page.locator("table.runs tbody tr")).to_have_count(12)
    assert row.locator(".swatch").evaluate("e => getComputedStyle(e).backgroundColor") == colour  # same colour, other rows
    loss = _panel(page, "train/loss")
    expect(loss).to_have_attribute("data-lines", "12")

    row.get_by_role("button", name=re.compile("^hide grid-sgd-32-0.01-s0")).click()
    expect(loss).to_have_attribute("data-lines", "11")
    expect(row).to_have_class(re.compile("hidden-run"))
    row.get_by_role("button", name=re.compile("^show grid-sgd-32-0.01-s0")).click()
    expect(loss).to_have_attribute("data-lines", "12")

    page.get_by_label("select grid-sgd-32-0.01-s0").check()
    page.get_by_label("select grid-sgd-32-0.01-s1").check()
    page.get_by_label("show only selected").check()
    expect(loss).to_have_attribute("data-lines", "2")
    page.wait_for_load_state("networkidle")  # the last redraw done: the hover card belongs to the chart now shown
    # Hovering lists the runs under the cursor, in their table colour.
    box = loss.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    card = loss.locator(".hover-card")
    expect(card).to_be_visible()
    swatch = card.locator(".hover-row", has_text="grid-sgd-32-0.01-s0").locator(".swatch")
    assert swatch.evaluate("e => getComputedStyle(e).backgroundColor") == colour


def test_filter_comparisons_drive_table_and_panels(page: Page, sweep_server: UiServer) -> None:
    _open(page, sweep_server)
    rows = page.locator("table.runs tbody tr")
    page.get_by_label("filter runs").fill("optimizer in (adam, lion) and lr > 1e-3")
    expect(rows).to_have_count(8)  # 2 optimizers x 2 batches x lr 1e-2 x 2 seeds
    expect(_panel(page, "train/loss")).to_have_attribute("data-lines", "8")
    page.get_by_label("filter runs").fill("state = failed")
    expect(rows).to_have_count(1)
    page.get_by_label("filter runs").fill("state in (failed, crashed)")
    expect(rows).to_have_count(2)
    page.get_by_label("filter runs").fill("tags has best")
    expect(rows.first).to_contain_text("grid-")
    page.get_by_label("filter runs").fill("batch_size != 32 and optimizer = adam and seed = 1")
    expect(rows).to_have_count(3)
    page.get_by_label("filter runs").fill("lr >> 3")
    expect(page.locator(".filter-error")).to_contain_text("cannot read")


def test_panels_are_searched_pinned_hidden_and_reordered_and_the_layout_is_kept(
    page: Page, browser: Browser, sweep_server: UiServer
) -> None:
    _open(page, sweep_server)
    page.get_by_label("search panels").fill("^val/")
    expect(page.locator("section.panel[data-key]")).to_have_count(2)
    page.get_by_label("search panels").fill("")
    expect(page.locator("section.panel[data-key]")).to_have_count(6)

    _panel(page, "val/acc").get_by_role("button", name="pin val/acc").click()
    expect(page.locator('.ws-section[data-section="Pinned"] section.panel[data-key="val/acc"]')).to_be_visible()
    _panel(page, "train/acc").get_by_role("button", name="hide train/acc").click()
    expect(page.locator('section.panel[data-key="train/acc"]')).to_have_count(0)
    expect(page.locator(".ws-hidden")).to_contain_text("train/acc")
    # Drag lr onto epoch: lr now comes after... the dropped panel takes the target's place.
    page.locator('section.panel[data-key="epoch"] .panel-head').drag_to(page.locator('section.panel[data-key="lr"]'))
    expect(page.locator('.ws-section[data-section="Charts"] section.panel').first).to_have_attribute("data-key", "epoch")
    _panel(page, "lr").get_by_role("button", name="resize lr").click()
    expect(page.locator('section.panel[data-key="lr"]')).to_have_attribute("data-size", "2")

    # Kept for this user: a reload without the URL's settings shows the same layout.
    page.goto(f"{sweep_server.url}/p/tester/sweep")
    expect(page.locator('.ws-section[data-section="Pinned"] section.panel[data-key="val/acc"]')).to_be_visible()
    expect(page.locator('section.panel[data-key="train/acc"]')).to_have_count(0)

    # Saved for the team: someone else (a fresh browser, nothing stored locally) gets it.
    page.get_by_role("button", name="Save for team").click()
    expect(page.locator("#toast")).to_contain_text("Saved the workspace")
    other = browser.new_context(viewport=VIEWPORT).new_page()
    try:
        other.goto(f"{sweep_server.url}/p/tester/sweep")
        expect(other.locator('.ws-section[data-section="Pinned"] section.panel[data-key="val/acc"]')).to_be_visible()
        expect(other.locator('section.panel[data-key="train/acc"]')).to_have_count(0)
    finally:
        other.context.close()
    # Undo for the other tests (they share the server): no team layout.
    assert httpx.put(f"{sweep_server.url}/api/v1/settings/workspace/tester/sweep", json={"value": None}).status_code == 204


def test_line_settings_smoothing_axes_scales_outliers_and_legend(page: Page, sweep_server: UiServer) -> None:
    _open(page, sweep_server, "?f=group%20%3D%20grid")
    loss = _panel(page, "train/loss")
    expect(loss).to_have_attribute("data-lines", "36")
    draws = int(loss.locator(".panel-chart").get_attribute("data-draws") or "0")
    page.get_by_label("smoothing").fill("0.9")
    expect(loss.locator(".panel-chart")).not_to_have_attribute("data-draws", str(draws))
    assert _query(page)["smooth"] == "0.9"
    assert page.evaluate("window.__smoothMs") is not None

    page.get_by_label("x axis").select_option("wall")
    expect(loss).to_have_attribute("data-axis", "wall")
    expect(_panel(page, "val/acc")).to_have_attribute("data-axis", "wall")
    page.get_by_label("x axis").select_option("relative")
    expect(loss).to_have_attribute("data-axis", "relative")
    page.get_by_label("x axis").select_option("epoch")
    expect(loss).to_have_attribute("data-axis", "epoch")
    page.get_by_label("x axis").select_option("default")
    page.get_by_label("log y").check()
    page.get_by_label("ignore outliers").select_option("5")
    page.get_by_label("max runs shown").fill("10")
    page.get_by_label("max runs shown").press("Enter")
    expect(loss).to_have_attribute("data-lines", "10")
    page.get_by_label("legend template").fill("${config.optimizer}/${config.lr}")
    page.get_by_label("legend template").press("Enter")
    q = _query(page)
    assert (q["logy"], q["outliers"], q["max"]) == ("1", "5", "10")

    box = loss.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2)
    expect(loss.locator(".hover-card .hover-name").first).to_have_text(re.compile(r"^(adam|sgd|lion)/0\.\d+$"))

    # One panel on its own settings: smoothing off and x = _step for val/acc only.
    val = _panel(page, "val/acc")
    val.get_by_role("button", name="panel settings val/acc").click()
    val.get_by_label("panel x axis").select_option("_step")
    val.get_by_role("button", name="Apply").click()
    expect(val).to_have_attribute("data-axis", "_step")
    expect(_panel(page, "val/loss")).to_have_attribute("data-axis", "epoch")
    val.get_by_role("button", name="panel settings val/acc").click()
    val.get_by_label("panel y min").fill("0.5")
    val.get_by_label("panel log y").select_option("0")
    val.get_by_role("button", name="Apply").click()
    layout = _query(page)["lay"]
    assert '"ymin":"0.5"' in layout and '"logy":""' in layout and '"x":"_step"' in layout  # kept per panel, in the URL
    page.evaluate("localStorage.clear()")


def test_runs_table_defaults_sticky_name_empty_last_groups_and_column_changes(page: Page, sweep_server: UiServer) -> None:
    page.goto(f"{sweep_server.url}/p/tester/sweep/table")
    heads = page.locator("table.runs thead th")
    expect(page.locator("table.runs tbody tr")).to_have_count(ALL)
    cols = heads.evaluate_all("els => els.map(e => e.dataset.col)")
    # Varying config keys ranked by how much they vary (lr, optimizer: 3+ values), then the top panels' summaries.
    assert cols[0] == "name"
    cfg = [c for c in cols if c.startswith("config:")]
    assert cfg[:2] == ["config:lr", "config:optimizer"], cfg
    assert "config:model.depth" not in cols  # the same for every run
    assert any(c.startswith("summary:") for c in cols)
    name_cell = page.locator("table.runs tbody tr td.name").first
    assert name_cell.evaluate("e => getComputedStyle(e).position") == "sticky"

    # Empty values last, whichever the direction (grid runs have no fork step).
    fork = page.locator('table.runs thead th[data-col="fork_step"]')
    fork.click()
    first = page.locator('table.runs tbody tr td[data-col="fork_step"]').first
    expect(first).to_have_text("1600")
    fork.click()
    expect(first).to_have_text("400")
    expect(page.locator('table.runs tbody tr td[data-col="fork_step"]').last).to_have_text("—")

    # Group rows by optimizer: three groups, each expandable to its runs.
    page.get_by_label("group runs by").select_option("config:optimizer")
    groups = page.locator("table.runs tbody tr.group-row")
    expect(groups).to_have_count(3)
    page.get_by_role("button", name="expand group optimizer=sgd").click()
    expect(page.locator("table.runs tbody tr[data-uid]")).to_have_count(12)
    page.get_by_label("group runs by").select_option("config:batch_size")  # a second key refines the groups
    expect(groups).to_have_count(6)
    expect(page).to_have_url(re.compile(r"rgroup=config%3Aoptimizer%2Cconfig%3Abatch_size"))
    page.get_by_role("button", name="stop grouping by optimizer").click()
    expect(groups).to_have_count(2)
    page.get_by_label("group runs by").select_option("")

    # Resize a column and move another; both survive a reload (kept per user), and the order is in the URL.
    th = page.locator('table.runs thead th[data-col="config:lr"]')
    hb = th.locator(".col-resize").bounding_box()
    assert hb is not None
    page.mouse.move(hb["x"] + 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(hb["x"] + 122, hb["y"] + hb["height"] / 2, steps=4)
    page.mouse.up()
    width = th.bounding_box()["width"]  # type: ignore[index]
    page.locator('table.runs thead th[data-col="config:optimizer"]').drag_to(page.locator('table.runs thead th[data-col="state"]'))
    expect(heads.nth(1)).to_have_attribute("data-col", "config:optimizer")
    expect(page).to_have_url(re.compile(r"cols=config%3Aoptimizer%2C"))
    page.goto(f"{sweep_server.url}/p/tester/sweep/table")  # no settings in the URL: this user's arrangement
    expect(heads.nth(1)).to_have_attribute("data-col", "config:optimizer")
    assert abs(page.locator('table.runs thead th[data-col="config:lr"]').bounding_box()["width"] - width) < 2  # type: ignore[index]
    page.evaluate("localStorage.clear()")


def test_views_live_in_the_url_back_restores_the_table_and_links_resolve(
    page: Page, browser: Browser, sweep_server: UiServer, sweep_project: Project
) -> None:
    _open(page, sweep_server)
    page.get_by_label("filter runs").fill("optimizer = lion")
    page.locator('table.runs thead th[data-col="config:lr"]').click()
    page.get_by_label("smoothing").fill("0.6")
    page.get_by_label("log y").check()
    expect(page.locator("table.runs tbody tr")).to_have_count(12)
    expect(page).to_have_url(re.compile(r"sort=config%3Alr%3A-1"))  # the table writes the URL when typing pauses
    url = page.url
    q = _query(page)
    assert (q["f"], q["smooth"], q["logy"], q["sort"]) == ("optimizer = lion", "0.6", "1", "config:lr:-1")

    # A colleague opening the link sees the same view.
    other = browser.new_context(viewport=VIEWPORT).new_page()
    try:
        other.goto(url)
        expect(other.locator("table.runs tbody tr")).to_have_count(12)
        expect(other.get_by_label("filter runs")).to_have_value("optimizer = lion")
        expect(other.get_by_label("log y")).to_be_checked()
        expect(other.locator("table.runs tbody tr").first.locator('td[data-col="config:lr"]')).to_have_text("0.01")
    finally:
        other.context.close()

    # Into a run and Back: the table is as it was.
    page.locator("table.runs tbody tr").first.locator("td.name a").click()
    expect(page.locator("h1.run-name")).to_be_visible()
    page.go_back()
    expect(page.get_by_label("filter runs")).to_have_value("optimizer = lion")
    expect(page.locator("table.runs tbody tr")).to_have_count(12)

    # "copy link" on a panel: the link opens the view with that panel in focus.
    loss = _panel(page, "train/loss")
    loss.get_by_role("button", name="copy link to train/loss").click()
    link = page.evaluate("navigator.clipboard.readText()")
    assert "panel=train%2Floss" in link and "optimizer" in link
    page.goto(link)
    expect(page.locator('section.panel[data-key="train/loss"]')).to_have_class(re.compile("highlight"))

    # /r/<8-char id> opens the run.
    page.goto(f"{sweep_server.url}/r/{sweep_project.ids['chain-3']}/overview")
    expect(page.locator("h1.run-name")).to_have_text("chain-3")
    expect(page).to_have_url(re.compile(f"/r/{sweep_project.uids['chain-3']}/overview$"))
    page.evaluate("localStorage.clear()")


def test_grouped_panels_draw_a_mean_with_a_band(page: Page, sweep_server: UiServer) -> None:
    _open(page, sweep_server, "?f=group%20%3D%20grid")
    page.get_by_label("group runs by").select_option("config:optimizer")
    loss = _panel(page, "train/loss")
    expect(loss.locator(".panel-sub")).to_contain_text("3 groups")
    expect(loss.locator(".panel-chart")).to_have_attribute("data-series", "3")  # one mean line per group
    page.get_by_label("group band").select_option("std")
    assert _query(page)["band"] == "std"
    page.get_by_label("group runs by").select_option("config:lr")
    expect(loss.locator(".panel-sub")).to_contain_text("3 groups")

    # Seeds of one setting collapse into one line; a group expanded in the table shows its runs too.
    page.get_by_label("group runs by").select_option("settings")
    expect(loss.locator(".panel-sub")).to_contain_text("18 groups")  # 3 optimizers x 2 batch sizes x 3 lrs
    page.locator("tr.group-row").first.get_by_role("button").click()
    expect(loss).to_have_attribute("data-members", "2")  # its two seeds


def test_a_zoom_is_part_of_the_view(page: Page, sweep_server: UiServer) -> None:
    _open(page, sweep_server, "?f=group%20%3D%20grid")
    loss = _panel(page, "train/loss")
    expect(loss).to_have_attribute("data-lines", "36")
    box = loss.locator(".u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    expect(loss).to_have_attribute("data-zoomed", "1")
    expect(page).to_have_url(re.compile(r"zoom=.*train%2Floss"))
    page.goto(page.url)  # a shared link shows the same zoom
    loss = _panel(page, "train/loss")
    expect(loss).to_have_attribute("data-zoomed", "1")
    box = loss.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(loss).not_to_have_attribute("data-zoomed", "1")
    expect(page).not_to_have_url(re.compile("zoom="))


def test_sweep_panels_brush_filter_importance_and_scatter(page: Page, sweep_server: UiServer) -> None:
    _open(page, sweep_server)
    pc = page.get_by_test_id("parallel-coordinates")
    expect(pc.locator("path.pc-line")).to_have_count(ALL)
    # Brush the optimizer axis around one category: the table keeps those runs only.
    hit = pc.locator('g.pc-axis[data-col="config:optimizer"] rect.pc-hit')
    box = hit.bounding_box()
    assert box is not None
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 0.25, steps=4)
    page.mouse.up()
    chip = page.locator(".brushes .chip")
    expect(chip).to_contain_text("optimizer in (")
    rows = page.locator("table.runs tbody tr")
    expect(rows).not_to_have_count(ALL)
    n = rows.count()
    expect(_panel(page, "train/loss")).to_have_attribute("data-lines", str(n))
    expect(page).to_have_url(re.compile("brush="))
    chip.get_by_role("button").click()
    expect(rows).to_have_count(ALL)

    imp = page.get_by_test_id("importance")
    expect(imp.locator('tbody tr[data-key="lr"]')).to_be_visible(timeout=30_000)  # scikit-learn's first import is slow
    expect(imp.locator('tbody tr[data-key="optimizer=adam"]')).to_be_visible()
    expect(imp).to_contain_text("random forest (scikit-learn)")

    sc = page.get_by_test_id("scatter")
    sc.get_by_label("scatter x").select_option("config:batch_size")
    sc.get_by_label("scatter y").select_option("summary:val/acc")
    expect(sc.locator("circle.sc-point")).to_have_count(ALL)
    page.evaluate("localStorage.clear()")


def test_run_page_smaller_fixes_logs_system_overview(page: Page, sweep_server: UiServer, sweep_project: Project) -> None:
    root = sweep_project.uids["chain-0"]
    page.goto(f"{sweep_server.url}/r/{root}/logs")
    console = page.get_by_test_id("console")
    expect(console).to_contain_text("training starts")
    expect(console.locator(".line.stderr")).to_have_count(4)
    expect(console.locator(".line.stderr.error")).to_have_count(2)  # the traceback, not tqdm's bar or a warning
    bar = console.locator(".line", has_text="50/50")
    assert "error" not in (bar.get_attribute("class") or "")

    page.goto(f"{sweep_server.url}/r/{root}/system")
    expect(page.locator('section.chart-card[data-key="system.disk./.usageGB"] .chart-title')).to_have_text("disk / usage (GB)")
    expect(page.locator('section.chart-card[data-key="system.cpu"] .chart-title')).to_have_text("cpu (%)")
    expect(page.get_by_label("time axis")).to_have_value("relative")

    page.goto(f"{sweep_server.url}/r/{sweep_project.uids['chain-3']}/overview")
    ancestry = page.get_by_test_id("ancestry")
    expect(ancestry.locator("li")).to_have_count(3)
    expect(ancestry.locator("li").first).to_contain_text("chain-0")
    diff = page.get_by_test_id("config-diff")
    expect(diff.locator('tr[data-key="lr"] td.new')).to_have_text("0.000125")
    expect(diff.locator('tr[data-key="lr"] td.old')).to_have_text("0.00025")
