"""The exercise edition: make it from the solved notebooks, and report a learner's progress.

    python -m bytetrans_lib.exercises.edition make       # (make exercises) notebooks/ -> exercises/
    python -m bytetrans_lib.exercises.edition check      # exit 1 if exercises/ is not what make writes
    python -m bytetrans_lib.exercises.edition progress   # (make progress) run exercises/, print a table
    python -m bytetrans_lib.exercises.edition metadata   # give notebooks/ nbgrader's cell metadata
    python -m bytetrans_lib.exercises.edition metadata --check   # exit 1 if notebooks/ lack it

In `notebooks/`, a solution sits between nbgrader's markers, `### BEGIN SOLUTION` and
`### END SOLUTION`. The exercise edition replaces each such region by a stub at the same
indentation (`# YOUR CODE HERE` and `raise NotImplementedError()`), as nbgrader's
generate_assignment does, clears every output, and gives the cells the nbgrader metadata of
nbgrader's release (nbgrading.py), so that exercises/ is what `nbgrader generate_assignment`
makes of notebooks/. `progress` runs each exercise notebook in a fresh kernel, in memory (the
learner's files are only read), and reads back the line that each `check` cell prints: the
same verdicts as `nbgrader autograde` gives (each check cell is a grade cell), for a notebook
that runs to its end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

from bytetrans_lib.files import write_atomically
from bytetrans_lib.loop import display_path
from bytetrans_lib.paths import PROJECT_ROOT, course_root
from bytetrans_lib.exercises import NOT_DONE, SYMBOL, nbgrading

# the course folder (bytetrans_lib/paths.py); None for the package installed outside a clone, where
# there are no notebooks/ to make exercises from (main says so, and exits 1)
ROOT = PROJECT_ROOT
NOTEBOOKS, EXERCISES = (ROOT / "notebooks", ROOT / "exercises") if ROOT is not None else (None, None)
_QUIET = logging.getLogger("bytetrans.progress")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
MAX_NOTEBOOK_BYTES = 2**27  # 128 MiB: the course's largest notebook is a few MB
BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
STATUS = re.compile(
    rf"^[{''.join(SYMBOL.values())}] Exercise (?P<id>\S+), (?P<title>.+?): (?P<status>done|wrong|{NOT_DONE})\.(?P<rest>.*)$"
)


class EditionError(ValueError):
    """Markers that cannot be turned into stubs (the message names the notebook and cell)."""


def stub(source: str, where: str) -> str:
    """`source` with every solution region replaced by nbgrader's stub."""
    out, indent = [], None
    for number, line in enumerate(source.split("\n"), start=1):
        if m := BEGIN.match(line):
            if indent is not None:
                raise EditionError(f"{where}, line {number}: BEGIN SOLUTION inside another solution")
            indent = m["indent"]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]  # nbgrader's code_stub
        elif END.match(line):
            if indent is None:
                raise EditionError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION")
            indent = None
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise EditionError(f"{where}: BEGIN SOLUTION without an END SOLUTION")
    return "\n".join(out)


