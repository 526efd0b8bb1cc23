"""nbgrader's cell metadata for the course's notebooks (written by hand, like exporter.py).

nbgrader (https://nbgrader.readthedocs.io, 0.9) grades a notebook by its cells' metadata,
`cell.metadata.nbgrader` (schema version 3). `stamp` gives a solved notebook exactly that:

- each code cell with a `### BEGIN SOLUTION` region is a solution cell ("Autograded answer" in
  nbgrader's toolbar), grade_id `exercise_NN_k_solution` (`..._solution_2` for an exercise's
  second solution cell): nbgrader replaces the region by its stub, as `make exercises` does;
- each check cell, `name = check("NN.k", name)`, is a locked grade cell ("Autograder tests"),
  grade_id `exercise_NN_k` (nbgrader's grade ids allow letters, digits, _ and -, no dots), worth
  POINTS (one point per exercise: each is one function of at most 30 lines; an instructor may
  give a cell other points in notebooks/, and stamp keeps them);
- no other cell carries nbgrader metadata.

A solution cell belongs to the first check cell after it. Under nbgrader's autograder and
validator, `check` records a failed exercise as an error in its check cell (see `check`), so the
cell scores 0 while the notebook runs on with the course's reference.

`release_cell_metadata` adds what `nbgrader generate_assignment` adds to a released cell (the
checksum of its source, its cell type, and the locks JupyterLab obeys), so that the exercise
edition, exercises/, carries the same nbgrader metadata as nbgrader's release.
"""

from __future__ import annotations

import copy
import hashlib
import re

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"  # nbgrader's delimiters (a line containing one)
MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*$")  # how the course writes them
CHECK = re.compile(r'\bcheck\("(\d\d)\.(\d+)"')
POINTS = 1
SCHEMA_VERSION = 3


class MetadataError(ValueError):
    """A notebook whose cells cannot be given nbgrader metadata (the message names the cell)."""


def grade_id(exercise_id: str) -> str:
    """nbgrader's id of exercise `exercise_id`'s check cell: "01.2" -> "exercise_01_2"."""
    return "exercise_" + exercise_id.replace(".", "_")


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def has_solution(cell) -> bool:
    """True if nbgrader would replace a solution region in `cell` (a line containing its delimiter)."""
    return any(BEGIN_SOLUTION in line for line in _source(cell).split("\n"))


def exercise_of_check(cell, where="") -> str | None:
    """The exercise id ("NN.k") if `cell` is the check cell of exercise NN.k, else None."""
    if cell["cell_type"] != "code":
        return None
    found = {f"{m[1]}.{m[2]}" for m in CHECK.finditer(_source(cell))}
    if len(found) > 1:
        raise MetadataError(f"{where}: one cell checks several exercises ({', '.join(sorted(found))})")
    return found.pop() if found else None


def solution_metadata(cell_grade_id: str) -> dict:
    return {
        "grade": False,
        "grade_id": cell_grade_id,
        "locked": False,
        "schema_version": SCHEMA_VERSION,
        "solution": True,
        "task": False,
    }


def grade_metadata(cell_grade_id: str, points: float = POINTS) -> dict:
    return {
        "grade": True,
        "grade_id": cell_grade_id,
        "locked": True,
        "points": points,
        "schema_version": SCHEMA_VERSION,
        "solution": False,
        "task": False,
    }


def _check_markers(cell, where):
    """Refuse what nbgrader and the course's stub would read differently: a line that holds a
    delimiter without being a `### BEGIN SOLUTION` / `### END SOLUTION` line, or one in a markdown cell."""
    for number, line in enumerate(_source(cell).split("\n"), start=1):
        if BEGIN_SOLUTION in line or END_SOLUTION in line:
            if cell["cell_type"] != "code":
                raise MetadataError(
                    f"{where}, line {number}: a {cell['cell_type']} cell holds {line.strip()!r}; nbgrader "
                    "would take it for a solution region (solutions are code cells in this course)"
                )
            if not MARKER.match(line):
                raise MetadataError(
                    f"{where}, line {number}: {line.strip()!r} holds a solution delimiter but is not a "
                    "`### BEGIN SOLUTION` or `### END SOLUTION` line (nbgrader would cut the cell there)"
                )


def stamp(nb: dict, where: str = "the notebook") -> dict:
    """`nb` (a notebook as a JSON dict) with nbgrader's metadata on its solution and check cells
    and on no other cell. Idempotent; keeps the points an instructor gave a check cell."""
    nb = copy.deepcopy(nb)
    pending = []  # solution cells waiting for their exercise's check cell
    seen = set()
    for number, cell in enumerate(nb["cells"], start=1):
        here = f"{where}, cell {number}"
        _check_markers(cell, here)
        metadata = cell.setdefault("metadata", {})
        old = metadata.pop("nbgrader", None) or {}
        exercise_id = exercise_of_check(cell, here)
        if exercise_id is not None:
            if has_solution(cell):
                raise MetadataError(f"{here}: the check of exercise {exercise_id} is in a solution cell")
            if exercise_id in seen:
                raise MetadataError(f"{here}: exercise {exercise_id} is checked a second time")
            seen.add(exercise_id)
            gid = grade_id(exercise_id)
            points = old["points"] if old.get("grade") and old.get("grade_id") == gid and "points" in old else POINTS
            metadata["nbgrader"] = grade_metadata(gid, points)
            cell["metadata"] = dict(sorted(metadata.items()))  # in the order nbformat writes keys
            for n, (_, solution) in enumerate(pending, start=1):
                solution["metadata"]["nbgrader"] = solution_metadata(gid + "_solution" + (f"_{n}" if n > 1 else ""))
                solution["metadata"] = dict(sorted(solution["metadata"].items()))
            pending = []
        elif has_solution(cell):
            pending.append((number, cell))
    if pending:
        raise MetadataError(f"{where}, cell {pending[0][0]}: a solution with no check cell after it")
    return nb


def checksum(cell) -> str:
    """nbgrader's checksum of a cell (nbgrader.utils.compute_checksum, which autograde and validate
    compare): MD5 of the source, the cell type, the grade/solution/locked flags, the grade id and,
    for a grade cell, its points."""
    meta = cell["metadata"]["nbgrader"]
    solution, grade = bool(meta.get("solution")), bool(meta.get("grade"))
    locked = False if solution else True if grade else bool(meta.get("locked"))
    m = hashlib.md5()
    for part in (_source(cell), cell["cell_type"], str(grade), str(solution), str(locked), meta["grade_id"]):
        m.update(part.encode("utf-8"))
    if grade:
        m.update(str(float(meta["points"])).encode("utf-8"))
    return m.hexdigest()


def release_cell_metadata(cell) -> None:
    """What `nbgrader generate_assignment` does to a cell's metadata after the stub replaced its
    solution (its LockCells, ClearOutput and ComputeChecksums steps), in place."""
    metadata = cell["metadata"]
    if cell["cell_type"] == "code":
        for field in ("collapsed", "scrolled"):  # nbconvert's ClearOutputPreprocessor drops them
            metadata.pop(field, None)
    meta = metadata.get("nbgrader")
    if not meta:
        return
    if meta.get("solution"):
        metadata["deletable"] = False
    elif meta.get("grade") or meta.get("locked"):
        metadata["deletable"], metadata["editable"] = False, False
    meta = dict(meta, checksum=checksum(cell), cell_type=cell["cell_type"])
    metadata["nbgrader"] = dict(sorted(meta.items()))  # in the order nbformat writes keys
    cell["metadata"] = dict(sorted(metadata.items()))
