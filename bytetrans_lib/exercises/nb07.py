"""Checks of notebook 07's exercises (data): french_join, split_pairs."""

import random
from collections import Counter

from bytetrans_lib import data, spelling
from bytetrans_lib.exercises import Wrong, exercise

# (words, expected, what the case is about): each rule of the notebook's table, then both together
FRENCH_CASES = [
    (["le", "chat"], "le chat", "a word before a consonant stays as it is, one space between words"),
    (["le", "arbre"], "l'arbre", "le elides before a vowel, with no space after the apostrophe"),
    (["je", "ai", "un", "œuf"], "j'ai un œuf", "je elides before a vowel; un does not elide"),
    (["la", "horloge"], "l'horloge", "a mute h counts as a vowel sound: use starts_with_vowel_sound"),
    (["le", "hibou"], "le hibou", "an aspirated h blocks elision"),
    (["il", "ne", "se", "habille", "pas"], "il ne s'habille pas", "only the word before the vowel sound elides"),
    (["est-ce", "que", "il", "y", "a", "de", "huit"], "est-ce qu'il y a de huit", "que elides; de huit does not"),
    (["à", "le", "marché"], "au marché", "à + le contracts to au"),
    (["de", "le", "lac"], "du lac", "de + le contracts to du"),
    (["à", "les", "îles"], "aux îles", "à + les contracts to aux, even before a vowel: les never elides"),
    (["de", "les", "œufs"], "des œufs", "de + les contracts to des, even before a vowel: les never elides"),
    (["à", "le", "hôtel"], "à l'hôtel", "le elides before a vowel sound first, and then à + le does not contract"),
    (["près", "de", "le", "arbre"], "près de l'arbre", "le elides first, and then de + le does not contract"),
    (["de", "le", "hibou"], "du hibou", "an aspirated h blocks the elision, so de + le contracts"),
    (["près", "de", "une", "île"], "près d'une île", "de elides before une"),
    (["le"], "le", "the last word has no next word: treat what follows it as empty"),
    ([], "", "no words at all: an empty string"),
]


@exercise("07.1", "french_join", reference=lambda: spelling.french_join, uses="the library's french_join")
def check_french_join(french_join):
    for words, expected, why in FRENCH_CASES:
        got = french_join(list(words))
        if not isinstance(got, str):
            raise Wrong(f"french_join({words}) returned a {type(got).__name__}, expected a str")
        if got != expected:
            if got.replace("' ", "'") == expected:
                why = "no space after an apostrophe: the elided word is glued to the next one"
            elif got.strip() != got or "  " in got:
                why = "one space between words, none at the ends (strip the result)"
            raise Wrong(f"french_join({words}) gave {got!r}, expected {expected!r}: {why}")


def _pairs(n_english, per_english=1):
    """n_english English sentences, each with per_english French translations, interleaved."""
    return [(f"Sentence {e}.", f"Phrase {e}, version {v}.") for v in range(per_english) for e in range(n_english)]


def _variant(pairs, valid, test, seed, *, j_up_to_i=True, test_first=True):
    """The course's split of `pairs` (valid, test: numbers of pairs), or one of two typical slips:
    j drawn from 0..i-1 (Sattolo's algorithm: a cycle, not a shuffle), or valid filled first."""
    groups = {}
    for pair in pairs:
        groups.setdefault(pair[0], []).append(tuple(pair))
    order, rng = list(groups.values()), random.Random(seed)
    for i in range(len(order) - 1, 0, -1):
        j = int(rng.random() * (i + j_up_to_i))
        order[i], order[j] = order[j], order[i]
    out, k = {"test": [], "valid": []}, 0
    for name, n in (("test", test), ("valid", valid)) if test_first else (("valid", valid), ("test", test)):
        while len(out[name]) < n and k < len(order):
            out[name] += order[k]
            k += 1
    return [[pair for group in order[k:] for pair in group], out["valid"], out["test"]]


