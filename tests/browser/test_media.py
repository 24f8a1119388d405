"""The Media tab on a fork: an image slider over inherited and own steps, a table with sort and filter,
histograms over steps, an audio player, and the run's media files with their sizes."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import UiServer, base_env, snapshot
from tests.integration.server_fixture import free_port, stop, wait_ready

FORK_STEP = 4
SCRIPT = """
import sys, numpy as np, runtree
d = sys.argv[1]
parent = runtree.init(project="media", dir=d, name="parent")
for s in range(10):
    parent.log({
        "img": runtree.Image(np.full((16, 16, 3), s * 20, dtype=np.uint8), caption=f"parent {s}"),
        "preds": runtree.Table(
            columns=["id", "label", "score", "input"],
            data=[[i, f"cls{(i + s) % 3}", (i * 7 + s) % 10 / 10, runtree.Image(np.full((4, 4), i * 40, dtype=np.uint8))]
                  for i in range(6)],
        ),
        "weights": runtree.Histogram(np.random.default_rng(s).normal(s / 5, 1, 500)),
        "loss": 1 / (s + 1),
    })
parent.finish()
fork = runtree.init(project="media", dir=d, name="fork", fork_from=f"{parent.id}?_step=FORK_STEP")
for s in range(FORK_STEP + 1, 8):
    boxes = {"predictions": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.2, "maxY": 0.6}, "class_id": 1,
                                           "box_caption": "cat"}], "class_labels": {1: "cat"}}}
    fork.log({
        "img": runtree.Image(np.full((16, 16, 3), 255 - s, dtype=np.uint8), caption=f"fork {s}", boxes=boxes,
                             masks={"seg": {"mask_data": np.eye(16, dtype=np.uint8)}}),
        "weights": runtree.Histogram(np.random.default_rng(100 + s).normal(-1, 0.5, 500)),
        "voice": runtree.Audio(np.sin(np.linspace(0, 440, 8000)), sample_rate=8000, caption="beep"),
        "page": runtree.Html(f"<h1>report {s}</h1><script>parent.document.title = 'pwned'</script>"),
        "clip": runtree.Video(np.random.default_rng(s).integers(0, 255, (4, 3, 8, 8), dtype=np.uint8), fps=4),
        "loss": 0.1,
    })