def sources_hash(nb: dict) -> str:
    """A fingerprint of a notebook's cells (type and source; not outputs): it changes when a
    learner edits a cell, and not when they only run the notebook."""
    cells = [[c["cell_type"], "".join(c["source"])] for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def exercise_notebook(nb: dict, where: str) -> dict:
    """The exercise edition of one notebook (a JSON dict): stubs, no outputs, nbgrader's metadata
    as its release has it, and in the notebook's metadata the fingerprint of the cells as made, so
    that `make` can tell a learner's work."""
    try:
        nb = nbgrading.stamp(nb, where)  # a copy; the same metadata if notebooks/ already have it
    except nbgrading.MetadataError as e:
        raise EditionError(str(e)) from None
    for number, cell in enumerate(nb["cells"], start=1):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            if "SOLUTION" in source:
                source = stub(source, f"{where}, cell {number}")
                lines = source.split("\n")
                cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
            cell["outputs"], cell["execution_count"] = [], None
        nbgrading.release_cell_metadata(cell)
    nb["metadata"]["bytetrans_exercises"] = {"made_from": where, "sources_sha256": sources_hash(nb)}
    return nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def solved_notebooks(notebooks: Path) -> list[Path]:
    """The solved notebooks (NN_name.ipynb) in `notebooks`, in order; EditionError if there are none:
    an edition made from nothing would look up to date."""
    paths = sorted(notebooks.glob("[0-9][0-9]_*.ipynb")) if notebooks.is_dir() else []
    if not paths:
        what = "holds no solved notebook (NN_name.ipynb)" if notebooks.is_dir() else "is not a folder"
        raise EditionError(f"{notebooks} {what}: the exercise edition is made from the course's notebooks/")
    return paths


def build(notebooks: Path = NOTEBOOKS) -> dict[str, str]:
    """File name -> text of every exercise notebook."""
    files = {}
    for path in solved_notebooks(notebooks):
        try:
            nb = json.loads(read_text(path))
            files[path.name] = dumps(exercise_notebook(nb, f"notebooks/{path.name}"))
        except EditionError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as e:  # json's errors are ValueErrors
            raise EditionError(f"notebooks/{path.name} is not a notebook the edition can be made from: {e!r}") from None
    return files


def stamped(notebooks: Path = NOTEBOOKS) -> dict[str, str]:
    """File name -> text of every solved notebook with nbgrader's cell metadata (nbgrading.stamp)."""
    files = {}
    for path in solved_notebooks(notebooks):
        try:
            files[path.name] = dumps(nbgrading.stamp(json.loads(read_text(path)), f"notebooks/{path.name}"))
        except nbgrading.MetadataError as e:
            raise EditionError(str(e)) from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise EditionError(f"notebooks/{path.name} is not a notebook that can be stamped: {e!r}") from None
    return files


def metadata(notebooks: Path = NOTEBOOKS, *, check: bool = False) -> list[str]:
    """The solved notebooks whose nbgrader metadata is not what `stamp` gives: written over
    (atomically, only their metadata changes), or with `check` only named."""
    files = stamped(notebooks)
    changed = [name for name, text in files.items() if read_text(notebooks / name) != text]
    if not check:
        for name in changed:
            write_atomically(notebooks / name, lambda f, text=files[name]: f.write(text.encode("utf-8")))
    return changed


def differences(files: dict[str, str], folder: Path = EXERCISES) -> list[str]:
    found = {p.name for p in folder.glob("*.ipynb")} if folder.is_dir() else set()
    problems = [f"exercises/{n}: missing" for n in sorted(set(files) - found)]
    problems += [f"exercises/{n}: no notebook of that name in notebooks/" for n in sorted(found - set(files))]
    for name in sorted(set(files) & found):
        if read_text(folder / name) != files[name]:
            problems.append(f"exercises/{name}: differs from the edition made from notebooks/{name}")
    return problems


def edited_by_learner(path: Path) -> bool:
    """True if the exercise notebook at `path` has cells that differ from the ones `make` wrote
    (its fingerprint no longer matches), carries no fingerprint at all, or is not a notebook
    any more (cut short, `{}`, `[]`): all of them may hold a learner's work."""
    try:
        nb = json.loads(read_text(path))
        made = nb["metadata"]["bytetrans_exercises"]["sources_sha256"]
        return made != sources_hash(nb)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return True


def write(files: dict[str, str], folder: Path = EXERCISES, *, force: bool = False) -> list[str]:
    """Write the exercise notebooks that changed. A notebook a learner has edited is never
    replaced (unless `force`): all of them are refused, by name, before anything is written.
    Never writes into notebooks/, the solved edition it is made from."""
    solved = NOTEBOOKS.resolve()
    for target in [folder] + [folder / n for n in files]:  # real paths: a link may lead into notebooks/
        real = target.resolve()
        if real == solved or real.is_relative_to(solved):
            shown = f"{target}, a link to {real}," if target.is_symlink() or real != target.absolute() else target
            raise FileExistsError(
                f"{shown} is in notebooks/, the solved edition this is made from: write the exercises elsewhere"
            )
    changed = [n for n, text in files.items() if not (folder / n).exists() or read_text(folder / n) != text]
    edited = [n for n in changed if (folder / n).exists() and edited_by_learner(folder / n)]
    if edited and not force:
        raise FileExistsError(
            f"make exercises would replace work in {', '.join('exercises/' + n for n in edited)}: these "
            "notebooks have cells that differ from the edition as made. Copy your work elsewhere, or "
            "run `python -m bytetrans_lib.exercises.edition make --force` to replace them anyway (a copy "
            "of each is kept in exercises/backups/)"
        )
    for name in changed:
        if name in edited:  # --force: the learner's notebook is kept, under a name no other copy has
            kept, work = backup_name(folder, name), (folder / name).read_bytes()
            write_atomically(kept, lambda f, work=work: f.write(work), create_folders=True)
            print(f"kept your edited {name} as {display_path(kept)}")
        write_atomically(folder / name, lambda f, text=files[name]: f.write(text.encode("utf-8")), create_folders=True)
    return changed


def backup_name(folder: Path, name: str) -> Path:
    """backups/NAME-YYYYmmdd-HHMMSS.ipynb in `folder`, with -2, -3... if that name is taken."""
    stem = f"{Path(name).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = folder / "backups" / f"{stem}.ipynb", 1
    while path.exists() or path.is_symlink():
        n += 1
        path = folder / "backups" / f"{stem}-{n}.ipynb"
    return path


def read_text(path: Path) -> str:
    """A notebook's text, or an error that names it (a learner's file may be anything)."""
    if not path.is_file():
        raise EditionError(f"{path} is not a notebook file (a folder, a device or a pipe)")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise EditionError(f"{path} is {path.stat().st_size:,} bytes, larger than any notebook of the course")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise EditionError(f"{path} is not UTF-8 text, so not a notebook: {e}") from None


def progress(folder: Path = EXERCISES, timeout: int = 600, names=None) -> list[tuple[str, str, str, str]]:
    """Run every notebook of `folder` (or those of `names`) in a fresh kernel, in memory, from
    that folder, as JupyterLab runs them; one row per exercise: (notebook, exercise,
    status, the check's message or the error that stopped the notebook)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    rows = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        if names is not None and path.name not in names:
            continue
        try:  # read only: the learner's file is never written
            nb = nbformat.reads(read_text(path), as_version=4)
            nbformat.validate(nb)
        except Exception as e:  # nbformat's NotJSONError, ValidationError, a cut or damaged file...
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            rows.append((path.stem, "(the notebook)", "error", f"it cannot be read as a notebook: {reason[:200]}"))
            continue
        stopped = ""
        try:
            client = NotebookClient(
                nb,
                timeout=timeout,
                kernel_name="python3",
                resources={"metadata": {"path": str(folder)}},
                log=_QUIET,  # its "Timeout waiting for execute reply" lines: the table says it in words
            )
            client.execute(stderr=subprocess.DEVNULL)  # the kernel's own log lines are not the learner's business
        except CellExecutionError as e:
            last = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip().splitlines()[-1]  # without terminal colours
            stopped = f"the notebook stopped with an error before this check: {last}"
        except CellTimeoutError:  # a cell that never ends (while True: pass)
            stopped = f"a cell ran longer than {timeout} s and was stopped before this check"
        except DeadKernelError:  # a cell that ended the kernel (os._exit, a crash, the memory exhausted)
            stopped = "the notebook's kernel died before this check (a cell ended it, or it ran out of memory)"
        seen = set()
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                for line in output.get("text", "").splitlines():
                    if m := STATUS.match(line):
                        seen.add(m["id"])
                        rows.append((path.stem, f"{m['id']} {m['title']}", m["status"], m["rest"].strip()))
        for cell in nb.cells:  # checks that never ran (the notebook stopped before them)
            for m in re.finditer(r'check\("(\d\d\.\d+)"', "".join(cell.source) if cell.cell_type == "code" else ""):
                if m[1] not in seen:
                    rows.append((path.stem, m[1], "not run", stopped or "this check did not run"))
        if stopped:  # even after the last check: an exercise notebook must run to its end
            rows.append((path.stem, "(the notebook)", "error", stopped.replace(" before this check", "")))
    return rows


def print_progress(rows) -> None:
    width = max([len(r[0]) for r in rows] + [8])
    title = max([len(r[1]) for r in rows] + [8])
    print(f"{'notebook':<{width}}  {'exercise':<{title}}  status")
    for notebook, exercise, status, message in rows:
        detail = f" ({message.split('. The rest of')[0]})" if status in ("wrong", "not run", "error") else ""
        print(f"{notebook:<{width}}  {exercise:<{title}}  {status}{detail}")
    done = sum(r[2] == "done" for r in rows)
    print(f"{done} of {len(rows)} exercises done")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bytetrans_lib.exercises.edition", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["make", "check", "progress", "metadata"])
    parser.add_argument("--folder", type=Path, default=EXERCISES, help="the exercise notebooks (default: exercises/)")
    parser.add_argument("--force", action="store_true", help="make: replace exercise notebooks a learner has edited")
    parser.add_argument(
        "--check", action="store_true", help="metadata: only say which notebooks lack nbgrader's metadata (exit 1)"
    )
    parser.add_argument(
        "--notebooks", type=Path, default=NOTEBOOKS, help="metadata: the solved notebooks (default: notebooks/)"
    )
    parser.add_argument(
        "--timeout", type=int, default=600, help="progress: the seconds a cell may run before it is stopped (600)"
    )
    args = parser.parse_args(argv)
    needs = {"progress": [args.folder], "metadata": [args.notebooks]}.get(args.command, [NOTEBOOKS, args.folder])
    if None in needs:  # a default folder of the course, and there is no course folder
        try:
            course_root()  # raises, saying why
        except FileNotFoundError as e:
            print(f"edition {args.command}: {e}", file=sys.stderr)
            return 1
    if args.command == "progress":
        if not args.folder.is_dir():
            parser.error(f"{args.folder} is not a folder of exercise notebooks (make exercises writes exercises/)")
        if args.timeout < 1:
            parser.error(f"argument --timeout must be >= 1 second, got {args.timeout}")
        print_progress(progress(args.folder, timeout=args.timeout))
        return 0
    if args.command == "metadata":
        try:
            changed = metadata(args.notebooks, check=args.check)
        except (OSError, ValueError) as e:  # EditionError is a ValueError
            print(f"edition metadata: {e}", file=sys.stderr)
            return 1
        for name in changed:
            print(f"{args.notebooks.name}/{name}: {'lacks' if args.check else 'given'} nbgrader's cell metadata")
        if args.check and changed:
            print("run `python -m bytetrans_lib.exercises.edition metadata` to give it to them")
        elif not changed:
            print(f"{args.notebooks.name}/ already carry nbgrader's cell metadata")
        return 1 if args.check and changed else 0
    try:
        files = build()
    except EditionError as e:
        print(f"edition {args.command}: {e}", file=sys.stderr)
        return 1
    if args.command == "check":
        problems = differences(files, args.folder)
        for problem in problems:
            print(problem)
        if problems:
            print("run `make exercises` to remake the exercise edition from notebooks/")
        return 1 if problems else 0
    try:
        written = write(files, args.folder, force=args.force)
    except (OSError, ValueError) as e:  # FileExistsError is an OSError, EditionError a ValueError
        print(f"edition make: {e}", file=sys.stderr)
        return 1
    print(
        f"wrote {len(written)} exercise notebook{'s' * (len(written) != 1)} to {args.folder.name}/"
        if written
        else "exercises/ was already up to date"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
