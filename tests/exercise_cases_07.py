"""Cases for the checks of notebook 07's exercises: a stub and planted bugs per exercise."""

import random

import numpy as np

from bytetrans_lib import spelling
from bytetrans_lib.spelling import starts_with_vowel_sound


def _raises(*args, **kwargs):
    raise NotImplementedError


def _join(contract=True, elide_first=True, vowel=starts_with_vowel_sound, apostrophe=""):
    """french_join, with one of its rules left out or changed."""

    def french_join(words):
        out, i = [], 0
        while i < len(words):
            word, nxt = words[i], words[i + 1] if i + 1 < len(words) else ""
            after = words[i + 2] if i + 2 < len(words) else ""
            elides = elide_first and nxt == "le" and vowel(after)
            if contract and (word, nxt) in spelling._CONTRACTED and not elides:
                out.append(spelling._CONTRACTED[word, nxt] + " ")
                i += 2
                continue
            out.append(spelling._ELIDED[word] + apostrophe if word in spelling._ELIDED and vowel(nxt) else word + " ")
            i += 1
        return "".join(out).strip()

    return french_join


def _split(j_up_to_i=True, group=True, seeded=True, skip_one=False, swap_sizes=False, overfill=False, seed_used=True):
    """split_pairs, with one typical slip."""

    def split_pairs(pairs, valid=0.05, test=0.05, seed=0):
        def size(x):
            return round(x * len(pairs)) if isinstance(x, float) else int(x)

        n_test, n_valid = (size(valid), size(test)) if swap_sizes else (size(test), size(valid))
        groups = {}
        for k, pair in enumerate(pairs):
            groups.setdefault(pair[0] if group else k, []).append(tuple(pair))
        order = list(groups.values())
        rng = random.Random(seed if seed_used else 0) if seeded else random.Random()
        for i in range(len(order) - 1, 0, -1):
            j = int(rng.random() * (i + j_up_to_i))
            order[i], order[j] = order[j], order[i]
        out, k = {"test": [], "valid": []}, 0
        for name, n in (("test", n_test), ("valid", n_valid)):
            while (len(out[name]) <= n if overfill else len(out[name]) < n) and k < len(order):
                out[name] += order[k]
                k += 1
        train = [pair for group in order[k + skip_one :] for pair in group]
        return train, out["valid"], out["test"]  # without the library's leak check: the check must see it

    return split_pairs


def _split_with_shuffle(pairs, valid=0.05, test=0.05, seed=0):
    """The grouped split, shuffled by random.Random(seed).shuffle instead of the course's draws."""
    n_test, n_valid = (
        round(test * len(pairs)) if isinstance(test, float) else test,
        (round(valid * len(pairs)) if isinstance(valid, float) else valid),
    )
    groups = {}
    for pair in pairs:
        groups.setdefault(pair[0], []).append(tuple(pair))
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    out, k = {"test": [], "valid": []}, 0
    for name, n in (("test", n_test), ("valid", n_valid)):
        while len(out[name]) < n and k < len(order):
            out[name] += order[k]
            k += 1
    return [pair for group in order[k:] for pair in group], out["valid"], out["test"]


def _split_by_sorted_sentences(pairs, valid=0.05, test=0.05, seed=0):
    """Another right split: a NumPy permutation of the sorted English sentences, valid filled
    first, each split filled with whole groups until the next one would take it past its size."""
    sizes = {
        name: round(x * len(pairs)) if isinstance(x, float) else int(x)
        for name, x in (("valid", valid), ("test", test))
    }
    english = sorted({en for en, _ in pairs})
    order = [english[i] for i in np.random.default_rng(seed).permutation(len(english))]
    out, k = {"valid": [], "test": []}, 0
    for name in ("valid", "test"):
        while k < len(order):
            group = [tuple(p) for p in pairs if p[0] == order[k]]
            if len(out[name]) + len(group) > sizes[name]:  # never past its size
                break
            out[name] += group
            k += 1
    rest = set(order[k:])
    return [tuple(p) for p in pairs if p[0] in rest], out["valid"], out["test"]


STUBS = {"07.1": _raises, "07.2": _raises}

BUGS = [
    ("07.1", _join(contract=False), "à + le contracts to au"),
    ("07.1", _join(elide_first=False), "gave 'au hôtel', expected \"à l'hôtel\": le elides"),
    ("07.1", _join(vowel=lambda w: w[:1] in "aeiouéèêàâîôû"), "a mute h counts as a vowel sound"),
    ("07.1", _join(apostrophe=" "), "no space after an apostrophe"),
    ("07.2", _split(j_up_to_i=False), "never landed in test: a shuffle can put any group anywhere"),
    ("07.2", _split(j_up_to_i=False), "j is drawn from 0..i, i included"),
    ("07.2", _split(group=False), "is in train and test: keep every pair of one English sentence in the same set"),
    ("07.2", _split(seeded=False), "two calls with seed=3 gave different splits"),
    ("07.2", _split(seed_used=False), "seed=3 and seed=4 gave the same split"),
    ("07.2", _split(skip_one=True), "train + valid + test do not hold every pair exactly once: 1 pair(s) missing"),
    ("07.2", _split(swap_sizes=True), "len(test) is 4, expected 2 exactly: whole groups fill test up to n_test pairs"),
    ("07.2", _split(swap_sizes=True), "(valid and test are swapped)"),
    ("07.2", _split(overfill=True), "len(test) is 3, expected 2 exactly"),
]

ACCEPTED = [("07.2", _split_with_shuffle), ("07.2", _split_by_sorted_sentences)]
