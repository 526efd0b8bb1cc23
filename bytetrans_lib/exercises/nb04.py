"""Checks of notebook 04's exercises: masked_softmax, splitting and merging heads, attention's
forward pass (attend) and its backward."""

import inspect
import math

import numpy as np

from bytetrans_lib import attention, layers
from bytetrans_lib.exercises import Wrong, compare, exercise, report, where

# --- 04.1 masked_softmax ----------------------------------------------------------------


def _masked_cases(seed):
    """(what, scores, mask): section 3's example, without a mask, large scores in 4-D, and masked
    keys that score far above the allowed ones (a shift by the maximum over all keys, masked ones
    included, makes exp underflow to 0 on every allowed key there)."""
    rng = np.random.default_rng(seed)
    scores = np.array([[2.0, 1.0, 0.5, 3.0], [0.1, 0.2, 0.3, 0.4], [5.0, -1.0, 0.0, 2.0]])
    mask = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]])  # 0/1 integers; row 2: no allowed key
    big = 1000 * rng.standard_normal((2, 3, 4, 5))  # (B, H, T_q, T_kv): exp would overflow unshifted
    big_mask = rng.random((2, 1, 4, 5)) < 0.6  # (B, 1, T_q, T_kv): broadcasts over the heads
    big_mask[..., 0] = True
    big_mask[1, 0, 2] = False  # sentence 1, query 2: no allowed key
    high = rng.standard_normal((2, 3, 5))  # (B, T_q, T_kv)
    high_mask = np.ones((2, 3, 5), bool)
    high_mask[:, :, 3] = False  # key 3 is masked for every query ...
    high[:, :, 3] = 1000.0  # ... and scores 1000, far above the allowed keys' scores
    high_mask[1, 2] = False  # sentence 1, query 2: no allowed key
    return [
        ("masked_softmax(scores, mask) on section 3's example (row 2 has no allowed key)", scores, mask),
        ("masked_softmax(scores) with no mask", scores, None),
        ("masked_softmax(scores, mask), scores of size 1000, mask (2, 1, 4, 5) over 3 heads", big, big_mask),
        ("masked_softmax(scores, mask), a masked key scoring 1000, far above the allowed keys", high, high_mask),
    ]


def _masked_hint(weights, scores, mask):
    """Which step a wrong `weights` most likely comes from."""
    allowed = np.ones(scores.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask) != 0, scores.shape)
    empty = ~allowed.any(axis=-1)  # rows with no allowed key
    if weights.shape != scores.shape:
        return "the weights have the shape of the scores"
    if np.isnan(weights[empty]).any():
        row = where(np.argwhere(empty)[0])
        return (
            f"the row {row} has no allowed key: its maximum is -inf, so shift it by 0 instead "
            "(else -inf - (-inf) = nan), and divide its sum, 0, by 1"
        )
    if not np.isfinite(weights).all():
        return "exp overflows: shift each row by its largest allowed score before exp"
    lost = allowed.any(axis=-1) & ~np.isclose(weights.sum(axis=-1), 1)  # rows with allowed keys, without weight
    top_masked = np.where(allowed, -np.inf, scores).max(axis=-1)  # (...,): the largest masked score of each row
    top_allowed = np.where(allowed, scores, -np.inf).max(axis=-1)  # (...,): the largest allowed one
    if (lost & (top_masked > top_allowed)).any():
        row = where(np.argwhere(lost & (top_masked > top_allowed))[0])
        return (
            f"the row {row} has allowed keys, yet its weights do not sum to 1, and a masked key scores higher there "
            "than every allowed one: the shift includes masked keys; take each row's maximum over its allowed keys "
            "only, after putting -inf at the masked scores"
        )
    masked = ~allowed & ~empty[..., None]  # masked keys in rows that have an allowed key
    if (weights[masked] != 0).any():
        if np.allclose(weights[masked], 0):
            return "masked keys must get exactly 0: put -inf at the masked scores, not a large negative number"
        return "masked keys get weight: put -inf where the mask is False (~allowed), not where it is True"
    if np.any(weights[empty] != 0):
        return (
            "a row with no allowed key must get all-zero weights: a large negative number like -1e9 spreads "
            "the weight evenly over keys it may not see; use -inf, shift such a row by 0, divide its sum by 1"
        )
    return "each row: exp(score - largest allowed score) on the allowed keys, 0 elsewhere, divided by the row's sum"


