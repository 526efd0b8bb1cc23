"""The tokenizer of notebook 01, as exported to bytetrans_lib."""

import numpy as np
import pytest

import bytetrans_lib as bt
from bytetrans_lib import FRENCH_SPACES, INVISIBLE, TYPOGRAPHY, normalize_text

# Code point ranges to draw random text from: several scripts, combining marks, emoji (4-byte),
# controls including NUL. Surrogates (U+D800..U+DFFF) are not characters and have no UTF-8 form.
RANGES = [
    (0x00, 0x7F),  # ASCII, with NUL and control characters
    (0x80, 0x24F),  # Latin-1 and Latin Extended
    (0x300, 0x36F),  # combining diacritical marks
    (0x370, 0x3FF),  # Greek
    (0x400, 0x4FF),  # Cyrillic
    (0x600, 0x6FF),  # Arabic
    (0x900, 0x97F),  # Devanagari
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x4E00, 0x9FFF),  # CJK ideographs
    (0xAC00, 0xD7A3),  # Hangul syllables
    (0xE000, 0xFFFF),  # private use to the end of the BMP (noncharacters included)
    (0x1F300, 0x1FAFF),  # emoji
    (0x10000, 0x10FFFF),  # anything in the supplementary planes
]


def random_text(rng, n_chars):
    picks = rng.integers(0, len(RANGES), size=n_chars)
    return "".join(chr(int(rng.integers(RANGES[k][0], RANGES[k][1] + 1))) for k in picks)


def test_vocabulary_layout():
    assert bt.VOCAB_SIZE == 260
    assert (bt.PAD_ID, bt.BOS_ID, bt.EOS_ID, bt.UNK_ID) == (256, 257, 258, 259)
    assert sorted(bt.SPECIAL_TOKENS) == list(range(256, 260))


def test_encode_gives_the_utf8_bytes_as_int64_ids():
    ids = bt.encode("héllo")
    assert ids.dtype == np.int64 and ids.shape == (6,)
    assert ids.tolist() == list("héllo".encode())
    assert bt.encode("hi", bos=True, eos=True).tolist() == [bt.BOS_ID, 104, 105, bt.EOS_ID]
    assert bt.encode("").shape == (0,)


def test_round_trip_of_random_unicode_strings_across_scripts():
    rng = np.random.default_rng(2017)
    for _ in range(2000):
        text = random_text(rng, int(rng.integers(0, 40)))
        ids = bt.encode(text)
        assert ids.min(initial=0) >= 0 and ids.max(initial=0) < 256
        assert bt.decode(ids) == text
        assert bt.decode(bt.encode(text, bos=True, eos=True)) == text


def test_round_trip_of_every_unicode_scalar_value():
    text = "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)
    assert bt.decode(bt.encode(text)) == text


def test_round_trip_of_combining_marks_emoji_sequences_and_nul():
    for text in ["e\u0301", "🐈\u200d⬛", "👍🏽", "🇫🇷", "a\x00b", "\x00"]:
        assert bt.decode(bt.encode(text)) == text


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"\xc3", "\ufffd"),  # a lead byte without its continuation
        (b"a\x80b", "a\ufffdb"),  # a continuation byte without a lead byte
        (b"\xe6\x97", "\ufffd"),  # a 3-byte character cut short: one maximal subpart, one U+FFFD
        (b"\xf0\x9f\x98", "\ufffd"),  # a 4-byte character cut short
        (b"\xc0\xaf", "\ufffd\ufffd"),  # an overlong encoding of '/'
        (b"\xed\xa0\x80", "\ufffd\ufffd\ufffd"),  # an encoded surrogate
        (b"\xff\xfe", "\ufffd\ufffd"),  # bytes UTF-8 never uses
        (b"\xf5\x80\x80\x80", "\ufffd" * 4),  # beyond U+10FFFF
        (b"ok\xc3(", "ok\ufffd("),  # the byte after a broken sequence is kept
    ],
)
def test_invalid_utf8_decodes_to_replacement_characters_without_raising(data, expected):
    assert bt.decode(list(data)) == expected


