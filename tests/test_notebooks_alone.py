"""A notebook opened on its own (issue 32): its first cell says what to run, and without the
library it stops at once with that message, not with a ModuleNotFoundError deep in an import."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "exercises").glob("*.ipynb"))


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_first_cell_says_what_to_run_and_the_first_import_refuses_by_saying_it(path, tmp_path):
    cells = _cells(path)
    assert cells[0]["cell_type"] == "markdown" and "run `make lab`" in "".join(cells[0]["source"])
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert code[0].startswith("#| default_exp ") and "import bytetrans_lib  #" in code[1], "the guard comes first"
    assert not any("bytetrans_lib" in source for source in code[:1])
    # a Python that has no bytetrans_lib: no site-packages (-S), isolated (-I), run from elsewhere
    run = subprocess.run([sys.executable, "-I", "-S", "-c", code[1]], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: this notebook needs bytetrans_lib") and "run `make lab`" in last, last
    # and with the library, the cell runs without a word
    ok = subprocess.run([sys.executable, "-c", code[1]], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == ok.stderr == "", ok.stderr