xs = list(range(10))
fork.log({"curves": runtree.plot.line_series(xs, [[x * x for x in xs], [2 * x for x in xs]], keys=["square", "double"], title="two")})
fork.log({"fit": runtree.plot.line(runtree.Table(columns=["x", "y"], data=[[3, 9.0], [1, 1.0], [2, 4.0]]), "x", "y", title="squares")})
fork.finish()
print(fork.uid)
""".replace("FORK_STEP", str(FORK_STEP))


@dataclass
class MediaUi:
    server: UiServer
    fork_uid: str


@pytest.fixture(scope="module")
def media_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaUi]:
    d = tmp_path_factory.mktemp("media-store")
    made = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(d)],
        env=base_env(RUNTREE_SYSTEM_SAMPLE_INTERVAL="0", RUNTREE_CONSOLE="off"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    port = free_port()
    log_path = d / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtree.cli", "ui", "--dir", str(d), "--port", str(port), "--no-browser"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=base_env(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, log_path)
        yield MediaUi(UiServer(url, d, proc, log_path), made.stdout.strip().splitlines()[-1])
    finally:
        stop(proc)


def test_a_forks_image_slider_walks_inherited_and_own_steps(page: Page, media_ui: MediaUi) -> None:
    page.goto(f"{media_ui.server.url}/r/{media_ui.fork_uid}/media")
    panel = page.locator('section.media-panel[data-key="img"]')
    label = panel.get_by_test_id("step-label")
    expect(label).to_have_text("_step 7")  # the last step first
    expect(panel.locator('svg.boxes[data-boxes="predictions"] rect')).to_have_count(1)  # the fork's boxes over its image
    expect(panel.locator('img[data-mask="seg"]')).to_have_count(1)
    img = panel.locator("img[data-step]")
    expect(img).to_have_attribute("data-step", "7")
    expect(panel).to_contain_text("fork 7")
    slider = panel.locator("input.step-slider")
    expect(slider).to_have_attribute("max", "7")  # steps 0..4 inherited, 5..7 its own
    slider.fill("2")
    expect(label).to_have_text("_step 2 · inherited from the parent")
    expect(panel).to_contain_text("parent 2")
    expect(img).to_have_attribute("data-step", "2")
    expect(panel.locator("svg.boxes")).to_have_count(0)  # the parent's image has none
    # The image really loads (the file is served through the fork, though the parent logged it).
    page.wait_for_function(
        "() => { const i = document.querySelector('section[data-key=img] img[data-step]');"
        " return i && i.complete && i.naturalWidth === 16; }"
    )
    snapshot(page, "media-tab")


def test_a_table_sorts_and_filters(page: Page, media_ui: MediaUi) -> None:
    page.goto(f"{media_ui.server.url}/r/{media_ui.fork_uid}/media")
    panel = page.locator('section.media-panel[data-key="preds"]')
    expect(panel.get_by_test_id("step-label")).to_have_text("_step 4 · inherited from the parent")  # the fork logged no table
    rows = panel.locator(".table-scroll tbody tr")
    expect(rows).to_have_count(6)
    panel.locator("th", has_text="score").click()
    scores = [float(t) for t in panel.locator(".table-scroll tbody tr td:nth-child(3)").all_inner_texts()]
    assert scores == sorted(scores)
    panel.locator("th", has_text="score").click()
    scores = [float(t) for t in panel.locator(".table-scroll tbody tr td:nth-child(3)").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    panel.get_by_label("filter preds").fill("cls1")
    expect(rows).to_have_count(2)
    expect(panel.locator(".table-count")).to_have_text("2 of 6 rows")
    panel.locator("input.step-slider").fill("0")
    expect(panel.get_by_test_id("step-label")).to_have_text("_step 0 · inherited from the parent")
    expect(rows.first).to_contain_text("cls1")  # step 0's own table, still filtered
    thumb = rows.first.locator("img.cell-image")  # an image in a cell, its file served through the fork
    expect(thumb).to_have_count(1)
    page.wait_for_function(
        "() => { const i = document.querySelector('section[data-key=preds] img.cell-image');"
        " return i && i.complete && i.naturalWidth === 4; }"
    )


def test_histograms_over_steps_include_the_inherited_ones(page: Page, media_ui: MediaUi) -> None:
    page.goto(f"{media_ui.server.url}/r/{media_ui.fork_uid}/media")
    canvas = page.locator('section.media-panel[data-key="weights"] canvas.histograms')
    expect(canvas).to_have_attribute("data-steps", "0,1,2,3,4,5,6,7")
    drawn = page.evaluate(
        "() => { const c = document.querySelector('section[data-key=weights] canvas'); "
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; "
        "for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"
    )
    assert drawn > 1000
    box = canvas.bounding_box()
    assert box is not None
    canvas.hover(position={"x": box["width"] / 2, "y": 2})  # the first row: step 0
    expect(page.locator('section.media-panel[data-key="weights"] .hist-tip')).to_contain_text("_step 0 (inherited)")


def test_audio_player_and_media_files_with_sizes(page: Page, media_ui: MediaUi) -> None:
    page.goto(f"{media_ui.server.url}/r/{media_ui.fork_uid}/media")
    audio = page.locator('section.media-panel[data-key="voice"] audio')
    expect(audio).to_have_attribute("data-step", "7")
    page.wait_for_function(
        "() => { const a = document.querySelector('section[data-key=voice] audio'); return a && a.readyState >= 1 && a.duration > 0.9; }"
    )
    files = page.locator("table.media-file-list tbody tr")
    # img + table + its 6 cell images at inherited steps 0..4 (the 6 cell images are 6 files at each step, but the same
    # 6 images at every step: listed per step, stored once), img + audio at 5..7, 2 charts
    expect(files).to_have_count(5 * (2 + 6) + 3 * 3 + 3 * 3 + 2)  # the fork's images with boxes and mask, audio, html, video
    expect(page.locator(".media-files")).to_contain_text("60 files")
    # An HTML page is shown sandboxed (its script cannot reach the UI), a GIF video as an image.
    frame = page.locator('section.media-panel[data-key="page"] iframe.media-html')
    expect(frame).to_have_attribute("sandbox", "")
    expect(page.frame_locator('section.media-panel[data-key="page"] iframe').locator("h1")).to_have_text("report 7")
    assert page.title() != "pwned"
    clip = page.locator('section.media-panel[data-key="clip"] img[data-step="7"]')
    page.wait_for_function(
        "() => { const i = document.querySelector('section[data-key=clip] img'); return i && i.complete && i.naturalWidth === 8; }"
    )
    expect(clip).to_have_count(1)
    expect(files.first).to_contain_text("media/images/img_0_")
    expect(files.first.locator("td.num")).to_have_text(re.compile(r"^\d+(\.\d)? (B|KB)$"))


def test_the_overview_names_media_summary_values_by_kind(page: Page, media_ui: MediaUi) -> None:
    page.goto(f"{media_ui.server.url}/r/{media_ui.fork_uid}/overview")
    summary = page.locator("section.card", has=page.locator("h2", has_text="Summary"))
    expect(summary).to_contain_text("image 16×16")
    expect(summary).to_contain_text("histogram (64 bins)")
    expect(summary).to_contain_text("table 6×4")
    expect(summary).not_to_contain_text("_type")


def test_plot_presets_are_drawn_above_their_tables(page: Page, media_ui: MediaUi) -> None:
    page.goto(f"{media_ui.server.url}/r/{media_ui.fork_uid}/media")
    series = page.locator('section.media-panel[data-key="curves_table"] .media-chart')
    expect(series).to_have_attribute("data-chart", "wandb/lineseries/v0")
    expect(series).to_have_attribute("data-points", "10")  # drawn: 10 x values shared by the two series
    expect(series.locator(".u-legend")).to_contain_text("square")
    expect(series.locator(".u-legend")).to_contain_text("double")
    line = page.locator('section.media-panel[data-key="fit_table"]')
    expect(line.locator(".media-chart")).to_have_attribute("data-points", "3")
    expect(line).to_contain_text("squares")
    expect(line.locator(".table-scroll tbody tr")).to_have_count(3)
