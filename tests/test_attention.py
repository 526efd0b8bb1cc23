"""masked_softmax, MultiHeadAttention and plot_attention (notebook 04)."""

import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

import bytetrans_lib as bt

# Every axis a different size: B=2, T_q=3, T_kv=5, C=24, H=4, Dh=6 (and T=5 for self-attention).
B, T_Q, T_KV, C, H = 2, 3, 5, 24, 4
PARAMS = ["W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o"]


def attention(seed=0, dtype=np.float64, d_model=C, n_heads=H):
    """A layer with random biases: zero biases would let a misplaced bias gradient pass."""
    rng = np.random.default_rng(seed)
    layer = bt.MultiHeadAttention(d_model, n_heads, rng=rng, dtype=dtype)
    for name in ["b_q", "b_k", "b_v", "b_o"]:
        layer.params[name][...] = rng.standard_normal(d_model)
    return layer


def inputs(seed=1, T_q=T_Q, T_kv=T_KV):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, T_q, C)), rng.standard_normal((B, T_kv, C))


def target_ids():
    """Decoder ids (B, T) = (2, 5); sentence 1 ends in PAD."""
    return bt.encode_batch(["Oui!", "Va."], bos=True)


def source_ids():
    """Encoder ids (B, T_kv) = (2, 5); sentence 1 ends in three PADs."""
    return bt.encode_batch(["Hello", "Hi"])


def reference(layer, x_q, x_kv, mask=None):
    """Plain loops over sentences, heads and queries: (out (B, T_q, C), weights (B, H, T_q, T_kv))."""
    p, n_heads, Dh = layer.params, layer.n_heads, layer.d_head
    (n_batch, T_q, d_model), T_kv = x_q.shape, x_kv.shape[1]
    shape = (n_batch, n_heads, T_q, T_kv)
    allowed = np.ones(shape, bool) if mask is None else np.broadcast_to(np.asarray(mask) != 0, shape)
    out, weights = np.zeros((n_batch, T_q, d_model)), np.zeros(shape)
    for b in range(n_batch):
        heads = []
        for h in range(n_heads):
            cols = slice(h * Dh, (h + 1) * Dh)
            q = x_q[b] @ p["W_q"][:, cols] + p["b_q"][cols]
            k = x_kv[b] @ p["W_k"][:, cols] + p["b_k"][cols]
            v = x_kv[b] @ p["W_v"][:, cols] + p["b_v"][cols]
            for i in range(T_q):
                for j in range(T_kv):
                    if allowed[b, h, i, j]:
                        weights[b, h, i, j] = math.exp(float(q[i] @ k[j]) / math.sqrt(Dh))
                total = weights[b, h, i].sum()
                if total > 0:
                    weights[b, h, i] /= total
            heads.append(weights[b, h] @ v)
        out[b] = np.concatenate(heads, axis=1) @ p["W_o"] + p["b_o"]
    return out, weights


# ---- forward in two methods: keys_values, then attend (decoding's cache calls them) -------------


