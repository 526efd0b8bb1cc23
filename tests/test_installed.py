"""The package as a new user installs it: the wheel built from this repository (`pip install <clone>`,
not editable), in a fresh venv, used from a folder outside the repository. The library must find
what it reads as it runs (data/ and apps/, shipped as the packages bytetrans_data and bytetrans_apps:
pyproject.toml, bytetrans_lib/paths.py), and what needs the course itself (the exporter, the
exercise edition) must say that there is none and exit non-zero.

The venv gets only the wheel (pip install --no-deps); its dependencies are this interpreter's, through
a .pth file: nothing is downloaded for them. Building the wheel needs setuptools>=77 (pyproject's
build-system): this interpreter's when it is recent enough, else pip fetches it from PyPI; offline,
outside CI, the tests skip, saying why.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import ROOT

# what a wheel built from the repository leaves out anyway, and what git ignores
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", "runs", "browser-artifacts", "*.state.npz"
)
TINY_RUN = (
    "--steps 2 --eval-every 2 --n-eval 4 --n-test 4 --batch-size 8 --warmup 1 --d-model 16 --n-heads 2 "
    "--d-ff 32 --n-encoder-layers 1 --n-decoder-layers 1 --max-len 64"
).split()


def _setuptools_is_recent():
    return importlib.util.find_spec("setuptools") is not None and int(version("setuptools").split(".")[0]) >= 77


def _run(command, cwd, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `pip wheel` builds from a copy of the repository (the repository gets no build/)."""
    here = tmp_path_factory.mktemp("wheel")
    source = here / "bytetrans"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(here / "dist"), str(source)]
    if _setuptools_is_recent():
        command.append("--no-build-isolation")  # offline: this interpreter's setuptools builds it
    built = _run(command, cwd=here)
    said = built.stdout + built.stderr
    if built.returncode != 0 and "setuptools" in said and not os.environ.get("CI"):
        pytest.skip(f"the wheel could not be built: pip needs setuptools>=77 from PyPI (offline?): {said[-500:]}")
    assert built.returncode == 0, said
    (path,) = (here / "dist").glob("bytetrans-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """(the fresh venv's python, a folder outside the repository to work in)."""
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    pip_has_python = tuple(int(x) for x in version("pip").split(".")[:2]) >= (22, 3)  # pip --python PYTHON
    made = _run([sys.executable, "-m", "venv", *(["--without-pip"] if pip_has_python else []), str(venv)], venv.parent)
    assert made.returncode == 0, made.stderr
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], venv).stdout.strip()
    )
    # the dependencies: this interpreter's site-packages, after the venv's own (a .pth adds a folder
    # to sys.path without running the .pth files in it: the editable install there stays out)
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site / "zz_bytetrans_dependencies.pth").write_text("\n".join(ours) + "\n", encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "--python", str(python)] if pip_has_python else [str(python), "-m", "pip"]
    done = _run([*pip, "install", "-q", "--no-deps", str(wheel)], venv)
    assert done.returncode == 0, done.stdout + done.stderr
    work = tmp_path_factory.mktemp("elsewhere")
    assert not work.resolve().is_relative_to(ROOT.resolve())
    return python, work


def test_the_wheel_ships_what_the_library_reads_and_nothing_of_the_course_s_work(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "bytetrans_data/lexicon.txt",
        "bytetrans_data/synthetic-en-fr.tsv",
        "bytetrans_data/bytetrans-en-fr.npz",
        "bytetrans_data/bytetrans-en-fr.json",
        "bytetrans_data/bytetrans-en-fr.attention.npz",
        "bytetrans_data/bytetrans-everyday.npz",
        "bytetrans_data/bytetrans-everyday.json",
        "bytetrans_data/bytetrans-everyday-torch.npz",
        "bytetrans_data/bytetrans-everyday-torch.json",
        "bytetrans_apps/explorer.ipynb",
        "bytetrans_apps/bytetrans_app_kernels.py",
        "bytetrans_apps/jupyter/voila/templates/offline/conf.json",
        "bytetrans_apps/jupyter/voila/templates/offline/index.html.j2",
        "bytetrans_lib/exercises/nb01.py",
    ):
        assert needed in names, f"the wheel lacks {needed}"
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"bytetrans_lib", "bytetrans_data", "bytetrans_apps"}  # no notebooks/, tests/, exercises/
    tracked = _run(["git", "ls-files", "--", "data", "apps"], cwd=ROOT) if shutil.which("git") else None
    if tracked is not None and tracked.returncode == 0 and tracked.stdout:
        # every file the repository keeps in data/ and apps/ (pyproject's package-data names them one by one)
        shipped = {
            name.replace("bytetrans_data/", "data/", 1).replace("bytetrans_apps/", "apps/", 1)
            for name in names
            if name.startswith(("bytetrans_data/", "bytetrans_apps/"))
        }
        assert shipped == set(tracked.stdout.split()), "add the new file to [tool.setuptools.package-data]"


