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


MATH_FIRST = IDEA_FIRST[1:6]  # notebooks 02-06, the layers and the loss (01 has no layers)
GUARD_CALLS = ("as_numbers", "check_dout", "check_last_axis")
COMPUTING = ("forward", "backward", "attend", "keys_values", "step")  # the methods that hold the math


def _guards(function):
    """Line numbers of the guard code in a function: raises of TypeError/ValueError/RuntimeError,
    and calls of the shared input checks or of a `check_*` / `_check_*` helper."""
    for node in ast.walk(function):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in ("TypeError", "ValueError", "RuntimeError"):
                yield node.lineno
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in GUARD_CALLS or name.startswith(("check_", "_check_")):
                yield node.lineno


def _first_forward_and_backward(name):
    """(cell index, class name, method) for the first of each COMPUTING method shown of each class."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    seen = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        code = "\n".join(line for line in cell.source.split("\n") if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(code)
        methods = []
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                methods += [(node.name, m) for m in node.body if isinstance(m, ast.FunctionDef)]
            elif isinstance(node, ast.FunctionDef):
                for d in node.decorator_list:  # @patch_to(Class)
                    if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "patch_to" and d.args:
                        methods.append((ast.unparse(d.args[0]), node))
        for owner, method in methods:
            if method.name in COMPUTING and (owner, method.name) not in seen:
                seen.add((owner, method.name))
                yield i, owner, method


@pytest.mark.parametrize("name", MATH_FIRST)
def test_the_first_forward_and_backward_of_each_class_are_its_math_with_no_guards(name):
    shown = list(_first_forward_and_backward(name))
    assert shown, f"{name} shows no forward or backward"
    for i, owner, method in shown:
        guards = list(_guards(method))
        assert not guards, (
            f"{name}, cell {i}: {owner}.{method.name} checks its input (lines {guards}): move it to the door"
        )


def test_the_guard_measure_sees_raises_and_check_calls_but_not_the_math():
    tree = ast.parse(
        "def forward(self, x):\n    x = as_numbers(x, 'f', 'x')\n    if x.ndim != 2:\n"
        "        raise ValueError('x')\n    return x @ self.params['W']"
    )
    assert list(_guards(tree.body[0])) == [2, 4]
    assert not list(_guards(ast.parse("def backward(self, dout):\n    return dout * self.cache").body[0]))
