"""Idea first (issue 30): an exercise cell holds only what the learner writes.

Each cell with an nbgrader solution region holds one function or method (a `@patch_to(Class)`
method for a piece of a class), at most 30 lines with its docstring, and no `raise TypeError`
or `raise ValueError`: what the public version refuses is written in the cells around it.
Notebooks move into IDEA_FIRST as their exercise cells are rewritten that way.
"""

import ast

import nbformat
import pytest
from conftest import ROOT

IDEA_FIRST = [
    "01_bytes",
    "02_linear",
    "03_layernorm",
    "04_attention",
    "05_transformer",
    "06_adam",
    "07_data",
    "08_training",
    "09_attention_maps",
    "10_speed",
]
MAX_LINES = 30


def exercise_cells(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]


def refused_by_name(tree):
    """The `raise TypeError(...)` / `raise ValueError(...)` statements anywhere in the code."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in ("TypeError", "ValueError"):
                yield node.lineno


@pytest.mark.parametrize("name", IDEA_FIRST)
def test_every_exercise_cell_is_one_short_function_with_no_guards(name):
    cells = exercise_cells(name)
    assert cells, f"{name} has no exercise cells"
    for i, source in cells:
        lines = source.rstrip("\n").split("\n")
        assert len(lines) <= MAX_LINES, f"{name}, cell {i}: {len(lines)} lines, more than {MAX_LINES}"
        code = "\n".join(line for line in lines if not line.startswith("#|"))
        tree = ast.parse(code)
        defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert len(defs) == 1 and isinstance(defs[0], ast.FunctionDef), (
            f"{name}, cell {i}: holds {[d.name for d in defs]}, not the one function to write"
        )
        assert len(tree.body) == 1, f"{name}, cell {i}: holds code besides {defs[0].name}"
        assert not list(refused_by_name(tree)), f"{name}, cell {i}: guard code in an exercise cell"


def test_the_measure_catches_a_guard_a_second_function_and_a_long_cell():
    guarded = "def f(x):\n    if x is None:\n        raise TypeError('x')\n    return x"
    assert list(refused_by_name(ast.parse(guarded))) == [3]
    assert not list(refused_by_name(ast.parse("def f(x):\n    raise NotImplementedError")))
