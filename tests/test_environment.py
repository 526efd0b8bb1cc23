"""environment.yml (conda users) and pyproject.toml (pip users) ask for the same packages."""
import re
import sys
from importlib import metadata

from conftest import ROOT


def pyproject_requirements():
    """{name: specifier} of the runtime and [dev] dependencies, plus python."""
    if sys.version_info >= (3, 11):
        import tomllib

        project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
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
    """{name: specifier} from environment.yml's dependency list (pip itself left out)."""
    found, in_dependencies = {}, False
    for line in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        if re.match(r"^dependencies:\s*$", line):
            in_dependencies = True
        elif in_dependencies and (m := re.match(r"^\s+-\s+([A-Za-z0-9_.-]+)\s*(\S*)\s*$", line)):
            found[m.group(1).lower()] = m.group(2)
        elif in_dependencies and line.strip() and not line.startswith(" "):
            in_dependencies = False
    found.pop("pip", None)
    return found


def test_environment_yml_and_pyproject_list_the_same_packages_and_bounds():
    assert environment_requirements() == pyproject_requirements()


def test_dependencies_have_lower_bounds_and_no_exact_pins():
    for name, spec in pyproject_requirements().items():
        assert spec.startswith(">="), f"{name}: use a lower bound (>=), not {spec!r}"
        assert "==" not in spec and "<" not in spec, f"{name} is pinned: {spec!r}"


def test_environment_is_named_bytetrans():
    assert re.search(r"^name:\s*bytetrans\s*$", (ROOT / "environment.yml").read_text(), re.M)
