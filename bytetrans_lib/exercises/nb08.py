"""Checks of notebook 08's exercises (training): encode_pairs, edit_distance, TrainConfig.lr, beam_search."""

import numpy as np

from bytetrans_lib import batches, beam, checkpoint, decoding, loop, scoring, train
from bytetrans_lib.exercises import Wrong, exercise, report

PAIRS = [
    ("Hi.", "Salut !"),
    ("Where is Léo?", "Où est Léo ?", "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (a) & #2 (b)"),
    ("I see.", "Je vois."),
]


@exercise("08.1", "encode_pairs", reference=lambda: batches.encode_pairs, uses="the library's encode_pairs")
def check_encode_pairs(encode_pairs):
    got, expected = encode_pairs(list(PAIRS), 64), batches.encode_pairs(list(PAIRS), 64)
    if not isinstance(got, list | tuple) or len(got) != len(expected):
        n = len(got) if hasattr(got, "__len__") else "no"
        raise Wrong(
            f"encode_pairs returned {n} item(s) for {len(PAIRS)} pairs: expected one (src, tgt_in, tgt_out) per pair"
        )
    for k, (mine, ref) in enumerate(zip(got, expected)):
        if not isinstance(mine, list | tuple) or len(mine) != 3:
            raise Wrong(f"encode_pairs' item {k} is {type(mine).__name__}, expected a tuple (src, tgt_in, tgt_out)")
        try:
            report(
                {"src": (mine[0], ref[0]), "tgt_in": (mine[1], ref[1]), "tgt_out": (mine[2], ref[2])},
                hints={
                    "src": "src is the English bytes + EOS: encode(english, eos=True)",
                    "tgt_in": "tgt_in is BOS + the French bytes: what the decoder reads",
                    "tgt_out": "tgt_out is the French bytes + EOS: tgt_in shifted left by one position",
                },
            )
        except Wrong as e:
            raise Wrong(f"for the pair {PAIRS[k][:2]!r}: {e}") from None


# (a, b, why): equal strings first, then the empty edges, then substitutions, insertions and deletions
DISTANCE_CASES = [
    ("abc", "abc", "equal strings are 0 edits apart: a substitution of equal characters costs nothing"),
    ("", "abc", "an empty string needs one insertion per character: the first row is 0, 1, ..., len(b)"),
    ("abc", "", "a string needs one deletion per character to become empty: row i starts with i"),
    ("chat", "chats", "one insertion"),
    ("la pomme", "le pomme", "one substitution is one edit, not a deletion and an insertion"),
    ("kitten", "sitting", "two substitutions and an insertion"),
    ("flaw", "lawn", "a deletion and an insertion"),
    ("ab", "ba", "swapping two neighbours is two edits in Levenshtein's distance"),
    ("Où est-il ?", "Ou est il?", "characters, not bytes: ù is one character"),
]


@exercise("08.2", "edit_distance", reference=lambda: scoring.edit_distance, uses="the library's edit_distance")
def check_edit_distance(edit_distance):
    for a, b, why in DISTANCE_CASES:
        got, expected = edit_distance(a, b), scoring.edit_distance(a, b)
        if isinstance(got, bool) or not isinstance(got, int | np.integer):
            raise Wrong(f"edit_distance({a!r}, {b!r}) returned a {type(got).__name__}, expected an int")
        if got != expected:
            raise Wrong(f"edit_distance({a!r}, {b!r}) gave {got}, expected {expected}: {why}")


def _rates(config_class, d_model=64, **settings):
    config = config_class(**settings)
    return np.array([config.lr(step, d_model) for step in range(1, config.steps + 1)], dtype=np.float64)


