"""Checks of notebook 08's exercises (training): encode_pairs, epoch_batches, edit_distance,
validation_loss, chrf_score, TrainConfig.lr and beam_search."""

import numpy as np

from bytetrans_lib import batches, beam, checkpoint, decoding, loop, scoring, train
from bytetrans_lib.config import Config
from bytetrans_lib.exercises import Wrong, exercise, report
from bytetrans_lib.optim import CrossEntropyLoss
from bytetrans_lib.tokenizer import BOS_ID, EOS_ID, VOCAB_SIZE
from bytetrans_lib.transformer import Transformer

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


def _encoded(n, seed):
    """n pairs as encode_pairs makes them, each side 3 to 8 ids long: many pairs of equal length."""
    rng = np.random.default_rng(seed)
    encoded = []
    for _ in range(n):
        n_src, n_tgt = rng.integers(3, 9, size=2)
        tgt = rng.integers(0, 256, size=n_tgt)
        encoded.append((rng.integers(0, 256, size=n_src), tgt, tgt))
    return encoded


def _batches_with(encoded, batch_size, seed, epoch, *, stable=True, shuffle=True, shuffle_batches=True, length="max"):
    """epoch_batches with one slip, to name a wrong result."""
    rng = np.random.default_rng([seed, epoch] if length != "seed only" else seed)
    order = rng.permutation(len(encoded)) if shuffle else np.arange(len(encoded))
    size = {"src": lambda e: len(e[0]), "sum": lambda e: len(e[0]) + len(e[1])}.get(length, lambda e: max(map(len, e)))
    lengths = np.array([size(encoded[i]) for i in order])
    order = order[np.argsort(lengths, kind="stable" if stable else "quicksort")]
    cut = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    return [cut[i] for i in rng.permutation(len(cut))] if shuffle_batches else cut


BATCH_SLIPS = [
    (
        {"stable": False},
        "pairs of equal length are not in their shuffled order: np.argsort's default sort is not stable; "
        "sort with kind='stable'",
    ),
    (
        {"shuffle": False},
        "pairs of equal length come in index order, the same in every epoch: shuffle first, "
        "order = rng.permutation(len(encoded)), and sort that order by length",
    ),
    (
        {"shuffle_batches": False},
        "the batches come from the shortest to the longest: shuffle their order with the same generator's "
        "second draw, rng.permutation(len(batches)), or every epoch starts with the short sentences",
    ),
    ({"length": "src"}, "a pair's length is the longer of its two sides, max(len(src), len(tgt_in)), not the English"),
    ({"length": "sum"}, "a pair's length is the longer of its two sides, max(len(src), len(tgt_in)), not their sum"),
    (
        {"length": "seed only"},
        "the generator must depend on the epoch too: np.random.default_rng([seed, epoch]), so that each epoch "
        "has its own order and a resumed run sees the same one",
    ),
]

# (pairs, batch_size, seed, epoch): a last batch shorter than the others, several seeds and epochs
EPOCH_CASES = [(40, 6, 0, 0), (40, 6, 1, 3), (23, 5, 2, 1)]


