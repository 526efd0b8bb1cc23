"""The embedded English->French corpus of notebook 07: bytetrans_lib.lexicon, .spelling, .corpus and .data."""

import re
import subprocess
import sys

import pytest
from conftest import ROOT

import bytetrans_lib as bt


@pytest.fixture(scope="module")
def corpus():
    return bt.generate_corpus()


@pytest.fixture(scope="module")
def french(corpus):
    return [fr for _, fr in corpus]


def test_same_seed_gives_the_same_corpus_and_another_seed_another_order(corpus):
    assert bt.generate_corpus() == corpus
    small = bt.generate_corpus(n_pairs=2_000, seed=7)
    assert bt.generate_corpus(n_pairs=2_000, seed=7) == small
    assert bt.generate_corpus(n_pairs=2_000, seed=8) != small
    assert corpus[:2_000] != small


def test_the_corpus_is_large_and_its_pairs_unique(corpus):
    assert len(corpus) >= 20_000
    assert len(set(corpus)) == len(corpus)
    assert all(isinstance(en, str) and isinstance(fr, str) and en and fr for en, fr in corpus)


def test_the_lexicon_has_at_least_150_items():
    sizes = bt.lexicon_size()
    assert sum(sizes.values()) >= 150
    assert sizes["nouns"] == len(bt.NOUNS) and sizes["verbs"] == len(bt.VERBS)
    assert len({n.en for n in bt.NOUNS}) == len(bt.NOUNS)  # no entry counted twice


def test_english_determines_the_french_across_seeds(corpus):
    french_of = {}
    for pairs in (corpus, bt.generate_corpus(seed=1)):
        for en, fr in pairs:
            assert french_of.setdefault(en, fr) == fr, f"{en!r} -> {french_of[en]!r} and {fr!r}"


def test_english_avoids_words_whose_french_it_does_not_determine(corpus):
    english = [en for en, _ in corpus]
    assert not any(re.search(r"\b[Tt]hey\b", en) for en in english)
    assert not any(re.search(r"\b[Yy]ou\b(?! all)", en) for en in english)  # only "you all" -> vous
    assert all(n.en != n.en_pl for n in bt.NOUNS)  # no "sheep", "fish", "deer"
    # "to be" + adjective only after a subject whose gender English shows (not I, we, you all)
    adjectives = "|".join(a.en for a in bt.ADJECTIVES)
    pattern = rf"^(I am|We are|You all are|Am I|Are we|Are you all)( not)? ({adjectives})\b"
    assert not any(re.search(pattern, en) for en in english)
    assert any(re.search(rf"^She is ({adjectives})\.$", en) for en in english)


def test_split_has_no_english_sentence_of_valid_or_test_in_train(corpus):
    train, valid, test = bt.split_pairs(corpus)
    assert (len(train), len(valid), len(test)) == (27_000, 1_500, 1_500)
    assert sorted(train + valid + test) == sorted(corpus)
    seen = {en for en, _ in train}
    assert not any(en in seen for en, _ in valid + test)
    assert bt.split_pairs(corpus, seed=1) != (train, valid, test)


def test_split_keeps_every_translation_of_an_english_sentence_together():
    pairs = [(f"e{i % 40}", f"f{i}") for i in range(200)]  # 40 English sentences, 5 French each
    train, valid, test = bt.split_pairs(pairs, valid=0.1, test=10)
    assert len(valid) == 20 and len(test) == 10
    assert not {en for en, _ in train} & {en for en, _ in valid + test}
    assert not {en for en, _ in valid} & {en for en, _ in test}


def test_every_sentence_fits_in_60_utf8_bytes(corpus):
    assert bt.SENTENCE_MAX_BYTES == 60
    lengths = [len(s.encode("utf-8")) for pair in corpus for s in pair]
    assert max(lengths) <= 60 and min(lengths) > 0


# --- elision and contraction: a checker written here, independently of the library ------

VOWEL = "aàâeéèêëiîïoôuùûüyœæ"
ASPIRATED = {"hibou", "hiboux", "huit"}  # the aspirated-h words the lexicon uses


def vowel_sound(word):
    w = word.lower()
    return w[0] in VOWEL or (w[0] == "h" and w not in ASPIRATED)


