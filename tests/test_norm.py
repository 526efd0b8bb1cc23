"""LayerNorm and Softmax (notebook 03)."""

import json
import re

import numpy as np
import pytest
from conftest import ROOT

import bytetrans_lib as bt

SHAPES_2D_3D = [(3, 5), (2, 3, 5)]  # (N, d) and (B, T, d): every axis a different size


def layernorm(d=5, dtype=np.float64, seed=0):
    """A LayerNorm with random gamma and beta (with gamma = 1, a forgotten gamma would go unseen)."""
    ln = bt.LayerNorm(d, dtype=dtype)
    rng = np.random.default_rng(seed)
    ln.params["gamma"][...] = rng.standard_normal(d)
    ln.params["beta"][...] = rng.standard_normal(d)
    return ln


# ---- LayerNorm ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES_2D_3D)
def test_layernorm_backward_matches_finite_differences(shape):
    rng = np.random.default_rng(1)
    errors = bt.check_gradients(layernorm(), rng.standard_normal(shape), rng=rng)
    assert list(errors) == ["input[0]", "gamma", "beta"]
    assert max(errors.values()) < 1e-7


def test_layernorm_starts_as_a_pure_normalisation():
    ln = bt.LayerNorm(5)
    assert ln.params["gamma"].dtype == np.float32
    np.testing.assert_array_equal(ln.params["gamma"], np.ones(5))
    np.testing.assert_array_equal(ln.params["beta"], np.zeros(5))
    x = 3 * np.random.default_rng(2).standard_normal((2, 3, 5)) + 1
    out = bt.LayerNorm(5, dtype=np.float64).forward(x)
    var = x.var(axis=-1, keepdims=True)
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=-1, keepdims=True), var / (var + 1e-5), rtol=1e-12)


def test_layernorm_forward_applies_gamma_and_beta_per_feature():
    ln = layernorm(seed=3)
    x = np.random.default_rng(4).standard_normal((2, 3, 5))
    xc = x - x.mean(axis=-1, keepdims=True)
    expected = ln.params["gamma"] * xc / np.sqrt(xc.var(axis=-1, keepdims=True) + 1e-5) + ln.params["beta"]
    np.testing.assert_allclose(ln.forward(x), expected, rtol=1e-12, atol=1e-12)


def test_layernorm_eps_is_inside_the_square_root():
    x = 1e-3 * np.random.default_rng(5).standard_normal((4, 8))  # variance about 1e-6 < eps
    xc = x - x.mean(axis=-1, keepdims=True)
    var = (xc**2).mean(axis=-1, keepdims=True)
    out = bt.LayerNorm(8, eps=1e-5, dtype=np.float64).forward(x)
    np.testing.assert_allclose(out, xc / np.sqrt(var + 1e-5), rtol=1e-12, atol=1e-12)
    assert not np.allclose(out, xc / (np.sqrt(var) + 1e-5), rtol=1e-2)


def test_layernorm_of_a_constant_vector_is_finite():
    out = bt.LayerNorm(4, dtype=np.float64).forward(np.full((2, 4), 7.0))
    np.testing.assert_array_equal(out, np.zeros((2, 4)))


