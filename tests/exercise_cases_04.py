"""Cases for the checks of notebook 04's exercises: a stub and planted bugs per exercise."""

import math

import numpy as np

from bytetrans_lib import attention
from bytetrans_lib.doors import checked_by
from bytetrans_lib.layers import affine, affine_backward, row_sums


def _stub_masked_softmax(scores, mask=None, *, inplace=False):
    raise NotImplementedError


def _stub_split_heads(x, n_heads):
    raise NotImplementedError


def _stub_merge_heads(x):
    raise NotImplementedError


class _StubAttend(attention.MultiHeadAttention):
    def attend(self, x_q, K, V, mask=None, *, x_kv=None):
        raise NotImplementedError


class _StubBackward(attention.MultiHeadAttention):
    def backward(self, dout):
        raise NotImplementedError


def _masked_softmax(
    *, fill=-np.inf, guard_max=True, guard_total=True, shift=True, invert=False, copy=False, max_first=False
):
    """masked_softmax's three steps (notebook 04, section 3) with one mistake switched on."""

    def masked_softmax(scores, mask=None, *, inplace=False):
        scores = np.asarray(scores)
        e = scores if inplace else scores.copy()
        if copy:  # works on a new array: inplace=True leaves scores as they were
            e = e.copy()
        row_max = e.max(axis=-1, keepdims=True)  # max_first: the maximum over all keys, masked ones too
        if mask is not None:
            allowed = attention._as_mask(mask, e.shape)
            np.copyto(e, fill, where=allowed if invert else ~allowed)
        if shift:
            if not max_first:
                row_max = e.max(axis=-1, keepdims=True)
            if guard_max:
                row_max[~np.isfinite(row_max)] = 0
            e -= row_max
        np.exp(e, out=e)
        total = e.sum(axis=-1, keepdims=True)
        if guard_total:
            total[total == 0] = 1
        e /= total
        return e

    return masked_softmax


@checked_by(attention._check_masked_softmax)  # the notebook's door, as in the exercise
def _masked_softmax_where(scores, mask=None, *, inplace=False):
    """Correct, written another way: np.where instead of np.copyto, the maximum with np.max(where=...)."""
    e = scores if inplace else scores.copy()
    allowed = True if mask is None else mask
    e[...] = np.where(allowed, e, -np.inf)
    row_max = np.max(e, axis=-1, keepdims=True, initial=-np.inf, where=allowed)  # over the allowed keys only
    e -= np.where(np.isfinite(row_max), row_max, 0)
    np.exp(e, out=e)
    total = e.sum(axis=-1, keepdims=True)
    e /= np.where(total == 0, 1, total)
    return e


