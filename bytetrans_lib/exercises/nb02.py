"""Checks of notebook 02's exercises: Linear.backward, numerical_gradient, GELU.backward, FeedForward.backward."""

import numpy as np

from bytetrans_lib import layers
from bytetrans_lib.exercises import Wrong, compare, exercise, report


@exercise(
    "02.2", "numerical_gradient", reference=lambda: layers.numerical_gradient, uses="the library's numerical_gradient"
)
def check_numerical_gradient(numerical_gradient):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    dout = rng.standard_normal((3, 4))
    before = x.copy()
    exact = 3 * x**2 * dout  # d/dx of sum(x^3 * dout)
    got = numerical_gradient(lambda: x**3, x, dout)
    if not np.array_equal(x, before):
        raise Wrong("x is not as it was after the call: restore every entry you perturb (x[idx] = old)")
    problem = compare("the gradient of sum(x**3 * dout)", got, exact, rtol=1e-6, atol=1e-8)
    if problem:
        got = np.asarray(got, dtype=np.float64)
        if got.shape == exact.shape and np.allclose(got, 2 * exact, rtol=1e-5):
            problem += ": twice the right value; the central difference divides by 2h"
        elif got.shape == exact.shape and np.allclose(got, -exact, rtol=1e-5):
            problem += ": the sign is flipped; it is (L(x + h) - L(x - h)) / 2h"
        elif got.shape == exact.shape and np.allclose(got, exact, rtol=1e-3):
            problem += ": close but not close enough; a one-sided difference (L(x + h) - L(x)) / h errs by O(h)"
        raise Wrong(problem)
    picked = numerical_gradient(lambda: x**3, x, dout, indices=[5, 0])
    problem = compare("numerical_gradient(..., indices=[5, 0])", picked, [exact[1, 1], exact[0, 0]], rtol=1e-6)
    if problem:
        raise Wrong(problem + " (one value per index, in the order given; flat index 5 is x[1, 1])")


def _pair(candidate_class, seed, d_in=5, d_out=7):
    """The candidate and the reference Linear with the same weights, and a 3-D batch."""
    rng = np.random.default_rng(seed)
    mine, ref = (
        candidate_class(d_in, d_out, rng=np.random.default_rng(1), dtype=np.float64),
        layers.Linear(d_in, d_out, rng=np.random.default_rng(1), dtype=np.float64),
    )
    for name in ("W", "b"):
        mine.params[name][...] = ref.params[name] = rng.standard_normal(ref.params[name].shape)
    return mine, ref, rng.standard_normal((2, 3, d_in)), rng.standard_normal((2, 3, d_out))


@exercise(
    "02.1",
    "Linear.backward",
    reference=lambda: layers.Linear.backward,
    uses="the course's Linear.backward",
    method="backward",
)
def check_linear_backward(Linear):
    mine, ref, x, dout = _pair(Linear, 2)
    mine.forward(x), ref.forward(x)
    dx_ref = ref.backward(dout)
    try:
        dx = mine.backward(dout)
    except (ValueError, TypeError) as e:  # a gradient of the wrong shape, usually
        raise Wrong(
            f"backward raised {type(e).__name__}: {e}. dx must have shape {x.shape}, dW {ref.params['W'].shape} "
            f"and db {ref.params['b'].shape} (did you sum dout over every batch axis?)"
        ) from None
    report(
        {"dx": (dx, dx_ref), "dW": (mine.grads["W"], ref.grads["W"]), "db": (mine.grads["b"], ref.grads["b"])},
        hints={
            "db": "did you sum dout over every batch axis?",
            "dW": "dW = X^T dout, with X the input's rows as one (N, d_in) matrix",
            "dx": "dx = dout W^T, with the shape of x",
        },
    )
    mine.backward(dout)
    if not np.allclose(mine.grads["W"], 2 * ref.grads["W"]):
        raise Wrong("a second backward did not double dW: add to self.grads with +=, do not assign")


def gelu_backward(self, dout):
    """The course's backward of notebook 02's textbook GELU, whose forward keeps (x, t)."""
    x, t = self.cache
    slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * layers.SQRT_2_OVER_PI * (1.0 + 3 * layers.GELU_A * (x * x))
    return dout * slope


