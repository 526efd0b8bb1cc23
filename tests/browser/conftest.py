"""Fixtures for the real-browser tests (`make test-browser`): a JupyterLab server and Chromium.

The server runs headless on a free loopback port without a token, from this checkout's .venv,
on a copy of notebooks/ whose outputs are cleared (so that an execution count in the page can
only come from this run). Chromium is Debian's (/usr/bin/chromium, or $BYTETRANS_CHROMIUM),
driven by Playwright's Python package, never a browser that Playwright downloads. Both are
stopped at the end, pass or fail.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bytetrans_lib.app import free_port  # the port `make explore` would choose too

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "browser-artifacts"  # screenshots, kept after the run (git ignores them)
CHROMIUM = os.environ.get("BYTETRANS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def clear_outputs(path):
    """Remove a notebook's outputs, execution counts and saved widget state, in place."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook["metadata"].pop("widgets", None)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")


def code_cell_count(notebook):
    """How many code cells notebooks/<notebook> has."""
    cells = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    return sum(cell["cell_type"] == "code" for cell in cells)


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory):
    """Base URL of a JupyterLab server on a copy of notebooks/ (so that running cells in the
    browser never rewrites the committed notebooks); stopped, with its kernels, at the end."""
    yield from serve_notebooks(tmp_path_factory, "lab")


@pytest.fixture(scope="session")
def notebook7_server(tmp_path_factory):
    """The same with Jupyter Notebook 7 (`jupyter notebook`), the classic-looking front end."""
    pytest.importorskip("notebook", reason="pip install notebook (make test-browser does)")
    yield from serve_notebooks(tmp_path_factory, "notebook")


APP_CLASS = {"lab": "LabApp", "notebook": "JupyterNotebookApp"}  # whose settings the flags set


def serve_notebooks(tmp_path_factory, app):
    """Start `jupyter <app>` (lab or notebook) on a copy of notebooks/ whose outputs are cleared;
    yield its base URL; stop it and its kernels."""
    notebooks = tmp_path_factory.mktemp(app) / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    for notebook in notebooks.glob("*.ipynb"):
        clear_outputs(notebook)
    # JupyterLab settings for the test: render every cell (the default "windowing" leaves cells
    # that are off screen out of the page), and no pop-up asking about news.
    settings = notebooks.parent / "settings"
    for extension, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
    }.items():
        path = settings / f"{extension}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"jupyter-{app}.log", "w")
    command = [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={notebooks}",
        f"--{APP_CLASS[app]}.user_settings_dir={settings}",
        f"--{APP_CLASS[app]}.workspaces_dir={notebooks.parent / 'workspaces'}",
        "--allow-root",
    ]
    yield from running(command, f"http://127.0.0.1:{port}", "/api/status", log, f"jupyter {app}")


def running(command, base, probe, log, name, cwd=None):
    """Start `command` (a server, in a session of its own, output to `log`); wait until
    base + probe answers; yield base; stop the server and what it started (its kernels)."""
    server = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(base + probe, timeout=5):
                    break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"{name} exited with code {server.returncode}; see {log.name}")
                time.sleep(0.5)
        else:
            pytest.fail(f"{name} did not answer on {base} within 120 s; see {log.name}")
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium) or set BYTETRANS_CHROMIUM"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (make test-browser does)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def notebook_kernel_idle(base, notebook, quiet_for=2.0, timeout=300):
    """Wait until the kernel of `notebook`'s session (the server's /api/sessions) reports idle
    and stays idle for `quiet_for` seconds; return that kernel's model. The server is polled:
    it is not a page that Playwright could wait on."""
    deadline, idle_since, state = time.monotonic() + timeout, None, "no session"
    while time.monotonic() < deadline:
        sessions = [s for s in get_json(f"{base}/api/sessions") if s["path"] == notebook]
        kernel = sessions[0]["kernel"] if sessions and sessions[0].get("kernel") else None
        state = kernel["execution_state"] if kernel else "no session or kernel yet"
        if state == "idle":
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= quiet_for:
                return kernel
        else:
            idle_since = None
        time.sleep(0.25)
    raise TimeoutError(f"the kernel of {notebook} is not idle after {timeout} s (last state: {state})")
