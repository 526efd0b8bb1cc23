"""The licence: MIT in LICENSE, declared the same way in pyproject.toml, and explained in the README."""

import importlib.metadata
import re
import sys

import pytest
from conftest import ROOT


def test_the_licence_file_is_the_mit_licence():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


@pytest.mark.skipif(sys.version_info < (3, 11), reason="reads pyproject.toml with tomllib (Python 3.11+)")
def test_pyproject_declares_the_same_licence_and_ships_the_file():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]  # PEP 639: one source


def test_the_installed_package_says_mit():
    assert importlib.metadata.metadata("bytetrans")["License-Expression"] == "MIT"


def test_the_readme_says_what_the_licence_covers_and_what_it_does_not():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Data and licences", 1)[1]
    assert "**MIT licence** ([`LICENSE`](LICENSE))" in section
    assert re.search(r"embedded corpus.*synthetic-en-fr\.tsv", section, re.S)
    assert "CC-BY 2.0\nFrance" in section or "CC-BY 2.0 France" in section
