"""The module protocol, Linear, GELU, FeedForward and the gradient checker (notebook 02)."""

import math
import re

import numpy as np
import pytest

import bytetrans_lib as bt
from bytetrans_lib import layers

# Every axis a different size, so a sum or transpose over the wrong axis cannot go unnoticed.
SHAPES_2D_3D = [(3, 5), (2, 3, 5)]  # (N, d_in) and (B, T, d_in), d_in = 5


def make(kind, dtype=np.float64, rng=None):
    """A fresh module of each kind, d_in = d_model = 5, d_out = d_ff = 7."""
    rng = np.random.default_rng(0) if rng is None else rng
    if kind == "linear":
        return bt.Linear(5, 7, rng=rng, dtype=dtype)
    if kind == "gelu":
        return bt.GELU()
    if kind == "feedforward":
        return bt.FeedForward(5, 7, rng=rng, dtype=dtype)
    raise ValueError(kind)


# ---- gradient checks ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES_2D_3D)
def test_linear_backward_matches_finite_differences(shape):
    rng = np.random.default_rng(0)
    errors = bt.check_gradients(bt.Linear(5, 7, rng=rng, dtype=np.float64), rng.standard_normal(shape), rng=rng)
    assert set(errors) == {"input[0]", "W", "b"}
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("shape", SHAPES_2D_3D)
def test_gelu_backward_matches_finite_differences(shape):
    rng = np.random.default_rng(1)
    x = 3 * rng.standard_normal(shape)  # wide enough to reach the tails and the dip
    errors = bt.check_gradients(bt.GELU(), x, rng=rng)
    assert list(errors) == ["input[0]"]
    assert errors["input[0]"] < 1e-7


@pytest.mark.parametrize("shape", SHAPES_2D_3D)
def test_feedforward_backward_matches_finite_differences(shape):
    rng = np.random.default_rng(2)
    errors = bt.check_gradients(bt.FeedForward(5, 7, rng=rng, dtype=np.float64), rng.standard_normal(shape), rng=rng)
    assert list(errors) == ["input[0]", "linear_1.W", "linear_1.b", "linear_2.W", "linear_2.b"]
    assert max(errors.values()) < 1e-7


def test_linear_forward_matches_the_formula_on_any_leading_shape():
    rng = np.random.default_rng(3)
    layer = bt.Linear(5, 7, rng=rng, dtype=np.float64)
    W, b = layer.params["W"], layer.params["b"]
    for shape in [(5,), (3, 5), (2, 3, 5), (2, 1, 3, 5)]:
        x = rng.standard_normal(shape)
        out = layer.forward(x)
        assert out.shape == shape[:-1] + (7,)
        np.testing.assert_allclose(out, np.einsum("...i,ij->...j", x, W) + b, rtol=1e-12, atol=1e-12)


def test_gelu_is_close_to_exact_x_phi_x():
    x = np.linspace(-6, 6, 1201)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    assert np.max(np.abs(bt.GELU().forward(x) - exact)) < 5e-4


def test_linear_initialisation_keeps_activation_variance():
    rng = np.random.default_rng(4)
    d = 256
    h = rng.standard_normal((64, d))
    for _ in range(6):
        h = bt.Linear(d, d, rng=rng, dtype=np.float64).forward(h)
    assert 0.8 < h.std() < 1.25
    assert np.all(bt.Linear(d, d, rng=np.random.default_rng(0)).params["b"] == 0)


# ---- the protocol (checked on every module in test_module_protocol.py) ----------------------


def test_parameters_are_the_live_arrays_under_dotted_names():
    ffn = bt.FeedForward(5, 7, rng=np.random.default_rng(0))
    params = ffn.parameters()
    assert list(params) == ["linear_1.W", "linear_1.b", "linear_2.W", "linear_2.b"]
    assert params["linear_1.W"] is ffn.linear_1.params["W"]
    assert ffn.gradients()["linear_2.b"] is ffn.linear_2.grads["b"]
    assert params["linear_1.W"].shape == (5, 7) and params["linear_2.W"].shape == (7, 5)