def test_the_installed_library_works_from_a_folder_outside_the_repository(installed):
    python, work = installed
    script = textwrap.dedent(
        """
        import importlib, importlib.util, pkgutil, sys
        from pathlib import Path

        import bytetrans_lib as bt

        venv = Path(sys.prefix).resolve()
        assert Path(bt.__file__).resolve().is_relative_to(venv), bt.__file__  # the wheel's, not the clone's
        import bytetrans_lib.exercises
        for module in pkgutil.walk_packages(bt.__path__, "bytetrans_lib."):
            if module.name != "bytetrans_lib.torch_bridge" or importlib.util.find_spec("torch"):  # make torch
                importlib.import_module(module.name)
        assert bt.PROJECT_ROOT is None
        models = (bt.DEFAULT_MODEL, bt.EVERYDAY_MODEL, bt.EVERYDAY_TORCH_MODEL)  # the third needs no PyTorch
        for path in (bt.LEXICON_PATH, bt.CORPUS_PATH, *models, bt.APP_NOTEBOOK):
            assert path.is_file() and path.resolve().is_relative_to(venv), path
        assert len(bt.NOUNS) > 50
        assert bt.generate_corpus(50) == bt.read_tsv(bt.CORPUS_PATH)[:50]
        for path in models:
            (french,) = bt.translate(bt.load_checkpoint(path), ["The cat is sleeping."])
            assert french.startswith("Le chat"), (path.name, french)
        page = bt.attention_app()  # the explorer's page, as Voila builds it (no browser)
        assert [label for label, _ in page.picker.options] == [
            "data/bytetrans-en-fr.npz",
            "data/bytetrans-everyday-torch.npz",
            "data/bytetrans-everyday.npz",
        ]
        assert page.explorer is not None and page.message.value == ""
        try:
            bt.course_root()
        except FileNotFoundError as e:
            assert "no course folder" in str(e), e
        else:
            raise AssertionError("course_root() found a course folder in site-packages")
        print("ok")
        """
    )
    ran = _run([str(python), "-c", script], cwd=work)
    assert ran.returncode == 0 and ran.stdout.endswith("ok\n"), ran.stdout + ran.stderr


def test_the_installed_commands_train_clean_and_refuse_what_needs_the_course(installed):
    python, work = installed
    scripts = python.parent  # the entry points of pyproject's [project.scripts], beside python -m
    for script in ("bytetrans-train", "bytetrans-clean", "bytetrans-explore", "bytetrans-demo"):
        helped = _run([str(scripts / script), "--help"], cwd=work)
        assert helped.returncode == 0 and helped.stdout.startswith("usage: "), (script, helped.stderr)
    trained = _run([str(scripts / "bytetrans-train"), *TINY_RUN, "--out", "run/tiny.npz"], cwd=work)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "model written to run/tiny.npz" in trained.stdout and (work / "run" / "tiny.npz").is_file()

    (work / "fra.txt").write_text("Hello.\tBonjour.\nbad line\nThank you.\tMerci.\n", encoding="utf-8")
    cleaned = _run([str(scripts / "bytetrans-clean"), "fra.txt", "-o", "clean.tsv"], cwd=work)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert (work / "clean.tsv").read_text(encoding="utf-8") == "Hello.\tBonjour.\nThank you.\tMerci.\n"

    for command, code in (
        (["bytetrans_lib.exercises.edition", "make"], 1),
        (["bytetrans_lib.exercises.edition", "check"], 1),
        (["bytetrans_lib.exporter"], 2),
    ):
        refused = _run([str(python), "-m", *command], cwd=work)
        assert refused.returncode == code, (command, refused.stdout, refused.stderr)
        assert "no course folder: bytetrans_lib is installed in" in refused.stderr, refused.stderr
        assert "pip install -e '.[dev]'" in refused.stderr and "up to date" not in refused.stdout
    assert sorted(p.name for p in work.iterdir()) == ["clean.tsv", "fra.txt", "run"]  # no exercises/ made


# ---- the same refusals, in this process (no wheel) -------------------------------------------


def test_the_edition_refuses_an_empty_or_missing_notebooks_folder_instead_of_calling_it_up_to_date(
    tmp_path, monkeypatch, capsys
):
    from bytetrans_lib.exercises import edition

    for folder, what in ((tmp_path, "holds no solved notebook"), (tmp_path / "missing", "is not a folder")):
        with pytest.raises(edition.EditionError, match=what):
            edition.build(folder)
    from bytetrans_lib import paths

    # as for the installed package: no course folder, so no default notebooks/ and exercises/
    monkeypatch.setattr(paths, "PROJECT_ROOT", None)
    monkeypatch.setattr(edition, "NOTEBOOKS", None)
    assert edition.main(["make", "--folder", str(tmp_path / "ex")]) == 1
    said = capsys.readouterr()
    assert "edition make: no course folder" in said.err and "up to date" not in said.out
    assert not (tmp_path / "ex").exists()


def test_the_paths_of_a_clone_are_its_own_folders():
    import bytetrans_lib as bt

    assert bt.course_root() == bt.PROJECT_ROOT == ROOT.resolve()
    assert (bt.DATA_FOLDER, bt.APPS_FOLDER) == (ROOT.resolve() / "data", ROOT.resolve() / "apps")
    assert bt.LEXICON_PATH == bt.DATA_FOLDER / "lexicon.txt" and bt.APP_NOTEBOOK == bt.APPS_FOLDER / "explorer.ipynb"