@pytest.mark.parametrize("masked", [False, True])
def test_forward_is_keys_values_then_attend_bit_for_bit(masked):
    layer, (x_q, x_kv) = attention(), inputs()
    mask = bt.padding_mask(source_ids()) if masked else None
    out = layer.forward(x_q, x_kv, mask)
    weights = layer.attn.copy()
    K, V = layer.keys_values(x_kv)
    assert K.shape == V.shape == (B, H, T_KV, C // H)
    np.testing.assert_array_equal(layer.attend(x_q, K, V, mask), out)
    np.testing.assert_array_equal(layer.attn, weights)


def test_attend_to_a_prefix_of_the_keys_is_forward_on_that_prefix():
    layer, (x_q, x_kv) = attention(), inputs()
    K, V = layer.keys_values(x_kv)
    np.testing.assert_allclose(
        layer.attend(x_q, K[:, :, :2], V[:, :, :2]), layer.forward(x_q, x_kv[:, :2]), rtol=1e-12, atol=1e-12
    )


def test_backward_after_attend_alone_is_refused_not_computed_from_a_stale_input():
    layer, (x_q, x_kv) = attention(), inputs()
    out = layer.forward(x_q, x_kv)
    K, V = layer.keys_values(x_kv)
    layer.attend(x_q, K, V)
    with pytest.raises(RuntimeError, match=r"backward\(\) follows forward\(x_q, x_kv\); the last call was attend\(\)"):
        layer.backward(np.ones_like(out))
    assert not any(g.any() for g in layer.gradients().values())  # nothing was accumulated


@pytest.mark.parametrize(
    "K_shape, V_shape",
    [
        ((2, 4, 5), (2, 4, 5)),
        ((2, 4, 5, 6), (2, 4, 4, 6)),
        ((3, 4, 5, 6), (3, 4, 5, 6)),
        ((2, 2, 5, 12), (2, 2, 5, 12)),
        ((2, 4, 5, 5), (2, 4, 5, 5)),
    ],
)
def test_attend_refuses_keys_and_values_of_the_wrong_shape_naming_all_three(K_shape, V_shape):
    layer, (x_q, _) = attention(), inputs()
    with pytest.raises(
        ValueError,
        match=re.escape(f"K, V of one shape (B, H=4, T_kv, Dh=6), got x_q (2, 3, 24), K {K_shape}, V {V_shape}"),
    ):
        layer.attend(x_q, np.zeros(K_shape), np.zeros(V_shape))


# ---- gradient checks ------------------------------------------------------------------------


def test_attention_backward_matches_finite_differences_for_self_attention():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, 5, C))
    errors = bt.check_gradients(attention(), x, x, mask=bt.target_mask(target_ids()), rng=rng)
    assert list(errors) == ["input[0]", "input[1]"] + PARAMS
    assert max(errors.values()) < 1e-7


def test_attention_backward_matches_finite_differences_for_cross_attention():
    x_q, x_kv = inputs()
    errors = bt.check_gradients(
        attention(), x_q, x_kv, mask=bt.padding_mask(source_ids()), rng=np.random.default_rng(3)
    )
    assert list(errors) == ["input[0]", "input[1]"] + PARAMS
    assert max(errors.values()) < 1e-7


def test_attention_backward_matches_finite_differences_without_a_mask_and_with_a_fully_masked_row():
    x_q, x_kv = inputs(seed=4)
    assert max(bt.check_gradients(attention(seed=5), x_q, x_kv).values()) < 1e-7
    mask = np.random.default_rng(6).random((B, 1, T_Q, T_KV)) < 0.6
    mask[1, 0, 2] = False
    assert max(bt.check_gradients(attention(seed=5), x_q, x_kv, mask=mask).values()) < 1e-7


def test_self_attention_gradient_of_the_shared_input_is_dx_q_plus_dx_kv():
    class SelfAttention(bt.Module):
        def __init__(self, layer, use_dx_kv=True):
            super().__init__()
            self.layer, self.use_dx_kv = layer, use_dx_kv

        def forward(self, x, mask=None):
            return self.layer.forward(x, x, mask=mask)

        def backward(self, dout):
            dx_q, dx_kv = self.layer.backward(dout)
            return dx_q + dx_kv if self.use_dx_kv else dx_q

    x = np.random.default_rng(7).standard_normal((B, 5, C))
    mask = bt.target_mask(target_ids())
    assert bt.check_gradients(SelfAttention(attention()), x, mask=mask)["input[0]"] < 1e-7
    with pytest.raises(AssertionError, match=r"gradient of input\[0\]"):
        bt.check_gradients(SelfAttention(attention(), use_dx_kv=False), x, mask=mask)


def test_masked_softmax_backward_is_the_plain_softmax_formula():
    class MaskedSoftmax(bt.Module):
        def forward(self, scores, mask=None):
            self.cache = bt.masked_softmax(scores, mask)
            return self.cache

        def backward(self, dout):
            a = self.cache
            return a * (dout - (dout * a).sum(axis=-1, keepdims=True))

    rng = np.random.default_rng(8)
    scores = rng.standard_normal((B, T_Q, T_KV))
    mask = rng.random((B, T_Q, T_KV)) < 0.5
    mask[0, 1] = False
    assert bt.check_gradients(MaskedSoftmax(), scores, mask=mask)["input[0]"] < 1e-7


