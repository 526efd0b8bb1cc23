"""Beam search (notebook 08, section 4): greedy with a beam of 1, the exact best with a beam wide
enough to keep everything, scores that are the model's own log-probabilities, and clear refusals."""

import itertools
import re

import numpy as np
import pytest

import bytetrans_lib as bt
import bytetrans_lib.beam as beam_module

TINY = bt.Config(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32, max_len=8, dtype="float64")


def float64(model):
    copy = bt.Transformer(bt.Config(**{**model.config.to_dict(), "dtype": "float64"}), rng=np.random.default_rng(0))
    for name, p in copy.parameters().items():
        p[...] = model.parameters()[name]
    return copy


@pytest.fixture(scope="module")
def everyday():
    return float64(bt.load_checkpoint(bt.EVERYDAY_MODEL))


def test_a_beam_of_one_is_greedy_decoding(everyday):
    english = [sentence for sentence, _ in bt.EVERYDAY_SENTENCES]
    greedy = bt.translate(everyday, english)
    assert [bt.beam_search(everyday, sentence, beam=1)[0] for sentence in english] == greedy
    course = float64(bt.load_checkpoint(bt.DEFAULT_MODEL))
    sentences = ["The happy horses hide in the gardens.", "I eat an apple.", "Where is the school?"]
    assert [bt.beam_search(course, s, beam=1)[0] for s in sentences] == bt.translate(course, sentences)


@pytest.mark.parametrize("beam", [2, 3, 4, 8])
def test_the_score_is_the_translations_log_probability_over_its_length_to_the_alpha(everyday, beam):
    # the search sums log-probabilities step by step through the cache, moving rows as it keeps
    # candidates; one teacher-forced forward pass of its answer must give the same number
    for english, _ in bt.EVERYDAY_SENTENCES[:5]:
        for alpha in (0.0, 0.6, 1.0):
            french, score = bt.beam_search(everyday, english, beam=beam, alpha=alpha)
            log_p, n = bt.sentence_log_prob(everyday, english, french)
            assert score == pytest.approx(log_p / n**alpha, rel=1e-9, abs=1e-12), (english, beam, alpha)


def test_beam_search_finds_what_greedy_misses_on_the_everyday_model(everyday):
    # measured: greedy writes "Où est le procure ?"; a beam of 4 finds a translation the model
    # itself scores higher, and it is right
    greedy = bt.translate(everyday, ["Where is the station?"])[0]
    found, score = bt.beam_search(everyday, "Where is the station?")
    assert found != greedy and found in dict(bt.EVERYDAY_SENTENCES)["Where is the station?"]
    assert score > bt.length_normalized(*bt.sentence_log_prob(everyday, "Where is the station?", greedy))


class MarkovDecoder:
    """A stand-in for decode_step whose next-id log-probabilities depend on the last id only:
    a few ids (and EOS) are possible, the rest have probability 0. Small enough to enumerate."""

    def __init__(self, rng, alphabet, eos_after_bos=False):
        self.alphabet = alphabet
        self.table = {}
        for last in [bt.BOS_ID, *alphabet]:
            logits = np.full(bt.VOCAB_SIZE, -np.inf)
            allowed = list(alphabet) + ([bt.EOS_ID] if last != bt.BOS_ID or eos_after_bos else [])
            logits[allowed] = rng.normal(scale=2.0, size=len(allowed))
            self.table[last] = logits

    def __call__(self, model, cache, ids):
        cache.length += 1  # as decode_step advances the cache
        return np.stack([self.table[int(i)] for i in ids])

    def log_p(self, ids):
        """log p(ids + EOS): the sum of the steps' log-probabilities."""
        total, last = 0.0, bt.BOS_ID
        for i in [*ids, bt.EOS_ID]:
            total += beam_module.log_softmax(self.table[last])[i]
            last = i
        return total


