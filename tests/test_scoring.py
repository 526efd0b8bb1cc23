"""Scoring against every reference of a sentence, and chrF (notebook 08, section 1.2b).

chrF is checked against sacrebleu's implementation, the reference one in machine translation,
which `make test` installs (the [dev] extra) and the course itself never imports.
"""

import random

import numpy as np
import pytest
from conftest import ROOT

import bytetrans_lib as bt
from bytetrans_lib import scoring

sacrebleu = pytest.importorskip("sacrebleu")

WORDS = "je tu il nous ai suis froid faim chat la le les maison gare où est ! ? . , l' j' aime é ça".split()


def random_corpus(rng):
    """A few random hypotheses, each with 1 to 3 random references (short ones included)."""
    n = rng.randint(1, 6)
    hypotheses = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6))) for _ in range(n)]
    references = [
        [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 3))]
        for _ in range(n)
    ]
    return hypotheses, references


def sacrebleu_chrf(hypotheses, references):
    """sacrebleu takes references as streams: the k-th reference of every sentence, None where missing."""
    k = max(len(refs) for refs in references)
    streams = [[refs[j] if j < len(refs) else None for refs in references] for j in range(k)]
    return sacrebleu.corpus_chrf(hypotheses, streams).score


def test_chrf_equals_sacrebleus_on_random_corpora_with_several_references():
    rng = random.Random(0)
    for _ in range(1000):
        hypotheses, references = random_corpus(rng)
        assert bt.chrf(hypotheses, references) == pytest.approx(sacrebleu_chrf(hypotheses, references), abs=1e-9)


@pytest.mark.parametrize(
    "hypothesis, reference",
    [
        ("Je suis froid.", "J'ai froid."),
        ("J'ai froid !", "J'ai froid."),
        ("", "Bonjour."),  # nothing written: 0
        ("Bonjour.", "Bonjour."),  # 100
        ("Oui", "!"),  # a reference too short for most orders
        ("Où est la gare ?", "Où  est   la gare?"),  # spaces do not count
    ],
)
def test_sentence_chrf_equals_sacrebleus(hypothesis, reference):
    expected = sacrebleu.sentence_chrf(hypothesis, [reference]).score
    assert bt.chrf([hypothesis], [[reference]]) == pytest.approx(expected, abs=1e-9)


def test_chrf_statistics_count_character_ngrams_without_spaces():
    stats = bt.chrf_statistics("ab c", "abc", order=3)
    assert stats == [(3, 3, 3), (2, 2, 2), (1, 1, 1)]  # "ab c" is "abc" once spaces go
    assert bt.chrf_statistics("abcd", "a", order=2) == [(4, 1, 1), (0, 0, 0)]  # no reference 2-grams: left out
    assert bt.chrf_score([(0, 0, 0)] * 6) == 0.0


def test_chrf_refuses_mismatched_or_empty_input():
    with pytest.raises(ValueError, match=r"chrf: 2 hypotheses for 1 lists of references"):
        bt.chrf(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match=r"chrf: 0 hypotheses"):
        bt.chrf([], [])


def test_references_by_english_keeps_every_translation_once_in_order():
    pairs = [
        ("I'm hungry.", "J'ai faim.", "CC-BY 2.0 (France) Attribution: example"),
        ("Hi.", "Salut."),
        ("I'm hungry.", "J'ai la dalle."),
        ("I'm hungry.", "J'ai faim."),
    ]
    assert bt.references_by_english(pairs) == {"I'm hungry.": ["J'ai faim.", "J'ai la dalle."], "Hi.": ["Salut."]}


def test_score_translations_takes_the_best_reference_for_each_measure():
    references = [["J'ai faim.", "J'ai la dalle."], ["Salut."], ["Bonjour.", "Salut."]]
    scores = bt.score_translations(["J'ai la dalle.", "Salut !", "Salu."], references)
    assert scores["n"] == 3 and scores["n_references"] == 5
    assert scores["exact_match"] == pytest.approx(1 / 3)
    # 0 edits to J'ai la dalle. (14), 2 to Salut. (6), 1 to Salut. (6), not 4 to Bonjour.
    assert scores["char_accuracy"] == pytest.approx(1 - 3 / 26)
    assert scores["chrf"] == pytest.approx(sacrebleu_chrf(["J'ai la dalle.", "Salut !", "Salu."], references))
    single = bt.score_translations(["Oui."], [["Non."]])
    assert single["exact_match"] == 0.0 and single["char_accuracy"] == pytest.approx(1 - 3 / 4)


def test_score_translations_refuses_a_sentence_without_references_and_mismatched_lengths():
    with pytest.raises(ValueError, match=r"a sentence has no reference"):
        bt.score_translations(["a"], [[]])
    with pytest.raises(ValueError, match=r"2 translations for 1 sentences"):
        bt.score_translations(["a", "b"], [["a"]])


def test_with_one_reference_per_sentence_the_scores_are_evaluates(monkeypatch):
    table = {"Hi.": "Salut.", "Yes.": "Ouais.", "No.": "Non."}
    monkeypatch.setattr(scoring, "translate", lambda model, texts: [table[t] for t in texts])
    pairs = [("Hi.", "Salut."), ("Yes.", "Oui."), ("No.", "Non !")]
    metrics, translations = bt.evaluate_references(None, bt.references_by_english(pairs))
    old, _ = bt.evaluate(None, pairs)
    assert translations == ["Salut.", "Ouais.", "Non."]
    assert metrics["exact_match"] == old["exact_match"] and metrics["char_accuracy"] == pytest.approx(
        old["char_accuracy"]
    )
    assert metrics["n"] == old["n"] == 3


def test_evaluate_references_translates_each_sentence_once_in_batches():
    tiny = bt.Config(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32)
    model = bt.Transformer(tiny, rng=np.random.default_rng(0))
    references = {f"Sentence {i}.": [f"Phrase {i}.", f"La phrase {i}."] for i in range(5)}
    metrics, translations = bt.evaluate_references(model, references, batch_size=2)
    assert translations == bt.translate(model, list(references))
    assert metrics == bt.score_translations(translations, list(references.values()))
    with pytest.raises(ValueError, match=r"no sentences to evaluate"):
        bt.evaluate_references(model, {})


def test_real_tatoeba_test_sentences_keep_all_their_references_out_of_training():
    real = ROOT.parent / "shared" / "data" / "tatoeba" / "fra-eng-76k.txt"
    if not real.is_file():
        pytest.skip(f"{real} not found (it sits next to the repository, not in it)")
    pairs, _ = bt.clean_pairs(real)
    train, valid, test = bt.split_pairs(pairs, seed=0)
    references = bt.references_by_english(test)
    assert len(references) >= 500
    assert not set(references) & {english for english, *_ in train + valid}
    everything = bt.references_by_english(pairs)
    assert all(references[english] == everything[english] for english in references)
    assert sum(len(refs) > 1 for refs in references.values()) > 0.1 * len(references)  # many have several
    assert np.mean([len(refs) for refs in references.values()]) > 1