# ---- forward: against a loop, and the masked softmax ------------------------------------------


@pytest.mark.parametrize("mask_kind", ["none", "padding", "random with an empty row", "int 0/1"])
def test_multi_head_result_equals_a_per_head_loop(mask_kind):
    rng = np.random.default_rng(9)
    layer = attention(seed=10)
    x_q, x_kv = inputs(seed=11)
    mask = {
        "none": None,
        "padding": bt.padding_mask(source_ids()),
        "random with an empty row": rng.random((B, H, T_Q, T_KV)) < 0.5,
        "int 0/1": (rng.random((1, 1, T_Q, T_KV)) < 0.5).astype(np.int64),
    }[mask_kind]
    if mask_kind == "random with an empty row":
        mask[0, 2, 1] = False
    out = layer.forward(x_q, x_kv, mask=mask)
    out_loop, weights_loop = reference(layer, x_q, x_kv, mask)
    assert out.shape == (B, T_Q, C) and layer.attn.shape == (B, H, T_Q, T_KV)
    assert np.max(np.abs(out - out_loop)) < 1e-12
    assert np.max(np.abs(layer.attn - weights_loop)) < 1e-12


def test_self_attention_equals_the_loop_with_a_causal_and_padding_mask():
    layer = attention(seed=12)
    x = np.random.default_rng(13).standard_normal((B, 5, C))
    mask = bt.target_mask(target_ids())
    out = layer.forward(x, x, mask=mask)
    out_loop, weights_loop = reference(layer, x, x, mask)
    assert np.max(np.abs(out - out_loop)) < 1e-12 and np.max(np.abs(layer.attn - weights_loop)) < 1e-12


def test_masked_softmax_known_values_and_no_nan_for_a_fully_masked_row():
    scores = np.array([[2.0, 1.0, 0.5, 3.0], [5.0, -1.0, 0.0, 2.0]])
    mask = np.array([[1, 1, 1, 0], [0, 0, 0, 0]])
    weights = bt.masked_softmax(scores, mask)
    e = np.exp(scores[0, :3])
    np.testing.assert_allclose(weights[0], np.append(e / e.sum(), 0.0), rtol=1e-12)
    assert weights[0, 3] == 0.0
    np.testing.assert_array_equal(weights[1], np.zeros(4))
    np.testing.assert_array_equal(bt.masked_softmax(scores, mask.astype(bool)), weights)


def test_masked_softmax_without_a_mask_is_the_softmax_of_notebook_03():
    scores = np.random.default_rng(14).standard_normal((B, H, T_Q, T_KV)) * 10
    np.testing.assert_allclose(bt.masked_softmax(scores), bt.Softmax().forward(scores), rtol=1e-12, atol=1e-15)