def elision_errors(sentence):
    errors = []
    for m in re.finditer(r"\b(le|la|de|je|me|te|se|ne|que|ce|ma|sa) (\w+)", sentence, re.IGNORECASE):
        if vowel_sound(m.group(2)):
            errors.append(m.group(0))
    for m in re.finditer(r"\b(l|d|j|m|t|s|n|qu)'(\w+)", sentence, re.IGNORECASE):
        if not vowel_sound(m.group(2)):
            errors.append(m.group(0))
    errors += [m.group(0) for m in re.finditer(r"\b(de|à) (le|les)\b", sentence, re.IGNORECASE)]
    return errors


@pytest.mark.parametrize(
    "wrong",
    [
        "le arbre",
        "la école",
        "de orange",
        "je ai",
        "que il",
        "ne est",
        "de un chat",
        "de une île",
        "le œuf",
        "de œufs",
        "la horloge",
        "se habille",
        "de le lac",
        "à les îles",
        "l'hibou",
        "ce arbre",
    ],
)
def test_the_elision_checkers_catch_mistakes(wrong):
    assert elision_errors(wrong)
    assert bt.spelling_problems(wrong)


@pytest.mark.parametrize(
    "right",
    [
        "l'arbre",
        "le hibou",
        "de huit chats",
        "d'œufs",
        "l'horloge",
        "au lac",
        "à l'hôtel",
        "de la plage",
        "Est-ce qu'il dort ?",
    ],
)
def test_the_elision_checkers_accept_correct_french(right):
    assert not elision_errors(right)
    assert not bt.spelling_problems(right)


def test_no_french_sentence_misses_an_elision_or_a_contraction(french):
    bad = [(fr, elision_errors(fr)) for fr in french if elision_errors(fr)]
    assert not bad, bad[:5]
    bad = [(fr, bt.spelling_problems(fr)) for fr in french if bt.spelling_problems(fr)]
    assert not bad, bad[:5]


def test_elision_covers_every_vowel_initial_form_including_oe_and_mute_h(french):
    text = "\n".join(french)
    for form in [
        "l'œuf",
        "d'œufs",
        "d'un ",
        "d'une ",
        "qu'il",
        "qu'elle",
        "j'ai",
        "n'y a",
        "s'habille",
        "m'habille",
        "l'homme",
        "l'hôtel",
        "l'horloge",
        "d'Hélène",
        "cet ",
        "le hibou",
    ]:
        assert form in text, form
    # every vowel-initial noun of the lexicon appears elided at least once (l', d', qu' ...)
    elided = set(re.findall(r"\b(?:l|d)'(\w+)", text))
    for noun in bt.NOUNS:
        if bt.starts_with_vowel_sound(noun.fr):
            assert noun.fr in elided or noun.fr_pl in elided, noun.fr


def test_feminine_nouns_take_feminine_adjectives(french):
    feminine = {}
    for n in bt.NOUNS:
        if n.gender == "f":
            feminine.setdefault(n.fr, set()).add(1)  # an adjective's forms: ms, fs, mp, fp
            feminine.setdefault(n.fr_pl, set()).add(3)
    adjective_of = {form: a for a in bt.ADJECTIVES for form in (*a.forms, a.ms_vowel)}
    checked = 0
    for fr in french:
        words = re.findall(r"[\w'-]+", fr)
        for noun, word in zip(words, words[1:]):
            noun = noun.split("'")[-1]
            if noun in feminine and word in adjective_of:
                assert word in {adjective_of[word].forms[k] for k in feminine[noun]}, fr
                checked += 1
    assert checked > 1_000


def test_agreement_spot_checks(corpus):
    pairs = dict(corpus)
    examples = {en: fr for en, fr in pairs.items() if re.fullmatch(r"She is (tired|happy|lazy)\.", en)}
    assert examples and all(fr.split()[-1] in ("fatiguée.", "heureuse.", "paresseuse.") for fr in examples.values())
    red = {en: fr for en, fr in pairs.items() if re.search(r"\bthe red (cars|doors|bottles)\b", en)}
    assert red and all(re.search(r"\bles (voitures|portes|bouteilles) rouges\b", fr) for fr in red.values())
    # numbers take a plural noun
    for _, fr in corpus:
        m = re.search(r"\b(deux|trois|quatre|cinq|six|sept|huit|neuf|dix) (\w+)", fr)
        if m and m.group(2) in {n.fr for n in bt.NOUNS} - {n.fr_pl for n in bt.NOUNS}:
            raise AssertionError(f"singular noun after a number: {fr}")