def test_decode_stops_at_the_first_eos_and_skips_other_specials():
    assert bt.decode([104, 105, bt.EOS_ID, 33]) == "hi"
    assert bt.decode([bt.EOS_ID, 104]) == ""
    assert bt.decode([bt.BOS_ID, 104, bt.PAD_ID, 105, bt.UNK_ID]) == "hi"
    assert bt.decode(np.array([104, 105, bt.PAD_ID, bt.PAD_ID], dtype=np.int32)) == "hi"
    assert bt.decode([]) == ""


@pytest.mark.parametrize("bad", [b"hello", bytearray(b"x"), 42, None, ["a", "b"], np.array([1, 2])])
def test_encode_rejects_non_str_input_with_a_type_error(bad):
    with pytest.raises(TypeError, match="encode expects a str"):
        bt.encode(bad)


def test_encode_rejects_lone_surrogates_with_a_clear_error():
    with pytest.raises(ValueError, match="U\\+D800 at position 1 is a lone surrogate"):
        bt.encode("a\ud800")


@pytest.mark.parametrize(
    "ids, pattern",
    [
        ([104, 260], "id 260 at position 1 is outside the vocabulary 0..259"),
        ([-1, 104], "id -1 at position 0 is outside the vocabulary"),
        (np.array([10**6]), "id 1000000 at position 0"),
    ],
)
def test_decode_rejects_ids_outside_the_vocabulary(ids, pattern):
    with pytest.raises(ValueError, match=pattern):
        bt.decode(ids)


@pytest.mark.parametrize(
    "ids, error, pattern",
    [
        ([1.0, 2.0], TypeError, "integer ids, got an array of dtype float64"),
        ([True, False], TypeError, "dtype bool"),
        ("hi", TypeError, "sequence of integer ids, got str"),
        ([[104, 105]], ValueError, "1-D sequence of ids, got shape \\(1, 2\\)"),
    ],
)
def test_decode_rejects_malformed_ids(ids, error, pattern):
    with pytest.raises(error, match=pattern):
        bt.decode(ids)


def test_token_labels_give_one_label_per_id_and_mark_continuation_bytes():
    assert bt.token_labels(bt.encode("é a", bos=True, eos=True)) == ["<bos>", "é", "·a9", "␣", "a", "<eos>"]
    assert bt.token_labels([0xC3, 104, 0xA9, bt.PAD_ID]) == ["\\xc3", "h", "\\xa9", "<pad>"]
    rng = np.random.default_rng(1)
    for _ in range(200):
        ids = rng.integers(0, bt.VOCAB_SIZE, size=int(rng.integers(0, 20)))
        assert len(bt.token_labels(ids)) == len(ids)


def test_pad_batch_pads_on_the_right_to_the_longest_sequence():
    batch = bt.pad_batch([[1, 2, 3], [4], []])
    assert batch.dtype == np.int64 and batch.shape == (3, 3)
    assert batch.tolist() == [[1, 2, 3], [4, bt.PAD_ID, bt.PAD_ID], [bt.PAD_ID] * 3]


def test_encode_batch_round_trips_and_refuses_to_truncate():
    texts = ["Bonjour !", "Où ?", "日本"]
    batch = bt.encode_batch(texts, bos=True, eos=True)
    assert batch.shape == (3, 2 + max(len(t.encode()) for t in texts))
    assert (batch[:, 0] == bt.BOS_ID).all()
    assert [bt.decode(row) for row in batch] == texts
    with pytest.raises(ValueError, match="sequence 0 has 11 ids, more than max_len=10"):
        bt.encode_batch(texts, bos=True, eos=True, max_len=10)
    with pytest.raises(TypeError, match="list of strings"):
        bt.encode_batch("Bonjour")
    with pytest.raises(ValueError, match="non-empty list"):
        bt.pad_batch([])


