"""The exercise edition's checks (written by hand, like exporter.py; no notebook exports them).

In `exercises/`, each exercise's solution is a stub, and the cell right after it hands the
learner's code to `check`:

    from bytetrans_lib.exercises import check
    decode = check("01.2", decode)

`check` runs the exercise's tests and prints one line: done, wrong (saying which quantity is
wrong and where) or not done yet (the stub still raises NotImplementedError). It returns the
learner's code when it is right and the course's reference otherwise, so that the rest of the
notebook, and every later notebook, keeps running. (An exercise registered with `keep_reference`
leaves the learner a choice, such as the order of a shuffle, that the notebook's later outputs
depend on: there `check` returns the reference even for right code, and says why.) In
`notebooks/` the same cell checks the solution. An autograder can call `run(exercise_id,
candidate)`, which returns the status and the message without printing. `python -m
bytetrans_lib.exercises.edition` makes the exercise edition (make exercises) and reports a
learner's progress (make progress).

Under nbgrader (its autograder or validator, which set NBGRADER_EXECUTION), each check cell is a
grade cell (nbgrading.py): an exercise that is not done also puts an error in its cell, which
nbgrader scores 0, and the notebook still goes on with the course's reference, so that a wrong
exercise costs its own points and no other exercise's.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DONE, WRONG, NOT_DONE = "done", "wrong", "not done yet"
SYMBOL = {DONE: "✓", WRONG: "✗", NOT_DONE: "○"}


class Wrong(AssertionError):
    """What a check found wrong: the message names the quantity, the size of the error and where."""


@dataclass(frozen=True)
class Exercise:
    id: str  # "02.2": notebook 02, its second exercise
    title: str  # what the learner writes, e.g. "Linear.backward"
    test: Callable  # test(candidate) raises Wrong, NotImplementedError or returns None
    reference: Callable  # reference() -> what the notebook uses when the candidate is not right
    uses: str  # how the message names the reference, e.g. "the library's Linear"
    method: str | None = None  # set for a method of a notebook's class: reference() is that method
    keep_reference: str | None = None  # set when right code is not used either: why (see exercise)


EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id, title, *, reference, uses, method=None, keep_reference=None):
    """Register the decorated function as the test of exercise `exercise_id`.

    reference() returns what the notebook uses instead of a candidate that is not right. With
    `method`, the exercise is one method of a class the notebook defines (for instance notebook
    02's `Linear`, built on the notebook's own `Module`): reference() is then the course's version
    of that method, and the notebook keeps its own class with that method replaced, so that
    everything else about the class (its base, its other methods) stays the learner's.

    With `keep_reference`, a clause saying why ("so that ..."), the notebook uses the reference
    even when the candidate is right: for an exercise whose right answers differ in a detail
    (say, which shuffle) that the notebook's later outputs depend on.
    """

    def register(test):
        if exercise_id in EXERCISES:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        EXERCISES[exercise_id] = Exercise(exercise_id, title, test, reference, uses, method, keep_reference)
        return test

    return register


def _load():
    """Import every check module of this package (nb01.py, nb02.py, ...: one per notebook)."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if re.fullmatch(r"nb\d\d", module.name):
            importlib.import_module(f"{__name__}.{module.name}")


def get(exercise_id) -> Exercise:
    _load()
    if exercise_id not in EXERCISES:
        raise KeyError(f"no exercise {exercise_id!r}; the exercises are {', '.join(sorted(EXERCISES))}")
    return EXERCISES[exercise_id]


def run(exercise_id, candidate) -> tuple[str, str]:
    """(status, message) of `candidate` for exercise `exercise_id`; prints nothing."""
    ex = get(exercise_id)
    try:
        ex.test(candidate)
    except NotImplementedError:
        return NOT_DONE, "The stub still raises NotImplementedError"
    except Wrong as e:
        return WRONG, str(e)
    except Exception as e:  # the learner's code crashed: say where it crashed, as a wrong answer
        return WRONG, f"It raised {type(e).__name__}: {e}"
    return DONE, ""


def status_line(exercise_id, status, message) -> str:
    """The line `check` prints (and `make progress` reads back)."""
    ex = get(exercise_id)
    line = f"{SYMBOL[status]} Exercise {ex.id}, {ex.title}: {status}."
    if status == DONE and ex.keep_reference:
        return f"{line} Your code is right; the rest of this notebook uses {ex.uses} all the same, {ex.keep_reference}."
    if status == DONE:
        return line + " The rest of this notebook uses your code."
    return f"{line} {message}. The rest of this notebook uses {ex.uses}, so that it keeps running."