def test_noun_phrase_places_and_agrees():
    nouns = {n.en: n for n in bt.NOUNS}
    adjs = {a.en: a for a in bt.ADJECTIVES}

    def phrase(noun, det, plural=False, adjectives=(), negated=False):
        p = bt.noun_phrase(nouns[noun], det, plural=plural, adjectives=[adjs[a] for a in adjectives], negated=negated)
        return bt.english_join(p.en), bt.french_join(p.fr)

    assert phrase("car", "a", False, ["small", "red"]) == ("a small red car", "une petite voiture rouge")
    assert phrase("car", "the", True, ["small", "red"]) == ("the small red cars", "les petites voitures rouges")
    assert phrase("man", "a", False, ["old"]) == ("an old man", "un vieil homme")
    assert phrase("man", "the", True, ["old"]) == ("the old men", "les vieux hommes")
    assert phrase("owl", "this", False, ["beautiful"]) == ("this beautiful owl", "ce beau hibou")
    assert phrase("egg", "this") == ("this egg", "cet œuf")
    assert phrase("island", "her") == ("her island", "son île")
    assert phrase("tree", "a", True, ["big"]) == ("some big trees", "de grands arbres")
    assert phrase("cat", "a", True, [], True) == ("any cats", "de chats")
    assert phrase("cake", "Anne's") == ("Anne's cake", "le gâteau d'Anne")
    with pytest.raises(ValueError, match="unknown determiner 'those'"):
        phrase("tree", "those", True)


def test_french_has_multibyte_utf8_with_each_accent(french):
    text = "".join(french)
    for letter in "éèàçêô":
        assert letter in text, letter
        assert len(letter.encode("utf-8")) == 2
    assert len(text.encode("utf-8")) > len(text)


def test_the_committed_file_equals_the_generator_output(corpus, tmp_path):
    committed = ROOT / "data" / "synthetic-en-fr.tsv"
    assert bt.CORPUS_PATH.resolve() == committed.resolve()
    fresh = tmp_path / "fresh.tsv"
    bt.write_tsv(corpus, fresh)
    assert committed.read_bytes() == fresh.read_bytes(), "run notebook 07 to regenerate data/synthetic-en-fr.tsv"
    assert committed.stat().st_size < 3_000_000


def test_tsv_round_trip(tmp_path):
    pairs = [("The cat sleeps.", "Le chat dort."), ("Where is the egg?", "Où est l'œuf ?")]
    path = tmp_path / "pairs.tsv"
    bt.write_tsv(pairs, path)
    assert path.read_bytes() == "The cat sleeps.\tLe chat dort.\nWhere is the egg?\tOù est l'œuf ?\n".encode()
    assert bt.read_tsv(path) == pairs


def test_read_tsv_keeps_two_of_three_columns(tmp_path):
    path = tmp_path / "tatoeba.tsv"
    path.write_text(
        "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #1 (example)\nHi.\tSalut !\n", encoding="utf-8"
    )
    assert bt.read_tsv(path) == [("Go.", "Va !"), ("Hi.", "Salut !")]


def test_read_tsv_names_the_line_with_a_single_column(tmp_path):
    path = tmp_path / "broken.tsv"
    path.write_text("Go.\tVa !\nHi.\tSalut !\nno tab on this line\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 3: expected english<TAB>french"):
        bt.read_tsv(path)


@pytest.mark.parametrize("bad", ["c\td", "c\nd", "c\rd", "c\x00d", "c\x1b[31md"])
def test_write_tsv_refuses_what_read_tsv_could_not_read_back_before_writing(tmp_path, bad):
    (tmp_path / "x.tsv").write_text("old\tvieux\n", encoding="utf-8")
    with pytest.raises(ValueError, match="write_tsv: pair 1 contains a tab, a line break or another control"):
        bt.write_tsv([("a", "b"), (bad, "e")], tmp_path / "x.tsv")
    assert (tmp_path / "x.tsv").read_text(encoding="utf-8") == "old\tvieux\n"