def test_padding_mask_is_true_on_real_tokens_with_shape_b_1_1_t():
    ids = bt.encode_batch(["abc", "a"])
    mask = bt.padding_mask(ids)
    assert mask.dtype == bool and mask.shape == (2, 1, 1, 3)
    assert mask[:, 0, 0].tolist() == [[True, True, True], [True, False, False]]
    with pytest.raises(ValueError, match="shape \\(B, T\\)"):
        bt.padding_mask(ids[0])


def test_causal_mask_lets_position_i_see_positions_up_to_i():
    mask = bt.causal_mask(5)
    assert mask.dtype == bool and mask.shape == (1, 1, 5, 5)
    i, j = np.indices((5, 5))
    assert np.array_equal(mask[0, 0], j <= i)
    assert bt.causal_mask(0).shape == (1, 1, 0, 0)
    assert np.array_equal(bt.causal_mask(np.int32(5)), mask)  # a NumPy integer is a length too
    with pytest.raises(ValueError, match="T >= 0"):
        bt.causal_mask(-1)


def test_target_mask_combines_padding_and_causal_and_broadcasts_over_heads():
    ids = bt.encode_batch(["abcd", "ab"], bos=True)  # (2, 5)
    mask = bt.target_mask(ids)
    assert mask.shape == (2, 1, 5, 5)
    assert np.array_equal(mask, bt.padding_mask(ids) & bt.causal_mask(5))
    assert mask[1, 0, 4].tolist() == [True, True, True, False, False]  # a PAD query sees the real past
    assert np.broadcast_shapes(mask.shape, (2, 3, 5, 5)) == (2, 3, 5, 5)


# --- normalize_text: text as people type it ------------------------------------------------


def test_normalize_text_makes_nfc_and_turns_every_white_space_run_into_one_plain_space():
    assert normalize_text("e\u0301t\u00e9") == "\u00e9t\u00e9"  # NFD "été" -> NFC
    for space in FRENCH_SPACES:
        assert normalize_text(f"Bonjour{space}!") == "Bonjour !"
    assert normalize_text(" \t a \u202f\u00a0 b  \n") == "a b"  # ends stripped, runs collapsed


def test_normalize_text_maps_typography_to_the_plain_characters_the_data_uses():
    assert normalize_text("I don’t know.") == "I don't know."
    assert normalize_text("‘quoted’ “twice” „low“") == '\'quoted\' "twice" "low"'
    assert normalize_text("«\u202fOui\u202f», dit-elle…") == '"Oui", dit-elle...'
    assert (
        normalize_text("Paris – Lyon — Nice, 3 − 1, co‐op, non‑stop") == "Paris - Lyon - Nice, 3 - 1, co-op, non-stop"
    )
    assert all(len(plain) and plain.isascii() for plain in TYPOGRAPHY.values())


def test_normalize_text_leaves_text_alone_and_is_idempotent():
    for text in ["Où est l'école ?", "ça 😀 日本", "naïve façade", "", "\x00tab"]:
        assert normalize_text(text) == text
    for text in ["  «\u00a0a\u00a0»  ’ … – ", "e\u0301\u2019", "\u2009"]:
        assert normalize_text(normalize_text(text)) == normalize_text(text)


def test_normalize_text_removes_invisible_characters_that_carry_no_meaning():
    assert set(INVISIBLE) == {"\ufeff", "\u200b", "\u2060", "\u00ad"}  # BOM, zero-width space, word joiner, soft hyphen
    assert normalize_text("\ufeffThe cat sleeps.") == "The cat sleeps."  # a file saved by Notepad
    assert normalize_text("The\u200b cat \u200b sleeps.\u2060") == "The cat sleeps."
    assert normalize_text("beau\u00adcoup \u00ad") == "beaucoup"
    assert normalize_text("\ufeff \u200b") == ""  # nothing visible: nothing to translate
    assert normalize_text("e\u00ad\u0301") == "\u00e9"  # removed before NFC, so the accent still composes
    assert normalize_text("👩\u200d💻 ok") == "👩\u200d💻 ok"  # the zero-width joiner builds emoji: kept
    text = "\ufeff  «\u00a0a\u200b\u00a0»\u00ad "
    assert normalize_text(normalize_text(text)) == normalize_text(text) == '"a"'


