"""Cases for the checks of notebook 01's exercises: a stub and planted bugs per exercise."""

import numpy as np

import bytetrans_lib as bt


def _raises(*args, **kwargs):
    raise NotImplementedError


def _utf8_no_prefix(cp):  # continuation bytes without their 10xxxxxx marker
    if cp < 0x80:
        return bytes([cp])
    return bytes([0b11000000 | cp >> 6, cp & 0b111111]) if cp < 0x800 else chr(cp).encode()


def _utf8_wrong_threshold(cp):  # 0x80..0xFF treated as one byte
    return bytes([cp]) if cp < 0x100 else chr(cp).encode()


def _decode_ignores_eos(ids):
    ids = np.asarray(ids)
    return ids[ids < 256].astype(np.uint8).tobytes().decode("utf-8", errors="replace")


def _decode_strict(ids):
    ids = np.asarray(ids)
    ends = np.flatnonzero(ids == bt.EOS_ID)
    ids = ids[: ends[0]] if ends.size else ids
    return ids[ids < 256].astype(np.uint8).tobytes().decode("utf-8", errors="ignore")


def _pad_left(seqs):
    T = max(len(s) for s in seqs)
    return np.array([[bt.PAD_ID] * (T - len(s)) + list(s) for s in seqs], dtype=np.int64)


def _pad_with_zeros(seqs):
    T = max(len(s) for s in seqs)
    return np.array([list(s) + [0] * (T - len(s)) for s in seqs], dtype=np.int64)


def _mask(*, triangle=np.tril, diagonal=0, query_axis=False, heads=True, padding=True, combine=np.logical_and):
    """_target_mask with one mistake switched on."""

    def _target_mask(ids):
        T = ids.shape[-1]
        causal = triangle(np.ones((T, T), dtype=bool), diagonal)  # (T, T)
        real = ids != bt.PAD_ID if padding else np.ones(ids.shape, dtype=bool)  # (B, T)
        if not heads:  # (T, T) & (B, 1, T): (B, T, T)
            return combine(causal[None], real[:, None, :])
        real = real[:, None, :, None] if query_axis else real[:, None, None, :]
        return combine(causal[None, None], real)

    return _target_mask


STUBS = {"01.1": _raises, "01.2": _raises, "01.3": _raises, "01.4": _raises}

BUGS = [
    ("01.1", _utf8_no_prefix, "utf8_bytes(0x80) gave c2 00, expected c2 80: a code point below 0x800 takes 2 bytes"),
    ("01.1", _utf8_wrong_threshold, "utf8_bytes(0x80) gave 80, expected c2 80"),
    ("01.2", _decode_ignores_eos, "everything after the first EOS must be dropped"),
    ("01.2", _decode_strict, "a stray continuation byte must show as U+FFFD"),
    ("01.3", _pad_left, "is wrong at pad_batch([[1, 2, 3], [4], [5, 6]])[1, 0]"),
    ("01.3", _pad_with_zeros, "pad on the right with PAD_ID"),
    ("01.3", lambda seqs: [list(s) for s in seqs], "pad_batch returned a list, expected one NumPy array"),
    ("01.4", _mask(query_axis=True), "the PAD rows are masked, not the PAD columns"),
    ("01.4", _mask(query_axis=True), "is wrong at mask[0, 0, 4, 0]: False, expected True"),
    ("01.4", _mask(triangle=np.triu), "this is the upper triangle"),
    ("01.4", _mask(diagonal=-1), "the diagonal is missing"),
    ("01.4", _mask(heads=False), "expected (3, 1, 5, 5): the head axis is missing"),
    ("01.4", _mask(padding=False), "PAD keys are not masked"),
    ("01.4", _mask(combine=np.logical_or), "combine the two masks with &, not |"),
    ("01.4", lambda ids: bt.causal_mask(ids.shape[1]), "it is the causal triangle alone; combine both with &"),
    ("01.4", lambda ids: _mask()(ids).astype(np.int64), "mask has dtype int64, expected bool"),
]

ACCEPTED = [
    ("01.4", lambda ids: bt.padding_mask(ids) & bt.causal_mask(ids.shape[1])),  # the two given masks
    (
        "01.4",
        lambda ids: (
            (np.arange(ids.shape[1])[None, :] <= np.arange(ids.shape[1])[:, None]) & (ids != bt.PAD_ID)[:, None, None]
        ),
    ),
]
