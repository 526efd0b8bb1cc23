"""Notebook 08's attention explorer in a real browser: JupyterLab, Chromium, Playwright.

Runs with `make test-browser` (and in CI). Opens the notebook, runs every cell, then works
the explorer's controls as a learner would and checks that the heatmap is redrawn, once.
"""
import time

from conftest import ARTIFACTS, kernels_idle

NOTEBOOK = "08_attention_maps.ipynb"


def run_all_cells(page, base):
    page.goto(f"{base}/lab/tree/{NOTEBOOK}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator", timeout=60_000)
    time.sleep(1)  # let the kernel connect before asking it to run anything
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    time.sleep(2)
    kernels_idle(base)


def image_src(images):
    """The src of the first image, or None if it went away meanwhile (a redraw clears it first)."""
    try:
        return images.first.get_attribute("src", timeout=1000)
    except Exception:
        return None


def heatmap_after(page, base, explorer, act, previous_src):
    """Do `act`, then wait until the explorer shows a new image and the kernel is idle again
    (acting again before a redraw ends could stack figures); return the image's src."""
    act()
    images = explorer.locator(".widget-output img")
    deadline = time.time() + 60
    while time.time() < deadline:
        if images.count() == 1 and image_src(images) not in (None, previous_src):
            break
        time.sleep(0.2)
    kernels_idle(base, quiet_for=1.0)
    assert images.count() == 1, f"{images.count()} figures in the explorer, expected exactly one"
    src = images.first.get_attribute("src")
    assert src != previous_src, "the heatmap did not change"
    return src


def test_explorer_redraws_one_heatmap_when_layer_and_kind_change(jupyter_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    run_all_cells(page, jupyter_server)
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0

    explorer = page.locator(".widget-vbox:has(.widget-toggle-buttons)").first
    explorer.scroll_into_view_if_needed()
    images = explorer.locator(".widget-output img")
    images.first.wait_for(timeout=60_000)
    assert images.count() == 1
    first = images.first.get_attribute("src")
    explorer.screenshot(path=str(ARTIFACTS / "explorer-1.png"))

    layer = explorer.locator(".widget-dropdown:has(label:text-is('layer')) select")
    other = next(v for v in layer.locator("option").evaluate_all("os => os.map(o => o.value)")
                 if v != layer.input_value())  # whichever layer is not shown now
    second = heatmap_after(page, jupyter_server, explorer, lambda: layer.select_option(value=other), first)
    explorer.screenshot(path=str(ARTIFACTS / "explorer-2-other-layer.png"))

    kinds = explorer.locator(".widget-toggle-buttons").first.locator("button:not(.mod-active)")
    third = heatmap_after(page, jupyter_server, explorer, kinds.first.click, second)  # another kind
    explorer.screenshot(path=str(ARTIFACTS / "explorer-3-other-kind.png"))
    assert len({first, second, third}) == 3

    # the view shown in the README: cross-attention, bytes grouped into characters
    explorer.locator(".widget-toggle-buttons button:text-is('characters')").click()
    kernels_idle(jupyter_server, quiet_for=1.0)
    cross = explorer.locator(".widget-toggle-buttons button:text-is('cross')")
    heatmap_after(page, jupyter_server, explorer, cross.click, image_src(images))
    images.first.evaluate("img => img.decode()")  # fully loaded before the screenshot
    explorer.screenshot(path=str(ARTIFACTS / "explorer-cross-characters.png"))
    page.screenshot(path=str(ARTIFACTS / "jupyterlab.png"), full_page=True)