@pytest.mark.parametrize("bad", [None, b"bytes", 3, ["a"]])
def test_normalize_text_refuses_what_is_not_a_str(bad):
    with pytest.raises(TypeError, match="normalize_text expects a str"):
        normalize_text(bad)


# --- what a user may pass by mistake: refused with the function and the argument named ------


@pytest.mark.parametrize(
    "ids, error, pattern",
    [
        ([[1, 2], [3]], ValueError, r"decode expects a flat sequence of ids, got a ragged \(nested\) one"),
        ([np.array([1, 2]), np.array([3])], ValueError, "decode expects a flat sequence of ids, got a ragged"),
        ([1, [2]], ValueError, "decode expects a flat sequence of ids"),
        (np.array([[104, 105], [106, 107]]), ValueError, r"decode expects a 1-D sequence of ids, got shape \(2, 2\)"),
        ([[]], ValueError, r"1-D sequence of ids, got shape \(1, 0\)"),
        ([10**30], ValueError, "decode: id 1000000000000000000000000000000 at position 0 is outside the vocabulary"),
        ([104, -(10**30)], ValueError, "decode: id -1000000000000000000000000000000 at position 1 is outside"),
        ([104, None], TypeError, "decode expects integer ids, got NoneType at position 1"),
        (None, TypeError, "decode expects a sequence of integer ids, got NoneType"),
        (104, TypeError, "decode expects a sequence of integer ids, got int"),
    ],
)
def test_decode_refuses_ragged_2d_huge_and_missing_input_with_a_clear_error(ids, error, pattern):
    with pytest.raises(error, match=pattern):
        bt.decode(ids)


def test_decode_accepts_python_ints_of_any_type_that_fit_the_vocabulary():
    assert bt.decode(np.array([104, 105], dtype=object)) == "hi"
    assert bt.decode(np.array([104, 105], dtype=np.uint64)) == "hi"
    assert bt.decode([np.int16(104), 105]) == "hi"


@pytest.mark.parametrize(
    "flags, pattern",
    [
        ({"bos": 2}, "encode: bos must be True or False, got 2"),
        ({"eos": "yes"}, "encode: eos must be True or False, got 'yes'"),
        ({"bos": 1}, "bos must be True or False, got 1"),
        ({"eos": None}, "eos must be True or False, got None"),
    ],
)
def test_encode_accepts_only_true_or_false_as_bos_and_eos(flags, pattern):
    with pytest.raises(TypeError, match=pattern):
        bt.encode("hi", **flags)
    with pytest.raises(TypeError, match=pattern):
        bt.encode_batch(["hi"], **flags)


