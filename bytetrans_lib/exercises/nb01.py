"""Checks of notebook 01's exercises (bytes): utf8_bytes, decode, pad_batch, _target_mask."""

import numpy as np

from bytetrans_lib import tokenizer
from bytetrans_lib.exercises import Wrong, compare, exercise
from bytetrans_lib.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID

# one code point of each UTF-8 length, the edges of every range, and a few letters
CODE_POINTS = [0x41, 0x7F, 0x80, 0xE9, 0x7FF, 0x800, 0x65E5, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF]
RANGES = [(0x80, 1, "0xxxxxxx"), (0x800, 2, "110xxxxx 10xxxxxx"), (0x10000, 3, "1110xxxx 10xxxxxx 10xxxxxx")]


def utf8_bytes_reference(code_point):
    """What the notebook uses until utf8_bytes is right: Python's own UTF-8 encoder."""
    return chr(code_point).encode("utf-8")


@exercise("01.1", "utf8_bytes", reference=lambda: utf8_bytes_reference, uses="Python's own encoder, chr(cp).encode()")
def check_utf8_bytes(utf8_bytes):
    for cp in CODE_POINTS:
        got, expected = utf8_bytes(cp), chr(cp).encode("utf-8")
        if not isinstance(got, bytes):
            raise Wrong(f"utf8_bytes(0x{cp:X}) returned a {type(got).__name__}, expected bytes (use bytes([...]))")
        if got != expected:
            n, pattern = next(((n, p) for limit, n, p in RANGES if cp < limit), (4, "11110xxx 10xxxxxx × 3"))
            raise Wrong(
                f"utf8_bytes(0x{cp:X}) gave {got.hex(' ')}, expected {expected.hex(' ')}: a code point below "
                f"0x{[0x80, 0x800, 0x10000, 0x110000][n - 1]:X} takes {n} byte{'s' * (n > 1)}, {pattern}"
            )


def _decode_cases():
    e_acute = list("é".encode())  # [195, 169]
    return [
        ([104, 105], "hi", "plain ASCII bytes"),
        ([BOS_ID, *e_acute, EOS_ID], "é", "BOS, a two-byte character, EOS"),
        ([104, EOS_ID, 105, 106], "h", "everything after the first EOS must be dropped"),
        ([PAD_ID, 104, UNK_ID, BOS_ID, 105], "hi", "PAD, UNK and BOS are not text: skip them"),
        ([104, 0xA9, 105], "h\ufffdi", "a stray continuation byte must show as U+FFFD"),
        ([104, 0xC3], "h\ufffd", "a character cut short must show as U+FFFD"),
        ([], "", "no ids at all"),
    ]


@exercise("01.2", "decode", reference=lambda: tokenizer.decode, uses="the library's decode")
def check_decode(decode):
    for ids, expected, why in _decode_cases():
        got = decode(np.array(ids, dtype=np.int64))
        if not isinstance(got, str):
            raise Wrong(f"decode({ids}) returned a {type(got).__name__}, expected a str")
        if got != expected:
            raise Wrong(f"decode({ids}) gave {got!r}, expected {expected!r}: {why}")


@exercise("01.3", "pad_batch", reference=lambda: tokenizer.pad_batch, uses="the library's pad_batch")
def check_pad_batch(pad_batch):
    sequences = [[1, 2, 3], [4], [5, 6]]
    expected = np.array([[1, 2, 3], [4, PAD_ID, PAD_ID], [5, 6, PAD_ID]], dtype=np.int64)
    got = pad_batch(sequences)
    if not isinstance(got, np.ndarray):
        raise Wrong(f"pad_batch returned a {type(got).__name__}, expected one NumPy array (B, T)")
    problem = compare("pad_batch([[1, 2, 3], [4], [5, 6]])", got, expected)
    if problem:
        raise Wrong(problem + " (pad on the right with PAD_ID, up to the longest sequence)")
    if got.dtype != np.int64:
        raise Wrong(f"pad_batch returned dtype {got.dtype}, expected int64")
    problem = compare("pad_batch([[7, 8]])", pad_batch([[7, 8]]), np.array([[7, 8]]))
    if problem:
        raise Wrong(problem + " (a batch of one needs no padding)")