def fallback(exercise_id, candidate):
    """What the notebook uses when `candidate` is not right: the course's version."""
    ex = get(exercise_id)
    if ex.method is None:
        return ex.reference()
    if not isinstance(candidate, type):
        raise TypeError(f"check({exercise_id!r}, ...) expects the class whose {ex.method} you wrote, got {candidate!r}")
    return type(candidate.__name__, (candidate,), {ex.method: ex.reference(), "__module__": candidate.__module__})


class NotPassed(AssertionError):
    """What nbgrader records in the check cell of an exercise that is not done (wrong or not started)."""


def grading() -> bool:
    """True while nbgrader's autograder or validator runs the notebook: both set the kernel's
    NBGRADER_EXECUTION, to "autograde" or "validate" (nbgrader's FAQ: "Can I modify the notebook
    behavior during autograding or validation?")."""
    return os.environ.get("NBGRADER_EXECUTION") in ("autograde", "validate")


def check(exercise_id, candidate):
    """Test the learner's `candidate`, print the verdict, and return what the notebook should use.

    Under nbgrader (`grading()`), an exercise that is not done also shows an error in this cell,
    without raising it, so that nbgrader scores the cell 0 and the notebook runs on with what this
    returns; and what the test writes to stderr (a warning) goes to stdout instead, since nbgrader
    also scores a cell with stderr output 0."""
    with contextlib.redirect_stderr(sys.stdout) if grading() else contextlib.nullcontext():
        status, message = run(exercise_id, candidate)
    line = status_line(exercise_id, status, message)
    print(line)
    used = candidate if status == DONE and not get(exercise_id).keep_reference else fallback(exercise_id, candidate)
    if status != DONE and grading():
        ex = get(exercise_id)
        _show_error(NotPassed(f"exercise {ex.id} ({ex.title}) is {status}: {message}"))
    return used


def _show_error(error):
    """Show `error` as the running cell's error output (what nbgrader reads as a failed grade cell)
    without raising it: with IPython's showtraceback, or on stderr outside IPython."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
    else:
        shell.showtraceback((type(error), error, None))  # no traceback: the error is the verdict


# --- what the checks share ------------------------------------------------------------


def where(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def compare(name, got, expected, *, rtol=1e-7, atol=1e-9) -> str | None:
    """None if `got` matches `expected`, else what is wrong with it (shape, dtype or values)."""
    expected = np.asarray(expected)
    if not isinstance(got, np.ndarray | np.generic | list | tuple | int | float):
        return f"{name} is a {type(got).__name__}, expected an array of shape {expected.shape}"
    got = np.asarray(got)
    if got.shape != expected.shape:
        return f"{name} has shape {got.shape}, expected {expected.shape}"
    if expected.dtype == bool and got.dtype != bool:
        return f"{name} has dtype {got.dtype}, expected bool"
    if expected.dtype.kind in "iu" and got.dtype.kind not in "iu":
        return f"{name} has dtype {got.dtype}, expected integers ({expected.dtype})"
    if expected.dtype == bool or expected.dtype.kind in "iu":
        bad = np.argwhere(got != expected)
        if bad.size:
            i = tuple(bad[0])
            return f"{name} is wrong at {name}{where(i)}: {got[i].item()!r}, expected {expected[i].item()!r} ({len(bad)} of {got.size} entries differ)"
        return None
    got, expected = got.astype(np.float64), expected.astype(np.float64)
    if not np.isfinite(got).all():
        i = tuple(np.argwhere(~np.isfinite(got))[0])
        return f"{name} has a non-finite entry at {name}{where(i)}: {got[i]}"
    err = np.abs(got - expected) / np.maximum(atol, np.abs(got) + np.abs(expected))
    if (np.abs(got - expected) > atol + rtol * np.abs(expected)).any():
        i = np.unravel_index(np.argmax(err), err.shape)
        return f"{name} is wrong (max relative error {err[i]:.2g} at {name}{where(i)}: {got[i]:.6g}, expected {expected[i]:.6g})"
    return None


def report(parts: dict, hints: dict | None = None) -> None:
    """Compare several named results at once: raise Wrong naming the wrong ones and the right ones.

    parts: name -> (got, expected); hints: name -> a question for when that part is wrong.
    """
    problems = {name: compare(name, got, expected) for name, (got, expected) in parts.items()}
    wrong = [name for name, p in problems.items() if p]
    if not wrong:
        return
    right = [name for name in parts if name not in wrong]
    message = "; ".join(problems[name] for name in wrong)
    if right:
        message += f"; {_and(right)} {'is' if len(right) == 1 else 'are'} right"
    hint = next(((hints or {}).get(name) for name in wrong if (hints or {}).get(name)), None)
    raise Wrong(message + (f" ({hint})" if hint else ""))


def _and(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