@exercise("04.1", "masked_softmax", reference=lambda: attention.masked_softmax, uses="the library's masked_softmax")
def check_masked_softmax(masked_softmax):
    for what, scores, mask in _masked_cases(0):
        before = scores.copy()
        with np.errstate(all="ignore"):  # an overflow or a nan shows in the weights, named below
            weights = masked_softmax(scores, mask)
        if not np.array_equal(scores, before, equal_nan=True):
            raise Wrong(f"{what} changed scores: with inplace=False, work on e, the copy")
        problem = compare("weights", weights, attention.masked_softmax(scores, mask), rtol=1e-10, atol=1e-12)
        if problem:
            hint = _masked_hint(np.asarray(weights, dtype=np.float64), scores, mask)
            raise Wrong(f"{what}: {problem} ({hint})")
    _, scores, mask = _masked_cases(1)[2]
    scores32 = scores.astype(np.float32)
    expected = attention.masked_softmax(scores32.astype(np.float64), mask)
    weights = masked_softmax(scores32, mask, inplace=True)
    if not (isinstance(weights, np.ndarray) and np.shares_memory(weights, scores32)):
        raise Wrong(
            "masked_softmax(scores, mask, inplace=True) did not write the weights into scores: work on e in "
            "place (np.copyto, -=, np.exp(e, out=e), /=); e is scores itself then"
        )
    if weights.dtype != np.float32:
        raise Wrong(f"the weights have dtype {weights.dtype} for float32 scores: float32 must stay float32")
    problem = compare("masked_softmax(scores, mask, inplace=True)", weights, expected, rtol=1e-5, atol=1e-6)
    if problem:
        hint = _masked_hint(weights.astype(np.float64), scores32.astype(np.float64), mask)
        raise Wrong(f"{problem} (in float32, in place: {hint})")


# --- 04.2 splitting and merging heads ----------------------------------------------------


def split_heads_reference(x, n_heads):
    """(B, T, C) -> (B, H, T, Dh) by the definition: head h is the block of columns h*Dh .. (h+1)*Dh - 1."""
    Dh = x.shape[-1] // n_heads
    return np.stack([x[:, :, h * Dh : (h + 1) * Dh] for h in range(n_heads)], axis=1)


def merge_heads_reference(x):
    """(B, H, T, Dh) -> (B, T, C): the heads' blocks side by side again."""
    return np.concatenate([x[:, h] for h in range(x.shape[1])], axis=-1)


REFERENCE_HEADS = (split_heads_reference, merge_heads_reference)  # one tuple: what the notebook falls back to


@exercise(
    "04.2",
    "_split_heads and _merge_heads",
    reference=lambda: REFERENCE_HEADS,
    uses="versions that slice out each head's block of columns",
)
def check_split_merge_heads(functions):
    split_heads, merge_heads = functions
    B, T, C = 2, 5, 12
    x = np.arange(B * T * C, dtype=np.float64).reshape(B, T, C)  # every entry tells where it came from
    for H in (4, 2):
        Dh = C // H
        got = split_heads(x, H)
        problem = compare("_split_heads(x, H)", got, split_heads_reference(x, H))
        if problem:
            got = np.asarray(got)
            if got.shape == (B, H, T, Dh) and np.array_equal(got, x.reshape(B, H, T, Dh)):
                hint = "a reshape alone cannot move the T axis behind H: reshape to (B, T, H, Dh), then transpose"
            elif got.shape == (B, H, T, Dh) and np.array_equal(got, x.reshape(B, T, Dh, H).transpose(0, 3, 1, 2)):
                hint = (
                    "head h holds consecutive columns h*Dh .. (h+1)*Dh - 1: reshape to (B, T, H, Dh), not (B, T, Dh, H)"
                )
            else:
                hint = "reshape (B, T, C) to (B, T, H, Dh), then swap the T and H axes"
            raise Wrong(f"x of shape {x.shape}, H = {H}: {problem} ({hint})")
        X = np.arange(B * H * T * Dh, dtype=np.float64).reshape(B, H, T, Dh)
        got = merge_heads(X)
        problem = compare("_merge_heads(X)", got, merge_heads_reference(X))
        if problem:
            got = np.asarray(got)
            if got.shape == (B, T, C) and np.array_equal(got, X.reshape(B, T, C)):
                hint = "transpose back to (B, T, H, Dh) before the reshape"
            else:
                hint = "merging undoes splitting: transpose to (B, T, H, Dh), reshape to (B, T, H * Dh)"
            raise Wrong(f"X of shape {X.shape}: {problem} ({hint})")
        problem = compare(f"_merge_heads(_split_heads(x, {H}))", merge_heads(split_heads(x, H)), x)
        if problem:
            raise Wrong(problem + " (merging must undo splitting)")