def test_children_in_a_list_are_named_by_position():
    class Stack(bt.Module):
        def __init__(self):
            super().__init__()
            self.head = bt.Linear(3, 4, rng=np.random.default_rng(0))
            self.layers = [
                bt.Linear(4, 4, rng=np.random.default_rng(0)),
                bt.GELU(),
                bt.Linear(4, 2, rng=np.random.default_rng(0)),
            ]

    names = list(Stack().parameters())
    assert names == ["head.W", "head.b", "layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b"]
    assert list(Stack().gradients()) == names


def test_shared_parameter_gets_the_sum_of_both_gradients():
    rng = np.random.default_rng(7)
    first = bt.Linear(4, 4, rng=rng, dtype=np.float64)
    second = bt.Linear(4, 4, rng=rng, dtype=np.float64)
    second.params["W"], second.grads["W"] = first.params["W"], first.grads["W"]  # tie W
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    h = first.forward(x)
    second.forward(h)
    first.backward(second.backward(dout))
    W = first.params["W"]
    expected = x.T @ (dout @ W.T) + h.T @ dout  # first use + second use
    np.testing.assert_allclose(first.grads["W"], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["linear", "gelu", "feedforward"])
def test_float32_forward_agrees_with_float64_to_float32_precision(kind):
    rng = np.random.default_rng(8)
    x64 = rng.standard_normal((2, 3, 5))
    y64 = make(kind, np.float64).forward(x64)
    y32 = make(kind, np.float32).forward(x64.astype(np.float32))
    assert y64.dtype == np.float64 and y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-6)  # about 100 float32 epsilons


def test_rng_is_required_and_the_same_seed_gives_the_same_weights():
    def W(seed):
        return bt.Linear(5, 7, rng=np.random.default_rng(seed)).params["W"]

    np.testing.assert_array_equal(W(0), W(0))
    assert not np.array_equal(W(0), W(1))
    assert W(0).dtype == np.float32
    with pytest.raises(TypeError, match="rng"):
        bt.Linear(5, 7)
    with pytest.raises(TypeError, match="np.random.Generator"):
        bt.Linear(5, 7, rng=0)
    with pytest.raises(TypeError, match="rng"):
        bt.FeedForward(5, 7)


# ---- bad input ------------------------------------------------------------------------------


def test_linear_rejects_input_whose_last_axis_is_not_d_in():
    with pytest.raises(ValueError, match=r"d_in=5.*last axis 4, expected 5"):
        bt.Linear(5, 7, rng=np.random.default_rng(0)).forward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="d_in=5"):
        bt.Linear(5, 7, rng=np.random.default_rng(0)).forward(np.float64(1.0))


def test_linear_rejects_dout_of_the_wrong_shape():
    layer = bt.Linear(5, 7, rng=np.random.default_rng(0))
    layer.forward(np.zeros((2, 3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"dout of shape \(2, 3, 7\), got \(2, 3, 5\)"):
        layer.backward(np.zeros((2, 3, 5), dtype=np.float32))


@pytest.mark.parametrize("kind", ["linear", "gelu", "feedforward"])
def test_backward_before_forward_raises(kind):
    with pytest.raises(RuntimeError, match="before forward"):
        make(kind).backward(np.zeros((2, 7)))


# ---- the checker itself ---------------------------------------------------------------------


def test_rel_error_known_values():
    assert bt.rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert bt.rel_error([1.0, 3.0], [1.0, 1.0]) == 0.5
    assert bt.rel_error([0.0], [0.0]) == 0.0
    assert bt.rel_error(np.zeros(0), np.zeros(0)) == 0.0
    assert bt.rel_error([1e-9], [0.0]) == pytest.approx(0.1)  # the 1e-8 floor in the denominator


def test_numerical_gradient_matches_a_known_derivative_and_restores_x():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3))
    before = x.copy()
    dout = rng.standard_normal((2, 3))
    grad = bt.numerical_gradient(lambda: np.sin(x), x, dout)
    assert bt.rel_error(grad, np.cos(x) * dout) < 1e-7
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_on_chosen_entries_gives_the_full_computations_numbers_and_restores_x():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 4))  # every axis its own size: a flat index has one meaning
    before, dout = x.copy(), rng.standard_normal((2, 3, 4))
    full = bt.numerical_gradient(lambda: np.sin(x), x, dout)
    picks = np.array([23, 0, 7, 7])  # any order, repeats allowed
    picked = bt.numerical_gradient(lambda: np.sin(x), x, dout, indices=picks)
    assert picked.shape == (4,)
    np.testing.assert_array_equal(picked, full.reshape(-1)[picks])
    np.testing.assert_array_equal(x, before)
    assert bt.numerical_gradient(lambda: np.sin(x), x, dout, indices=[]).shape == (0,)


