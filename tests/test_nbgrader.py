"""nbgrader, for real (issue 31): the solved notebooks carry nbgrader's cell metadata, `nbgrader
generate_assignment` releases exactly the exercise edition, `nbgrader autograde` scores each
exercise by its check cell (all points for the solutions, none for the stubs, one exercise's
for one planted bug), and `make progress` gives the same verdicts; the notebooks find their data
from any working folder (nbgrader runs them in autograded/<student>/<assignment>/)."""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from bytetrans_lib import tokenizer
from bytetrans_lib.exercises import DONE, NOT_DONE, WRONG, check, edition, nbgrading

NOTEBOOKS = ROOT / "notebooks"
ROUND_TRIP = ["01_bytes.ipynb", "02_linear.ipynb"]  # the two fastest notebooks
ASSIGNMENT = "week1"


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(s[3:]) if s.startswith("md:") else nbformat.v4.new_code_cell(s) for s in cells
    ]
    return json.loads(nbformat.writes(nb))


SOLUTION = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"


def test_stamp_marks_the_solution_and_check_cells_and_no_other_cell():
    nb = _nb(
        "md:**Exercise 01.1 · `f`.**",
        SOLUTION,
        'f = check("01.1", f)',
        "y = 2",
        SOLUTION.replace("f(", "g("),
        SOLUTION.replace("f(", "h("),
        'g, h = check("01.2", (g, h))',
    )
    nb["cells"][3]["metadata"]["nbgrader"] = {"grade": True, "grade_id": "stale", "points": 3}  # not a check cell
    before = copy.deepcopy(nb)
    stamped = nbgrading.stamp(nb)
    assert nb == before  # a new dict: the input is left as it was
    meta = [c["metadata"].get("nbgrader") for c in stamped["cells"]]
    assert meta[0] is None and meta[3] is None
    assert meta[1] == {
        "grade": False,
        "grade_id": "exercise_01_1_solution",
        "locked": False,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }
    assert meta[2] == {
        "grade": True,
        "grade_id": "exercise_01_1",
        "locked": True,
        "points": 1,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    assert [m["grade_id"] for m in meta[4:]] == ["exercise_01_2_solution", "exercise_01_2_solution_2", "exercise_01_2"]
    assert nbgrading.stamp(stamped) == stamped  # idempotent
    stamped["cells"][2]["metadata"]["nbgrader"]["points"] = 2.5  # an instructor weighs an exercise
    assert nbgrading.stamp(stamped)["cells"][2]["metadata"]["nbgrader"]["points"] == 2.5


@pytest.mark.parametrize(
    "cells, message",
    [
        ((SOLUTION,), "cell 1: a solution with no check cell after it"),
        ((SOLUTION + '\nf = check("01.1", f)',), "the check of exercise 01.1 is in a solution cell"),
        (("md:Write it between `### BEGIN SOLUTION` and `### END SOLUTION`.",), "a markdown cell holds"),
        (('x = "BEGIN SOLUTION"',), "is not a `### BEGIN SOLUTION` or `### END SOLUTION` line"),
        ((SOLUTION, 'f = check("01.1", f)', 'f = check("01.1", f)'), "exercise 01.1 is checked a second time"),
        (('f, g = check("01.1", f), check("01.2", g)',), "one cell checks several exercises (01.1, 01.2)"),
    ],
)
def test_stamp_refuses_what_nbgrader_would_read_otherwise_than_the_course(cells, message):
    with pytest.raises(nbgrading.MetadataError, match=re.escape(message)):
        nbgrading.stamp(_nb(*cells), "notebooks/01_x.ipynb")


def test_every_solved_notebook_is_stamped_and_the_exercise_edition_carries_the_stamp():
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        solved = json.loads(path.read_text(encoding="utf-8"))
        stamped = nbgrading.stamp(solved, path.name)
        made = edition.exercise_notebook(solved, path.name)
        checks = {nbgrading.exercise_of_check(c) for c in solved["cells"]} - {None}
        grades = [c["metadata"]["nbgrader"] for c in stamped["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
        assert sorted(m["grade_id"] for m in grades) == sorted(nbgrading.grade_id(i) for i in checks), path.name
        for before, cell in zip(stamped["cells"], made["cells"]):
            meta = cell["metadata"].get("nbgrader")
            assert (meta is None) == ("nbgrader" not in before["metadata"]), path.name
            if meta:  # the release's: the stamp, and the checksum of the stub
                assert meta == dict(before["metadata"]["nbgrader"], checksum=nbgrading.checksum(cell), cell_type="code")


def test_the_solved_notebooks_carry_nbgraders_metadata():
    assert edition.main(["metadata", "--check"]) == 0, "run `python -m bytetrans_lib.exercises.edition metadata`"


def test_the_metadata_command_stamps_the_solved_notebooks_and_check_names_the_unstamped(tmp_path, capsys):
    for name in ROUND_TRIP:
        solved = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
        for cell in solved["cells"]:
            cell["metadata"].pop("nbgrader", None)
        (tmp_path / name).write_text(edition.dumps(solved), encoding="utf-8")
    assert edition.main(["metadata", "--check", "--notebooks", str(tmp_path)]) == 1
    assert f"{tmp_path.name}/01_bytes.ipynb: lacks nbgrader's cell metadata" in capsys.readouterr().out
    assert edition.main(["metadata", "--notebooks", str(tmp_path)]) == 0
    assert edition.main(["metadata", "--check", "--notebooks", str(tmp_path)]) == 0
    for name in ROUND_TRIP:
        solved = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
        stamped = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        assert [c["source"] for c in stamped["cells"]] == [c["source"] for c in solved["cells"]]
        assert stamped == nbgrading.stamp(solved)


def test_the_checksum_is_nbgraders():
    import nbgrader.utils as utils  # a test dependency ([dev]): never skipped

    made = edition.exercise_notebook(json.loads((NOTEBOOKS / "02_linear.ipynb").read_text(encoding="utf-8")), "02")
    cells = [
        nbformat.from_dict(dict(c, source="".join(c["source"]))) for c in made["cells"] if "nbgrader" in c["metadata"]
    ]
    assert cells and all(utils.compute_checksum(c) == c.metadata.nbgrader.checksum for c in cells)


# --- check under nbgrader: an error in the cell, and the reference for the rest ---------------


def _stub(ids):
    # YOUR CODE HERE
    raise NotImplementedError()


def _noisy_but_right(ids):
    print("a warning from the learner's code", file=sys.stderr)  # as warnings.warn writes in a kernel
    return tokenizer.decode(ids)


@pytest.mark.parametrize("execution", ["autograde", "validate"])
def test_under_nbgrader_a_check_that_fails_shows_an_error_and_still_gives_the_reference(execution, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", execution)
    assert check("01.2", _stub) is tokenizer.decode
    out, err = capsys.readouterr()
    assert out.startswith("○ Exercise 01.2, decode: not done yet.")
    assert err == "NotPassed: exercise 01.2 (decode) is not done yet: The stub still raises NotImplementedError\n"
    assert check("01.2", _noisy_but_right) is _noisy_but_right
    out, err = capsys.readouterr()  # nbgrader scores a cell with stderr 0: the warning goes to stdout
    assert "a warning from the learner's code" in out and "01.2, decode: done" in out and err == ""


def test_outside_nbgrader_a_check_that_fails_only_says_so():
    for execution in (None, "", "something else"):
        env = dict(os.environ)
        env.pop("NBGRADER_EXECUTION", None)
        if execution is not None:
            env["NBGRADER_EXECUTION"] = execution
        code = "from bytetrans_lib.exercises import check\ncheck('01.2', lambda ids: 1 / 0)"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert done.stdout.startswith("✗ Exercise 01.2, decode: wrong. It raised ZeroDivisionError") and not done.stderr


# --- the round trip: generate_assignment, autograde, the gradebook, and make progress ------------


def _nbgrader(course, *args):
    """`nbgrader ARGS` in the course folder, as an instructor types it (its alembic on the PATH)."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("NBGRADER_EXECUTION", None)
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _solved(release: dict, source: dict, bug=None) -> dict:
    """What a learner who solved every exercise hands in: the release, each solution cell
    holding the course's solution without its markers (or, for bug = (grade id, body), that body
    in place of the stub)."""
    nb = copy.deepcopy(release)
    solutions = {c["metadata"]["nbgrader"]["grade_id"]: c for c in source["cells"] if "nbgrader" in c["metadata"]}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if bug and meta["grade_id"] == bug[0]:
            stubbed = "".join(cell["source"])
            assert stubbed.count("    # YOUR CODE HERE\n    raise NotImplementedError()") == 1
            cell["source"] = stubbed.replace("    # YOUR CODE HERE\n    raise NotImplementedError()", bug[1])
        else:
            cell["source"] = [line for line in solutions[meta["grade_id"]]["source"] if "SOLUTION" not in line]
    return nb


# Exercise 01.2's decode, forgetting to stop at EOS
DECODE_BUG = (
    "exercise_01_2_solution",
    "    ids = np.asarray(ids)\n    return ids[ids < N_BYTES].astype(np.uint8).tobytes().decode('utf-8', 'replace')",
)


def test_nbgrader_releases_the_exercise_edition_and_autograde_scores_as_make_progress_reports(tmp_path):
    from nbgrader.api import Gradebook  # a test dependency ([dev]): never skipped

    course = tmp_path / "course"
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for name in ROUND_TRIP:
        shutil.copy(NOTEBOOKS / name, source / name)  # as committed: with nbgrader's metadata
    _nbgrader(course, "generate_assignment", ASSIGNMENT)  # no flags, no nbgrader_config.py

    sources, releases = {}, {}
    for name in ROUND_TRIP:
        sources[name] = json.loads((source / name).read_text(encoding="utf-8"))
        releases[name] = json.loads((course / "release" / ASSIGNMENT / name).read_text(encoding="utf-8"))
        made = edition.exercise_notebook(sources[name], f"notebooks/{name}")
        del made["metadata"]["bytetrans_exercises"]  # our fingerprint of the cells as made: all that differs
        assert made == releases[name], f"nbgrader's release of {name} is not the exercise edition"

    students = {"solved": {}, "untouched": {}, "one_bug": {}}
    for name in ROUND_TRIP:
        students["solved"][name] = _solved(releases[name], sources[name])
        students["untouched"][name] = releases[name]
        students["one_bug"][name] = _solved(
            releases[name], sources[name], DECODE_BUG if name == "01_bytes.ipynb" else None
        )
    for student, notebooks in students.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, nb in notebooks.items():
            (folder / name).write_text(edition.dumps(nb), encoding="utf-8")
    _nbgrader(course, "autograde", ASSIGNMENT)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {
            student: {
                grade.name: (grade.score, grade.max_score)
                for notebook in gb.find_submission(ASSIGNMENT, student).notebooks
                for grade in notebook.grades
            }
            for student in students
        }
        totals = {student: gb.find_submission(ASSIGNMENT, student).score for student in students}
    exercise_ids = sorted({nbgrading.exercise_of_check(c) for nb in sources.values() for c in nb["cells"]} - {None})
    every = {nbgrading.grade_id(i) for i in exercise_ids}
    assert set(scores["solved"]) == every and all(s == m == 1 for s, m in scores["solved"].values())
    assert all(s == 0 for s, _ in scores["untouched"].values())
    assert {g for g, (s, m) in scores["one_bug"].items() if s != m} == {"exercise_01_2"}
    assert totals == {"solved": len(every), "untouched": 0, "one_bug": len(every) - 1}

    # make progress on the same notebooks: the same verdict for every exercise
    verdicts = {}
    for student in students:
        rows = edition.progress(course / "submitted" / student / ASSIGNMENT)
        verdicts[student] = {row[1].split()[0]: row[2] for row in rows}
        assert sorted(verdicts[student]) == exercise_ids, rows  # and no "(the notebook)" error row
        graded = {i: scores[student][nbgrading.grade_id(i)] for i in exercise_ids}
        assert {i: v == DONE for i, v in verdicts[student].items()} == {i: s == m for i, (s, m) in graded.items()}
    assert set(verdicts["untouched"].values()) == {NOT_DONE}
    assert [i for i, v in verdicts["one_bug"].items() if v != DONE] == ["01.2"] and verdicts["one_bug"]["01.2"] == WRONG

    # what a learner sees with nbgrader's Validate: the one failing check, by its cell
    said = _nbgrader(course, "validate", str(Path("submitted", "one_bug", ASSIGNMENT, "01_bytes.ipynb")))
    assert "VALIDATION FAILED ON 1 CELL(S)!" in said and 'decode = check("01.2", decode)' in said, said
    assert "NotPassed: exercise 01.2 (decode) is wrong" in said


# --- the data paths: the same from any working folder ----------------------------------------


def test_the_data_paths_do_not_depend_on_the_kernels_working_folder(tmp_path):
    """Notebook 07's PROJECT_ROOT cell, run as a kernel runs it (no __file__), and the library's
    data paths, from a folder far from the project: nbgrader runs a notebook in
    autograded/<student>/<assignment>/."""
    cell = next(
        "".join(c["source"])
        for c in json.loads((NOTEBOOKS / "07_data.ipynb").read_text(encoding="utf-8"))["cells"]
        if "PROJECT_ROOT = _project_root()" in "".join(c["source"])
    )
    code = (
        f"namespace = {{}}\nexec({cell!r}, namespace)\nprint(namespace['PROJECT_ROOT'])\n"
        "import bytetrans_lib as bt\n"
        "for path in (bt.LEXICON_PATH, bt.CORPUS_PATH, bt.DEFAULT_MODEL, bt.EVERYDAY_MODEL):\n"
        "    print(path, path.is_file())\n"
    )
    elsewhere = tmp_path / "autograded" / "alice" / "week1"
    elsewhere.mkdir(parents=True)
    out = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert Path(lines[0]) == ROOT.resolve()
    data = ROOT.resolve() / "data"
    assert lines[1:] == [
        f"{data / name} True"
        for name in ("lexicon.txt", "synthetic-en-fr.tsv", "bytetrans-en-fr.npz", "bytetrans-everyday.npz")
    ]
