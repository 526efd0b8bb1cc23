"""`make explore` bounds its kernels (issue 29): Voilà starts one per page it serves, so reloading
the page in a loop once started a kernel per reload until memory ran out. The real app is started
with --max-pages 2 and asked for its page four times: two pages are served, the next two get
HTTP 503 with the sentence that says why, and no more than two kernels are alive."""

import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from conftest import ARTIFACTS, ROOT, free_port, running

pytest.importorskip("voila", reason="pip install voila (make test-browser does)")


def kernels():
    """How many ipykernel processes this machine runs now."""
    found = subprocess.run(["pgrep", "-f", "ipykernel_launcher"], capture_output=True, text=True)
    return len(found.stdout.split())


def test_the_app_serves_at_most_max_pages_kernels_and_says_why_it_refuses_more():
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "bytetrans_lib.app", "--no-browser", "--port", str(port), "--max-pages", "2"]
    log = open(ARTIFACTS / "voila-kernels.log", "w")
    server = running(command, f"http://127.0.0.1:{port}", "/voila/static/voila-style.js", log, "the app", cwd=ROOT)
    before = kernels()
    base = next(server)
    try:
        answers = []
        for _ in range(4):
            try:
                with urllib.request.urlopen(base + "/", timeout=120) as response:
                    answers.append((response.status, ""))
            except urllib.error.HTTPError as e:
                answers.append((e.code, e.read().decode("utf-8", "replace")))
        assert [status for status, _ in answers] == [200, 200, 503, 503]
        assert "2 explorer pages are open, each with its own kernel: close one" in answers[2][1]
        assert kernels() - before == 2  # the two pages' kernels, and no kernel for a refused page
    finally:
        next(server, None)
