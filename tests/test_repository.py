"""The repository's conventions (issue 32): CITATION.cff is valid CFF 1.2.0, and its version is
pyproject.toml's and CHANGELOG.md's newest release; CONTRIBUTING.md names only commands that exist.

The schema, tests/data/cff-schema-1.2.0.json, is the Citation File Format's JSON schema for
version 1.2.0 (https://citation-file-format.github.io/1.2.0/schema.json), by Stephan Druskat,
Jurriaan H. Spaaks and the CFF contributors, licensed CC-BY-4.0. It is copied unchanged from the
cffconvert 2.0.0 wheel on PyPI (cffconvert/schemas/1.2.0/schema.json; cffconvert is Apache-2.0),
the copy cffconvert validates with, so that this test needs no network. tests/data/README.md
says the same.
"""

import copy
import datetime
import hashlib
import importlib.util
import json
import re
import sys

import jsonschema
import pytest
import yaml
from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli, which pytest requires there
    import tomli as tomllib

SCHEMA_PATH = ROOT / "tests" / "data" / "cff-schema-1.2.0.json"
SCHEMA_SHA256 = "0b8d22140da702d766df318dcff3a91af2f39521298dcf36d76315fd99cc169b"  # as in cffconvert 2.0.0
# "## [0.2.0] - 2026-12-07": a release heading of Keep a Changelog (https://keepachangelog.com)
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", re.M)
# a path in the repository's folders, as CONTRIBUTING.md names one ("tests/test_train.py")
FOLDERS = r"\.ci|\.github|benchmarks|bytetrans_lib|data|exercises|notebooks|tests|tools"
PATH = re.compile(rf"(?<![\w/.])((?:{FOLDERS})/[\w./-]+)")


def _as_strings(value):
    """YAML reads 2026-12-07 as a date; the schema wants the string (its own note to tool writers)."""
    if isinstance(value, dict):
        return {key: _as_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_strings(item) for item in value]
    return value.isoformat() if isinstance(value, datetime.date) else value


def citation():
    return _as_strings(yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8")))


def schema():
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def problems(document):
    """Every way `document` breaks the CFF 1.2.0 schema, as 'where [rule] what' lines (none: valid)."""
    validator = jsonschema.Draft7Validator(schema(), format_checker=jsonschema.FormatChecker())
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'} [{e.validator}] {e.message}"
        for e in validator.iter_errors(document)
    ]


def pyproject_version():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def releases():
    """[(version, date), ...] of CHANGELOG.md's release headings, newest first ([Unreleased] is none)."""
    return RELEASE.findall((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))


def test_the_vendored_schema_is_cff_1_2_0_unchanged_and_a_valid_draft_7_schema():
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert schema()["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    jsonschema.Draft7Validator.check_schema(schema())


def test_citation_cff_is_valid_cff_1_2_0():
    assert problems(citation()) == []


def _without(key):
    def edit(document):
        del document[key]

    return edit


def _set(key, value):
    def edit(document):
        document[key] = value

    return edit


# each broken copy must be refused where it is broken, by the rule it breaks
@pytest.mark.parametrize(
    "edit, named",
    [
        pytest.param(_without("authors"), "(top) [required] 'authors'", id="no authors"),
        pytest.param(_without("title"), "(top) [required] 'title'", id="no title"),
        pytest.param(_without("message"), "(top) [required] 'message'", id="no message"),
        pytest.param(_set("authors", []), "authors [minItems]", id="empty authors"),
        pytest.param(_set("authors", ["The bytetrans authors"]), "authors/0 [anyOf]", id="author as a string"),
        pytest.param(_set("authors", [{"name": ""}]), "authors/0 [anyOf]", id="blank entity name"),
        pytest.param(_set("cff-version", "1.1.0"), "cff-version [pattern]", id="cff-version 1.1.0"),
        pytest.param(_set("license", "MIT License"), "license [oneOf]", id="licence not SPDX"),
        pytest.param(_set("date-released", "2026-13-07"), "date-released [pattern]", id="month 13"),
        pytest.param(_set("date-released", datetime.date(2026, 12, 7)), "date-released [type]", id="YAML date"),
        pytest.param(_set("author", [{"name": "x"}]), "(top) [additionalProperties]", id="misspelt key"),
        pytest.param(_set("keywords", []), "keywords [minItems]", id="no keywords"),
    ],
)
def test_the_schema_refuses_a_broken_citation_file(edit, named):
    broken = copy.deepcopy(citation())
    edit(broken)
    found = problems(broken)
    assert any(named in problem for problem in found), found


def test_the_citation_names_the_projects_licence_and_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    cff = citation()
    assert cff["license"] == project["license"] == "MIT"
    assert cff["version"] == project["version"], (
        f"CITATION.cff says {cff['version']}, pyproject.toml {project['version']}: a release changes both"
    )


def test_the_changelogs_newest_release_is_the_projects_version_and_the_citations_date():
    found = releases()
    assert found, "CHANGELOG.md has no release heading like '## [0.1.0] - 2026-12-07'"
    (newest, date), cff = found[0], citation()
    assert newest == pyproject_version() == cff["version"], (newest, pyproject_version(), cff["version"])
    assert date == cff["date-released"], f"CHANGELOG.md dates {newest} {date}, CITATION.cff {cff['date-released']}"


def test_the_changelog_lists_releases_newest_first_each_once_after_unreleased():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.*)$", text, re.M)
    assert headings[0] == "[Unreleased]" and all(RELEASE.match(f"## {h}") for h in headings[1:]), headings
    versions = [tuple(map(int, version.split("."))) for version, _ in releases()]
    dates = [date for _, date in releases()]
    assert versions == sorted(set(versions), reverse=True) and dates == sorted(dates, reverse=True)


def test_the_release_checks_fail_when_the_versions_differ(monkeypatch):
    """The two tests above are not vacuous: a citation one release behind is caught."""
    behind = {**citation(), "version": "0.0.1"}
    monkeypatch.setattr(sys.modules[__name__], "citation", lambda: behind)
    with pytest.raises(AssertionError, match="CITATION.cff says 0.0.1"):
        test_the_citation_names_the_projects_licence_and_version()
    with pytest.raises(AssertionError):
        test_the_changelogs_newest_release_is_the_projects_version_and_the_citations_date()


def test_contributing_names_only_make_targets_modules_and_files_that_exist():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    for target in sorted(set(re.findall(r"\bmake ([a-z][\w-]*)", text))):
        assert target in targets, f"CONTRIBUTING.md names `make {target}`, which the Makefile does not have"
    for module in sorted(set(re.findall(r"python -m ([\w.]+)", text)) - {"pytest"}):
        assert importlib.util.find_spec(module), f"CONTRIBUTING.md names `python -m {module}`, which is not there"
    for path in sorted(set(PATH.findall(text))):
        if "NN" not in path:  # notebooks/NN_x.ipynb, nbNN.py: placeholders
            assert (ROOT / path.rstrip(".")).exists(), f"CONTRIBUTING.md names {path}, which does not exist"
