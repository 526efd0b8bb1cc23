"""nbval runs every notebook (make test); notebook 11 needs PyTorch, which the course up to notebook
10 never does. Where it is not installed, that notebook's cells are skipped, saying why."""

import importlib.util

import pytest

NEEDS_TORCH = ("11_pytorch.ipynb",)


def pytest_collection_modifyitems(config, items):
    if importlib.util.find_spec("torch") is not None:
        return
    skip = pytest.mark.skip(reason="PyTorch is not installed: notebook 11 needs it (make torch installs it)")
    for item in items:
        if item.path.name in NEEDS_TORCH:
            item.add_marker(skip)