def _mask_cases():
    """(what, ids): PAD at the end of some rows and a row without PAD, one sentence, T = 1, T = 0."""
    P, B = PAD_ID, BOS_ID
    return [
        (
            "ids of shape (3, 5), PAD at the end of rows 0 and 2",
            np.array([[B, 79, 117, 105, P], [B, 72, 105, 33, 46], [B, 195, 169, P, P]], dtype=np.int64),
        ),
        ("ids of shape (1, 4), no PAD", np.array([[B, 111, 117, 105]], dtype=np.int64)),
        ("ids of shape (2, 1), T = 1 (row 1 is one PAD)", np.array([[B], [P]], dtype=np.int64)),
        ("ids of shape (2, 0), T = 0", np.zeros((2, 0), dtype=np.int64)),
    ]


def _mask_hint(got, ids):
    """Which mistake a wrong mask of the right shape and dtype most likely comes from."""
    T = ids.shape[-1]
    real = ids != PAD_ID  # (B, T)
    tril = np.tril(np.ones((T, T), dtype=bool))
    keys = real[:, None, None, :]  # (B, 1, 1, T): the padding on the key axis
    shape = (len(ids), 1, T, T)
    mistakes = [
        (
            tril & real[:, None, :, None],
            "the PAD rows are masked, not the PAD columns: the padding goes on the key axis, the last one (B, 1, 1, T), not on the query axis",
        ),
        (
            np.triu(np.ones((T, T), dtype=bool)) & keys,
            "this is the upper triangle: query i may see keys j <= i (np.tril), not j >= i",
        ),
        (
            np.tril(np.ones((T, T), dtype=bool), -1) & keys,
            "the diagonal is missing: a query may attend to its own position (np.tril keeps the diagonal)",
        ),
        (
            np.broadcast_to(tril, shape),
            "PAD keys are not masked: combine the triangle with the key padding mask, ids != PAD_ID",
        ),
        (
            np.broadcast_to(keys, shape),
            "the future is not masked: combine the padding mask with the causal triangle, np.tril",
        ),
        (tril | keys, "a key must be real AND not in the future: combine the two masks with &, not |"),
    ]
    return next((why for wrong, why in mistakes if np.array_equal(got, wrong)), None)


@exercise("01.4", "_target_mask", reference=lambda: tokenizer._target_mask, uses="the library's _target_mask")
def check_target_mask(_target_mask):
    for what, ids in _mask_cases():
        before = ids.copy()
        got = _target_mask(ids)
        if not np.array_equal(ids, before):
            raise Wrong(f"_target_mask changed its input ({what}): build new arrays, leave ids as it is")
        expected = tokenizer._target_mask(ids)  # (B, 1, T, T)
        if not isinstance(got, np.ndarray):
            raise Wrong(
                f"_target_mask returned a {type(got).__name__} for {what}, expected a bool array {expected.shape}"
            )
        (B, _, T, _), problem = expected.shape, None
        if got.shape == (B, T, T) and expected.shape != (B, T, T):
            problem = (
                f"it has shape {got.shape}, expected {expected.shape}: the head axis is missing; keep an axis "
                "of size 1 at position 1, so that one mask serves every attention head"
            )
        elif got.shape in ((1, 1, T, T), (B, 1, 1, T)) and got.shape != expected.shape:
            which = "the causal triangle" if got.shape == (1, 1, T, T) else "the padding mask"
            problem = f"it has shape {got.shape}, expected {expected.shape}: it is {which} alone; combine both with &"
        problem = problem or compare("mask", got, expected)
        if problem:
            hint = _mask_hint(got, ids) if got.shape == expected.shape and got.dtype == bool else None
            raise Wrong(f"_target_mask(ids) for {what}: {problem}" + (f" ({hint})" if hint else ""))