def _same_batches(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@exercise("08.2", "epoch_batches", reference=lambda: batches.epoch_batches, uses="the library's epoch_batches")
def check_epoch_batches(epoch_batches):
    for n, batch_size, seed, epoch in EPOCH_CASES:
        encoded = _encoded(n, seed=n)
        call = f"epoch_batches(encoded, batch_size={batch_size}, seed={seed}, epoch={epoch}) for {n} pairs"
        got, expected = (
            epoch_batches(encoded, batch_size, seed, epoch),
            batches.epoch_batches(encoded, batch_size, seed, epoch),
        )
        if not isinstance(got, list | tuple):
            raise Wrong(f"{call} returned a {type(got).__name__}: expected a list of index arrays, one per batch")
        if len(got) != len(expected):
            raise Wrong(
                f"{call} gave {len(got)} batches, expected {len(expected)}: cut the sorted order every "
                f"{batch_size} pairs, the last batch shorter"
            )
        got = [np.asarray(indices) for indices in got]
        seen = np.concatenate(got).tolist() if got else []
        if sorted(seen) != list(range(n)):
            twice = sorted({i for i in seen if seen.count(i) > 1})
            missing = sorted(set(range(n)) - set(seen))
            raise Wrong(
                f"{call}: every pair must be in exactly one batch of the epoch; "
                + (f"pair {twice[0]} is in {seen.count(twice[0])}" if twice else f"pair {missing[0]} is in none")
            )
        if _same_batches(got, expected):
            continue
        i = next(k for k, (a, b) in enumerate(zip(got, expected)) if not np.array_equal(a, b))
        where = f"{call}: batch {i} is {got[i].tolist()}, expected {expected[i].tolist()}"
        for slip, why in BATCH_SLIPS:
            if _same_batches(got, _batches_with(encoded, batch_size, seed, epoch, **slip)):
                raise Wrong(f"{where} ({why})")
        if sorted(map(tuple, map(np.ndarray.tolist, got))) == sorted(map(tuple, map(np.ndarray.tolist, expected))):
            raise Wrong(
                f"{where}: the batches are right, their order is not (shuffle it with rng.permutation(len(batches)), "
                "the second draw of the generator that shuffled the pairs)"
            )
        raise Wrong(
            f"{where} (one generator, np.random.default_rng([seed, epoch]): shuffle with rng.permutation(len(encoded)), "
            "sort that order by length with a stable sort, cut it into batches, shuffle them with rng.permutation)"
        )


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


@exercise("08.3", "edit_distance", reference=lambda: scoring.edit_distance, uses="the library's edit_distance")
def check_edit_distance(edit_distance):
    for a, b, why in DISTANCE_CASES:
        got, expected = edit_distance(a, b), scoring.edit_distance(a, b)
        if isinstance(got, bool) or not isinstance(got, int | np.integer):
            raise Wrong(f"edit_distance({a!r}, {b!r}) returned a {type(got).__name__}, expected an int")
        if got != expected:
            raise Wrong(f"edit_distance({a!r}, {b!r}) gave {got}, expected {expected}: {why}")


# seven pairs of 4 to 22 target ids: batches of 3 or 4 pairs hold different numbers of real targets
LOSS_PAIRS = [
    ("Hi.", "Salut !"),
    ("We are late.", "Nous sommes en retard."),
    ("Yes.", "Oui."),
    ("Where is Léo?", "Où est Léo ?"),
    ("Run!", "Cours !"),
    ("I see.", "Je vois."),
    ("Thank you.", "Merci."),
]
TINY = Config(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32, max_len=24, dtype="float64")


def _loss_with(model, encoded, batch_size, slip=None):
    """validation_loss with one slip, to name a wrong result."""
    loss_fn = CrossEntropyLoss(label_smoothing=0.1 if slip == "smoothing" else 0.0)
    total, count, means = 0.0, 0, []
    stop = len(encoded) - batch_size + 1 if slip == "last batch" else len(encoded)
    for k in range(0, max(stop, 1), batch_size):
        src, tgt_in, tgt_out = batches.make_batch(encoded, np.arange(k, min(k + batch_size, len(encoded))))
        n = tgt_out.size if slip == "padding" else int((tgt_out != loss_fn.ignore_index).sum())
        means.append(loss_fn.forward(model.forward(src, tgt_in), tgt_out))
        total, count = total + means[-1] * n, count + n
    return float(np.mean(means)) if slip == "means" else total / count


LOSS_SLIPS = {
    "means": "that is the mean of the batches' means, which weighs a batch with few target bytes (the last, "
    "smaller one) as much as a full one: add each batch's mean times its number of real targets, and divide "
    "the sum by the number of real targets of all the batches",
    "padding": "the batches' means are weighted by every position of tgt_out, PAD included: count only the "
    "real targets, tgt_out != loss_fn.ignore_index (the PAD id)",
    "last batch": "the last, smaller batch is left out: range(0, len(encoded), batch_size), each batch cut at "
    "len(encoded)",
    "smoothing": "that is the label-smoothed loss: the validation loss is plain cross-entropy, CrossEntropyLoss()",
}


@exercise("08.4", "validation_loss", reference=lambda: scoring.validation_loss, uses="the library's validation_loss")
def check_validation_loss(validation_loss):
    model = Transformer(TINY, rng=np.random.default_rng(0))
    encoded = batches.encode_pairs(LOSS_PAIRS, TINY.max_len)
    for batch_size in (3, 4, 100):
        call = f"validation_loss(model, {len(encoded)} pairs, batch_size={batch_size})"
        got, expected = validation_loss(model, encoded, batch_size), scoring.validation_loss(model, encoded, batch_size)
        if isinstance(got, bool) or not isinstance(got, float | np.floating):
            raise Wrong(f"{call} returned a {type(got).__name__}: expected one number, a float")
        if np.isclose(got, expected, rtol=1e-9, atol=0):
            continue
        why = next(
            (why for slip, why in LOSS_SLIPS.items() if np.isclose(got, _loss_with(model, encoded, batch_size, slip))),
            "the loss over every real target byte of all the pairs, divided by their number, is the same whatever "
            "batch_size cuts them into batches",
        )
        raise Wrong(f"{call} is {got:.6f}, expected {expected:.6f} ({why})")


# (hypothesis, reference) whose n-gram counts chrf_score gets: partial matches, a reference and a
# hypothesis too short for some orders (left out of the averages), no match, an exact one
CHRF_CASES = [
    ("Je suis froid.", "J'ai froid."),
    ("Merci bien.", "Merci beaucoup !"),
    ("Oui !", "Oui."),
    ("Non", "Non merci."),
    ("xyz", "J'ai faim."),
    ("Il pleut.", "Il pleut."),
]


def _chrf_with(stats, beta, slip):
    """chrf_score with one slip, to name a wrong result."""
    if slip == "every order":  # an order a side does not have counts as precision and recall 0
        both = [(s / h if h else 0.0, s / r if r else 0.0) for h, r, s in stats]
    else:
        both = [(s / h, s / r) for h, r, s in stats if h and r]
    if not both:
        return 0.0
    if slip == "per order":
        return 100 * np.mean([(1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0 for p, r in both])
    p, r = np.mean([p for p, _ in both]), np.mean([r for _, r in both])
    if p + r == 0:
        return 0.0
    f = {
        "swapped": (1 + beta**2) * p * r / (p + beta**2 * r),
        "beta not squared": (1 + beta) * p * r / (beta * p + r),
    }.get(slip, (1 + beta**2) * p * r / (beta**2 * p + r))
    return f if slip == "fraction" else 100 * f


CHRF_SLIPS = {
    "swapped": "beta weighs the wrong side: in (1 + beta**2) * P * R / (beta**2 * P + R) recall counts beta times "
    "as much as precision, and beta**2 multiplies P in the denominator",
    "beta not squared": "the F-score squares beta: (1 + beta**2) * P * R / (beta**2 * P + R)",
    "per order": "that is the mean of the orders' F-scores: average the precisions and the recalls over the "
    "orders first, then take one F-score of the two averages",
    "every order": "an order that one side has no n-grams of (a count of 0) is left out: average over the orders "
    "both sides have, not over all six",
    "fraction": "chrF is on a scale of 0 to 100: 100 times the F-score",
}


@exercise("08.5", "chrf_score", reference=lambda: scoring.chrf_score, uses="the library's chrf_score")
def check_chrf_score(chrf_score):
    cases = [(f"chrf_statistics({h!r}, {r!r})", scoring.chrf_statistics(h, r)) for h, r in CHRF_CASES]
    total = [tuple(map(sum, zip(*orders))) for orders in zip(*(stats for _, stats in cases[:4]))]
    cases.append(("the sum of the first four sentences' counts, as chrf sums a corpus's", total))
    for beta in (2, 1, 3):
        for what, stats in cases:
            call = f"chrf_score({stats}{'' if beta == 2 else f', beta={beta}'}), the counts of {what},"
            try:
                got = chrf_score(stats) if beta == 2 else chrf_score(stats, beta)
            except ZeroDivisionError:
                raise Wrong(
                    f"{call} divided by zero: with no n-gram shared, P = R = 0 and chrF is 0; an order with no "
                    "n-gram on one side is left out"
                ) from None
            expected = scoring.chrf_score(stats, beta)
            if isinstance(got, bool) or not isinstance(got, float | int | np.floating | np.integer):
                raise Wrong(f"{call} returned a {type(got).__name__}: expected one number")
            if np.isclose(got, expected, rtol=1e-9, atol=1e-12):
                continue
            why = next(
                (why for slip, why in CHRF_SLIPS.items() if np.isclose(got, _chrf_with(stats, beta, slip))),
                "P and R are the means over the orders both sides have of shared / hypothesis n-grams and shared / "
                "reference n-grams; chrF = 100 * (1 + beta**2) * P * R / (beta**2 * P + R)",
            )
            raise Wrong(f"{call} gave {got:.4f}, expected {expected:.4f} ({why})")


def _rates(config_class, d_model=64, **settings):
    config = config_class(**settings)
    return np.array([config.lr(step, d_model) for step in range(1, config.steps + 1)], dtype=np.float64)


@exercise("08.6", "TrainConfig.lr", reference=lambda: loop.TrainConfig, uses="the library's TrainConfig")
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


def _markov_model(table, max_len=8):
    """A Transformer whose next-byte log-probabilities depend on the last id only, as `table` sets
    them ({last: {next: p}}, "" for BOS and "$" for EOS; every other byte gets a logit of -30): no
    layers, a one-hot embedding and an output layer whose row `last` holds the logits. Returns
    (model, calls), calls[0] counting the decode steps (calls of the output layer)."""
    config = Config(
        d_model=VOCAB_SIZE, n_heads=1, n_encoder_layers=0, n_decoder_layers=0, d_ff=1, max_len=max_len,
        norm_first=False, dtype="float64",
    )  # fmt: skip
    model = Transformer(config, rng=np.random.default_rng(0))
    embedding = model.decoder.embedding
    embedding.params["E"][...] = np.eye(VOCAB_SIZE) / embedding.scale  # (V, V): E[id] * scale is one-hot
    model.decoder.positions.pe[...] = 0.0

    def id_of(c):
        return {"": BOS_ID, "$": EOS_ID}[c] if c in ("", "$") else ord(c)

    logits = np.full((VOCAB_SIZE, VOCAB_SIZE), -30.0)  # (last id, next id)
    for last, following in table.items():
        for byte, p in following.items():
            logits[id_of(last), id_of(byte)] = np.log(p)
    model.output.params["W"][...], model.output.params["b"][...] = logits, 0.0
    calls, forward = [0], model.output.forward

    def counted(hidden):
        calls[0] += 1
        return forward(hidden)

    model.output.forward = counted
    return model, calls


# Models whose stopping point is known, and what the wrong stopping rules return on them
# (translation, decode steps). The first has a better translation that a rule stopping early
# misses: "bcde" starts unlikely (0.2), so its score is low at first, but every further byte is
# almost certain, so its score rises as it grows.
STOP_CASES = [
    (
        {
            "": {"a": 0.8, "b": 0.2},
            "a": {"$": 0.6, "x": 0.4},
            "x": {"$": 1.0},
            "b": {"c": 0.99, "$": 0.01},
            "c": {"d": 0.99, "$": 0.01},
            "d": {"e": 0.99, "$": 0.01},
            "e": {"$": 0.99, "f": 0.01},
            "f": {"$": 1.0},
        },
        "after BOS: a 0.8, b 0.2; after a: EOS 0.6, x 0.4; after x: EOS; then b, c, d and e are followed by c, d, "
        "e and EOS with probability 0.99",
        (2, 1.0, 7),
        {"current length": ("a", 2), "beam complete": ("a", 3), "no early stop": ("bcde", 7)},
    ),
    (
        {"": {"o": 0.9, "p": 0.1}, "o": {"$": 0.95, "q": 0.05}, "q": {"q": 0.9, "$": 0.1}, "p": {"p": 0.9, "$": 0.1}},
        "after BOS: o 0.9, p 0.1; after o: EOS 0.95, q 0.05; q and p repeat themselves with probability 0.9",
        (4, 0.6, 7),
        {"beam complete": ("o", 3), "no early stop": ("o", 7)},
    ),
]
STOP_RULES = {
    "current length": "that is what comparing the best complete score with the open candidates' scores at their "
    "current length gives: an open candidate's score still rises when its next bytes are likelier than its "
    "bytes so far, and the most it can reach is log p / max_len**alpha (log p only falls), so compare with that",
    "beam complete": "that is what stopping as soon as `beam` candidates are complete gives: a candidate completed "
    "later may still score better, and once the best complete score beats every open candidate's "
    "log p / max_len**alpha the search can stop with fewer complete",
    "no early stop": "that is what running to max_len without the early stop gives: the same answer after more "
    "decode steps than needed; once the best complete score is at least every open candidate's "
    "log p / max_len**alpha no later step can change it, so stop there",
}


def _stopping(beam_search):
    """None if the search stops where the notebook's rule says on every STOP_CASES model (the same
    translation after as many decode steps), else the message: naming the wrong rule when the
    search does what that rule does on every model."""
    seen, problems = [], []
    for table, described, (k, alpha, max_len), _ in STOP_CASES:
        model, calls = _markov_model(table)
        expected, expected_score = beam.beam_search(model, "Hi.", k, alpha, max_len)
        expected_steps, calls[0] = calls[0], 0
        translation, score = beam_search(model, "Hi.", k, alpha, max_len)  # a tuple: checked on the everyday model
        seen.append((translation, calls[0]))
        if seen[-1] != (expected, expected_steps) or not np.isclose(score, expected_score):
            problems.append(
                f"beam_search(model, 'Hi.', beam={k}, alpha={alpha}, max_len={max_len}) returned {translation!r} "
                f"(score {score:.4f}) after {calls[0]} decode steps, on a model whose next byte depends on the last "
                f"one only ({described}); the course's search returns {expected!r} (score {expected_score:.4f}) "
                f"after {expected_steps}"
            )
        else:
            problems.append(None)
    if not any(problems):
        return None
    first = next(p for p in problems if p)
    for rule, why in STOP_RULES.items():
        if all(s == case[3].get(rule, s if p is None else None) for s, p, case in zip(seen, problems, STOP_CASES)):
            return f"{first}: {why}"
    return (
        f"{first}: stop when no open candidate is left, or when the best complete score is at least every open "
        "candidate's log p / max_len**alpha"
    )


# sentences the everyday model translates differently with a beam than greedily, or the same
BEAM_SENTENCES = ["Where is the station?", "Good morning.", "We are late."]


@exercise("08.7", "beam_search", reference=lambda: beam.beam_search, uses="the library's beam_search")
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
                stopping = _stopping(beam_search)  # a wrong stopping rule, if that is what the models show
                if stopping and any(why in stopping for why in STOP_RULES.values()):
                    raise Wrong(stopping)
                better = "higher" if expected_score > score else "lower"
                raise Wrong(
                    f"{call} gave {translation!r} (score {score:.4f}), expected {expected!r} (score "
                    f"{expected_score:.4f}, {better}): at every step keep the {k} likeliest of all {k} x 260 "
                    "extensions, set those ending with EOS aside as complete, and stop only when the best complete "
                    "score beats every live candidate's log p / max_len**alpha"
                )
    stopping = _stopping(beam_search)
    if stopping:
        raise Wrong(stopping)