@pytest.mark.parametrize(
    "indices, error, message",
    [
        ([24], ValueError, r"indices must lie in 0\.\.23 \(x has 24 entries\), got values from 24 to 24"),
        ([-1, 3], ValueError, "got values from -1 to 3"),
        ([[0, 1]], TypeError, r"1-D array of integers .* got shape \(1, 2\)"),
        ([0.5], TypeError, "dtype float64"),
    ],
)
def test_numerical_gradient_refuses_indices_that_are_not_flat_positions_in_x(indices, error, message):
    x = np.zeros((2, 3, 4))
    with pytest.raises(error, match=message):
        bt.numerical_gradient(lambda: x, x, np.ones_like(x), indices=indices)


def test_numerical_gradient_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        bt.numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32), np.zeros(3))


def test_check_gradients_requires_float64():
    with pytest.raises(TypeError, match="W is float32"):
        bt.check_gradients(bt.Linear(5, 7, rng=np.random.default_rng(0)), np.zeros((2, 5)))
    with pytest.raises(TypeError, match=r"input\[0\] is float32"):
        bt.check_gradients(bt.GELU(), np.zeros((2, 5), dtype=np.float32))


class _LinearForgotTranspose(bt.Linear):
    def backward(self, dout):
        super().backward(dout)
        return dout @ self.params["W"]  # should be W.T


class _LinearReshapeBug(bt.Linear):
    def backward(self, dout):
        x = self.cache
        dout2 = dout.reshape(-1, self.d_out)
        self.grads["W"] += x.reshape(self.d_in, -1) @ dout2  # should be x2.T
        self.grads["b"] += dout2.sum(axis=0)
        return dout @ self.params["W"].T


class _LinearBiasOverOneAxis(bt.Linear):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] -= dout[0].reshape(-1, self.d_out).sum(axis=0)  # drops batch element 0
        return dx


@pytest.mark.parametrize(
    "module, d_in, name",
    [
        (_LinearForgotTranspose(6, 6, rng=np.random.default_rng(0), dtype=np.float64), 6, "input[0]"),
        (_LinearReshapeBug(5, 7, rng=np.random.default_rng(0), dtype=np.float64), 5, "W"),
        (_LinearBiasOverOneAxis(5, 7, rng=np.random.default_rng(0), dtype=np.float64), 5, "b"),
    ],
)
def test_check_gradients_raises_naming_the_wrong_tensor(module, d_in, name):
    x = np.random.default_rng(10).standard_normal((2, 3, d_in))
    with pytest.raises(AssertionError, match=re.escape(f"gradient of {name} does not match finite differences")):
        bt.check_gradients(module, x)


def test_check_gradients_reports_a_gradient_of_the_wrong_shape():
    class WrongShape(bt.GELU):
        def backward(self, dout):
            return super().backward(dout)[..., :-1]

    with pytest.raises(AssertionError, match=r"gradient of input\[0\] has shape \(2, 4\)"):
        bt.check_gradients(WrongShape(), np.random.default_rng(11).standard_normal((2, 5)))


class _Shift(bt.Module):
    """out = x + 1000: exact gradient dout, but large |loss| and hence large round-off."""

    def __init__(self, factor=1.0):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        self.cache = True
        return x + 1000.0

    def backward(self, dout):
        return self.factor * dout


def test_check_gradients_forgives_the_roundoff_floor_but_not_real_errors():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 5))
    dout = rng.standard_normal((2, 3, 5))
    shift = _Shift()
    raw = bt.rel_error(bt.numerical_gradient(lambda: shift.forward(x), x, dout), dout)
    assert raw > 1e-7  # without the floor, a correct backward would fail
    assert bt.check_gradients(_Shift(), x)["input[0]"] < 1e-7
    with pytest.raises(AssertionError, match=r"gradient of input\[0\]"):
        bt.check_gradients(_Shift(factor=1.01), x)


