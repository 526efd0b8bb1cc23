"""Notebook 09's attention explorer in Jupyter Notebook 7 (`jupyter notebook`), in Chromium.

Notebook 7 is built from JupyterLab's parts, one document per tab: the same cells, prompts and
menus, so the steps are those of test_explorer_in_chromium.py (JupyterLab), with Notebook 7's
address and kernel indicator: wait until the notebook's kernel is connected and idle, run every
cell, then work the explorer's controls and check that each change shows exactly one new heatmap.
"""

import pytest
from conftest import ARTIFACTS
from test_explorer_in_chromium import heatmap_after, run_all_cells, unexpected_stderr

expect = pytest.importorskip("playwright.sync_api", reason="pip install playwright (make test-browser does)").expect


def test_explorer_redraws_one_heatmap_per_change_in_notebook_7(notebook7_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    run_all_cells(page, notebook7_server, front_end="notebook7")
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

    def after(act, previous):
        return heatmap_after(page, notebook7_server, explorer, act, previous, front_end="notebook7")

    second = after(lambda: layer.select_option(value=other), first)
    kinds = explorer.locator(".widget-toggle-buttons").first.locator("button:not(.mod-active)")
    third = after(kinds.first.click, second)
    assert len({first, second, third}) == 3
    images.first.evaluate("img => img.decode()")
    explorer.screenshot(path=str(ARTIFACTS / "notebook7-explorer.png"))
    page.screenshot(path=str(ARTIFACTS / "notebook7.png"))