def test_encode_accepts_numpy_booleans_as_flags():
    assert bt.encode("hi", bos=np.True_, eos=np.False_).tolist() == [bt.BOS_ID, 104, 105]


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: bt.pad_batch(None), TypeError, "pad_batch expects a list of id sequences, got NoneType"),
        (lambda: bt.pad_batch(5), TypeError, "pad_batch expects a list of id sequences, got int"),
        (lambda: bt.pad_batch("abc"), TypeError, "pad_batch expects a list of id sequences, got str"),
        (lambda: bt.pad_batch([[1], [2.5]]), TypeError, r"pad_batch \(sequence 1\) expects integer ids"),
        (lambda: bt.pad_batch([[1], [300]]), ValueError, r"pad_batch \(sequence 1\): id 300 at position 0"),
        (lambda: bt.pad_batch(np.array([1, 2])), TypeError, r"pad_batch \(sequence 0\) expects a sequence"),
        (lambda: bt.pad_batch([[1]], max_len=5.5), TypeError, "pad_batch: max_len must be an int or None, got 5.5"),
        (lambda: bt.pad_batch([[1]], max_len="10"), TypeError, "max_len must be an int or None, got '10'"),
        (lambda: bt.pad_batch([[1]], max_len=True), TypeError, "max_len must be an int or None, got True"),
        (lambda: bt.pad_batch([[1]], max_len=0), ValueError, "pad_batch: max_len must be >= 1, got 0"),
        (lambda: bt.pad_batch([[1]], max_len=-3), ValueError, "max_len must be >= 1, got -3"),
        (lambda: bt.encode_batch(None), TypeError, "encode_batch expects a list of strings, got NoneType"),
        (lambda: bt.encode_batch(b"hi"), TypeError, "encode_batch expects a list of strings, got bytes"),
        (lambda: bt.encode_batch(["ok", 3]), TypeError, r"encode_batch: texts\[1\] is int, not a str"),
        (
            lambda: bt.encode_batch([]),
            ValueError,
            "^encode_batch expects a non-empty list of strings, got an empty one",
        ),
        (lambda: bt.encode_batch(iter(())), ValueError, "^encode_batch expects a non-empty list"),
        (lambda: bt.causal_mask(None), TypeError, "causal_mask expects the length T as an int, got None"),
        (lambda: bt.causal_mask(float("nan")), TypeError, "causal_mask expects the length T as an int, got nan"),
        (lambda: bt.causal_mask(float("inf")), TypeError, "causal_mask expects the length T as an int, got inf"),
        (lambda: bt.causal_mask(2.5), TypeError, "causal_mask expects the length T as an int, got 2.5"),
        (lambda: bt.causal_mask("3"), TypeError, "causal_mask expects the length T as an int, got '3'"),
        (lambda: bt.causal_mask(True), TypeError, "causal_mask expects the length T as an int, got True"),
        (lambda: bt.causal_mask(np.int64(-2)), ValueError, "causal_mask expects a length T >= 0, got -2"),
        (lambda: bt.token_labels(None), TypeError, "token_labels expects a sequence of integer ids, got NoneType"),
        (lambda: bt.token_labels([[1, 2], [3]]), ValueError, "token_labels expects a flat sequence of ids"),
    ],
)
def test_batching_helpers_refuse_bad_arguments_naming_the_function_and_the_argument(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_pad_batch_keeps_accepting_numpy_integer_max_len_and_arrays_of_rows():
    assert bt.pad_batch([[1, 2], [3]], max_len=np.int64(2)).tolist() == [[1, 2], [3, bt.PAD_ID]]
    assert bt.pad_batch(np.array([[1, 2], [3, 4]])).tolist() == [[1, 2], [3, 4]]
    assert bt.encode_batch(("a", "bc")).shape == (2, 2)  # a tuple is a list of strings too


@pytest.mark.parametrize("mask", [bt.padding_mask, bt.target_mask])
@pytest.mark.parametrize(
    "ids, error, pattern",
    [
        (np.ones((2, 3)), TypeError, "expects integer ids, got dtype float64"),
        (np.ones((2, 3), dtype=bool), TypeError, "expects integer ids, got dtype bool"),
        ([["a", "b"]], TypeError, "expects integer ids, got dtype <U1"),
        (None, TypeError, r"expects integer ids of shape \(B, T\), got NoneType"),
        ([[1, 2], [3]], ValueError, r"expects ids of shape \(B, T\), got rows of different lengths"),
        (np.array([1, 2, 3]), ValueError, r"expects ids of shape \(B, T\), got shape \(3,\)"),
    ],
)
def test_masks_refuse_ids_that_are_not_a_2d_integer_array(mask, ids, error, pattern):
    with pytest.raises(error, match=f"{mask.__name__} {pattern}"):
        mask(ids)