def test_check_gradients_does_not_modify_the_callers_inputs_or_parameters():
    rng = np.random.default_rng(12)
    layer = bt.Linear(5, 7, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, 3, 5))
    x_before, W_before = x.copy(), layer.params["W"].copy()
    bt.check_gradients(layer, x)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(layer.params["W"], W_before)


def test_check_gradients_handles_several_inputs_and_non_float_ones():
    class WeightedSum(bt.Module):
        """out = a * x + y where x, y are float inputs and `a` an integer array (not checked)."""

        def forward(self, x, a, y, scale=1.0):
            self.cache = (a, scale)
            return scale * a * x + y

        def backward(self, dout):
            a, scale = self.cache
            return scale * a * dout, dout

    rng = np.random.default_rng(13)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    a = np.arange(6).reshape(2, 3)
    errors = bt.check_gradients(WeightedSum(), x, a, y, scale=2.0)
    assert list(errors) == ["input[0]", "input[2]"]

    class Swapped(WeightedSum):
        def backward(self, dout):
            dx, dy = super().backward(dout)
            return dy, dx

    with pytest.raises(AssertionError, match=r"gradient of input\[0\]"):
        bt.check_gradients(Swapped(), x, a, y, scale=2.0)


def test_check_gradients_draws_a_random_dout_so_bugs_invisible_to_a_constant_one_fail():
    class Centre(bt.Module):
        """out = x - mean(x) over the last axis; correct dx = dout - mean(dout) over the last axis."""

        def forward(self, x):
            self.cache = True
            return x - x.mean(axis=-1, keepdims=True)

        def backward(self, dout):
            return dout - dout.mean(axis=-1, keepdims=True)

    class CentreWrongAxis(Centre):
        def backward(self, dout):
            return dout - dout.mean()  # all axes: agrees with the right answer only when dout is constant

    x = np.random.default_rng(14).standard_normal((3, 5))
    bt.check_gradients(Centre(), x)
    with pytest.raises(AssertionError, match=r"gradient of input\[0\]"):
        bt.check_gradients(CentreWrongAxis(), x)


def test_check_gradients_floor_scales_with_the_loss_so_small_outputs_are_still_checked():
    class Tiny(bt.Module):
        """out = 1e-3 * x: all gradients are about 1e-3, so a fixed absolute tolerance would hide bugs."""

        def __init__(self, factor=1.0):
            super().__init__()
            self.factor = factor

        def forward(self, x):
            self.cache = True
            return 1e-3 * x

        def backward(self, dout):
            return self.factor * 1e-3 * dout

    x = np.random.default_rng(15).standard_normal((2, 3, 5))
    bt.check_gradients(Tiny(), x)
    with pytest.raises(AssertionError, match=r"gradient of input\[0\]"):
        bt.check_gradients(Tiny(factor=1.01), x)


# ---- the fast forms agree with the simple ones ---------------------------------------------------


@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (2, 300, 130), (70, 512), (4, 0), (0, 6)])
def test_gelu_module_computes_the_formula_on_any_shape_and_block_split(shape):
    x = 3 * np.random.default_rng(0).standard_normal(shape)
    gelu = bt.GELU()
    out = gelu.forward(x)
    assert out.shape == np.shape(x)
    np.testing.assert_allclose(out, bt.gelu_formula(x), rtol=1e-13, atol=1e-15)
    # backward against the derivative written as one formula
    t = np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
    slope = 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2)
    dout = np.random.default_rng(1).standard_normal(shape)
    np.testing.assert_allclose(gelu.backward(dout), dout * slope, rtol=1e-12, atol=1e-14)


def test_gelu_keeps_float32_and_small_blocks_give_the_same_numbers():
    x = np.random.default_rng(2).standard_normal((33, 17)).astype(np.float32)
    small = bt.GELU()
    small.BLOCK = 17 * 4  # four rows per block: nine blocks, the last one partial
    big = bt.GELU()
    assert np.array_equal(small.forward(x), big.forward(x)) and big.forward(x).dtype == np.float32
    dout = np.ones_like(x)
    assert np.array_equal(small.backward(dout), big.backward(dout)) and big.backward(dout).dtype == np.float32