@exercise("08.3", "TrainConfig.lr", reference=lambda: loop.TrainConfig, uses="the library's TrainConfig")
def check_train_config_lr(TrainConfig):
    settings = {"steps": 100, "warmup": 10, "peak_lr": 1e-3, "cooldown": 0.3}
    got, expected = _rates(TrainConfig, **settings), _rates(loop.TrainConfig, **settings)
    steps = np.arange(1, 101)
    bad = ~np.isclose(got, expected, rtol=1e-9, atol=0)
    if bad.any():
        first = int(steps[bad][0])
        if got[-1] == 0:
            raise Wrong(
                "lr(step=100) is 0 at the last of 100 steps: the last step must still train; the cool-down factor "
                "is (steps - step + 1) / (cooldown * steps)"
            )
        before = steps <= 71  # (steps - step + 1) >= cooldown * steps: the cool-down factor is 1
        if bad[before].any():
            ratio = got[before] / expected[before]
            if np.allclose(ratio, ratio[0], rtol=1e-9, atol=0):  # the schedule's shape is right, its scale is not
                raise Wrong(
                    f"lr(step=10) is {got[9]:.6g} with warmup=10 and peak_lr=0.001; expected the peak, 0.001: choose "
                    "transformer_lr's factor so that the schedule peaks at peak_lr when step == warmup"
                )
            raise Wrong(
                f"lr(step={first}) is {got[first - 1]:.6g}, expected {expected[first - 1]:.6g}: before the cool-down "
                "(the first 70% of the steps) the rate is transformer_lr's, unchanged; the cool-down factor, "
                "min(1.0, ...), is 1 there"
            )
        raise Wrong(
            f"lr(step={first}) is {got[first - 1]:.6g}, expected {expected[first - 1]:.6g}: during the cool-down (the "
            "last 30% of the steps) the rate falls linearly, to 1 / (cooldown * steps) of the schedule at the last step"
        )
    settings["cooldown"] = 0.0
    try:
        got = _rates(TrainConfig, **settings)
    except ZeroDivisionError:
        raise Wrong("lr divided by zero with cooldown=0: there is no cool-down then, so skip it") from None
    expected = _rates(loop.TrainConfig, **settings)
    if not np.allclose(got, expected, rtol=1e-9, atol=0):
        first = int(np.flatnonzero(~np.isclose(got, expected, rtol=1e-9, atol=0))[0]) + 1
        raise Wrong(
            f"with cooldown=0, lr(step={first}) is {got[first - 1]:.6g}, expected {expected[first - 1]:.6g}: "
            "without a cool-down the rate is transformer_lr's"
        )


# sentences the everyday model translates differently with a beam than greedily, or the same
BEAM_SENTENCES = ["Where is the station?", "Good morning.", "We are late."]


@exercise("08.4", "beam_search", reference=lambda: beam.beam_search, uses="the library's beam_search")
def check_beam_search(beam_search):
    model = checkpoint.load_checkpoint(train.EVERYDAY_MODEL)
    for sentence in BEAM_SENTENCES:
        greedy = decoding.translate(model, [sentence])[0]
        for k, alpha in [(1, 0.6), (4, 0.6), (4, 0.0), (2, 1.0)]:
            got = beam_search(model, sentence, k, alpha)
            call = f"beam_search(everyday, {sentence!r}, beam={k}, alpha={alpha})"
            if not isinstance(got, tuple) or len(got) != 2 or not isinstance(got[0], str):
                raise Wrong(f"{call} returned {type(got).__name__}: expected a tuple (translation, score)")
            translation, score = got
            expected, expected_score = beam.beam_search(model, sentence, k, alpha)
            log_p, n = beam.sentence_log_prob(model, sentence, translation)
            if not np.isclose(score, beam.length_normalized(log_p, n, alpha), rtol=1e-4, atol=1e-5):
                raise Wrong(
                    f"{call} scored {translation!r} {score:.6g}, but the model gives it log p = {log_p:.6g} over {n} "
                    f"ids (EOS included): the score must be log p / {n}**{alpha} = "
                    f"{beam.length_normalized(log_p, n, alpha):.6g}. Add each step's log-probability to the "
                    "candidate it extends, and carry its cached keys and values along (_keep_rows)"
                )
            if k == 1 and translation != greedy:
                raise Wrong(
                    f"{call} gave {translation!r}, greedy decoding gives {greedy!r}: with a beam of 1 the search "
                    "keeps only the likeliest extension, as greedy decoding does"
                )
            if translation != expected:
                better = "higher" if expected_score > score else "lower"
                raise Wrong(
                    f"{call} gave {translation!r} (score {score:.4f}), expected {expected!r} (score "
                    f"{expected_score:.4f}, {better}): at every step keep the {k} likeliest of all {k} x 260 "
                    "extensions, set those ending with EOS aside as complete, and stop only when the best complete "
                    "score beats every live candidate's log p / max_len**alpha"
                )