@pytest.mark.parametrize("seed", range(6))
def test_a_beam_wide_enough_to_keep_every_candidate_finds_the_exact_best(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    alphabet = [ord(c) for c in "abc"]
    fake = MarkovDecoder(rng, alphabet)
    monkeypatch.setattr(beam_module, "decode_step", fake)
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    max_len = 4  # at most 3 letters and EOS: a beam of 3**4 keeps every candidate of every step
    for alpha in (0.0, 0.6, 1.0):
        best = max(
            (
                bt.length_normalized(fake.log_p(ids), len(ids) + 1, alpha),
                bytes(ids).decode(),
            )
            for n in range(1, max_len)  # max_len ids, EOS included; EOS cannot come first here
            for ids in itertools.product(alphabet, repeat=n)
        )
        wide, wide_score = bt.beam_search(model, "Hi.", beam=3**max_len, alpha=alpha, max_len=max_len)
        assert wide == best[1] and wide_score == pytest.approx(best[0], rel=1e-12), (seed, alpha)
        for beam in (1, 2, 4):  # a narrower beam may miss the best, never beat it...
            found, score = bt.beam_search(model, "Hi.", beam=beam, alpha=alpha, max_len=max_len)
            if len(found) < max_len:  # ...with a complete translation (4 letters: unfinished, scored as it is)
                assert score <= wide_score + 1e-12


def test_greedy_is_not_always_best_a_two_step_example(monkeypatch):
    # "a" is likelier than "b" first (0.6 against 0.4), but every continuation of "a" is unsure
    # (0.19 at best) while "b" is almost surely followed by EOS: greedy writes "ad", p = 0.114;
    # a beam of 2 keeps "b" too and finds it, p = 0.396
    logits = {bt.BOS_ID: {ord("a"): 0.6, ord("b"): 0.4}, ord("b"): {bt.EOS_ID: 0.99, ord("c"): 0.01}}
    logits[ord("a")] = {ord("d"): 0.19, **{i: 0.09 for i in b"efghijklm"}}
    for c in b"cdefghijklm":
        logits[c] = {bt.EOS_ID: 1.0}
    table = {}
    for last, probs in logits.items():
        row = np.full(bt.VOCAB_SIZE, -np.inf)
        row[list(probs)] = np.log(list(probs.values()))
        table[last] = row

    def fake(model, cache, ids):
        cache.length += 1
        return np.stack([table[int(i)] for i in ids])

    monkeypatch.setattr(beam_module, "decode_step", fake)
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    greedy, greedy_score = bt.beam_search(model, "x", beam=1, alpha=0.0)
    found, score = bt.beam_search(model, "x", beam=2, alpha=0.0)
    assert greedy == "ad" and greedy_score == pytest.approx(np.log(0.6 * 0.19))
    assert found == "b" and score == pytest.approx(np.log(0.4 * 0.99))


def test_without_an_end_the_likeliest_unfinished_candidate_is_returned(monkeypatch):
    row = np.full(bt.VOCAB_SIZE, -np.inf)
    row[ord("z")] = 0.0  # only "z", never EOS

    def fake(model, cache, ids):
        cache.length += 1
        return np.stack([row for _ in ids])

    monkeypatch.setattr(beam_module, "decode_step", fake)
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    assert bt.beam_search(model, "x", beam=3, max_len=5) == ("zzzzz", 0.0)


def test_an_empty_text_needs_no_model_and_texts_are_spelled_as_translate_spells_them(everyday):
    assert bt.beam_search(everyday, "") == ("", 0.0) and bt.beam_search(everyday, "  \t ") == ("", 0.0)
    assert bt.beam_search(everyday, "  I love   you. ") == bt.beam_search(everyday, "I love you.")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(text=["Hi."]), TypeError, "beam_search translates one str, got list"),
        (dict(model="model.npz"), TypeError, "beam_search needs a Transformer as model, got str"),
        (dict(beam=0), ValueError, "beam must be an int from 1 to 256, got 0"),
        (dict(beam=True), ValueError, "beam must be an int from 1 to 256, got True"),
        (dict(beam=2.5), ValueError, "beam must be an int from 1 to 256, got 2.5"),
        (dict(alpha=-0.5), ValueError, "alpha must be a number from 0 to 10.0, got -0.5"),
        (dict(alpha=float("nan")), ValueError, "alpha must be a number from 0 to 10.0, got nan"),
        (dict(beam=10**6), ValueError, "beam must be an int from 1 to 256, got 1000000"),  # not 3.7 GB first
        (dict(alpha=200), ValueError, "alpha must be a number from 0 to 10.0, got 200"),  # not an OverflowError
        (dict(max_len=0), ValueError, "max_len must be an int from 1 to 7, got 0"),
        (dict(max_len=8), ValueError, "max_len must be an int from 1 to 7, got 8"),
        (dict(text="a long sentence"), ValueError, "the text is 15 bytes long, more than the model's max_len=8"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, error, message):
    arguments = {"model": bt.Transformer(TINY, rng=np.random.default_rng(0)), "text": "Hi.", **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        bt.beam_search(**arguments)


def test_evaluate_references_with_a_beam_scores_beam_searchs_translations(everyday):
    references = {english: list(accepted) for english, accepted in bt.EVERYDAY_SENTENCES[:4]}
    metrics, translations = bt.evaluate_references(everyday, references, beam=3, alpha=0.6)
    assert translations == [bt.beam_search(everyday, english, 3, 0.6)[0] for english in references]
    assert metrics == bt.score_translations(translations, list(references.values()))
    greedy_metrics, greedy = bt.evaluate_references(everyday, references, beam=1)
    assert greedy == bt.translate(everyday, list(references))
