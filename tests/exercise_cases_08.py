"""Cases for the checks of notebook 08's exercises: a stub and planted bugs per exercise."""

import math

import numpy as np

from bytetrans_lib import beam, loop
from bytetrans_lib.batches import make_batch
from bytetrans_lib.decoding import DecoderCache, decode_step
from bytetrans_lib.doors import checked_by
from bytetrans_lib.optim import CrossEntropyLoss, transformer_lr
from bytetrans_lib.tokenizer import BOS_ID, EOS_ID, PAD_ID, encode, normalize_text, pad_batch


def _raises(*args, **kwargs):
    raise NotImplementedError


class _StubTrainConfig(loop.TrainConfig):
    def lr(self, step, d_model):
        raise NotImplementedError


def _encode(shift=True, bos=True, src_eos=True, swap=False):
    """encode_pairs with one slip: no shift of the targets, no BOS, no EOS after the English, or
    BOS and EOS swapped."""

    def encode_pairs(pairs, max_len):
        encoded = []
        for english, french, *_ in pairs:
            fr = encode(french)
            tgt_in = np.concatenate([[BOS_ID], fr]) if bos else fr
            tgt_out = np.concatenate([fr, [EOS_ID]]) if shift else tgt_in
            if swap:
                tgt_in, tgt_out = np.concatenate([[EOS_ID], fr]), np.concatenate([fr, [BOS_ID]])
            encoded.append((encode(english, eos=src_eos), tgt_in, tgt_out))
        return encoded

    return encode_pairs


def _distance(match_cost=True, first_row=True, substitution=1):
    """edit_distance with one slip."""

    def edit_distance(a, b):
        previous = list(range(len(b) + 1)) if first_row else [0] * (len(b) + 1)
        for i, ca in enumerate(a, start=1):
            current = [i]
            for j, cb in enumerate(b, start=1):
                cost = substitution * (ca != cb) if match_cost else 1
                current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
            previous = current
        return previous[-1]

    return edit_distance


class _LrUnscaled(loop.TrainConfig):  # factor = peak_lr: the peak is not peak_lr
    def lr(self, step, d_model):
        rate = transformer_lr(step, d_model, self.warmup, factor=self.peak_lr)
        if self.cooldown > 0:
            rate *= min(1.0, (self.steps - step + 1) / (self.cooldown * self.steps))
        return rate


class _LrZeroAtTheEnd(loop.TrainConfig):  # without the + 1: the last step does not train
    def lr(self, step, d_model):
        rate = transformer_lr(step, d_model, self.warmup, factor=self.peak_lr * math.sqrt(d_model * self.warmup))
        if self.cooldown > 0:
            rate *= min(1.0, (self.steps - step) / (self.cooldown * self.steps))
        return rate


class _LrAlwaysCooling(loop.TrainConfig):  # the cool-down applied from the first step, over the whole run
    def lr(self, step, d_model):
        rate = transformer_lr(step, d_model, self.warmup, factor=self.peak_lr * math.sqrt(d_model * self.warmup))
        return rate * (self.steps - step + 1) / self.steps


class _LrNoGuard(loop.TrainConfig):  # divides by cooldown * steps even when cooldown is 0
    def lr(self, step, d_model):
        rate = transformer_lr(step, d_model, self.warmup, factor=self.peak_lr * math.sqrt(d_model * self.warmup))
        return rate * min(1.0, (self.steps - step + 1) / (self.cooldown * self.steps))


def _beam_greedy(model, text, beam_size=4, alpha=0.6, max_len=None):  # ignores the beam: greedy decoding
    return beam.beam_search(model, text, 1, alpha, max_len)


def _beam_unnormalized(model, text, beam_size=4, alpha=0.6, max_len=None):  # returns log p, not log p / n**alpha
    translation, score = beam.beam_search(model, text, beam_size, alpha, max_len)
    return translation, score * (len(encode(translation)) + 1) ** alpha


def _beam_cache_left_behind(model, text, beam_size=4, alpha=0.6, max_len=None):  # never moves the cache's rows
    keep_rows = beam._keep_rows
    beam._keep_rows = lambda cache, rows: None
    try:
        return beam.beam_search(model, text, beam_size, alpha, max_len)
    finally:
        beam._keep_rows = keep_rows


def _beam_translation_only(model, text, beam_size=4, alpha=0.6, max_len=None):  # forgets the score
    return beam.beam_search(model, text, beam_size, alpha, max_len)[0]