def test_gelu_rejects_dout_of_the_wrong_shape_and_accepts_integer_input():
    gelu = bt.GELU()
    assert gelu.forward([0, 1]).dtype == np.float64
    with pytest.raises(ValueError, match="dout of shape"):
        gelu.backward(np.ones(3))


def test_linear_handles_a_single_vector_and_an_empty_batch():
    layer = bt.Linear(3, 2, rng=np.random.default_rng(0), dtype=np.float64)
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["W"], rtol=1e-15)
    assert layer.backward(np.ones(2)).shape == (3,)
    assert layer.forward(np.zeros((0, 4, 3))).shape == (0, 4, 2)
    assert layer.backward(np.zeros((0, 4, 2))).shape == (0, 4, 3)


# ---- refused by name, before anything changes (issue 13) --------------------------------------

LAYER_NAMES = {"linear": "Linear", "gelu": "GELU", "feedforward": "FeedForward"}


def shape_pattern(shape):
    return re.escape(str(tuple(shape)))


@pytest.mark.parametrize("kind", LAYER_NAMES)
def test_backward_refuses_a_dout_that_is_not_exactly_the_output_shape_naming_the_layer(kind):
    module = make(kind)
    out = module.forward(np.random.default_rng(0).standard_normal((2, 3, 5)))  # (2, 3, d)
    d = out.shape[-1]
    # (d,) and (1, 3, d) would broadcast over the rows and give wrong gradients without a word;
    # (3, 2, d) would fail somewhere inside with a bare NumPy error.
    for bad in [(d,), (1, 3, d), (3, 2, d)]:
        with pytest.raises(
            ValueError,
            match=rf"^{LAYER_NAMES[kind]}\.backward expects dout of shape "
            rf"{shape_pattern(out.shape)}, got {shape_pattern(bad)}",
        ):
            module.backward(np.ones(bad))
    assert all(not g.any() for g in module.gradients().values())  # nothing accumulated


@pytest.mark.parametrize("kind", LAYER_NAMES)
@pytest.mark.parametrize(
    "bad", [lambda shape: np.ones(shape).tolist(), lambda shape: np.full(shape, "1")], ids=["list", "strings"]
)
def test_backward_refuses_a_dout_that_is_not_an_array_of_numbers(kind, bad):
    module = make(kind)
    out = module.forward(np.ones((2, 3, 5)))
    with pytest.raises(TypeError, match=rf"^{LAYER_NAMES[kind]}\.backward expects dout as a NumPy array of numbers"):
        module.backward(bad(out.shape))


@pytest.mark.parametrize("kind", LAYER_NAMES)
@pytest.mark.parametrize(
    "x",
    [np.full((2, 5), "1.5"), np.full((2, 5), None), np.ones((2, 5), dtype=bool)],
    ids=["strings", "objects", "bools"],
)
def test_forward_refuses_input_that_is_not_an_array_of_numbers(kind, x):
    layer = "Linear" if kind == "feedforward" else LAYER_NAMES[kind]  # FeedForward's first part says it
    with pytest.raises(TypeError, match=rf"^{layer}\.forward: x must be an array of numbers, got dtype {x.dtype}"):
        make(kind).forward(x)


@pytest.mark.parametrize(
    "build, layer",
    [
        (lambda dtype: bt.Linear(4, 4, rng=np.random.default_rng(0), dtype=dtype), "Linear"),
        (lambda dtype: bt.FeedForward(4, 6, rng=np.random.default_rng(0), dtype=dtype), "FeedForward"),
    ],
    ids=["linear", "feedforward"],
)
@pytest.mark.parametrize(
    "dtype, name",
    [(np.int64, "int64"), ("int32", "int32"), (np.float16, "float16"), (None, "None"), ("floot", "'floot'")],
    ids=["int64", "int32-by-name", "float16", "None", "typo"],
)
def test_layers_refuse_a_dtype_other_than_float32_or_float64(build, layer, dtype, name):
    with pytest.raises(ValueError, match=rf"^{layer}: dtype must be float32 or float64, got {name}$"):
        build(dtype)  # an integer dtype would round every weight to 0


