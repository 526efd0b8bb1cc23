"""Cases for the checks of notebook 08's exercises: a stub and planted bugs per exercise."""

import math

import numpy as np

from bytetrans_lib import beam, loop
from bytetrans_lib.optim import transformer_lr
from bytetrans_lib.tokenizer import BOS_ID, EOS_ID, encode


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


STUBS = {"08.1": _raises, "08.2": _raises, "08.3": _StubTrainConfig, "08.4": _raises}

BUGS = [
    (
        "08.1",
        _encode(shift=False),
        "tgt_out is wrong at tgt_out[0]: 257, expected 83 (8 of 8 entries differ); src and tgt_in are right",
    ),
    ("08.1", _encode(swap=True), "tgt_in is wrong at tgt_in[0]: 258, expected 257"),
    ("08.1", _encode(bos=False), "tgt_in has shape (7,), expected (8,)"),
    ("08.1", _encode(src_eos=False), "src has shape (3,), expected (4,)"),
    ("08.2", _distance(match_cost=False), "edit_distance('abc', 'abc') gave 3, expected 0: equal strings"),
    ("08.2", _distance(first_row=False), "edit_distance('', 'abc') gave 0, expected 3"),
    ("08.2", _distance(substitution=2), "one substitution is one edit, not a deletion and an insertion"),
    ("08.3", _LrUnscaled, "expected the peak, 0.001"),
    ("08.3", _LrZeroAtTheEnd, "lr(step=100) is 0 at the last of 100 steps"),
    ("08.3", _LrAlwaysCooling, "before the cool-down (the first 70% of the steps) the rate is transformer_lr's"),
    ("08.3", _LrNoGuard, "lr divided by zero with cooldown=0"),
    ("08.4", _beam_translation_only, "returned str: expected a tuple (translation, score)"),
    ("08.4", _beam_unnormalized, "the score must be log p / "),
    (
        "08.4",
        _beam_greedy,
        "beam_search(everyday, 'Where is the station?', beam=4, alpha=0.6) gave 'Où est le procure ?'",
    ),
    ("08.4", _beam_cache_left_behind, "carry its cached keys and values along (_keep_rows)"),
]