def _batches(stable=True, shuffle_batches=True, length="max", seeded_by_epoch=True):
    """epoch_batches with one slip: an unstable sort, the batches left in length order, the length
    of the English alone, or a generator that ignores the epoch."""

    def epoch_batches(encoded, batch_size, seed, epoch):
        rng = np.random.default_rng([seed, epoch] if seeded_by_epoch else seed)
        order = rng.permutation(len(encoded))
        lengths = [
            len(encoded[i][0]) if length == "src" else max(len(encoded[i][0]), len(encoded[i][1])) for i in order
        ]
        order = order[np.argsort(lengths, kind="stable" if stable else None)]
        cut = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
        return [cut[i] for i in rng.permutation(len(cut))] if shuffle_batches else cut

    return epoch_batches


def _batches_by_sorted(encoded, batch_size, seed, epoch):  # Python's sorted is stable too
    rng = np.random.default_rng([seed, epoch])
    shuffled = rng.permutation(len(encoded)).tolist()
    order = sorted(shuffled, key=lambda i: max(len(part) for part in encoded[i]))
    batches = [np.array(order[k : k + batch_size]) for k in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _validation_loss(slip):
    """validation_loss with one slip: the mean of the batch means, PAD counted, the last batch
    dropped, or label smoothing."""

    def validation_loss(model, encoded, batch_size=100):
        loss_fn = CrossEntropyLoss(label_smoothing=0.1 if slip == "smoothing" else 0.0)
        losses, counts = [], []
        end = len(encoded) - len(encoded) % batch_size if slip == "drop last" else len(encoded)
        for k in range(0, end, batch_size):
            src, tgt_in, tgt_out = make_batch(encoded, np.arange(k, min(k + batch_size, len(encoded))))
            losses.append(loss_fn.forward(model.forward(src, tgt_in), tgt_out))
            counts.append(tgt_out.size if slip == "pad" else int((tgt_out != PAD_ID).sum()))
        return float(np.mean(losses)) if slip == "means" else float(np.dot(losses, counts) / sum(counts))

    return validation_loss


def _validation_loss_by_tokens(model, encoded, batch_size=100):  # sums the real targets' -log p itself
    total, count = 0.0, 0
    for k in range(0, len(encoded), batch_size):
        src, tgt_in, tgt_out = make_batch(encoded, np.arange(k, min(k + batch_size, len(encoded))))
        log_p = beam.log_softmax(model.forward(src, tgt_in))  # (B, T, V)
        real = tgt_out != PAD_ID
        total -= np.take_along_axis(log_p, tgt_out[..., None], axis=-1)[..., 0][real].sum()
        count += int(real.sum())
    return total / count


def _chrf(slip=None):
    """chrf_score with one slip: beta on the precision's side, beta not squared, the mean of the
    orders' F-scores, or every order counted."""

    def chrf_score(stats, beta=2):
        if slip == "all orders":
            pr = [(s / h if h else 0.0, s / r if r else 0.0) for h, r, s in stats]
        else:
            pr = [(s / h, s / r) for h, r, s in stats if h > 0 and r > 0]
        if not pr:
            return 0.0
        if slip == "per order":
            return 100 * sum((1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0 for p, r in pr) / len(pr)
        p, r = np.mean(pr, axis=0)
        if p + r == 0:
            return 0.0
        b2 = beta if slip == "unsquared" else beta**2
        return 100 * (1 + b2) * p * r / ((p + b2 * r) if slip == "swapped" else (b2 * p + r))

    return chrf_score


def _chrf_with_arrays(stats, beta=2):  # the same, with NumPy arrays
    n_hyp, n_ref, shared = np.array(stats, dtype=float).reshape(-1, 3).T
    both = (n_hyp > 0) & (n_ref > 0)
    if not both.any():
        return 0.0
    p, r = (shared[both] / n_hyp[both]).mean(), (shared[both] / n_ref[both]).mean()
    return 0.0 if p + r == 0 else float(100 * (1 + beta**2) * p * r / (beta**2 * p + r))


def _beam_stopping(rule):
    """beam_search with another stopping rule: "current length" compares the best complete score
    with the open candidates' scores at their current length, "beam complete" stops once `beam`
    candidates are complete, "no early stop" runs to max_len; "at the top" is the notebook's rule,
    tested at the start of each step instead of after the extensions (the same steps)."""

    @checked_by(beam._check_beam_search)
    def beam_search(model, text, beam_size=4, alpha=0.6, max_len=None):
        source = encode(normalize_text(text), eos=True)
        if len(source) == 1:
            return "", 0.0
        memory, src_mask = model.encode(pad_batch([source] * beam_size))
        cache, prefixes, complete = DecoderCache(model, memory, src_mask), [[] for _ in range(beam_size)], []
        log_p, last = np.array([0.0] + [-np.inf] * (beam_size - 1)), np.full(beam_size, BOS_ID)
        for _ in range(max_len):
            best = max((score for score, _ in complete), default=-np.inf)
            if rule == "at the top" and best >= log_p.max() / max_len**alpha:
                break
            step = beam.log_softmax(decode_step(model, cache, last).astype(np.float64))
            rows, ids, kept = beam._extensions(log_p[:, None] + step, prefixes, beam_size, alpha, complete)
            best = max((score for score, _ in complete), default=-np.inf)
            if not rows:
                break
            if rule == "current length" and best >= beam.length_normalized(
                max(kept), len(prefixes[rows[0]]) + 1, alpha
            ):
                break
            if rule == "beam complete" and len(complete) >= beam_size:
                break
            missing = beam_size - len(rows)
            rows, ids, kept = rows + [rows[0]] * missing, ids + [ids[0]] * missing, kept + [-np.inf] * missing
            beam._keep_rows(cache, rows)
            prefixes = [prefixes[row] + [id_] for row, id_ in zip(rows, ids)]
            log_p, last = np.array(kept), np.array(ids)
        return beam._best(complete, log_p, prefixes, alpha)

    return beam_search


STUBS = {
    "08.1": _raises,
    "08.2": _raises,
    "08.3": _raises,
    "08.4": _raises,
    "08.5": _raises,
    "08.6": _StubTrainConfig,
    "08.7": _raises,
}

BUGS = [
    (
        "08.1",
        _encode(shift=False),
        "tgt_out is wrong at tgt_out[0]: 257, expected 83 (8 of 8 entries differ); src and tgt_in are right",
    ),
    ("08.1", _encode(swap=True), "tgt_in is wrong at tgt_in[0]: 258, expected 257"),
    ("08.1", _encode(bos=False), "tgt_in has shape (7,), expected (8,)"),
    ("08.1", _encode(src_eos=False), "src has shape (3,), expected (4,)"),
    ("08.2", _batches(stable=False), "np.argsort's default sort is not stable; sort with kind='stable'"),
    ("08.2", _batches(shuffle_batches=False), "the batches come from the shortest to the longest"),
    ("08.2", _batches(length="src"), "the longer of its two sides, max(len(src), len(tgt_in)), not the English"),
    ("08.2", _batches(seeded_by_epoch=False), "np.random.default_rng([seed, epoch])"),
    ("08.3", _distance(match_cost=False), "edit_distance('abc', 'abc') gave 3, expected 0: equal strings"),
    ("08.3", _distance(first_row=False), "edit_distance('', 'abc') gave 0, expected 3"),
    ("08.3", _distance(substitution=2), "one substitution is one edit, not a deletion and an insertion"),
    ("08.4", _validation_loss("means"), "that is the mean of the batches' means"),
    ("08.4", _validation_loss("pad"), "weighted by every position of tgt_out, PAD included"),
    ("08.4", _validation_loss("drop last"), "the last, smaller batch is left out"),
    ("08.4", _validation_loss("smoothing"), "that is the label-smoothed loss"),
    ("08.5", _chrf("swapped"), "beta weighs the wrong side"),
    ("08.5", _chrf("unsquared"), "the F-score squares beta"),
    ("08.5", _chrf("per order"), "that is the mean of the orders' F-scores"),
    ("08.5", _chrf("all orders"), "an order that one side has no n-grams of (a count of 0) is left out"),
    ("08.6", _LrUnscaled, "expected the peak, 0.001"),
    ("08.6", _LrZeroAtTheEnd, "lr(step=100) is 0 at the last of 100 steps"),
    ("08.6", _LrAlwaysCooling, "before the cool-down (the first 70% of the steps) the rate is transformer_lr's"),
    ("08.6", _LrNoGuard, "lr divided by zero with cooldown=0"),
    ("08.7", _beam_translation_only, "returned str: expected a tuple (translation, score)"),
    ("08.7", _beam_unnormalized, "the score must be log p / "),
    (
        "08.7",
        _beam_greedy,
        "beam_search(everyday, 'Where is the station?', beam=4, alpha=0.6) gave 'Où est le procure ?'",
    ),
    ("08.7", _beam_cache_left_behind, "carry its cached keys and values along (_keep_rows)"),
    (
        "08.7",
        _beam_stopping("current length"),
        "comparing the best complete score with the open candidates' scores at their current length",
    ),
    ("08.7", _beam_stopping("beam complete"), "stopping as soon as `beam` candidates are complete"),
    ("08.7", _beam_stopping("no early stop"), "running to max_len without the early stop"),
]

ACCEPTED = [
    ("08.2", _batches_by_sorted),
    ("08.4", _validation_loss_by_tokens),
    ("08.5", _chrf_with_arrays),
    ("08.7", _beam_stopping("at the top")),
]