def test_masked_softmax_is_stable_for_huge_scores_including_masked_ones():
    scores = np.array([[1000.0, 1001.0, 1e308], [-1000.0, -1001.0, -1e308]])
    mask = np.array([[True, True, False], [True, True, True]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, no NaN, no 0/0
        weights = bt.masked_softmax(scores, mask)
    assert np.isfinite(weights).all()
    np.testing.assert_allclose(weights[0, :2], bt.Softmax().forward(np.array([0.0, 1.0])), rtol=1e-12)


def test_masked_softmax_keeps_float32_and_handles_no_keys_at_all():
    scores = np.random.default_rng(15).standard_normal((2, 3)).astype(np.float32)
    assert bt.masked_softmax(scores, scores > 0).dtype == np.float32
    assert bt.masked_softmax(np.zeros((2, 0))).shape == (2, 0)


# ---- what masks promise ---------------------------------------------------------------------


def test_attention_rows_sum_to_one_over_allowed_keys_and_are_exactly_zero_on_masked_keys():
    layer = attention()
    x = np.random.default_rng(16).standard_normal((B, 5, C))
    mask = bt.target_mask(target_ids())
    layer.forward(x, x, mask=mask)
    allowed = np.broadcast_to(mask, layer.attn.shape)
    assert np.all(layer.attn[~allowed] == 0)
    assert np.all(layer.attn[allowed] > 0)
    np.testing.assert_allclose(layer.attn.sum(axis=-1), 1, rtol=1e-12)


def test_changing_x_kv_at_a_masked_key_position_does_not_change_the_output():
    layer = attention()
    x_q, x_kv = inputs()
    ids = source_ids()
    out = layer.forward(x_q, x_kv, mask=bt.padding_mask(ids))
    changed = x_kv.copy()
    changed[ids == bt.PAD_ID] = 1e3 * np.random.default_rng(17).standard_normal(C)
    np.testing.assert_array_equal(layer.forward(x_q, changed, mask=bt.padding_mask(ids)), out)


def test_with_a_causal_mask_changing_a_later_position_does_not_change_earlier_outputs():
    layer = attention()
    x = np.random.default_rng(18).standard_normal((B, 5, C))
    out = layer.forward(x, x, mask=bt.causal_mask(5))
    for t in range(5):
        changed = x.copy()
        changed[:, t] += 1.0
        out_changed = layer.forward(changed, changed, mask=bt.causal_mask(5))
        np.testing.assert_array_equal(out_changed[:, :t], out[:, :t])
        assert not np.allclose(out_changed[:, t], out[:, t])


def test_a_fully_masked_row_gives_zero_weights_finite_output_and_finite_zero_gradients():
    layer = attention()
    x_q, x_kv = inputs()
    mask = np.ones((B, 1, T_Q, T_KV), dtype=bool)
    mask[0, 0, 1] = False
    out = layer.forward(x_q, x_kv, mask=mask)
    assert np.isfinite(out).all() and np.all(layer.attn[0, :, 1] == 0)
    np.testing.assert_array_equal(out[0, 1], layer.params["b_o"])  # zero before the output bias
    dout = np.random.default_rng(19).standard_normal(out.shape)
    dx_q, dx_kv = layer.backward(dout)
    assert np.isfinite(dx_q).all() and np.isfinite(dx_kv).all()
    assert all(np.isfinite(g).all() for g in layer.gradients().values())
    # a gradient on that row alone reaches only b_o: nothing flows through its weights
    layer.zero_grad()
    only_row = np.zeros_like(out)
    only_row[0, 1] = dout[0, 1]
    dx_q, dx_kv = layer.backward(only_row)
    assert not dx_q.any() and not dx_kv.any()
    assert all(not layer.grads[name].any() for name in PARAMS if name != "b_o")
    np.testing.assert_array_equal(layer.grads["b_o"], dout[0, 1])


def test_every_row_fully_masked_gives_the_output_bias_everywhere():
    layer = attention()
    x_q, x_kv = inputs()
    out = layer.forward(x_q, x_kv, mask=np.zeros((1, 1, 1, T_KV), dtype=bool))
    np.testing.assert_array_equal(out, np.broadcast_to(layer.params["b_o"], out.shape))


# ---- the protocol ---------------------------------------------------------------------------


def test_parameters_are_named_as_the_math_and_initialised_like_linear():
    layer = bt.MultiHeadAttention(C, H, rng=np.random.default_rng(0))
    params, grads = layer.parameters(), layer.gradients()
    assert list(params) == list(grads) == PARAMS
    for name in PARAMS:
        assert params[name].shape == ((C, C) if name.startswith("W") else (C,))
        assert params[name].dtype == grads[name].dtype == np.float32
        assert params[name] is layer.params[name]
    assert all(not params[name].any() for name in ["b_q", "b_k", "b_v", "b_o"])
    W = np.stack([params[name] for name in ["W_q", "W_k", "W_v", "W_o"]])
    assert abs(W.std() * math.sqrt(C) - 1) < 0.05 and abs(W.mean()) < 0.02  # N(0, 1/C)
    assert (layer.d_model, layer.n_heads, layer.d_head) == (C, H, C // H) and layer.attn is None


def test_same_seed_same_weights_and_rng_is_required():
    def weights(seed):
        return bt.MultiHeadAttention(C, H, rng=np.random.default_rng(seed)).params["W_q"]

    np.testing.assert_array_equal(weights(0), weights(0))
    assert not np.array_equal(weights(0), weights(1))
    with pytest.raises(TypeError, match="rng"):
        bt.MultiHeadAttention(C, H)
    with pytest.raises(TypeError, match="np.random.Generator"):
        bt.MultiHeadAttention(C, H, rng=0)


def test_float32_forward_agrees_with_float64_to_float32_precision():
    x_q, x_kv = inputs()
    mask = bt.padding_mask(source_ids())
    layer_64 = bt.MultiHeadAttention(C, H, rng=np.random.default_rng(0), dtype=np.float64)
    layer_32 = bt.MultiHeadAttention(C, H, rng=np.random.default_rng(0), dtype=np.float32)
    out_64 = layer_64.forward(x_q, x_kv, mask=mask)
    out_32 = layer_32.forward(x_q.astype(np.float32), x_kv.astype(np.float32), mask=mask)
    assert out_32.dtype == layer_32.attn.dtype == np.float32
    np.testing.assert_allclose(out_32, out_64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer_32.attn, layer_64.attn, rtol=1e-5, atol=1e-6)
    dx_q, dx_kv = layer_32.backward(np.ones_like(out_32))
    assert dx_q.dtype == dx_kv.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer_32.gradients().values())


def test_a_single_head_is_the_textbook_formula():
    layer = attention(n_heads=1)
    x_q, x_kv = inputs()
    p = layer.params
    q, k, v = x_q @ p["W_q"] + p["b_q"], x_kv @ p["W_k"] + p["b_k"], x_kv @ p["W_v"] + p["b_v"]
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(C)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(layer.forward(x_q, x_kv), weights @ v @ p["W_o"] + p["b_o"], rtol=1e-12, atol=1e-12)


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d_model, n_heads, message",
    [
        (10, 4, "d_model=10 is not divisible by n_heads=4"),
        (8, 0, "n_heads >= 1, got n_heads=0"),
        (8, -2, "n_heads >= 1, got n_heads=-2"),
        (8, 2.5, "n_heads >= 1, got n_heads=2.5"),
        (0, 2, "d_model >= 1, got d_model=0"),
    ],
)
def test_bad_sizes_are_refused_at_construction(d_model, n_heads, message):
    with pytest.raises(ValueError, match=message):
        bt.MultiHeadAttention(d_model, n_heads, rng=np.random.default_rng(0))


@pytest.mark.parametrize(
    "q_shape, kv_shape, message",
    [
        ((2, 3, 6), (2, 5, 8), r"d_model=8.*got x_q \(2, 3, 6\) and x_kv \(2, 5, 8\)"),
        ((2, 3, 8), (2, 5, 7), r"got x_q \(2, 3, 8\) and x_kv \(2, 5, 7\)"),
        ((3, 8), (2, 5, 8), r"got x_q \(3, 8\) and x_kv \(2, 5, 8\)"),
        ((2, 3, 8), (1, 2, 5, 8), r"got x_q \(2, 3, 8\) and x_kv \(1, 2, 5, 8\)"),
        ((2, 3, 8), (3, 5, 8), r"x_q \(2, 3, 8\) and x_kv \(3, 5, 8\) have different batch sizes \(2 and 3\)"),
    ],
)
def test_inputs_of_the_wrong_shape_are_refused_naming_both_shapes(q_shape, kv_shape, message):
    layer = bt.MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        layer.forward(np.zeros(q_shape, np.float32), np.zeros(kv_shape, np.float32))


@pytest.mark.parametrize("mask_shape", [(2, 3, 3), (3, 1, 1, 5), (2, 1, 1, 4), (1, 2, 1, 3, 5), (5, 3)])
def test_a_mask_that_cannot_broadcast_is_refused_naming_both_shapes(mask_shape):
    layer = bt.MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    x_q, x_kv = np.zeros((2, 3, 8), np.float32), np.zeros((2, 5, 8), np.float32)
    expected = rf"mask of shape {mask_shape}".replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ValueError, match=expected + r" cannot broadcast to .*\(2, 2, 3, 5\) = \(B, H, T_q, T_kv\)"):
        layer.forward(x_q, x_kv, mask=np.ones(mask_shape, dtype=bool))