def test_layernorm_backward_equals_the_compact_formula():
    rng = np.random.default_rng(6)
    ln = layernorm(seed=7)
    x = rng.standard_normal((2, 3, 5))
    dout = rng.standard_normal((2, 3, 5))
    ln.forward(x)
    dx = ln.backward(dout)
    xc = x - x.mean(axis=-1, keepdims=True)
    inv_std = 1 / np.sqrt((xc**2).mean(axis=-1, keepdims=True) + 1e-5)
    xhat = xc * inv_std
    dxhat = dout * ln.params["gamma"]
    compact = inv_std * (dxhat - dxhat.mean(-1, keepdims=True) - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    assert bt.rel_error(dx, compact) < 1e-10
    np.testing.assert_allclose(dx.sum(axis=-1), 0, atol=1e-12)  # shifting x changes nothing


def test_layernorm_rejects_input_whose_last_axis_is_not_d():
    with pytest.raises(ValueError, match=r"d=6.*last axis 5, expected 6"):
        bt.LayerNorm(6).forward(np.zeros((2, 3, 5)))


# ---- Softmax --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((2, 3, 5), -1), ((2, 3, 5), 1), ((2, 3, 5), 0)])
def test_softmax_backward_matches_finite_differences(shape, axis):
    rng = np.random.default_rng(11)
    errors = bt.check_gradients(bt.Softmax(axis=axis), rng.standard_normal(shape), rng=rng)
    assert list(errors) == ["input[0]"]
    assert errors["input[0]"] < 1e-7


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_softmax_outputs_are_positive_and_sum_to_one_along_the_axis(axis):
    x = np.random.default_rng(12).standard_normal((2, 3, 5))
    y = bt.Softmax(axis=axis).forward(x)
    assert y.shape == x.shape and (y > 0).all()
    np.testing.assert_allclose(y.sum(axis=axis), 1, rtol=1e-12)
    np.testing.assert_allclose(y, np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_is_stable_for_large_logits(dtype):
    small = np.array([0.0, 1.0, 2.0])
    reference = np.exp(small) / np.exp(small).sum()
    for shift in [1000.0, -1000.0, 1e6]:
        y = bt.Softmax().forward((small + shift).astype(dtype))
        assert np.isfinite(y).all()
        np.testing.assert_allclose(y, reference, rtol=1e-12 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_softmax_and_its_backward_ignore_a_constant_added_along_the_axis(axis):
    """softmax(x + c) = softmax(x) for c constant along the axis, so such a dout gives dx = 0."""
    rng = np.random.default_rng(13)
    x, dout = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 3, 5))
    shape = list(x.shape)
    shape[axis] = 1
    c = 10 * rng.standard_normal(shape)  # one constant per slice along the axis
    sm = bt.Softmax(axis=axis)
    np.testing.assert_allclose(sm.forward(x + c), sm.forward(x), rtol=1e-10)
    np.testing.assert_allclose(sm.backward(dout + c), sm.backward(dout), rtol=1e-10, atol=1e-12)
    assert np.abs(sm.backward(np.broadcast_to(c, x.shape))).max() < 1e-12


def test_softmax_rejects_an_axis_the_input_does_not_have():
    with pytest.raises(ValueError, match=r"Softmax\(axis=2\).*\(2, 3\).*no axis 2"):
        bt.Softmax(axis=2).forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no axis -3"):
        bt.Softmax(axis=-3).forward(np.zeros((2, 3)))


# ---- both -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [lambda dt: bt.LayerNorm(5, dtype=dt), lambda dt: bt.Softmax(axis=-1), lambda dt: bt.Softmax(axis=1)],
    ids=["layernorm", "softmax-1", "softmax1"],
)
def test_float32_forward_agrees_with_float64_to_float32_precision(make):
    x64 = np.random.default_rng(13).standard_normal((2, 3, 5))
    y64 = make(np.float64).forward(x64)
    y32 = make(np.float32).forward(x64.astype(np.float32))
    assert y64.dtype == np.float64 and y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-6)  # about 100 float32 epsilons


@pytest.mark.parametrize("module", [bt.LayerNorm(5), bt.Softmax()], ids=["layernorm", "softmax"])
def test_backward_before_forward_raises(module):
    with pytest.raises(RuntimeError, match=rf"{type(module).__name__}\.backward\(\) was called before forward"):
        module.backward(np.zeros((2, 5)))


def test_layernorm_backward_equals_the_four_steps_of_the_derivation():
    rng = np.random.default_rng(8)
    ln = layernorm(seed=9)
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    ln.forward(x)
    dx = ln.backward(dout)
    xc = x - x.mean(axis=-1, keepdims=True)
    s = 1 / np.sqrt((xc**2).mean(axis=-1, keepdims=True) + ln.eps)
    dxhat = dout * ln.params["gamma"]
    dxc = dxhat * s + (-0.5 * s**3 * (dxhat * xc).sum(axis=-1, keepdims=True)) * 2 * xc / 5
    assert bt.rel_error(dx, dxc - dxc.mean(axis=-1, keepdims=True)) < 1e-10


def test_layernorm_does_not_modify_its_input():
    x = np.random.default_rng(10).standard_normal((3, 5))
    before = x.copy()
    ln = layernorm(seed=11)
    ln.forward(x)
    ln.backward(np.ones_like(x))
    assert np.array_equal(x, before)


# ---- what notebook 03 says about eps (issue 13, section 6) ------------------------------------


def test_notebook_03_states_the_measured_gap_between_the_eps_placements_not_a_verdict():
    x = np.random.default_rng(14).standard_normal((64, 128))  # sigma about 1, the model's width
    xc = x - x.mean(axis=-1, keepdims=True)
    sigma = np.sqrt((xc**2).mean(axis=-1, keepdims=True))
    inside = bt.LayerNorm(128, dtype=np.float64).forward(x)
    gap = np.abs(inside - xc / (sigma + 1e-5))
    assert 1e-6 < gap.max() < 3e-5  # "about 1e-5 apart", so weights carry over nearly unchanged
    cells = json.loads((ROOT / "notebooks" / "03_layernorm.ipynb").read_text(encoding="utf-8"))["cells"]
    text = " ".join(" ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").split())
    assert "do not transfer" not in text and "common bug" not in text
    assert "about $10^{-5}$" in text


# ---- refused by name, before anything changes (issue 13) --------------------------------------


def shape_pattern(shape):
    return re.escape(str(tuple(shape)))


def test_layernorm_backward_refuses_a_dout_that_numpy_would_broadcast_over_the_rows():
    ln = bt.LayerNorm(4, dtype=np.float64)
    ln.forward(np.random.default_rng(0).standard_normal((2, 3, 4)))
    # np.ones(4) would pass as if every one of the 6 rows had it: beta's gradient would be 1, not 6
    with pytest.raises(ValueError, match=r"^LayerNorm\.backward expects dout of shape \(2, 3, 4\), got \(4,\)"):
        ln.backward(np.ones(4))
    assert not ln.grads["beta"].any() and not ln.grads["gamma"].any()  # nothing accumulated
    assert ln.backward(np.ones((2, 3, 4))) is not None and np.array_equal(ln.grads["beta"], [6.0] * 4)


