"""The exercise edition (issue 15): exercises/ is made from notebooks/, every check says exactly
what is wrong, an unsolved notebook still runs to its end, and make progress reports honestly."""

import hashlib
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT

from bytetrans_lib import exercises, exporter, tokenizer
from bytetrans_lib.exercises import DONE, NOT_DONE, WRONG, edition

NOTEBOOKS, EXERCISES = ROOT / "notebooks", ROOT / "exercises"


def test_committed_exercises_equal_a_fresh_make_exercises():
    assert edition.differences(edition.build()) == [], "run `make exercises`"


def _check_calls(folder):
    """exercise id -> (notebook, index of the check cell) for every check("NN.k", ...) cell."""
    calls = {}
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            for m in re.finditer(r'check\("(\d\d\.\d+)"', "".join(cell["source"])):
                assert m[1] not in calls, f"exercise {m[1]} is checked twice"
                calls[m[1]] = (path.name, i)
    return calls


def test_every_exercise_has_one_check_cell_in_its_notebook_right_after_its_solution():
    exercises._load()
    calls = _check_calls(NOTEBOOKS)
    assert set(calls) == set(exercises.EXERCISES)
    for exercise_id, (name, index) in calls.items():
        assert name.startswith(exercise_id[:2]), (exercise_id, name)
        cells = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"]
        before = ["".join(c["source"]) for c in cells[max(0, index - 3) : index]]
        assert any("### BEGIN SOLUTION" in s for s in before), f"{exercise_id}: no solution just before its check"


def test_every_notebook_with_exercises_has_hints_and_a_predict_then_run_question():
    for name in sorted({n for n, _ in _check_calls(NOTEBOOKS).values()}):
        text = "".join("".join(c["source"]) for c in json.loads((NOTEBOOKS / name).read_text())["cells"])
        assert "**Predict, then run.**" in text and "<summary>Answer</summary>" in text, name
        assert text.count("<summary>Hint 1</summary>") == len(re.findall(r'check\("\d\d\.\d+"', text)), name


def test_every_exercise_is_introduced_by_its_own_cell_with_at_least_two_graded_hints():
    """Hint 1 a nudge, the last close to the answer: at least two, numbered in order, in the
    markdown cell that says "**Exercise NN.k" (issue 31); and the course has at least 40."""
    calls = _check_calls(NOTEBOOKS)
    assert len(calls) >= 40, f"{len(calls)} exercises"
    for exercise_id, (name, index) in sorted(calls.items()):
        cells = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"]
        intro = [
            "".join(c["source"])
            for c in cells[:index]
            if c["cell_type"] == "markdown" and f"**Exercise {exercise_id} " in "".join(c["source"])
        ]
        assert len(intro) == 1, f"{exercise_id}: {len(intro)} cells introduce it"
        hints = [int(n) for n in re.findall(r"<summary>Hint (\d+)</summary>", intro[0])]
        assert len(hints) >= 2 and hints == list(range(1, len(hints) + 1)), f"{exercise_id}: hints {hints}"


