"""A live run: while another process logs slowly, its open page follows it without reloading."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtree.api import Api
from tests.browser.conftest import UiServer, base_env, stop

# Logs a step every 0.1 s (and a console line every 5 steps) until the stop file appears, then finishes.
WRITER = """
import sys, time, math, pathlib
import runtree
store, stop = sys.argv[1], pathlib.Path(sys.argv[2])
run = runtree.init(project="live", name="live-run", dir=store, config={"lr": 0.01})
print("training starts", flush=True)
step = 0
while not stop.exists() and step < 3000:
    run.log({"loss": math.exp(-step / 50), "acc": 1 - math.exp(-step / 50)})
    if step % 5 == 0:
        print(f"step {step}", flush=True)
    step += 1
    time.sleep(0.1)
run.finish()
"""


@pytest.fixture
def live_run(ui_server: UiServer, tmp_path: Path) -> Iterator[str]:
    """The uid of a run a subprocess is logging into the UI server's store right now."""
    stop_file = tmp_path / "stop"
    log_path = tmp_path / "writer.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(ui_server.store_dir), str(stop_file)],
            env=base_env(RUNTREE_SYSTEM_SAMPLE_INTERVAL="0.2"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    api = Api(store=str(ui_server.store_dir))
    found = []
    try:
        deadline = time.monotonic() + 30
        while True:
            found = [r for r in api.runs("live") if r.state == "running" and (r.last_step or 0) >= 3]
            if found:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log_text = log_path.read_text(errors="replace")
                pytest.fail(f"the live run did not start logging: exit {proc.poll()}\n{log_text}", pytrace=False)
            time.sleep(0.1)
        yield found[0].uid
    finally:
        stop_file.touch()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            stop(proc)
        for run in found:
            api.store.update_run(run.uid, project="live-done")  # the next live test's project page shows only its run


def _last_x(page: Page, key: str) -> int:
    value = page.locator(f'section.chart-card[data-key="{key}"] .chart').get_attribute("data-last-x")
    return int(value or -1)


def test_a_live_runs_chart_grows_while_the_page_is_open(page: Page, ui_server: UiServer, live_run: str) -> None:
    page.goto(f"{ui_server.url}/r/{live_run}")
    expect(page.locator(".run-head .state")).to_have_text("running")
    chart = page.locator('section.chart-card[data-key="loss"] .chart')
    expect(chart).to_have_attribute("data-last-x", re.compile(r"^\d+$"))
    first = _last_x(page, "loss")
    loads = page.evaluate("performance.getEntriesByType('navigation').length")
    page.wait_for_function(
        f"Number(document.querySelector('section.chart-card[data-key=\"loss\"] .chart').dataset.lastX) >= {first + 10}", timeout=15_000
    )
    assert page.evaluate("performance.getEntriesByType('navigation').length") == loads  # no reload: the same document

    # The console lines and the system metrics follow too.
    page.get_by_role("tab", name="Logs").click()
    console = page.get_by_test_id("console")
    expect(console).to_contain_text("training starts")
    seen = console.inner_text().count("step ")
    page.wait_for_function(f"document.querySelector('[data-testid=console]').innerText.split('step ').length - 1 > {seen}", timeout=15_000)
    page.get_by_role("tab", name="System").click()
    expect(page.locator('section.chart-card[data-key="system.cpu"]')).to_be_visible(timeout=15_000)


def test_the_project_page_follows_a_live_run(page: Page, ui_server: UiServer, live_run: str) -> None:
    page.goto(f"{ui_server.url}/p/tester/live/table")
    row = page.locator(f'table.runs tbody tr[data-uid="{live_run}"]')
    expect(row.locator(".state")).to_have_text("running")
    last = row.locator('td[data-col="last_step"]')
    before = int(last.inner_text())
    expect(last).not_to_have_text(str(before), timeout=10_000)


def test_the_workspace_panels_follow_a_live_run(page: Page, ui_server: UiServer, live_run: str) -> None:
    page.goto(f"{ui_server.url}/p/tester/live")
    loss = page.locator('section.panel[data-key="loss"]')
    expect(loss).to_have_attribute("data-lines", "1")
    chart = loss.locator(".panel-chart")
    expect(chart).to_have_attribute("data-last-x", re.compile(r"^\d+$"))
    last = int(chart.get_attribute("data-last-x") or "0")
    page.wait_for_function(  # new steps are drawn as they are logged, without a reload
        f"Number(document.querySelector('section.panel[data-key=\"loss\"] .panel-chart').dataset.lastX) > {last}", timeout=15_000
    )