# --- 04.3 the forward pass: attend -------------------------------------------------------

PARAMS = ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")

CACHE = ("x_q", "x_kv", "Q", "K", "V", "attn", "z")  # what backward unpacks, in this order


def _attend_cases(seed):
    """(what, B, T_q, T_kv, C, H, mask): every axis of a case has its own size where it can.

    T_kv = None is self-attention (x_kv is x_q)."""
    rng = np.random.default_rng(seed)
    padding = np.ones((2, 1, 1, 5), bool)  # (B, 1, 1, T_kv)
    padding[1, ..., 3:] = False  # sentence 1: its last two keys are padding
    causal = np.tril(np.ones((6, 6), bool))[None, None]  # (1, 1, T, T)
    cross = rng.random((2, 1, 4, 6)) < 0.6  # (B, 1, T_q, T_kv)
    cross[..., 0] = True
    cross[0, 0, 2] = False  # sentence 0, query 2: no allowed key
    return [
        ("self-attention, B = 2, T = 5, C = 12, H = 3, a padding mask (2, 1, 1, 5)", 2, 5, None, 12, 3, padding),
        ("self-attention, B = 3, T = 6, C = 8, H = 1, a causal mask (1, 1, 6, 6)", 3, 6, None, 8, 1, causal),
        (
            "cross-attention, B = 2, T_q = 4, T_kv = 6, C = 10, H = 2, a mask (2, 1, 4, 6) with a query that sees no key",
            2, 4, 6, 10, 2, cross,
        ),
        ("cross-attention, B = 2, T_q = 3, T_kv = 5, C = 24, H = 4, no mask", 2, 3, 5, 24, 4, None),
    ]  # fmt: skip


def _attend_pair(candidate_class, seed, C, H):
    """The candidate's layer and the library's, with the same random weights and biases."""
    rng = np.random.default_rng(seed)
    mine = candidate_class(C, H, rng=np.random.default_rng(1), dtype=np.float64)
    ref = attention.MultiHeadAttention(C, H, rng=np.random.default_rng(1), dtype=np.float64)
    for name in PARAMS:
        mine.params[name][...] = ref.params[name][...] = rng.standard_normal(ref.params[name].shape) / 2
    return mine, ref, rng


def _close(got, expected):
    got = np.asarray(got)
    return got.shape == np.shape(expected) and np.allclose(got, expected, rtol=1e-7, atol=1e-9)