def test_a_mask_of_the_wrong_kind_is_refused():
    layer = bt.MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    x_q, x_kv = np.zeros((2, 3, 8), np.float32), np.zeros((2, 5, 8), np.float32)
    with pytest.raises(ValueError, match=r"only 0 and 1 .*found \[-1, 2\]"):
        layer.forward(x_q, x_kv, mask=np.array([[1, 2, 0, -1, 1]]))
    with pytest.raises(TypeError, match=r"bool or 0/1 integers.*got dtype float64.*mask == 0"):
        layer.forward(x_q, x_kv, mask=np.zeros((1, 5)))
    with pytest.raises(ValueError, match="cannot broadcast"):
        bt.masked_softmax(np.zeros((3, 5)), np.ones(4, dtype=bool))


def test_backward_before_forward_and_dout_of_the_wrong_shape_are_refused():
    layer = bt.MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((2, 3, 8)))
    layer.forward(np.zeros((2, 3, 8)), np.zeros((2, 5, 8)))
    with pytest.raises(ValueError, match=r"dout of shape \(2, 3, 8\), got \(2, 5, 8\)"):
        layer.backward(np.zeros((2, 5, 8)))


# ---- plot_attention -------------------------------------------------------------------------


def test_plot_attention_draws_one_map_with_labels_on_both_axes():
    layer = attention()
    x_q, x_kv = inputs()
    layer.forward(x_q, x_kv)
    q_labels = bt.token_labels(bt.encode("Oui"))
    k_labels = bt.token_labels(bt.encode("Hé a"))  # 5 ids: 'H', 'é', '·a9', '␣', 'a'
    fig, ax = plt.subplots()
    try:
        image = bt.plot_attention(layer.attn[1, 2], q_labels, k_labels, ax=ax, title="head 2")
        assert image.axes is ax and ax.get_title() == "head 2"
        np.testing.assert_array_equal(image.get_array(), layer.attn[1, 2])
        assert image.get_array().shape == (T_Q, T_KV)
        assert [t.get_text() for t in ax.get_xticklabels()] == k_labels
        assert [t.get_text() for t in ax.get_yticklabels()] == q_labels
        assert image.get_clim() == (0.0, 1.0)
    finally:
        plt.close(fig)


