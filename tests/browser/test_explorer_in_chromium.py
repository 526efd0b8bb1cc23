"""Notebook 09's attention explorer in a real browser: JupyterLab, Chromium, Playwright.

Runs with `make test-browser` (and in CI). Opens the notebook, waits until its kernel is
connected and idle, runs every cell, then works the explorer's controls as a learner would
and checks that the heatmap is redrawn, once.

JupyterLab does not queue cells run before the notebook's kernel is connected: it clears them.
So nothing is run until both the server (its sessions API) and the page (the toolbar's kernel
status) say the notebook's kernel is idle; every wait is on a condition, never a fixed delay.
"""

import re

import pytest
from conftest import ARTIFACTS, code_cell_count, notebook_kernel_idle

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright (make test-browser does)").expect

NOTEBOOK = "09_attention_maps.ipynb"
EXECUTED = re.compile(r"^\[\d+\]:$")  # a code cell's prompt once it has run; "[*]:" while it runs
SCHEDULED = re.compile(r"^\[(\*|\d+)\]:$")
# printed (as a logging warning, on stderr) by the first import of matplotlib.pyplot in a new
# HOME when building its font cache takes more than a few seconds: harmless, and expected cold
FONT_CACHE_NOTICE = "Matplotlib is building the font cache; this may take a moment."


# Where each front end opens the notebook, and its kernel indicator: the indicator's data-status is
# the kernel's status as the page sees it ('unknown'/'connecting' until connected, then 'idle' or
# 'busy'). JupyterLab shows it in the notebook's toolbar; Notebook 7 (test_explorer_in_notebook7.py)
# once in the page.
FRONT_ENDS = {
    "lab": (f"lab/tree/{NOTEBOOK}", ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator"),
    "notebook7": (f"notebooks/{NOTEBOOK}", ".jp-Notebook-ExecutionIndicator"),
}


def kernel_status(page, front_end="lab"):
    return page.locator(FRONT_ENDS[front_end][1]).first


def wait_until_kernel_idle(page, base, quiet_for=2.0, front_end="lab"):
    expect(kernel_status(page, front_end)).to_have_attribute("data-status", "idle", timeout=180_000)
    notebook_kernel_idle(base, NOTEBOOK, quiet_for=quiet_for)
    expect(kernel_status(page, front_end)).to_have_attribute("data-status", "idle", timeout=60_000)


def click_run_all(page):
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")


def run_all_cells(page, base, front_end="lab"):
    page.goto(f"{base}/{FRONT_ENDS[front_end][0]}")
    prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt")
    n_cells = code_cell_count(NOTEBOOK)
    expect(prompts).to_have_count(n_cells, timeout=120_000)  # every cell rendered
    wait_until_kernel_idle(page, base, front_end=front_end)
    click_run_all(page)
    try:  # a connected kernel starts the first cell at once; if not, the click was lost
        expect(prompts.first).to_have_text(SCHEDULED, timeout=20_000)
    except AssertionError:
        wait_until_kernel_idle(page, base, front_end=front_end)
        click_run_all(page)
    try:
        expect(prompts).to_have_text([EXECUTED] * n_cells, timeout=300_000)
    except AssertionError as error:
        page.screenshot(path=str(ARTIFACTS / f"{front_end}-not-run.png"), full_page=True)
        shown = [text.strip() or "[ ]:" for text in prompts.all_inner_texts()]
        raise AssertionError(f"not every code cell of {NOTEBOOK} ran; prompts: {shown}") from error
    wait_until_kernel_idle(page, base, front_end=front_end)


def unexpected_stderr(page):
    """The text of every stderr output in the page, the cold-start font-cache notice removed."""
    stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    texts = stderr.all_inner_texts()
    return [t for t in (text.replace(FONT_CACHE_NOTICE, "").strip() for text in texts) if t]


def heatmap_after(page, base, explorer, act, previous_src, front_end="lab"):
    """Do `act`, then wait until the explorer shows exactly one image, a new one, and the kernel
    is idle again (acting again before a redraw ends could stack figures); return its src."""
    act()
    images = explorer.locator(".widget-output img")
    expect(images).to_have_count(1, timeout=60_000)
    expect(images.first).not_to_have_attribute("src", previous_src, timeout=60_000)
    wait_until_kernel_idle(page, base, quiet_for=1.0, front_end=front_end)
    expect(images).to_have_count(1)  # still one once everything has arrived
    return images.first.get_attribute("src")


def test_explorer_redraws_one_heatmap_when_layer_and_kind_change(jupyter_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    run_all_cells(page, jupyter_server)
    assert unexpected_stderr(page) == []

    explorer = page.locator(".widget-vbox:has(.widget-toggle-buttons)").first
    explorer.scroll_into_view_if_needed()
    images = explorer.locator(".widget-output img")
    expect(images).to_have_count(1, timeout=60_000)
    first = images.first.get_attribute("src")
    explorer.screenshot(path=str(ARTIFACTS / "explorer-1.png"))

    layer = explorer.locator(".widget-dropdown:has(label:text-is('layer')) select")
    other = next(
        v for v in layer.locator("option").evaluate_all("os => os.map(o => o.value)") if v != layer.input_value()
    )  # whichever layer is not shown now
    second = heatmap_after(page, jupyter_server, explorer, lambda: layer.select_option(value=other), first)
    explorer.screenshot(path=str(ARTIFACTS / "explorer-2-other-layer.png"))

    kinds = explorer.locator(".widget-toggle-buttons").first.locator("button:not(.mod-active)")
    third = heatmap_after(page, jupyter_server, explorer, kinds.first.click, second)  # another kind
    explorer.screenshot(path=str(ARTIFACTS / "explorer-3-other-kind.png"))
    assert len({first, second, third}) == 3

    # the view shown in the README: cross-attention, bytes grouped into characters
    characters = explorer.locator(".widget-toggle-buttons button:text-is('characters')")
    characters.click()
    expect(characters).to_have_class(re.compile(r"\bmod-active\b"))
    wait_until_kernel_idle(page, jupyter_server, quiet_for=1.0)
    cross = explorer.locator(".widget-toggle-buttons button:text-is('cross')")
    heatmap_after(page, jupyter_server, explorer, cross.click, images.first.get_attribute("src"))
    images.first.evaluate("img => img.decode()")  # fully loaded before the screenshot
    explorer.screenshot(path=str(ARTIFACTS / "explorer-cross-characters.png"))
    page.screenshot(path=str(ARTIFACTS / "jupyterlab.png"), full_page=True)
