"""Checks of notebook 09's exercises (attention maps): group_positions, group_attention."""

import numpy as np

from bytetrans_lib import grouping
from bytetrans_lib.exercises import Wrong, compare, exercise
from bytetrans_lib.tokenizer import BOS_ID, EOS_ID, PAD_ID, encode

# (ids, how the message shows them): specials, two-byte letters, a stray continuation byte and a
# lead byte with nothing after it, a four-byte emoji
SEQUENCES = [
    ([BOS_ID, *encode("Où est l'école ?"), EOS_ID], "<bos> + 'Où est l'école ?' + <eos>"),
    (
        [*encode("h"), 0xA9, *encode("é"), 0xC3, *encode(" x"), EOS_ID, PAD_ID],
        "'h', 0xA9, 'é', 0xC3, ' x', <eos>, <pad>",
    ),
    (list(encode("a😀b c")), "'a😀b c'"),
]


SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


def _groups(result):
    return [(label, [int(p) for p in positions]) for label, positions in result]


def _positions_hint(got, expected, ids, by):
    """Why `got` differs from `expected`: the typical slips of the loop that builds chars."""
    if by == "characters":
        if len(got) == len(ids) != len(expected):
            return "every byte is a group of its own: a continuation byte must join the character before it"
        if [p for _, p in got] == [p for _, p in expected]:
            return "the positions are right, the labels are not: a character keeps its first byte's label"
        if 0xA9 in ids and any(ids.index(0xA9) in p and len(p) > 1 for _, p in got):
            return (
                "the stray continuation byte 0xA9, with no lead byte before it, is a character of its own: "
                "use _is_continuation, which is True only for the bytes token_labels marked '·xx'"
            )
        return "a continuation byte joins the character before it; every other byte or special starts one"
    if by == "words":
        if any("␣" in label and label != "␣" for label, _ in got):
            return "a space is a group of its own: in_word is False for a space"
        if any(s in label and label != s for label, _ in got for s in SPECIALS):
            return "a special (<bos>, <eos>, <pad>) is a group of its own: in_word is False for an id >= N_BYTES"
        return "in_word is True for a byte that is not a space, False for a space and for a special"
    return "every byte is a group of its own"


@exercise("09.1", "group_positions", reference=lambda: grouping.group_positions, uses="the library's group_positions")
def check_group_positions(group_positions):
    for ids, shown in SEQUENCES:
        for by in ("characters", "words", "bytes"):
            got = group_positions(list(ids), by)
            if not isinstance(got, list):
                raise Wrong(f"group_positions returned a {type(got).__name__}, expected a list of (label, positions)")
            got, expected = _groups(got), _groups(grouping.group_positions(list(ids), by))
            if got != expected:
                k = next((k for k, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
                mine = got[k] if k < len(got) else "nothing"
                raise Wrong(
                    f"group_positions({shown}, by={by!r}) is wrong at group {k}: {mine!r}, expected "
                    f"{expected[k] if k < len(expected) else 'nothing'!r} ({_positions_hint(got, expected, ids, by)})"
                )


def _attention_case(seed=9):
    """Row-normalised random weights (H, T_q, T_kv) and the ids of their axes, multi-byte on both."""
    query_ids = np.array([BOS_ID, *encode("Où est l'école ?")])
    key_ids = encode("Where is the école?", eos=True)
    scores = np.random.default_rng(seed).standard_normal((2, len(query_ids), len(key_ids)))
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True), query_ids, key_ids


def _grouped_like(weights, query_ids, key_ids, by, rows="last", keys="sum"):
    """group_attention done right (rows="last", keys="sum") or the typical wrong ways."""
    query_groups, key_groups = grouping.group_positions(query_ids, by), grouping.group_positions(key_ids, by)
    if rows == "mean":
        picked = np.stack([weights[..., p, :].mean(axis=-2) for _, p in query_groups], axis=-2)
    else:
        picked = weights[..., [p[-1] if rows == "last" else p[0] for _, p in query_groups], :]
    reduce = np.sum if keys == "sum" else np.mean
    return np.stack([reduce(picked[..., p], axis=-1) for _, p in key_groups], axis=-1)


# (query row, key reduction, what is wrong): the typical slips of group_attention
SLIPS = [
    (
        "last",
        "mean",
        "a key group's weight is the SUM of its bytes' weights, not their mean: rows must stay distributions",
    ),
    (
        "first",
        "sum",
        "a query group's row is the row of its LAST byte, the one that has read the whole group, not its first",
    ),
    ("mean", "sum", "a query group's row is the row of its LAST byte, not the mean of its rows"),
]


@exercise("09.2", "group_attention", reference=lambda: grouping.group_attention, uses="the library's group_attention")
def check_group_attention(group_attention):
    weights, query_ids, key_ids = _attention_case()
    for by in ("characters", "words", "bytes"):
        for w, axes in ((weights, "(H, T_q, T_kv)"), (weights[0], "(T_q, T_kv)")):
            try:
                result = group_attention(w.copy(), query_ids, key_ids, by)
            except (IndexError, ValueError) as e:
                if w.ndim == 3:
                    raise
                raise Wrong(
                    f"group_attention raised {type(e).__name__} for weights {axes}, with no head axis ({e}): the "
                    "rows are then axis 0; index the last two axes, weights[..., last, :]"
                ) from None
            if not (isinstance(result, tuple) and len(result) == 3):
                raise Wrong("group_attention must return (grouped, query labels, key labels)")
            expected = grouping.group_attention(w, query_ids, key_ids, by)[0]
            problem = compare("grouped", result[0], expected, rtol=1e-9, atol=1e-12)
            if not problem:
                continue
            got = np.asarray(result[0])
            if got.shape == expected.shape:
                for rows, keys, hint in SLIPS:
                    if np.allclose(got, _grouped_like(w, query_ids, key_ids, by, rows, keys), rtol=1e-9, atol=1e-12):
                        problem += f": {hint}"
                        break
            raise Wrong(f"with weights {axes} and by={by!r}, {problem}")