def test_the_exercise_edition_has_stubs_and_no_outputs_and_the_library_no_markers():
    for path in sorted(EXERCISES.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        text = "".join("".join(c["source"]) for c in nb["cells"])
        assert "SOLUTION" not in text, path.name
        assert all(
            not c.get("outputs") and c.get("execution_count") is None for c in nb["cells"] if c["cell_type"] == "code"
        )
    stubs = (EXERCISES / "02_linear.ipynb").read_text(encoding="utf-8")
    assert stubs.count("# YOUR CODE HERE") == 4 and stubs.count("raise NotImplementedError") >= 3
    for path in (ROOT / "bytetrans_lib").glob("*.py"):
        assert "SOLUTION" not in path.read_text(encoding="utf-8") or path.name == "exporter.py", path.name


def test_stub_replaces_a_solution_region_at_its_indentation_as_nbgrader_does():
    source = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\n\ny = 2'
    assert (
        edition.stub(source, "here")
        == 'def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\n\ny = 2'
    )
    for bad, message in [
        ("### BEGIN SOLUTION\nx = 1", "BEGIN SOLUTION without an END SOLUTION"),
        ("x = 1\n### END SOLUTION", "line 2: END SOLUTION without a BEGIN SOLUTION"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "line 2: BEGIN SOLUTION inside another"),
    ]:
        with pytest.raises(edition.EditionError, match=message):
            edition.stub(bad, "notebooks/x.ipynb, cell 3")


def test_the_exporter_leaves_the_solution_markers_out_of_the_library(tmp_path):
    (tmp_path / "notebooks").mkdir()
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T")])
    nb.cells += [
        nbformat.v4.new_code_cell("#| default_exp alpha"),
        nbformat.v4.new_code_cell(
            "#| export\ndef f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"
        ),
    ]
    nbformat.write(nb, tmp_path / "notebooks" / "01_a.ipynb")
    text = exporter.build(tmp_path / "notebooks", tmp_path)["alpha.py"]
    assert "def f(x):\n    return x + 1\n" in text and "SOLUTION" not in text


# --- every check: the solution passes, a stub is "not done", planted bugs are named ----------


def _cases():
    """STUBS, BUGS and ACCEPTED (correct solutions written another way than the course's) of every
    tests/exercise_cases_NN.py: one module per notebook with exercises."""
    stubs, bugs, accepted = {}, [], []
    for path in sorted(Path(__file__).parent.glob("exercise_cases_[0-9][0-9].py")):
        module = importlib.import_module(path.stem)
        stubs.update(module.STUBS)
        bugs += module.BUGS
        accepted += getattr(module, "ACCEPTED", [])
    return stubs, bugs, accepted


STUBS, BUGS, ACCEPTED = _cases()


def test_every_exercise_is_listed_here_with_a_stub_and_planted_bugs():
    exercises._load()
    assert set(STUBS) == set(exercises.EXERCISES) == {exercise_id for exercise_id, _, _ in BUGS}


@pytest.mark.parametrize("exercise_id", sorted(STUBS))
def test_a_stub_is_not_done_and_what_the_notebook_falls_back_to_passes_the_check(exercise_id, capsys):
    ex, stub = exercises.get(exercise_id), STUBS[exercise_id]
    assert exercises.run(exercise_id, stub)[0] == NOT_DONE
    used = exercises.check(exercise_id, stub)
    line = capsys.readouterr().out.strip()
    assert line.startswith(
        f"○ Exercise {exercise_id}, {ex.title}: not done yet. The stub still raises NotImplementedError."
    )
    assert line.endswith(f"The rest of this notebook uses {ex.uses}, so that it keeps running.")
    assert exercises.run(exercise_id, used) == (DONE, "")
    if ex.method is None:
        assert used is ex.reference()
    else:  # the notebook keeps its own class, with the course's method in place of the stub
        # (a forward or backward comes wrapped with its checks at the door: compare what is inside)
        assert issubclass(used, stub)
        assert inspect.unwrap(getattr(used, ex.method)) is inspect.unwrap(ex.reference())


@pytest.mark.parametrize("exercise_id, bug, named", BUGS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BUGS)])
def test_a_planted_bug_fails_its_check_with_a_message_that_names_the_wrong_quantity(exercise_id, bug, named):
    status, message = exercises.run(exercise_id, bug)
    assert status == WRONG and named in message, message


@pytest.mark.parametrize("exercise_id, solution", ACCEPTED, ids=[f"{a[0]}-{i}" for i, a in enumerate(ACCEPTED)])
def test_a_correct_solution_written_another_way_is_accepted(exercise_id, solution):
    assert exercises.run(exercise_id, solution) == (DONE, "")


def test_a_check_that_crashes_is_wrong_not_an_error_and_the_notebook_gets_the_reference(capsys):
    def crashes(ids):
        return ids.nonexistent

    assert exercises.check("01.2", crashes) is tokenizer.decode
    out = capsys.readouterr().out
    assert out.startswith("✗ Exercise 01.2, decode: wrong. It raised AttributeError: ")
    assert out.strip().endswith("The rest of this notebook uses the library's decode, so that it keeps running.")
    with pytest.raises(KeyError, match="no exercise '99.9'"):
        exercises.run("99.9", crashes)


# --- the exercise notebooks run, make progress reports, make exercises keeps a learner's work -----


def _with_exercises(folder):
    """Exercise notebooks that hold at least one stub (the others are notebooks/ without outputs)."""
    return [p for p in sorted(folder.glob("*.ipynb")) if "# YOUR CODE HERE" in p.read_text(encoding="utf-8")]


def test_unsolved_exercise_notebooks_run_to_the_end_on_the_reference():
    names = [path.name for path in _with_exercises(EXERCISES)]
    before = {name: (EXERCISES / name).read_bytes() for name in names}
    rows = edition.progress(EXERCISES, names=names)  # in place: the notebooks read ../data
    assert rows and all(status == NOT_DONE for _, _, status, _ in rows), [r for r in rows if r[2] != NOT_DONE]
    assert {row[1].split()[0] for row in rows} == set(_check_calls(EXERCISES))
    assert {name: (EXERCISES / name).read_bytes() for name in names} == before  # read, never written


