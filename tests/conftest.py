"""Shared test set-up: no display, and the paths and small data tests need."""

import importlib.util
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # tests draw figures without a screen

ROOT = Path(__file__).resolve().parent.parent

# Generated modules that need a package the course does not install by itself (make torch does)
OPTIONAL_MODULES = {"torch_bridge": "torch"}


def importable(module):
    """False for a module of OPTIONAL_MODULES whose package is not installed."""
    needs = OPTIONAL_MODULES.get(module.rsplit(".", 1)[-1])
    return needs is None or importlib.util.find_spec(needs) is not None


# Eight short pairs with different English sentences: tiny training runs repeat them
EIGHT_PAIRS = [
    ("The cat sleeps.", "Le chat dort."),
    ("I eat an apple.", "Je mange une pomme."),
    ("Where is the school?", "Où est l'école ?"),
    ("Yes.", "Oui."),
    ("We sing.", "Nous chantons."),
    ("The sea is blue.", "La mer est bleue."),
    ("Hello.", "Bonjour."),
    ("Thank you.", "Merci."),
]