def _attend_hint(weights, out, ref, x_q, mask):
    """Which step a wrong output or wrong weights most likely come from (the reference's Q, K, V)."""
    p, (B, T_q, C), H, Dh = ref.params, x_q.shape, ref.n_heads, ref.d_head
    _, _, Q, K, V, attn, _ = ref.cache
    if not isinstance(weights, np.ndarray):
        return "keep the weights (B, H, T_q, T_kv) in self.attn: the pictures read them there"
    weights = weights.astype(np.float64)
    if weights.shape != attn.shape:
        return (
            f"the weights have the shape of the scores, (B, H, T_q, T_kv) = {attn.shape}: "
            "scores = Q @ K^T / sqrt(Dh), with the last two axes of K swapped"
        )
    if not _close(weights, attn):
        raw = Q @ K.transpose(0, 1, 3, 2)  # (B, H, T_q, T_kv): Q K^T, not scaled
        q = layers.affine(x_q, p["W_q"], p["b_q"])  # (B, T_q, C)
        variants = [
            (raw, mask, f"the scores are not scaled: divide Q @ K^T by sqrt(Dh) = {math.sqrt(Dh):.3g}"),
            (raw / math.sqrt(C), mask, f"the scores are divided by sqrt(d_model) = sqrt({C}), not by sqrt(Dh) = "
             f"sqrt({Dh}): each head's dot products have Dh = d_model // H terms (self.d_head)"),
            (raw / math.sqrt(Dh), None, "the mask is ignored: hand it to masked_softmax"),
            (raw / math.sqrt(Dh), None if mask is None else ~np.asarray(mask),
             "the mask is inverted: True = may attend, and masked_softmax takes it as it is"),
            (q.reshape(B, H, T_q, Dh) @ K.transpose(0, 1, 3, 2) / math.sqrt(Dh), mask,
             "Q is not split into heads as K and V are: _split_heads(q, H), not a reshape alone"),
        ]  # fmt: skip
        for scores, m, hint in variants:  # (a variant that equals the right weights cannot match here)
            if _close(weights, attention.masked_softmax(scores, m)):
                return hint
        allowed = np.ones(attn.shape, bool) if mask is None else np.broadcast_to(mask, attn.shape)
        if (np.isclose(weights.sum(axis=-2), 1) | ~allowed.any(axis=-2)).all():
            return (
                "the weights sum to 1 over the queries (axis -2), not over the keys: each query's softmax runs over "
                "the last axis of the scores Q @ K^T, (B, H, T_q, T_kv)"
            )
        return (
            "steps 1-4: Q = _split_heads(x_q W_q + b_q), scores = Q @ K^T / sqrt(Dh) with K's last two axes "
            "swapped, attn = masked_softmax(scores, mask)"
        )
    Z = attn @ V  # (B, H, T_q, Dh)
    z = attention._merge_heads(Z)  # (B, T_q, C)
    variants = [
        (layers.affine(Z.reshape(B, T_q, C), p["W_o"], p["b_o"]),
         "the heads are merged wrongly: Z (B, H, T_q, Dh) goes back to (B, T_q, H, Dh) before the reshape to "
         "(B, T_q, C), as _merge_heads(Z) does"),
        (z, "out equals z: step 7, the output projection z W_o + b_o, is missing"),
        (z @ p["W_o"], "the output projection's bias b_o is missing"),
    ]  # fmt: skip
    for expected, hint in variants:
        if _close(out, expected):
            return hint
    return "the weights are right, so steps 5-7 are wrong: Z = attn @ V, z = _merge_heads(Z), out = z W_o + b_o"


def _same_as(got, ref_cache, x_kv):
    """The name of the entry of the course's cache that `got` equals, if any."""
    for name, value in zip(CACHE, ref_cache[:1] + (x_kv,) + ref_cache[2:]):
        if value is not None and _close(got, value):
            return name
    return None