def test_plot_attention_makes_its_own_figure_and_numbers_positions_without_labels():
    image = bt.plot_attention(np.eye(3, 4), None, None)
    try:
        assert image.get_array().shape == (3, 4)
        assert [t.get_text() for t in image.axes.get_xticklabels()] == ["0", "1", "2", "3"]
        assert [t.get_text() for t in image.axes.get_yticklabels()] == ["0", "1", "2"]
    finally:
        plt.close(image.axes.figure)


def test_plot_attention_refuses_a_batch_of_maps_and_labels_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"one \(T_q, T_kv\) map, got shape \(2, 4, 3, 5\)"):
        bt.plot_attention(np.zeros((2, 4, 3, 5)), None, None)
    with pytest.raises(ValueError, match="need 3 query labels and 5 key labels, got 3 and 4"):
        bt.plot_attention(np.zeros((3, 5)), list("abc"), list("abcd"))


def test_masked_softmax_in_place_writes_into_the_scores_and_otherwise_leaves_them_alone():
    rng = np.random.default_rng(20)
    scores = rng.standard_normal((2, 3, 4))
    mask = rng.random((2, 1, 4)) < 0.6
    before = scores.copy()
    copy = bt.masked_softmax(scores, mask)
    assert np.array_equal(scores, before)  # the default never touches the caller's array
    same = bt.masked_softmax(scores, mask, inplace=True)
    assert same is scores and np.array_equal(same, copy)
    with pytest.raises(TypeError, match="float scores"):
        bt.masked_softmax(np.arange(4), inplace=True)
    np.testing.assert_allclose(bt.masked_softmax(np.arange(3)), np.exp([0, 1, 2]) / np.exp([0, 1, 2]).sum())