def test_make_progress_reports_done_wrong_and_not_started_and_never_writes_the_notebooks(tmp_path, capsys):
    solved = json.loads((NOTEBOOKS / "01_bytes.ipynb").read_text(encoding="utf-8"))
    mine = json.loads((EXERCISES / "01_bytes.ipynb").read_text(encoding="utf-8"))
    for i, cell in enumerate(solved["cells"]):
        source = "".join(cell["source"])
        if "def utf8_bytes" in source:  # solved: the solution, without its markers
            mine["cells"][i]["source"] = [line for line in cell["source"] if "SOLUTION" not in line]
        if "def decode" in source:  # wrong: forgets to stop at EOS
            stubbed = "".join(mine["cells"][i]["source"])
            wrong = "ids = np.asarray(ids)\n    return ids[ids < N_BYTES].astype(np.uint8).tobytes().decode('utf-8', 'replace')"
            mine["cells"][i]["source"] = stubbed.replace("# YOUR CODE HERE\n    raise NotImplementedError()", wrong)
    path = tmp_path / "01_bytes.ipynb"
    path.write_text(json.dumps(mine, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    assert edition.main(["progress", "--folder", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert lines[0].split() == ["notebook", "exercise", "status"]
    assert lines[1].split() == ["01_bytes", "01.1", "utf8_bytes", "done"]
    assert lines[2] == (
        "01_bytes  01.2 decode        wrong (decode([104, 258, 105, 106]) gave 'hij', expected 'h': "
        "everything after the first EOS must be dropped)"
    )
    assert lines[3].split() == ["01_bytes", "01.3", "pad_batch", "not", "done", "yet"]
    assert lines[4].split() == ["01_bytes", "01.4", "_target_mask", "not", "done", "yet"]
    assert lines[5] == "1 of 4 exercises done"


def test_make_exercises_never_replaces_a_notebook_a_learner_has_edited(tmp_path, capsys):
    files = edition.build()
    assert edition.write(files, tmp_path) == sorted(files)  # a fresh folder: everything written
    assert edition.write(files, tmp_path) == []  # nothing changed: nothing written
    path = tmp_path / "01_bytes.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = ["my notes\n"]
    edited = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    path.write_text(edited, encoding="utf-8")
    with pytest.raises(FileExistsError, match=r"would replace work in exercises/01_bytes.ipynb"):
        edition.write(files, tmp_path)
    assert path.read_text(encoding="utf-8") == edited
    assert edition.main(["make", "--folder", str(tmp_path)]) == 1
    assert "edition make: make exercises would replace work" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == edited
    ran = json.loads(files["02_linear.ipynb"])  # outputs only (a learner ran it): not an edit
    ran["cells"][5]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    assert not edition.edited_by_learner(_write(tmp_path / "ran.ipynb", ran))
    with pytest.raises(FileExistsError, match="the solved edition this is made from"):
        edition.write(files, NOTEBOOKS, force=True)  # never over its own input, even when forced
    assert edition.write(files, tmp_path, force=True) == ["01_bytes.ipynb"]
    assert path.read_text(encoding="utf-8") == files["01_bytes.ipynb"]


def _write(path, nb):
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_make_progress_reports_a_notebook_that_stops_with_an_error_even_after_its_last_check(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from bytetrans_lib.exercises import check"),
        nbformat.v4.new_code_cell("def _target_mask(ids):\n    raise NotImplementedError"),
        nbformat.v4.new_code_cell('_target_mask = check("01.4", _target_mask)'),
        nbformat.v4.new_code_cell("1 / 0"),
        nbformat.v4.new_code_cell('pad_batch = check("01.3", None)'),
    ]
    nbformat.write(nb, tmp_path / "01_mine.ipynb")
    rows = edition.progress(tmp_path)
    assert [row[:3] for row in rows] == [
        ("01_mine", "01.4 _target_mask", NOT_DONE),
        ("01_mine", "01.3", "not run"),
        ("01_mine", "(the notebook)", "error"),
    ]
    assert rows[1][3].endswith("ZeroDivisionError: division by zero") and "before this check" in rows[1][3]
    assert rows[2][3] == "the notebook stopped with an error: ZeroDivisionError: division by zero"