@exercise(
    "04.3",
    "MultiHeadAttention.attend",
    reference=lambda: attention.MultiHeadAttention.attend,
    uses="the course's MultiHeadAttention.attend",
    method="attend",
)
def check_attend(MultiHeadAttention):
    backward = inspect.unwrap(attention.MultiHeadAttention.backward)  # the course's, without its door
    for seed, (what, B, T_q, T_kv, C, H, mask) in enumerate(_attend_cases(3)):
        mine, ref, rng = _attend_pair(MultiHeadAttention, seed, C, H)
        x_q = rng.standard_normal((B, T_q, C))
        x_kv = x_q if T_kv is None else rng.standard_normal((B, T_kv, C))
        K, V = ref.keys_values(x_kv)  # (B, H, T_kv, Dh) each
        K0, V0 = K.copy(), V.copy()
        expected = ref.attend(x_q, K0, V0, mask, x_kv=x_kv)
        Dh, T_kv = C // H, K.shape[2]
        try:
            out = mine.attend(x_q, K, V, mask, x_kv=x_kv)
        except (ValueError, TypeError) as e:  # a product of the wrong shapes, usually
            raise Wrong(
                f"{what}: attend raised {type(e).__name__}: {e}. Q and the heads' outputs Z have shape "
                f"(B, H, T_q, Dh) = {(B, H, T_q, Dh)}, K^T {(B, H, Dh, T_kv)}, the scores and the weights "
                f"(B, H, T_q, T_kv) = {(B, H, T_q, T_kv)} (did you swap the last two axes of K, and only those?)"
            ) from None
        if not (np.array_equal(K, K0) and np.array_equal(V, V0)):
            raise Wrong(
                f"{what}: attend changed {'K' if not np.array_equal(K, K0) else 'V'}, its input: decoding hands "
                "it the same keys and values at every step, so scale the scores, not K, and write only into new arrays"
            )
        weights = getattr(mine, "attn", None)
        parts = {"out": (out, expected), "self.attn": (weights, ref.attn)}
        if any(compare(name, got, want) for name, (got, want) in parts.items()):
            hint = _attend_hint(weights, out, ref, x_q, mask)
            try:
                report(parts, {"out": hint, "self.attn": hint})
            except Wrong as e:
                raise Wrong(f"{what}: {e}") from None
        cache = mine.cache
        if not (isinstance(cache, tuple | list) and len(cache) == len(CACHE)):
            got = (
                "None"
                if cache is None
                else f"a {type(cache).__name__}" + (f" of {len(cache)}" if isinstance(cache, tuple | list) else "")
            )
            raise Wrong(
                f"{what}: self.cache is {got}; keep self.cache = (x_q, x_kv, Q, K, V, attn, z), the tuple that "
                "backward unpacks"
            )
        for i, name in enumerate(CACHE):
            want = x_kv if name == "x_kv" else ref.cache[i]
            problem = compare(f"self.cache[{i}]", cache[i], want)
            if problem:
                other = _same_as(cache[i], ref.cache, x_kv)
                said = f"holds {other}, expected {name}" if other else f"({name}): {problem}"
                raise Wrong(
                    f"{what}: self.cache[{i}] {said}; backward unpacks self.cache = (x_q, x_kv, Q, K, V, attn, z) "
                    "in this order, with this call's arrays"
                )
        dout = rng.standard_normal(expected.shape)
        dx_ref = backward(ref, dout)
        dx_mine = backward(mine, dout)
        got = {f"d{name}": mine.grads[name] for name in PARAMS} | {"dx_q": dx_mine[0], "dx_kv": dx_mine[1]}
        want = {f"d{name}": ref.grads[name] for name in PARAMS} | {"dx_q": dx_ref[0], "dx_kv": dx_ref[1]}
        for name in got:
            problem = compare(name, got[name], want[name])
            if problem:
                raise Wrong(
                    f"{what}: the course's backward, run on your self.cache, gives a wrong gradient: {problem} "
                    "(is self.cache = (x_q, x_kv, Q, K, V, attn, z), in this order, from this call?)"
                )


# --- 04.4 attention's backward, steps 5 to 3 ----------------------------------------------


def _attention_pair(candidate_class, seed):
    """The candidate and the library's layer with the same (random) weights, inputs, a mask, dout.

    Every axis has its own size: B = 2, H = 3, T_q = 4, T_kv = 5, Dh = 6 (C = 18)."""
    rng = np.random.default_rng(seed)
    B, H, T_q, T_kv, C = 2, 3, 4, 5, 18
    mine = candidate_class(C, H, rng=np.random.default_rng(1), dtype=np.float64)
    ref = attention.MultiHeadAttention(C, H, rng=np.random.default_rng(1), dtype=np.float64)
    for name in PARAMS:
        mine.params[name][...] = ref.params[name][...] = rng.standard_normal(ref.params[name].shape) / 3
    mask = rng.random((B, 1, T_q, T_kv)) < 0.7
    mask[..., 0] = True
    mask[0, 0, 1] = False  # sentence 0, query 1: no allowed key
    x_q, x_kv = rng.standard_normal((B, T_q, C)), rng.standard_normal((B, T_kv, C))
    return mine, ref, x_q, x_kv, mask, rng.standard_normal((B, T_q, C))


