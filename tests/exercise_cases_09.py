"""Cases for the checks of notebook 09's exercises: a stub and planted bugs per exercise."""

import numpy as np

from bytetrans_lib import grouping
from bytetrans_lib.tokenizer import N_BYTES, token_labels


def _raises(*args, **kwargs):
    raise NotImplementedError


def _positions(
    merge=True, continuation=grouping._is_continuation, space_in_word=False, special_in_word=False, label=None
):
    """group_positions with one slip in the loop that builds chars (the words part as written)."""

    def group_positions(ids, by="characters"):
        ids = [int(i) for i in ids]
        labels = token_labels(ids)
        if by == "bytes":
            return [(lab, [i]) for i, lab in enumerate(labels)]
        chars = []
        for i, (lab, byte_id) in enumerate(zip(labels, ids)):
            if merge and chars and continuation(lab, byte_id):
                chars[-1][1].append(i)
                if label:
                    chars[-1] = (chars[-1][0] + lab, chars[-1][1], chars[-1][2])
            else:
                in_word = (byte_id < N_BYTES or special_in_word) and (byte_id != ord(" ") or space_in_word)
                chars.append((lab, [i], in_word))
        if by == "characters":
            return [(lab, positions) for lab, positions, _ in chars]
        return grouping._words(chars)  # the words part as written

    return group_positions


def _byte_range(label, byte_id):  # any byte 0x80..0xBF, even one token_labels did not mark as a continuation
    return 0x80 <= byte_id < 0xC0


def _attention(rows="last", keys="sum", three_d_only=False):
    """group_attention with one slip: the wrong query row, a mean over key bytes, or 3-D indexing."""

    def group_attention(weights, query_ids, key_ids, by="characters"):
        weights = np.asarray(weights)
        query_groups, key_groups = grouping.group_positions(query_ids, by), grouping.group_positions(key_ids, by)
        if rows == "mean":
            picked = np.stack([weights[..., p, :].mean(axis=-2) for _, p in query_groups], axis=-2)
        else:
            pick = [p[-1] if rows == "last" else p[0] for _, p in query_groups]
            picked = weights[:, pick, :] if three_d_only else weights[..., pick, :]
        reduce = np.sum if keys == "sum" else np.mean
        grouped = np.stack([reduce(picked[..., p], axis=-1) for _, p in key_groups], axis=-1)
        return grouped, [label for label, _ in query_groups], [label for label, _ in key_groups]

    return group_attention


STUBS = {"09.1": _raises, "09.2": _raises}

BUGS = [
    ("09.1", _positions(merge=False), "every byte is a group of its own: a continuation byte must join"),
    ("09.1", _positions(space_in_word=True), "a space is a group of its own: in_word is False for a space"),
    ("09.1", _positions(special_in_word=True), "a special (<bos>, <eos>, <pad>) is a group of its own"),
    ("09.1", _positions(continuation=_byte_range), "the stray continuation byte 0xA9"),
    ("09.1", _positions(label=True), "the positions are right, the labels are not"),
    ("09.2", _attention(keys="mean"), "a key group's weight is the SUM of its bytes' weights, not their mean"),
    (
        "09.2",
        _attention(rows="first"),
        "the row of its LAST byte, the one that has read the whole group, not its first",
    ),
    ("09.2", _attention(rows="mean"), "not the mean of its rows"),
    (
        "09.2",
        _attention(three_d_only=True),
        "group_attention raised IndexError for weights (T_q, T_kv), with no head axis",
    ),
]
