"""`make explore`: the attention explorer served as a page of its own by Voilà, in Chromium.

Starts `python -m bytetrans_lib.app --no-browser` on a free loopback port (as `make explore` does,
minus the browser), opens the page, waits for the heatmap (the page runs apps/explorer.ipynb in its
own kernel when it loads), works the controls, and checks that every request the page made went to
this machine: the app works offline.
"""

import re
import sys
import time
from urllib.parse import urlparse

import pytest
from conftest import ARTIFACTS, ROOT, free_port, running

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright (make test-browser does)").expect
pytest.importorskip("voila", reason="pip install voila (make test-browser does)")


@pytest.fixture(scope="module")
def app_server():
    """Base URL of the app, stopped (with its kernels) at the end."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "bytetrans_lib.app", "--no-browser", "--port", str(port)]
    log = open(ARTIFACTS / "voila.log", "w")
    yield from running(command, f"http://127.0.0.1:{port}", "/voila/static/voila-style.js", log, "the app", cwd=ROOT)


def new_heatmap(explorer, act, previous_src):
    """Do `act`; wait until the explorer shows exactly one image, a new one; return its src."""
    act()
    images = explorer.locator(".widget-output img")
    expect(images.first).not_to_have_attribute("src", previous_src, timeout=60_000)
    expect(images).to_have_count(1, timeout=60_000)
    return images.first.get_attribute("src")


def test_the_app_shows_the_explorer_redraws_one_heatmap_and_fetches_nothing_off_the_machine(app_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(app_server + "/")
    explorer = page.locator(".widget-vbox:has(.widget-toggle-buttons)").first
    images = explorer.locator(".widget-output img")
    expect(images).to_have_count(1, timeout=240_000)  # a cold start: kernel, imports, model, first drawing
    expect(page.locator(".widget-dropdown:has(label:text-is('model')) select")).to_have_value(re.compile(r".+"))
    first = images.first.get_attribute("src")

    layer = explorer.locator(".widget-dropdown:has(label:text-is('layer')) select")
    other = next(
        v for v in layer.locator("option").evaluate_all("os => os.map(o => o.value)") if v != layer.input_value()
    )
    second = new_heatmap(explorer, lambda: layer.select_option(value=other), first)
    kinds = explorer.locator(".widget-toggle-buttons").first.locator("button:not(.mod-active)")
    third = new_heatmap(explorer, kinds.first.click, second)
    assert len({first, second, third}) == 3

    # every head of the layer side by side: still one image, a new one
    head = explorer.locator(".widget-dropdown:has(label:text-is('head')) select")
    fourth = new_heatmap(explorer, lambda: head.select_option(label="all heads"), third)

    # a recorded sentence: the training-step slider comes alive and replays step 0
    text = explorer.locator(".widget-text input")
    fifth = new_heatmap(explorer, lambda: (text.fill("I leave the big white markets."), text.press("Tab")), fourth)
    slider = explorer.locator(".widget-hslider:has(label:text-is('training step')) .noUi-handle")
    expect(slider).to_be_visible()
    expect(explorer.locator(".widget-hslider:has(label:text-is('training step')) .widget-readout")).to_have_text(
        "2,800"
    )
    new_heatmap(explorer, lambda: (slider.focus(), slider.press("Home")), fifth)
    readout = explorer.locator(".widget-hslider:has(label:text-is('training step')) .widget-readout")
    expect(readout).to_have_text("0")
    page.screenshot(path=str(ARTIFACTS / "app-step-0.png"), full_page=True)

    # the view of the README: cross-attention of every head at the last step, grouped into words
    cross = explorer.locator(".widget-toggle-buttons button:text-is('cross')")
    sixth = new_heatmap(explorer, cross.click, images.first.get_attribute("src"))
    words = explorer.locator(".widget-toggle-buttons button:text-is('words')")
    seventh = new_heatmap(explorer, words.click, sixth)
    new_heatmap(explorer, lambda: (slider.focus(), slider.press("End")), seventh)
    expect(readout).to_have_text("2,800")
    images.first.evaluate("img => img.decode()")
    page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)

    # responsiveness, reported and not asserted (shared machines are noisy): a layer change to its new
    # picture, one heatmap (mean over heads) of a 40-byte sentence
    src = new_heatmap(explorer, lambda: head.select_option(label="mean over heads"), images.first.get_attribute("src"))
    sentence = "The happy horses hide in the old garden."
    assert len(sentence.encode()) == 40
    src = new_heatmap(explorer, lambda: (text.fill(sentence), text.press("Tab")), src)
    seconds = []
    for _ in range(10):
        values = layer.locator("option").evaluate_all("os => os.map(o => o.value)")
        other = next(v for v in values if v != layer.input_value())  # the layer not shown now
        started = time.perf_counter()
        src = new_heatmap(explorer, lambda value=other: layer.select_option(value=value), src)
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    print(f"\napp: control change to new heatmap, median of 10: {(seconds[4] + seconds[5]) / 2:.2f} s")

    elsewhere = [
        url
        for url in requested
        if urlparse(url).scheme not in ("data", "blob") and urlparse(url).hostname != "127.0.0.1"
    ]
    assert elsewhere == [], f"the page asked for {len(elsewhere)} resources off this machine: {elsewhere[:5]}"
