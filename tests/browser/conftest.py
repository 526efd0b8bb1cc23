"""Fixtures for the real-browser tests (`make test-browser`): a JupyterLab server and Chromium.

The server runs headless on a free loopback port without a token, from this checkout's .venv;
Chromium is Debian's (/usr/bin/chromium), driven by Playwright's Python package, never a
browser that Playwright downloads. Both are stopped at the end, pass or fail.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "browser-artifacts"  # screenshots, kept after the run (git ignores them)
CHROMIUM = os.environ.get("BYTETRANS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory):
    """Base URL of a JupyterLab server on a copy of notebooks/ (so that running cells in the
    browser never rewrites the committed notebooks); stopped, with its kernels, at the end."""
    notebooks = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    # JupyterLab settings for the test: render every cell (the default "windowing" leaves cells
    # that are off screen out of the page), and no pop-up asking about news.
    settings = notebooks.parent / "settings"
    for extension, values in {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
                              "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}.items():
        path = settings / f"{extension}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "jupyterlab.log", "w")
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
               f"--ServerApp.root_dir={notebooks}", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={notebooks.parent / 'workspaces'}", "--allow-root"]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                get_json(f"{base}/api/status")
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab exited with code {server.returncode}; see {log.name}")
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not answer on {base} within 60 s; see {log.name}")
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium) "
                    "or set BYTETRANS_CHROMIUM")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (make test-browser does)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def kernels_idle(base, quiet_for=2.0, timeout=300):
    """Wait until every kernel on the server has been idle for `quiet_for` seconds."""
    deadline, idle_since = time.time() + timeout, None
    while time.time() < deadline:
        states = [k["execution_state"] for k in get_json(f"{base}/api/kernels")]
        if states and all(s == "idle" for s in states):
            idle_since = idle_since or time.time()
            if time.time() - idle_since >= quiet_for:
                return
        else:
            idle_since = None
        time.sleep(0.25)
    raise TimeoutError(f"kernels still busy after {timeout} s: {states}")