@pytest.mark.parametrize(
    "module", [bt.LayerNorm(4), bt.Softmax(), bt.Softmax(axis=1)], ids=["layernorm", "softmax-1", "softmax1"]
)
@pytest.mark.parametrize("bad", [(4,), (1, 3, 4), (2, 1, 4), (3, 2, 4), (2, 3, 4, 1)])
def test_backward_refuses_a_dout_that_is_not_exactly_the_output_shape(module, bad):
    module.forward(np.ones((2, 3, 4), dtype=np.float32))
    name = type(module).__name__
    with pytest.raises(
        ValueError,
        match=rf"^{name}\.backward expects dout of shape \(2, 3, 4\), "
        rf"got {shape_pattern(bad)}",
    ):
        module.backward(np.ones(bad, dtype=np.float32))


@pytest.mark.parametrize("module", [bt.LayerNorm(4), bt.Softmax()], ids=["layernorm", "softmax"])
def test_backward_and_forward_refuse_what_is_not_an_array_of_numbers(module):
    name = type(module).__name__
    with pytest.raises(TypeError, match=rf"^{name}\.forward: x must be an array of numbers, got dtype <U3"):
        module.forward(np.full((2, 4), "1.5"))
    module.forward(np.ones((2, 4)))
    with pytest.raises(TypeError, match=rf"^{name}\.backward expects dout as a NumPy array of numbers, got list"):
        module.backward(np.ones((2, 4)).tolist())


@pytest.mark.parametrize(
    "d, error, shown",
    [
        (-1, ValueError, "-1"),
        (0, ValueError, "0"),
        (2.5, ValueError, "2.5"),
        (None, TypeError, "None"),
        (True, TypeError, "True"),
        ("4", TypeError, "'4'"),
    ],
)
def test_layernorm_size_must_be_an_int_of_at_least_one(d, error, shown):
    with pytest.raises(error, match=rf"^LayerNorm needs an int d >= 1, got d={re.escape(shown)}$"):
        bt.LayerNorm(d)


def test_layernorm_accepts_a_numpy_int_size_and_refuses_a_bad_eps_or_dtype():
    ln = bt.LayerNorm(np.int64(4))
    assert type(ln.d) is int and ln.params["gamma"].shape == (4,)
    for eps in [0, -1e-5, float("nan"), float("inf")]:
        with pytest.raises(ValueError, match=rf"^LayerNorm needs eps, a finite number > 0, got eps={eps}$"):
            bt.LayerNorm(4, eps=eps)  # 0 divides a constant vector by 0
    for eps in ["1e-5", None, True]:
        with pytest.raises(TypeError, match=r"^LayerNorm needs eps, a finite number > 0, got eps="):
            bt.LayerNorm(4, eps=eps)
    with pytest.raises(ValueError, match=r"^LayerNorm: dtype must be float32 or float64, got int64$"):
        bt.LayerNorm(4, dtype=np.int64)


@pytest.mark.parametrize("axis, shown", [(1.5, "1.5"), (None, "None"), (True, "True"), ("-1", "'-1'")])
def test_softmax_axis_must_be_an_int(axis, shown):
    with pytest.raises(TypeError, match=rf"^Softmax needs an int axis, got axis={re.escape(shown)}$"):
        bt.Softmax(axis=axis)


def test_softmax_refuses_an_empty_axis_but_not_an_empty_batch():
    with pytest.raises(
        ValueError,
        match=r"^Softmax\(axis=-1\) got an input of shape \(2, 0\), whose axis -1 "
        r"is empty: there is nothing to normalise",
    ):
        bt.Softmax().forward(np.zeros((2, 0)))
    assert bt.Softmax(axis=np.int64(1)).forward(np.zeros((0, 3))).shape == (0, 3)  # no rows: nothing to do


def test_layernorm_equals_the_four_textbook_steps_written_out_here():
    # issue 14: the library's LayerNorm is notebook 03's four steps with its sums as products;
    # this is the textbook form, with NumPy's .sum and .mean, to compare against
    rng = np.random.default_rng(31)
    d, eps = 7, 1e-5
    x, dout = 2 * rng.standard_normal((3, 4, d)) + 1, rng.standard_normal((3, 4, d))
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    xc = x - x.mean(axis=-1, keepdims=True)
    s = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)
    xhat = xc * s
    dxhat = dout * gamma
    dvar = -0.5 * s**3 * (dxhat * xc).sum(axis=-1, keepdims=True)
    dxc = dxhat * s + dvar * 2.0 * xc / d
    dx = dxc - dxc.mean(axis=-1, keepdims=True)
    ln = bt.LayerNorm(d, eps, dtype=np.float64)
    ln.params["gamma"][...], ln.params["beta"][...] = gamma, beta
    np.testing.assert_allclose(ln.forward(x), gamma * xhat + beta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ln.backward(dout), dx, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(ln.grads["gamma"], (dout * xhat).sum(axis=(0, 1)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ln.grads["beta"], dout.sum(axis=(0, 1)), rtol=1e-12, atol=1e-12)