@exercise(
    "02.3", "GELU.backward", reference=lambda: gelu_backward, uses="the course's GELU.backward", method="backward"
)
def check_gelu_backward(GELU):
    rng = np.random.default_rng(3)
    x = 3 * rng.standard_normal((4, 6))
    dout = rng.standard_normal((4, 6))
    mine, ref = GELU(), layers.GELU()
    problem = compare("GELU.forward(x)", mine.forward(x), ref.forward(x), rtol=1e-12, atol=1e-12)
    if problem:
        raise Wrong(problem + " (forward is given: did you change it?)")
    got, expected = mine.backward(dout), ref.backward(dout)
    problem = compare("dx", got, expected, rtol=1e-9, atol=1e-12)
    if problem:
        t = np.tanh(layers.SQRT_2_OVER_PI * (x + layers.GELU_A * x**3))
        got = np.asarray(got, dtype=np.float64)
        if got.shape == x.shape and np.allclose(got, dout * 0.5 * (1 + t)):
            problem += ": only 0.5 (1 + t); the x inside tanh adds 0.5 x (1 - t^2) du/dx"
        elif got.shape == x.shape and np.allclose(got, expected / dout):
            problem += ": the slope alone; multiply it by dout"
        raise Wrong(problem)


FFN_PARAMS = ("linear_1.W", "linear_1.b", "linear_2.W", "linear_2.b")


def _ffn_pair(candidate_class, seed, d_model=5, d_ff=7):
    """The candidate and the reference FeedForward with the same random weights and biases."""
    rng = np.random.default_rng(seed)
    mine, ref = (
        candidate_class(d_model, d_ff, rng=np.random.default_rng(1), dtype=np.float64),
        layers.FeedForward(d_model, d_ff, rng=np.random.default_rng(1), dtype=np.float64),
    )
    for name, p in ref.parameters().items():
        mine.parameters()[name][...] = p[...] = rng.standard_normal(p.shape)
    return mine, ref


def _ffn_hint(ffn, x, dout, dx):
    """Which mistake a wrong dx (of the right shape) most likely comes from: the block's own
    layers, run again without the GELU or in another order, give the candidates' answers."""
    probe = layers.FeedForward(ffn.linear_1.d_in, ffn.linear_1.d_out, rng=np.random.default_rng(0), dtype=np.float64)
    for name, p in ffn.parameters().items():
        probe.parameters()[name][...] = p
    probe.forward(x)
    if np.allclose(dx, probe.linear_1.backward(probe.linear_2.backward(dout))):
        return "the GELU is skipped: pass dh through self.gelu.backward before linear_1's backward"
    return "go back through the three layers in reverse order: linear_2, gelu, linear_1, each one's result the next one's dout"


def _param_hint(got, expected, dx_hint):
    if isinstance(got, np.ndarray) and got.shape == expected.shape and np.allclose(got, 2 * expected):
        return "twice the right value: call each layer's backward once"
    return dx_hint


@exercise(
    "02.4",
    "FeedForward.backward",
    reference=lambda: layers.FeedForward.backward,
    uses="the course's FeedForward.backward",
    method="backward",
)
def check_feedforward_backward(FeedForward):
    rng = np.random.default_rng(4)
    for seed, shape in enumerate([(3, 5), (2, 3, 5), (2, 1, 4, 5)]):
        mine, ref = _ffn_pair(FeedForward, seed)
        what = f"on x of shape {shape}"
        x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
        problem = compare("FeedForward.forward(x)", mine.forward(x), ref.forward(x), rtol=1e-12, atol=1e-12)
        if problem:
            raise Wrong(problem + " (forward is given: did you change it?)")
        dx_ref = ref.backward(dout)
        try:
            dx = mine.backward(dout)
        except (ValueError, TypeError) as e:  # a layer handed a gradient of the other width, usually
            raise Wrong(
                f"backward {what} raised {type(e).__name__}: {e}. Go back through the layers in reverse order: "
                "linear_2 first (it takes dout, (..., d_model)), then gelu and linear_1 (they take (..., d_ff))"
            ) from None
        got, expected = mine.gradients(), ref.gradients()
        parts = {"dx": (dx, dx_ref)} | {f"d{name}": (got.get(name), expected[name]) for name in FFN_PARAMS}
        dx_hint = None
        if isinstance(dx, np.ndarray) and dx.shape == dx_ref.shape and not np.allclose(dx, dx_ref):
            dx_hint = _ffn_hint(ref, x, dout, dx)
        elif isinstance(dx, np.ndarray) and dx.shape == (*shape[:-1], 7):
            dx_hint = "this is dh or du, (..., d_ff): return what linear_1's backward returns"
        try:
            report(
                parts,
                hints={"dx": dx_hint}
                | {f"d{name}": _param_hint(got.get(name), expected[name], dx_hint) for name in FFN_PARAMS},
            )
        except Wrong as e:
            raise Wrong(f"{what}: {e}") from None
        mine.backward(dout)
        twice = mine.gradients()
        for name in FFN_PARAMS:
            if not np.allclose(twice[name], 2 * expected[name]):
                raise Wrong(
                    f"a second backward did not double d{name}: each layer's backward adds its gradients "
                    "(+=); FeedForward.backward must not zero, copy or assign them"
                )