def _split(kind):
    def split_heads(x, n_heads):
        B, T, C = x.shape
        if kind == "reshape only":
            return x.reshape(B, n_heads, T, C // n_heads)
        if kind == "columns interleaved":
            return x.reshape(B, T, C // n_heads, n_heads).transpose(0, 3, 1, 2)
        return x.reshape(B, T, n_heads, C // n_heads).transpose(0, 2, 1, 3)

    return split_heads


def _merge(kind):
    def merge_heads(x):
        B, H, T, Dh = x.shape
        if kind == "reshape only":
            return x.reshape(B, T, H * Dh)
        return x.transpose(0, 2, 1, 3).reshape(B, T, H * Dh)

    return merge_heads


def _attend(*, scale="sqrt(Dh)", use_mask=True, keys_axis=True, split_q=True, merge=True, cache="kept"):
    """MultiHeadAttention.attend (notebook 04, exercise 04.3) with one mistake switched on."""

    class MultiHeadAttention(attention.MultiHeadAttention):
        def attend(self, x_q, K, V, mask=None, *, x_kv=None):
            p, H = self.params, self.n_heads
            q = affine(x_q, p["W_q"], p["b_q"])  # (B, T_q, C)
            B, T_q, C = q.shape
            Q = attention._split_heads(q, H) if split_q else q.reshape(B, H, T_q, C // H)
            scores = Q @ K.transpose(0, 1, 3, 2)  # (B, H, T_q, T_kv)
            if scale != "none":
                scores /= math.sqrt(self.d_head if scale == "sqrt(Dh)" else self.d_model)
            mask = mask if use_mask else None
            if keys_axis:
                attn = attention.masked_softmax(scores, mask, inplace=True)
            else:  # the softmax over the queries, axis -2
                m = None if mask is None else np.swapaxes(np.broadcast_to(mask, scores.shape), -1, -2)
                attn = attention.masked_softmax(np.swapaxes(scores, -1, -2), m).swapaxes(-1, -2)
            Z = attn @ V  # (B, H, T_q, Dh)
            z = attention._merge_heads(Z) if merge else Z.reshape(B, T_q, C)
            if cache == "kept":
                self.cache = (x_q, x_kv, Q, K, V, attn, z)
            elif cache == "Q and K swapped":
                self.cache = (x_q, x_kv, K, Q, V, attn, z)
            self.attn = attn
            return affine(z, p["W_o"], p["b_o"])

    return MultiHeadAttention


class _AttendScalingQ(attention.MultiHeadAttention):
    """Correct, written another way: Q scaled before the product, heads merged by hand, an out variable."""

    def attend(self, x_q, K, V, mask=None, *, x_kv=None):
        p, H, Dh = self.params, self.n_heads, self.d_head
        B, T_q, C = x_q.shape
        Q = (x_q @ p["W_q"] + p["b_q"]).reshape(B, T_q, H, Dh).transpose(0, 2, 1, 3)
        scores = (Q / math.sqrt(Dh)) @ np.swapaxes(K, -1, -2)
        attn = attention.masked_softmax(scores, mask)
        Z = np.einsum("bhqk,bhkd->bhqd", attn, V)
        z = np.concatenate([Z[:, h] for h in range(H)], axis=-1)
        self.attn = attn
        self.cache = (x_q, x_kv, Q, K, V, attn, z)
        out = z @ p["W_o"] + p["b_o"]
        return out


def _attention(*, scale=True, scale_dq=True, sum_axis=-1, subtract=True, transpose_attn=True):
    """MultiHeadAttention's backward (notebook 04, section 6) with one mistake in steps 5-3."""

    class MultiHeadAttention(attention.MultiHeadAttention):
        def backward(self, dout):
            x_q, x_kv, Q, K, V, attn, z = self.cache
            p, g = self.params, self.grads
            dz = affine_backward(z, dout, p["W_o"], g["W_o"], g["b_o"])
            dZ = attention._split_heads(dz, self.n_heads)
            dattn = dZ @ V.transpose(0, 1, 3, 2)
            dV = (attn.transpose(0, 1, 3, 2) if transpose_attn else attn) @ dZ
            if not subtract:
                dscores = attn * dattn
            elif sum_axis == -1:
                dscores = attn * (dattn - row_sums(dattn * attn))
            else:
                dscores = attn * (dattn - (dattn * attn).sum(axis=sum_axis, keepdims=True))
            dQK = dscores / math.sqrt(self.d_head) if scale else dscores
            dQ, dK = (dQK if scale_dq else dscores) @ K, dQK.transpose(0, 1, 3, 2) @ Q
            dq, dk, dv = (attention._merge_heads(t) for t in (dQ, dK, dV))
            dx_q = affine_backward(x_q, dq, p["W_q"], g["W_q"], g["b_q"])
            dx_kv = affine_backward(x_kv, dk, p["W_k"], g["W_k"], g["b_k"])
            dx_kv += affine_backward(x_kv, dv, p["W_v"], g["W_v"], g["b_v"])
            return dx_q, dx_kv

    return MultiHeadAttention


STUBS = {
    "04.1": _stub_masked_softmax,
    "04.2": (_stub_split_heads, _stub_merge_heads),
    "04.3": _StubAttend,
    "04.4": _StubBackward,
}

BUGS = [
    ("04.1", _masked_softmax(fill=-1e9), "weights is wrong (max relative error 1 at weights[2, 0]"),
    ("04.1", _masked_softmax(fill=-1e9), "a large negative number like -1e9 spreads the weight evenly"),
    ("04.1", _masked_softmax(guard_max=False), "weights has a non-finite entry at weights[2, 0]: nan"),
    ("04.1", _masked_softmax(guard_max=False), "the row [2] has no allowed key: its maximum is -inf"),
    ("04.1", _masked_softmax(guard_total=False), "divide its sum, 0, by 1"),
    ("04.1", _masked_softmax(shift=False), "exp overflows: shift each row by its largest allowed score"),
    ("04.1", _masked_softmax(invert=True), "put -inf where the mask is False (~allowed)"),
    ("04.1", _masked_softmax(copy=True), "did not write the weights into scores"),
    ("04.1", _masked_softmax(max_first=True), "a masked key scoring 1000, far above the allowed keys: weights is"),
    ("04.1", _masked_softmax(max_first=True), "the shift includes masked keys; take each row's maximum over its"),
    ("04.2", (_split("reshape only"), _merge("")), "x of shape (2, 5, 12), H = 4: _split_heads(x, H) is wrong"),
    ("04.2", (_split("reshape only"), _merge("")), "a reshape alone cannot move the T axis behind H"),
    ("04.2", (_split("columns interleaved"), _merge("")), "reshape to (B, T, H, Dh), not (B, T, Dh, H)"),
    ("04.2", (_split(""), _merge("reshape only")), "X of shape (2, 4, 5, 3): _merge_heads(X) is wrong"),
    ("04.2", (_split(""), _merge("reshape only")), "transpose back to (B, T, H, Dh) before the reshape"),
    ("04.3", _attend(scale="none"), "self-attention, B = 2, T = 5, C = 12, H = 3, a padding mask (2, 1, 1, 5): out"),
    ("04.3", _attend(scale="none"), "the scores are not scaled: divide Q @ K^T by sqrt(Dh) = 2"),
    ("04.3", _attend(scale="d_model"), "divided by sqrt(d_model) = sqrt(12), not by sqrt(Dh) = sqrt(4)"),
    ("04.3", _attend(use_mask=False), "the mask is ignored"),
    ("04.3", _attend(keys_axis=False), "the weights sum to 1 over the queries (axis -2), not over the keys"),
    ("04.3", _attend(split_q=False), "Q is not split into heads as K and V are"),
    ("04.3", _attend(merge=False), "self.attn is right (the heads are merged wrongly"),
    ("04.3", _attend(cache="not kept"), "self.cache is None; keep self.cache = (x_q, x_kv, Q, K, V, attn, z)"),
    ("04.3", _attend(cache="Q and K swapped"), "self.cache[2] holds K, expected Q; backward unpacks"),
    ("04.4", _attention(scale=False), "dW_q is wrong (max relative error"),
    ("04.4", _attention(scale=False), "dQ and dK are 2.45 times the right values"),
    (
        "04.4",
        _attention(sum_axis=-2),
        "dW_q is wrong (max relative error 1 at dW_q[0, 0]: 1.82516, expected -1.6346), and so are dW_k",
    ),
    ("04.4", _attention(sum_axis=-2), "dQ and dK are wrong and dV is right"),
    ("04.4", _attention(subtract=False), "dQ and dK are wrong and dV is right"),
    ("04.4", _attention(scale_dq=False), "dQ is wrong, dK and dV are right: dQ = dQK @ K (step 3)"),
    ("04.4", _attention(transpose_attn=False), "dV and dK (2, 3, 5, 6)"),
]

ACCEPTED = [
    ("04.1", _masked_softmax_where),
    ("04.3", _AttendScalingQ),
]