def _listed(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _steps_hint(wrong, got, expected, d_head):
    """What the wrong parameter gradients say about dQ, dK and dV, the three results of steps 5-3."""
    bad = [grad for grad, param in (("dQ", "dW_q"), ("dK", "dW_k"), ("dV", "dW_v")) if param in wrong]
    if bad == ["dQ", "dK"]:
        ratio = got["dW_q"] / np.where(expected["dW_q"] == 0, np.nan, expected["dW_q"])
        r = np.nanmedian(ratio)
        if np.allclose(got["dW_q"], r * expected["dW_q"]) and np.allclose(got["dW_k"], r * expected["dW_k"]):
            return f"dQ and dK are {r:.3g} times the right values: step 3 divides dscores by sqrt(Dh) = {math.sqrt(d_head):.3g}"
        return (
            "dQ and dK are wrong and dV is right, so the mistake is in dattn (step 5), dscores (step 4: "
            "attn * (dattn - row_sums(dattn * attn)), the sum over the keys) or dQK (step 3: dscores / sqrt(Dh))"
        )
    if bad == ["dQ"]:
        return "dQ is wrong, dK and dV are right: dQ = dQK @ K (step 3)"
    if bad == ["dK"]:
        return "dK is wrong, dQ and dV are right: dK = dQK^T @ Q, with dQK's last two axes swapped (step 3)"
    if bad == ["dV"]:
        return "dV is wrong, dQ and dK are right: dV = attn^T @ dZ, with attn's last two axes swapped (step 5)"
    if bad:
        return f"{_listed(bad)} are wrong: start at step 5, dattn = dZ @ V^T and dV = attn^T @ dZ"
    return "steps 7-6 and 2-1 are given: did you change them?"


@exercise(
    "04.4",
    "MultiHeadAttention.backward",
    reference=lambda: attention.MultiHeadAttention.backward,
    uses="the course's MultiHeadAttention.backward",
    method="backward",
)
def check_attention_backward(MultiHeadAttention):
    mine, ref, x_q, x_kv, mask, dout = _attention_pair(MultiHeadAttention, 2)
    problem = compare("the output of forward", mine.forward(x_q, x_kv, mask=mask), ref.forward(x_q, x_kv, mask=mask))
    if problem:
        raise Wrong(problem + " (forward is given: did you change it?)")
    dx_q_ref, dx_kv_ref = ref.backward(dout)
    B, T_q, C = x_q.shape
    H, Dh, T_kv = ref.n_heads, ref.d_head, x_kv.shape[1]
    try:
        dx_q, dx_kv = mine.backward(dout)
    except (ValueError, TypeError) as e:  # a product of the wrong shapes, usually
        raise Wrong(
            f"backward raised {type(e).__name__}: {e}. In steps 5-3, dattn, dscores and dQK have shape "
            f"(B, H, T_q, T_kv) = {(B, H, T_q, T_kv)}, dV and dK {(B, H, T_kv, Dh)}, dQ {(B, H, T_q, Dh)} "
            "(did you swap the last two axes of attn for dV, and of dQK for dK?)"
        ) from None
    got = {f"d{name}": mine.grads[name] for name in PARAMS} | {"dx_q": dx_q, "dx_kv": dx_kv}
    expected = {f"d{name}": ref.grads[name] for name in PARAMS} | {"dx_q": dx_q_ref, "dx_kv": dx_kv_ref}
    problems = {name: compare(name, got[name], expected[name]) for name in got}
    wrong = [name for name in got if problems[name]]
    if wrong:
        right = [name for name in got if name not in wrong]
        message = problems[wrong[0]]
        if len(wrong) > 1:
            message += f", and so {'is' if len(wrong) == 2 else 'are'} {_listed(wrong[1:])}"
        if right:
            message += f"; {_listed(right)} {'is' if len(right) == 1 else 'are'} right"
        raise Wrong(f"{message} ({_steps_hint(wrong, got, expected, Dh)})")
    again = mine.backward(dout)
    if not all(np.array_equal(a, b) for a, b in zip(again, (dx_q, dx_kv))):
        raise Wrong(
            "a second backward gave another dx_q or dx_kv: steps 5-3 must not change what forward kept "
            "(attn, Q, K, V) in place"
        )