def _split(split_pairs, pairs, **kwargs):
    """split_pairs(pairs, **kwargs) as (train, valid, test) lists; its own leak check named as such."""
    try:
        result = split_pairs(list(pairs), **kwargs)
    except AssertionError as e:  # the check after the solution: an English sentence in two sets
        raise Wrong(
            f"split_pairs' own last check failed ({e}): an English sentence of valid or test is also in train; "
            "split whole groups of pairs that share an English sentence, never single pairs"
        ) from None
    if not (isinstance(result, tuple | list) and len(result) == 3):
        raise Wrong(f"split_pairs returned a {type(result).__name__}, expected the tuple (train, valid, test)")
    return [list(part) for part in result]


@exercise("07.2", "split_pairs", reference=lambda: data.split_pairs, uses="the library's split_pairs")
def check_split_pairs(split_pairs):
    pairs = _pairs(40)
    train, valid, test = _split(split_pairs, pairs, valid=0.1, test=0.05, seed=3)
    missing, extra = Counter(pairs) - Counter(train + valid + test), Counter(train + valid + test) - Counter(pairs)
    if missing or extra:
        problems = [
            f"{sum(c.values())} pair(s) {what} (e.g. {next(iter(c))!r})"
            for c, what in ((missing, "missing"), (extra, "extra"))
            if c
        ]
        raise Wrong(
            f"train + valid + test do not hold every pair exactly once: {' and '.join(problems)}; every pair goes "
            "to exactly one set, and every group left after valid goes to train"
        )
    if (len(valid), len(test)) != (4, 2):
        swapped = " (valid and test are swapped)" if (len(valid), len(test)) == (2, 4) else ""
        raise Wrong(
            f"len(valid) is {len(valid)} and len(test) is {len(test)} for valid=0.1 and test=0.05 of 40 pairs; "
            f"expected 4 and 2: size(valid) and size(test){swapped}"
        )
    if test + valid == pairs[:6]:
        raise Wrong("test and valid are the first pairs of the input: the groups were not shuffled")
    if [list(p) for p in split_pairs(list(pairs), valid=0.1, test=0.05, seed=3)] != [train, valid, test]:
        raise Wrong("two calls with seed=3 gave different splits: draw only from rng = random.Random(seed)")
    if _split(split_pairs, pairs, valid=0.1, test=0.05, seed=4) == [train, valid, test]:
        raise Wrong("seed=3 and seed=4 gave the same split: shuffle with rng = random.Random(seed)")

    grouped = _pairs(12, per_english=3)  # each English sentence three times
    g_train, g_valid, g_test = _split(split_pairs, grouped, valid=3, test=3, seed=0)
    leaked = {en for en, _ in g_valid + g_test} & {en for en, _ in g_train}
    if leaked:
        raise Wrong(
            f"the English sentence {sorted(leaked)[0]!r} is in train and in valid or test: keep every pair of one "
            "English sentence in the same set (split whole groups)"
        )

    for case, (n_valid, n_test, seed) in [(pairs, (4, 2, 3)), (grouped, (3, 3, 0))]:
        got = _split(split_pairs, case, valid=n_valid, test=n_test, seed=seed)
        expected = [list(p) for p in data.split_pairs(list(case), valid=n_valid, test=n_test, seed=seed)]
        for name, mine, ref in reversed(list(zip(("train", "valid", "test"), got, expected))):  # test is filled first
            if mine != ref:
                hint = "shuffle the groups with Fisher-Yates exactly as described, then fill test first, then valid"
                if got == _variant(case, n_valid, n_test, seed, j_up_to_i=False):
                    hint = "j must be drawn from 0..i, i included: j = int(rng.random() * (i + 1))"
                elif got == _variant(case, n_valid, n_test, seed, test_first=False):
                    hint = "fill test first, then valid"
                k = next((k for k, (a, b) in enumerate(zip(mine, ref)) if a != b), min(len(mine), len(ref)))
                raise Wrong(
                    f"{name} is not the course's split: {name}[{k}] is {mine[k] if k < len(mine) else None!r}, "
                    f"expected {ref[k] if k < len(ref) else None!r} (every pair is in one set, the sizes are right "
                    f"and no English sentence leaked, but the order differs: {hint})"
                )
