"""The exercise edition's checks (written by hand, like exporter.py; no notebook exports them).

In `exercises/`, each exercise's solution is a stub, and the cell right after it hands the
learner's code to `check`:

    from bytetrans_lib.exercises import check
    decode = check("01.2", decode)

`check` runs the exercise's tests and prints one line: done, wrong (saying which quantity is
wrong and where) or not done yet (the stub still raises NotImplementedError). It returns the
learner's code when it is right and the course's reference otherwise, so that the rest of the
notebook, and every later notebook, keeps running. In `notebooks/` the same cell checks the
solution. An autograder can call `run(exercise_id, candidate)`, which returns the status and
the message without printing. `python -m bytetrans_lib.exercises.edition` makes the exercise
edition (make exercises) and reports a learner's progress (make progress).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
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


EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id, title, *, reference, uses, method=None):
    """Register the decorated function as the test of exercise `exercise_id`.

    reference() returns what the notebook uses instead of a candidate that is not right. With
    `method`, the exercise is one method of a class the notebook defines (for instance notebook
    02's `Linear`, built on the notebook's own `Module`): reference() is then the course's version
    of that method, and the notebook keeps its own class with that method replaced, so that
    everything else about the class (its base, its other methods) stays the learner's.
    """

    def register(test):
        if exercise_id in EXERCISES:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        EXERCISES[exercise_id] = Exercise(exercise_id, title, test, reference, uses, method)
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


def check(exercise_id, candidate):
    """Test the learner's `candidate`, print the verdict, and return what the notebook should use."""
    status, message = run(exercise_id, candidate)
    print(status_line(exercise_id, status, message))
    return candidate if status == DONE else fallback(exercise_id, candidate)


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
