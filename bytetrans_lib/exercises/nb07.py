"""Checks of notebook 07's exercises (data): french_join, split_pairs."""

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


def _uneven_pairs(n_english):
    """n_english English sentences with 1, 2 or 3 French translations each, interleaved."""
    return [(f"Sentence {e}.", f"Phrase {e}, version {v}.") for v in range(3) for e in range(n_english) if v <= e % 3]


def _split(split_pairs, pairs, **kwargs):
    """split_pairs(pairs, **kwargs) as [train, valid, test] lists of tuples; its own leak check named as such."""
    try:
        result = split_pairs(list(pairs), **kwargs)
    except AssertionError as e:  # the check after the solution: an English sentence in two sets
        raise Wrong(
            f"split_pairs' own last check failed ({e}): an English sentence of valid or test is also in train; "
            "split whole groups of pairs that share an English sentence, never single pairs"
        ) from None
    if not (isinstance(result, tuple | list) and len(result) == 3):
        raise Wrong(f"split_pairs returned a {type(result).__name__}, expected the tuple (train, valid, test)")
    return [[tuple(pair) for pair in part] for part in result]


SPLITS = ("train", "valid", "test")


def _grouped_split_problem(pairs, splits, sizes, call):
    """What is wrong with the split `splits` of `pairs` (None if nothing): every pair in exactly one
    split, every English sentence in one split only, and the sizes asked for (within one group)."""
    everything = [pair for part in splits for pair in part]
    missing, extra = Counter(pairs) - Counter(everything), Counter(everything) - Counter(pairs)
    if missing or extra:
        problems = [
            f"{sum(c.values())} pair(s) {what} (e.g. {next(iter(c))!r})"
            for c, what in ((missing, "missing"), (extra, "extra"))
            if c
        ]
        return (
            f"{call}: train + valid + test do not hold every pair exactly once: {' and '.join(problems)}; every "
            "pair goes to exactly one set, and every group left after test and valid goes to train"
        )
    where = {}
    for name, part in zip(SPLITS, splits):
        for en, _ in part:
            where.setdefault(en, set()).add(name)
    leaked = sorted(en for en, names in where.items() if len(names) > 1)
    if leaked:
        names = [name for name in SPLITS if name in where[leaked[0]]]
        return (
            f"{call}: the English sentence {leaked[0]!r} is in {' and '.join(names)}: keep every pair of one "
            "English sentence in the same set (split whole groups)"
        )
    largest = max(Counter(en for en, _ in pairs).values())
    for name, part, n in zip(SPLITS[:0:-1], splits[:0:-1], sizes):  # test, then valid
        if abs(len(part) - n) >= largest:
            within = " exactly" if largest == 1 else f" give or take one group (of up to {largest} pairs)"
            swapped = len(part) == sizes[name == "test"] and sizes[0] != sizes[1]
            return (
                f"{call}: len({name}) is {len(part)}, expected {n}{within}: whole groups fill {name} up to "
                f"n_{name} pairs" + (" (valid and test are swapped)" if swapped else "")
            )
    return None


@exercise(
    "07.2",
    "split_pairs",
    reference=lambda: data.split_pairs,
    uses="the library's split_pairs",
    keep_reference="so that its sets, and every output below, are the course's (another right shuffle gives other sets)",
)
def check_split_pairs(split_pairs):
    pairs = _pairs(40)
    call = "split_pairs(40 pairs, valid=0.1, test=0.05, seed=3)"
    first = _split(split_pairs, pairs, valid=0.1, test=0.05, seed=3)
    problem = _grouped_split_problem(pairs, first, (2, 4), call)
    if problem:
        raise Wrong(problem)
    if set(first[1] + first[2]) == set(pairs[:6]):
        raise Wrong(f"{call}: test and valid are the first pairs of the input: the groups were not shuffled")
    if _split(split_pairs, pairs, valid=0.1, test=0.05, seed=3) != first:
        raise Wrong("two calls with seed=3 gave different splits: draw only from rng = random.Random(seed)")
    if _split(split_pairs, pairs, valid=0.1, test=0.05, seed=4) == first:
        raise Wrong("seed=3 and seed=4 gave the same split: shuffle with rng = random.Random(seed)")

    for n_english, per_english, valid, test, seed in [(12, 3, 3, 3, 0), (15, None, 0.2, 0.2, 1)]:
        grouped = _pairs(n_english, per_english) if per_english else _uneven_pairs(n_english)
        what = f"{n_english} English sentences, {per_english or '1 to 3'} French each"
        call = f"split_pairs({len(grouped)} pairs of {what}, valid={valid}, test={test}, seed={seed})"
        splits = _split(split_pairs, grouped, valid=valid, test=test, seed=seed)
        sizes = [round(x * len(grouped)) if isinstance(x, float) else x for x in (test, valid)]
        problem = _grouped_split_problem(grouped, splits, sizes, call)
        if problem:
            raise Wrong(problem)

    three, seeds = _pairs(3), range(60)
    landed = {pair: set() for pair in three}
    for seed in seeds:
        for name, part in zip(SPLITS, _split(split_pairs, three, valid=1, test=1, seed=seed)):
            for pair in part:
                landed[pair].add(name)
    for pair, names in landed.items():
        never = [name for name in SPLITS if name not in names]
        if never:
            raise Wrong(
                f"split_pairs(3 pairs, valid=1, test=1) over seeds 0..59: {pair!r} never landed in {never[0]}: a "
                "shuffle can put any group anywhere (in Fisher-Yates, j is drawn from 0..i, i included: "
                "j = int(rng.random() * (i + 1)))"
            )
