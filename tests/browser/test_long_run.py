"""A long run: the page draws a quick preview, then the server's exact min/max downsample; zooming fetches the finer range."""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

import runtree
from tests.browser.conftest import UiServer

STEPS = 30_000  # over the server's preview threshold (10,000 rows), so the first look is a preview


@pytest.fixture(scope="module")
def long_run(ui_server: UiServer) -> str:
    quiet = {"system_sample_interval": 0, "console": "off"}
    run = runtree.init(entity="tester", project="long", name="long-run", dir=ui_server.store_dir, settings=quiet)
    for step in range(STEPS):
        run.log({"loss": math.exp(-step / 5000)})
    run.finish()
    return run.uid


def test_a_long_run_is_downsampled_and_zooming_asks_for_the_finer_range(page: Page, ui_server: UiServer, long_run: str) -> None:
    asked: list[dict[str, list[str]]] = []

    def seen(request: Request) -> None:
        if "/history" in request.url:
            asked.append(parse_qs(urlsplit(request.url).query))

    page.on("request", seen)
    page.goto(f"{ui_server.url}/r/{long_run}")
    chart = page.locator('section.chart-card[data-key="loss"] .chart')
    expect(chart).to_have_attribute("data-last-x", str(STEPS - 1))
    expect(page.locator(".status")).to_have_text("")  # the exact downsample replaced the preview
    assert asked[0].get("preview") == ["true"]
    points = int(chart.get_attribute("data-points") or 0)
    samples = int(asked[0]["samples"][0])
    assert 100 < points <= samples + 2 < STEPS

    box = page.locator('section.chart-card[data-key="loss"] .u-over').bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.40, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.42, y, steps=5)
    page.mouse.up()
    card = page.locator('section.chart-card[data-key="loss"]')
    expect(card).to_have_attribute("data-zoomed", re.compile(r"^\d+-\d+$"))
    lo, hi = map(int, (card.get_attribute("data-zoomed") or "").split("-"))
    assert 0 < lo < hi < STEPS and hi - lo < STEPS // 10
    zoom = [q for q in asked if q.get("min_step") and q.get("max_step")]
    assert zoom and zoom[-1]["min_step"] == [str(lo)] and zoom[-1]["max_step"] == [str(hi)]
    assert int(chart.get_attribute("data-last-x") or 0) <= hi
    assert int(chart.get_attribute("data-points") or 0) == hi - lo + 1  # every step of the zoomed range

    page.mouse.dblclick(box["x"] + box["width"] / 2, y)
    expect(chart).to_have_attribute("data-last-x", str(STEPS - 1))
    expect(card).not_to_have_attribute("data-zoomed", re.compile(".*"))
