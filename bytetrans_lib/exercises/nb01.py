"""Checks of notebook 01's exercises (bytes): utf8_bytes, decode, pad_batch, causal_mask."""

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


@exercise("01.4", "causal_mask", reference=lambda: tokenizer.causal_mask, uses="the library's causal_mask")
def check_causal_mask(causal_mask):
    for T in (4, 1, 0):
        got = np.asarray(causal_mask(T))
        expected = np.tril(np.ones((T, T), dtype=bool))[None, None]
        if got.shape == (T, T):
            raise Wrong(
                f"causal_mask({T}) has shape {got.shape}, expected (1, 1, {T}, {T}): add the batch and head axes"
            )
        problem = compare(f"causal_mask({T})", got, expected)
        if problem and T == 4 and got.shape == expected.shape and got.dtype == bool:
            if np.array_equal(got, np.tril(np.ones((T, T), dtype=bool), -1)[None, None]):
                problem += " (the diagonal is missing: a query may attend to its own position)"
            elif np.array_equal(got, np.triu(np.ones((T, T), dtype=bool))[None, None]):
                problem += " (this is the upper triangle: query i may see keys j <= i, not j >= i)"
        if problem:
            raise Wrong(problem)
