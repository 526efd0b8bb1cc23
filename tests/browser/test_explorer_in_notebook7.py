"""Notebook 09's attention explorer in Jupyter Notebook 7 (`jupyter notebook`), in Chromium.

Notebook 7 is built from JupyterLab's parts, one document per tab: the same cells, prompts and
menus, so the steps are those of test_explorer_in_chromium.py (JupyterLab): wait until the
notebook's kernel is connected and idle (the server's sessions API and the page's kernel
indicator), run every cell, then work the explorer's controls and check that each change shows
exactly one new heatmap.
"""

import pytest
from conftest import ARTIFACTS, code_cell_count, notebook_kernel_idle
from test_explorer_in_chromium import EXECUTED, NOTEBOOK, SCHEDULED, click_run_all, unexpected_stderr

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright (make test-browser does)").expect


def kernel_idle_in_page(page):
    """Notebook 7's execution indicator: its data-status is 'idle' once the kernel is connected
    and idle (it is not in a notebook toolbar, as in JupyterLab, but the page has one)."""
    return page.locator(".jp-Notebook-ExecutionIndicator").first


def wait_until_kernel_idle(page, base, quiet_for=2.0):
    expect(kernel_idle_in_page(page)).to_have_attribute("data-status", "idle", timeout=180_000)
    notebook_kernel_idle(base, NOTEBOOK, quiet_for=quiet_for)
    expect(kernel_idle_in_page(page)).to_have_attribute("data-status", "idle", timeout=60_000)


def heatmap_after(page, base, explorer, act, previous_src):
    """Do `act`, then wait until the explorer shows exactly one image, a new one, and the kernel
    is idle again; return its src."""
    act()
    images = explorer.locator(".widget-output img")
    expect(images).to_have_count(1, timeout=60_000)
    expect(images.first).not_to_have_attribute("src", previous_src, timeout=60_000)
    wait_until_kernel_idle(page, base, quiet_for=1.0)
    expect(images).to_have_count(1)
    return images.first.get_attribute("src")


def test_explorer_redraws_one_heatmap_per_change_in_notebook_7(notebook7_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{notebook7_server}/notebooks/{NOTEBOOK}")
    prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt")
    n_cells = code_cell_count(NOTEBOOK)
    expect(prompts).to_have_count(n_cells, timeout=120_000)
    wait_until_kernel_idle(page, notebook7_server)
    click_run_all(page)
    try:
        expect(prompts.first).to_have_text(SCHEDULED, timeout=20_000)
    except AssertionError:
        wait_until_kernel_idle(page, notebook7_server)
        click_run_all(page)
    try:
        expect(prompts).to_have_text([EXECUTED] * n_cells, timeout=300_000)
    except AssertionError as error:
        page.screenshot(path=str(ARTIFACTS / "notebook7-not-run.png"), full_page=True)
        raise AssertionError(f"not every code cell of {NOTEBOOK} ran in Notebook 7") from error
    wait_until_kernel_idle(page, notebook7_server)
    assert unexpected_stderr(page) == []

    explorer = page.locator(".widget-vbox:has(.widget-toggle-buttons)").first
    explorer.scroll_into_view_if_needed()
    images = explorer.locator(".widget-output img")
    expect(images).to_have_count(1, timeout=60_000)
    first = images.first.get_attribute("src")
    layer = explorer.locator(".widget-dropdown:has(label:text-is('layer')) select")
    other = next(
        v for v in layer.locator("option").evaluate_all("os => os.map(o => o.value)") if v != layer.input_value()
    )
    second = heatmap_after(page, notebook7_server, explorer, lambda: layer.select_option(value=other), first)
    kinds = explorer.locator(".widget-toggle-buttons").first.locator("button:not(.mod-active)")
    third = heatmap_after(page, notebook7_server, explorer, kinds.first.click, second)
    assert len({first, second, third}) == 3
    images.first.evaluate("img => img.decode()")
    explorer.screenshot(path=str(ARTIFACTS / "notebook7-explorer.png"))
    page.screenshot(path=str(ARTIFACTS / "notebook7.png"))
