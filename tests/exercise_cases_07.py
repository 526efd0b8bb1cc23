"""Cases for the checks of notebook 07's exercises: a stub and planted bugs per exercise."""

import random

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


def _split(j_up_to_i=True, group=True, seeded=True, skip_one=False, test_first=True):
    """split_pairs, with one typical slip."""

    def split_pairs(pairs, valid=0.05, test=0.05, seed=0):
        def size(x):
            return round(x * len(pairs)) if isinstance(x, float) else int(x)

        groups = {}
        for k, pair in enumerate(pairs):
            groups.setdefault(pair[0] if group else k, []).append(tuple(pair))
        order = list(groups.values())
        rng = random.Random(seed) if seeded else random.Random()
        for i in range(len(order) - 1, 0, -1):
            j = int(rng.random() * (i + j_up_to_i))
            order[i], order[j] = order[j], order[i]
        out, k = {"test": [], "valid": []}, 0
        for name, n in (("test", size(test)), ("valid", size(valid)))[:: 1 if test_first else -1]:
            while len(out[name]) < n and k < len(order):
                out[name] += order[k]
                k += 1
        train = [pair for group in order[k + skip_one :] for pair in group]
        return train, out["valid"], out["test"]  # without the library's leak check: the check must see it

    return split_pairs


STUBS = {"07.1": _raises, "07.2": _raises}

BUGS = [
    ("07.1", _join(contract=False), "à + le contracts to au"),
    ("07.1", _join(elide_first=False), "gave 'au hôtel', expected \"à l'hôtel\": le elides"),
    ("07.1", _join(vowel=lambda w: w[:1] in "aeiouéèêàâîôû"), "a mute h counts as a vowel sound"),
    ("07.1", _join(apostrophe=" "), "no space after an apostrophe"),
    ("07.2", _split(j_up_to_i=False), "j must be drawn from 0..i, i included"),
    ("07.2", _split(group=False), "is in train and in valid or test: keep every pair of one English sentence"),
    ("07.2", _split(seeded=False), "two calls with seed=3 gave different splits"),
    ("07.2", _split(skip_one=True), "train + valid + test do not hold every pair exactly once: 1 pair(s) missing"),
    ("07.2", _split(test_first=False), "but the order differs: fill test first, then valid"),
]