def test_attention_does_not_modify_its_inputs():
    rng = np.random.default_rng(21)
    layer = bt.MultiHeadAttention(8, 2, rng=rng, dtype=np.float64)
    x_q, x_kv = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 4, 8))
    before = x_q.copy(), x_kv.copy()
    out = layer.forward(x_q, x_kv)
    attn = layer.attn.copy()
    layer.backward(np.ones_like(out))
    assert np.array_equal(x_q, before[0]) and np.array_equal(x_kv, before[1])
    assert np.array_equal(layer.attn, attn)  # backward works in its own memory, not in .attn


# ---- refused by name, before anything changes (issue 13) --------------------------------------


@pytest.mark.parametrize(
    "d_model, n_heads, error, message",
    [
        (8, None, TypeError, "an int n_heads >= 1, got n_heads=None"),
        (8, True, TypeError, "an int n_heads >= 1, got n_heads=True"),
        (8.0, 2, ValueError, "an int d_model >= 1, got d_model=8.0"),
        ("8", 2, TypeError, "an int d_model >= 1, got d_model='8'"),
    ],
)
def test_sizes_that_are_not_ints_are_refused_by_name(d_model, n_heads, error, message):
    with pytest.raises(error, match=rf"^MultiHeadAttention needs {message}$"):
        bt.MultiHeadAttention(d_model, n_heads, rng=np.random.default_rng(0))


def test_numpy_int_sizes_are_accepted_and_stored_as_python_ints():
    layer = bt.MultiHeadAttention(np.int64(8), np.int32(2), rng=np.random.default_rng(0))
    assert (layer.d_model, layer.n_heads, layer.d_head) == (8, 2, 4) and type(layer.n_heads) is int


@pytest.mark.parametrize("dtype, name", [(np.int64, "int64"), ("int8", "int8"), (None, "None")])
def test_a_dtype_other_than_float32_or_float64_is_refused(dtype, name):
    with pytest.raises(ValueError, match=rf"^MultiHeadAttention: dtype must be float32 or float64, got {name}$"):
        bt.MultiHeadAttention(8, 2, rng=np.random.default_rng(0), dtype=dtype)


@pytest.mark.parametrize("bad", [(8,), (1, 3, 8), (2, 1, 8), (3, 2, 8)])
def test_backward_refuses_a_dout_that_is_not_exactly_the_output_shape_before_accumulating(bad):
    layer = bt.MultiHeadAttention(8, 2, rng=np.random.default_rng(0), dtype=np.float64)
    layer.forward(np.ones((2, 3, 8)), np.ones((2, 5, 8)))
    expected = re.escape(f"MultiHeadAttention.backward expects dout of shape (2, 3, 8), got {bad}")
    with pytest.raises(ValueError, match=rf"^{expected}"):
        layer.backward(np.ones(bad))
    assert not any(g.any() for g in layer.gradients().values())


def test_backward_and_forward_refuse_what_is_not_an_array_of_numbers():
    layer = bt.MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    with pytest.raises(
        TypeError, match=r"^MultiHeadAttention\.forward: x_kv must be an array of numbers, got dtype <U1"
    ):
        layer.forward(np.ones((2, 3, 8)), np.full((2, 5, 8), "1"))
    layer.forward(np.ones((2, 3, 8)), np.ones((2, 5, 8)))
    with pytest.raises(
        TypeError, match=r"^MultiHeadAttention\.backward expects dout as a NumPy array of numbers, got list"
    ):
        layer.backward(np.ones((2, 3, 8)).tolist())
    with pytest.raises(TypeError, match=r"^masked_softmax: scores must be an array of numbers, got dtype <U3"):
        bt.masked_softmax(np.full((2, 3), "2.5"))  # would otherwise be read as the number 2.5


def test_attention_backward_names_each_intermediate_gradient_once():
    # issue 14: no buffer renamed under several names (`dscores = dattn; dQK = dscores`)
    import inspect

    source = inspect.getsource(bt.MultiHeadAttention.backward)
    renames = re.findall(r"^\s*(\w+) = (\w+)\s*(#.*)?$", source, flags=re.M)
    assert renames == [], renames
    assert "dscores = attn * (dattn - " in source and "dQK = dscores / " in source
