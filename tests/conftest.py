"""Shared test set-up: no display, and the paths and small data tests need."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # tests draw figures without a screen

ROOT = Path(__file__).resolve().parent.parent

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