def test_write_tsv_replaces_a_file_atomically_and_keeps_a_link(tmp_path):
    (tmp_path / "real.tsv").write_text("old\tvieux\n", encoding="utf-8")
    (tmp_path / "link.tsv").symlink_to("real.tsv")
    bt.write_tsv([("Hi.", "Salut.")], tmp_path / "link.tsv")
    assert (tmp_path / "link.tsv").is_symlink() and bt.read_tsv(tmp_path / "real.tsv") == [("Hi.", "Salut.")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.tsv", "real.tsv"]


def test_read_tsv_removes_a_byte_order_mark_and_windows_line_endings(tmp_path):
    path = tmp_path / "excel.tsv"
    path.write_bytes(b"\xef\xbb\xbfThere is a cat.\tIl y a un chat.\r\nHi.\tSalut.\r\n")
    assert bt.read_tsv(path) == [("There is a cat.", "Il y a un chat."), ("Hi.", "Salut.")]


def test_read_tsv_names_the_file_and_line_that_is_not_utf8_and_points_at_the_cleaner(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("Hi.\tSalut.\nSummer.\tÉté.\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.tsv, line 2: not UTF-8 .*python -m bytetrans_lib\.clean_dataset"):
        bt.read_tsv(path)


def test_read_tsv_refuses_a_control_character_naming_the_line_and_the_cleaner(tmp_path):
    path = tmp_path / "mac.tsv"
    path.write_bytes(b"Hi.\tSalut.\rYes.\tOui.\r")  # old Mac line endings: one line holding \r
    with pytest.raises(ValueError, match=r"mac\.tsv, line 1: control character U\+000D .*clean_dataset"):
        bt.read_tsv(path)


def test_read_tsv_says_that_a_folder_is_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"read_tsv: .* is a folder, not a file"):
        bt.read_tsv(tmp_path)


def test_the_lexicon_is_a_table_file_that_the_generator_loads_entry_for_entry():
    lexicon = bt.read_lexicon()
    assert bt.LEXICON_PATH.name == "lexicon.txt" and bt.LEXICON_PATH.parent == bt.CORPUS_PATH.parent
    assert list(lexicon) == ["nouns", "liquids", "adjectives", "verbs", "names"]
    assert [len(lexicon[s]) for s in lexicon] == [
        len(bt.NOUNS),
        len(bt.LIQUIDS),
        len(bt.ADJECTIVES),
        len(bt.VERBS),
        len(bt.NAMES),
    ]
    assert [n.en for n in bt.NOUNS] == [line.split()[0].split("/")[0] for line in lexicon["nouns"]]


def test_read_lexicon_skips_comments_and_names_the_line_of_an_entry_outside_a_section(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("# a comment\n\n[nouns]\n# fields\ncat chat m animal\n\n[names]\nPaul m\n", encoding="utf-8")
    assert bt.read_lexicon(path) == {"nouns": ["cat chat m animal"], "names": ["Paul m"]}
    path.write_text("# a comment\ncat chat m animal\n[nouns]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lexicon.txt, line 2: an entry before the first \[section\]"):
        bt.read_lexicon(path)


def test_determiner_weights_are_named_and_follow_the_determiners():
    assert list(bt.DETERMINER_WEIGHTS) == [en for en, *_ in bt.DETERMINERS]
    assert bt.DETERMINER_WEIGHTS["the"] > bt.DETERMINER_WEIGHTS["a"] > bt.DETERMINER_WEIGHTS["their"] > 0


def test_each_job_of_the_corpus_has_its_own_module_and_reading_pairs_does_not_load_the_grammar():
    modules = {
        "lexicon": ["LEXICON_PATH", "read_lexicon", "NOUNS", "DETERMINER_WEIGHTS", "lexicon_size", "Noun"],
        "spelling": ["french_join", "english_join", "starts_with_vowel_sound", "spelling_problems"],
        "corpus": ["Phrase", "noun_phrase", "generate_corpus", "SENTENCE_MAX_BYTES"],
        "data": ["CORPUS_PATH", "read_tsv", "write_tsv", "CONTROL_CHARACTERS", "split_pairs"],
    }
    assert {module: [bt._MODULE_OF[n] for n in names] for module, names in modules.items()} == {
        module: [module] * len(names) for module, names in modules.items()
    }
    for module in modules:
        assert len((ROOT / "bytetrans_lib" / f"{module}.py").read_text(encoding="utf-8").splitlines()) <= 400
    # training reads pair files through bytetrans_lib.data: that must not parse the lexicon
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, bytetrans_lib.data; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    assert "bytetrans_lib.data" in loaded
    assert not {"bytetrans_lib.lexicon", "bytetrans_lib.spelling", "bytetrans_lib.corpus"} & set(loaded)
