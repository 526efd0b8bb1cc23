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


def kernels_under(pattern):
    """How many ipykernel processes descend from the process whose command line holds `pattern`
    (ps -ww: whole command lines, never cut at a terminal width)."""
    table = [
        line.split(None, 2)
        for line in subprocess.run(
            ["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True
        ).stdout.splitlines()
    ]
    parent = {int(pid): int(ppid) for pid, ppid, *_ in table}
    roots = {int(pid) for pid, _, *args in table if args and pattern in args[0] and "ipykernel" not in args[0]}

    def descends(pid):
        while pid in parent and pid not in roots and pid > 1:
            pid = parent[pid]
        return pid in roots

    return sum(1 for pid, _, *args in table if args and "ipykernel_launcher" in args[0] and descends(int(pid)))


def test_the_app_serves_at_most_max_pages_kernels_and_says_why_it_refuses_more():
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "bytetrans_lib.app", "--no-browser", "--port", str(port), "--max-pages", "2"]
    log = open(ARTIFACTS / "voila-kernels.log", "w")
    server = running(command, f"http://127.0.0.1:{port}", "/voila/static/voila-style.js", log, "the app", cwd=ROOT)
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
        # the two pages' kernels, and none for a refused page (counted under this app only)
        assert kernels_under(f"bytetrans_lib.app --no-browser --port {port}") == 2
    finally:
        next(server, None)
