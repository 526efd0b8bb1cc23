"""environment.yml (conda users) and pyproject.toml (pip users) ask for the same packages, and the
Makefile installs only what pyproject.toml declares."""

import re
import sys
from importlib import metadata

from conftest import ROOT

EXTRAS = {"dev", "browser", "app", "bench", "torch"}  # make test, test-browser, explore, bench, torch
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge's name -> pip's


def pyproject():
    """pyproject.toml's [project] table (Python 3.11+: tomllib)."""
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def pyproject_extras():
    """The names of pyproject.toml's extras ([dev], ...)."""
    if sys.version_info >= (3, 11):
        return set(pyproject()["optional-dependencies"])
    return set(metadata.metadata("bytetrans").get_all("Provides-Extra"))  # Python 3.10: no tomllib


def pyproject_requirements():
    """{name: specifier} of the runtime dependencies and of every extra, plus python."""
    if sys.version_info >= (3, 11):
        project = pyproject()
        requirements = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
        python = project["requires-python"]
    else:  # Python 3.10 has no tomllib: read the same lists from the installed package's metadata
        requirements = [r.split(";")[0] for r in metadata.requires("bytetrans")]
        python = metadata.metadata("bytetrans")["Requires-Python"]
    found = {"python": python.replace(" ", "")}
    for requirement in requirements:
        name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", requirement.strip()).groups()
        found[name.lower()] = spec.replace(" ", "")
    return found


def environment_requirements():
    """{name: specifier} from environment.yml's dependency list and its `- pip:` list (pip itself
    left out). Every line in the list must be a package, a comment or `- pip:`."""
    found, in_dependencies = {}, False
    for line in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        if re.match(r"^dependencies:\s*$", line):
            in_dependencies = True
        elif in_dependencies and line.strip() and not line.startswith(" "):
            in_dependencies = False
        elif in_dependencies and line.strip() and not line.strip().startswith("#") and line.strip() != "- pip:":
            m = re.fullmatch(r"\s+-\s+([A-Za-z0-9_.-]+)\s*(\S*)\s*", line)
            assert m, f"environment.yml: not a package name and bound: {line!r}"
            assert m.group(1).lower() not in found, f"environment.yml lists {m.group(1)} twice"
            found[m.group(1).lower()] = m.group(2)
    found.pop("pip", None)
    return {CONDA_NAMES.get(name, name): spec for name, spec in found.items()}


def test_environment_yml_and_pyproject_list_the_same_packages_and_bounds():
    assert environment_requirements() == pyproject_requirements()


def test_dependencies_have_lower_bounds_and_no_exact_pins():
    for name, spec in pyproject_requirements().items():
        assert spec.startswith(">="), f"{name}: use a lower bound (>=), not {spec!r}"
        assert "==" not in spec and "<" not in spec, f"{name} is pinned: {spec!r}"


def test_every_make_target_installs_the_project_with_declared_extras_only():
    """No package is pip-installed by hand: `make test` installs [dev], `make test-browser`
    [dev,browser], `make explore` [dev,app], `make bench` [dev,bench], `make torch` [dev,torch], each
    extra declared in pyproject.toml; `make torch` installs PyTorch's CPU build first, by its own line."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    recipes = "\n".join(line for line in makefile.splitlines() if line.startswith("\t"))  # not comments
    installs = re.findall(r"pip install ([^\n]*)", recipes)
    torch_build = [arguments for arguments in installs if "$(TORCH_PIP)" in arguments]
    assert [arguments.strip() for arguments in torch_build] == ["--quiet --disable-pip-version-check $(TORCH_PIP)"]
    assert re.search(r"^TORCH_PIP \?= torch --index-url https://download.pytorch.org/whl/cpu$", makefile, re.M)
    installs = [arguments for arguments in installs if arguments not in torch_build]
    assert len(installs) == 5, installs
    extras = set()
    for arguments in installs:
        m = re.fullmatch(r"--quiet --disable-pip-version-check -e '\.\[([a-z,]+)\]'", arguments.strip())
        assert m, f"the Makefile installs {arguments.strip()!r}, not the project with its extras"
        extras |= set(m.group(1).split(","))
    assert extras == EXTRAS == pyproject_extras()


def test_environment_is_named_bytetrans():
    assert re.search(r"^name:\s*bytetrans\s*$", (ROOT / "environment.yml").read_text(), re.M)
