"""The outputs nbval does not compare: every cell marked NBVAL_IGNORE_OUTPUT is listed here, with
what is checked of its committed output, or why nothing can be (issue 28).

nbval runs these cells but ignores what they print, so an output left by older code would stay
unnoticed. Where the output holds something that does not depend on the machine's speed, it is
checked against what today's code gives: the training log against the shipped report
(tests/test_train.py), counts against the data, the profile's rows and calls against a fresh profile.
A new ignored cell fails the first test until it is listed here.
"""

import json
import re

import numpy as np
import pytest
from conftest import ROOT

import bytetrans_lib as bt

TIMES_ONLY = "prints times only: every number depends on the machine"


def check_corpus_timing(lines):
    """07: generate_corpus's pairs (then its time): as many as the shipped corpus holds."""
    (line,) = lines
    m = re.fullmatch(r"([\d,]+) pairs in \d+\.\d s", line)
    assert m and int(m.group(1).replace(",", "")) == len(bt.read_tsv(bt.CORPUS_PATH)), line


def check_profile(lines):
    """10: the profile's rows and calls per step are the architecture: a fresh profile has the same."""
    start, end = (
        lines.index(next(line for line in lines if "ms/step" in line)),
        lines.index(next(line for line in lines if line.startswith("median step"))),
    )
    shown = [(line[:28].strip(), line[28:34].strip()) for line in lines[start + 1 : end]]
    model = bt.Transformer(bt.Config(), rng=np.random.default_rng(0))
    src = np.full((2, 6), 65)
    tgt_in, tgt_out = np.full((2, 5), 66), np.full((2, 5), 67)
    profile = bt.profile_step(model, src, tgt_in, tgt_out, steps=1)
    fresh = [(name, "" if calls is None else f"{calls:.0f}") for name, calls, _ in profile["rows"]]
    assert sorted(shown) == sorted(fresh)
    assert any(line.startswith("by layer type: MultiHeadAttention") for line in lines[end:])
    assert re.search(r"GFLOP/s in the products, \d+% of the peak measured above", "\n".join(lines[end:]))


def check_cache_total(lines):
    """10: the cache's total times, and their ratio as printed."""
    m = re.fullmatch(r"total: (\d+) ms without the cache, (\d+) ms with it \((\d+\.\d)x\)", lines[-1])
    assert m and abs(int(m.group(1)) / int(m.group(2)) - float(m.group(3))) <= 0.05 * float(m.group(3)), lines[-1]


IGNORED = {  # (notebook, cell id) -> a check of its committed text output, or why there is none
    ("02_linear.ipynb", "c11d"): TIMES_ONLY,
    ("02_linear.ipynb", "c48"): TIMES_ONLY,
    ("02_linear.ipynb", "c32b"): TIMES_ONLY,
    ("05_transformer.ipynb", "c36d"): TIMES_ONLY,
    ("06_adam.ipynb", "c26"): "a training trajectory and its time (the run's losses are asserted in the cell)",
    ("07_data.ipynb", "c22"): check_corpus_timing,
    ("08_training.ipynb", "c84"): "the training log: tests/test_train.py holds it line for line to the shipped report",
    ("09_attention_maps.ipynb", "c28"): "a live widget (tests/test_viz.py and the browser tests work it)",
    ("09_attention_maps.ipynb", "c30"): "a live widget (tests/test_viz.py and the browser tests work it)",
    ("09_attention_maps.ipynb", "c30h"): "a live widget (tests/test_viz.py and the browser tests work it)",
    ("10_speed.ipynb", "c12"): TIMES_ONLY,
    ("10_speed.ipynb", "c17"): check_profile,
    ("10_speed.ipynb", "c22"): TIMES_ONLY,
    ("10_speed.ipynb", "c25"): TIMES_ONLY,
    ("10_speed.ipynb", "c28"): TIMES_ONLY,
    ("10_speed.ipynb", "c30"): TIMES_ONLY,
    ("10_speed.ipynb", "c33"): check_cache_total,
}


def ignored_cells():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code" and "".join(cell["source"]).startswith("# NBVAL_IGNORE_OUTPUT"):
                yield path.name, cell


def test_every_cell_whose_output_nbval_ignores_is_listed_with_a_check_or_a_reason():
    assert {(name, cell["id"]) for name, cell in ignored_cells()} == set(IGNORED)


@pytest.mark.parametrize("key", [key for key, check in IGNORED.items() if callable(check)], ids="/".join)
def test_an_ignored_cells_committed_output_is_what_todays_code_gives(key):
    (cell,) = [cell for name, cell in ignored_cells() if (name, cell["id"]) == key]
    text = "".join("".join(o["text"]) for o in cell["outputs"] if o.get("output_type") == "stream")
    IGNORED[key](text.splitlines())