def test_layers_accept_float32_and_float64_by_type_dtype_or_name():
    for dtype in [np.float32, np.dtype("float32"), "float32", np.float64, "float64"]:
        layer = bt.Linear(4, 3, rng=np.random.default_rng(0), dtype=dtype)
        assert layer.params["W"].dtype == layer.params["b"].dtype == np.dtype(dtype)


@pytest.mark.parametrize(
    "d_in, error, shown",
    [
        (-1, ValueError, "-1"),
        (0, ValueError, "0"),
        (2.5, ValueError, "2.5"),
        (4.0, ValueError, "4.0"),
        (True, TypeError, "True"),
        (None, TypeError, "None"),
        ("4", TypeError, "'4'"),
    ],
)
def test_layer_sizes_must_be_ints_of_at_least_one(d_in, error, shown):
    with pytest.raises(error, match=rf"^Linear needs an int d_in >= 1, got d_in={re.escape(shown)}$"):
        bt.Linear(d_in, 4, rng=np.random.default_rng(0))
    with pytest.raises(error, match=rf"^Linear needs an int d_out >= 1, got d_out={re.escape(shown)}$"):
        bt.Linear(4, d_in, rng=np.random.default_rng(0))
    with pytest.raises(error, match=rf"^FeedForward needs an int d_ff >= 1, got d_ff={re.escape(shown)}$"):
        bt.FeedForward(4, d_in, rng=np.random.default_rng(0))


def test_layer_sizes_accept_numpy_ints_and_store_python_ints():
    layer = bt.Linear(np.int64(3), np.int32(2), rng=np.random.default_rng(0))
    assert type(layer.d_in) is int and type(layer.d_out) is int and layer.params["W"].shape == (3, 2)


def test_linear_is_x_at_w_plus_b_and_the_affine_helpers_compute_exactly_linears_arithmetic():
    rng = np.random.default_rng(21)
    layer = bt.Linear(5, 7, rng=rng, dtype=np.float64)
    x, dout = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 3, 7))
    W, b = layer.params["W"], layer.params["b"]
    out = layer.forward(x)
    np.testing.assert_allclose(out, x @ W + b, rtol=1e-13, atol=1e-13)
    assert np.array_equal(layers.affine(x, W, b), out)
    dW, db = np.zeros_like(W), np.zeros_like(b)
    assert np.array_equal(layers.affine_backward(x, dout, W, dW, db), layer.backward(dout))
    assert np.array_equal(dW, layer.grads["W"]) and np.array_equal(db, layer.grads["b"])
    np.testing.assert_allclose(db, dout.sum(axis=(0, 1)), rtol=1e-13)


def test_row_sums_and_column_sums_are_numpys_sums_as_products_empty_arrays_included():
    # issue 14: taken together, every sum of a step as a product saves over 5% of it (benchmarks/README.md)
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 3, 5))
    np.testing.assert_allclose(bt.row_sums(x), x.sum(axis=-1, keepdims=True), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(bt.column_sums(x.reshape(-1, 5)), x.reshape(-1, 5).sum(axis=0), rtol=1e-14)
    assert bt.row_sums(np.zeros((4, 0), np.float32)).tolist() == [[0.0]] * 4
    assert bt.row_sums(np.zeros((0, 3))).shape == (0, 1)
    assert bt.column_sums(np.zeros((0, 3), np.float32)).tolist() == [0.0, 0.0, 0.0]
    assert bt.row_sums(x.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"column_sums expects a 2-D array \(N, d\), got shape \(2, 3, 5\)"):
        bt.column_sums(x)


def test_linear_in_the_library_equals_the_textbook_layer_of_notebook_02():
    rng = np.random.default_rng(23)
    layer = bt.Linear(6, 4, rng=rng, dtype=np.float64)
    x, dout = rng.standard_normal((3, 2, 6)), rng.standard_normal((3, 2, 4))
    W, b = layer.params["W"], layer.params["b"]
    np.testing.assert_allclose(layer.forward(x), x @ W + b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(layer.backward(dout), dout @ W.T, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(layer.grads["W"], np.einsum("bti,btj->ij", x, dout), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], dout.sum(axis=(0, 1)), rtol=1e-13)
