"""Checks of notebook 03's exercises: LayerNorm.forward and .backward, Softmax.forward and .backward."""

import numpy as np

from bytetrans_lib import norm
from bytetrans_lib.exercises import Wrong, compare, exercise, report


def _with_library_forward(cls, library_class):
    """`cls` with the forward of `library_class` (norm.LayerNorm or norm.Softmax): backward is then
    checked on its own, whatever the learner's forward is like."""
    return type(cls.__name__, (cls,), {"forward": library_class.forward})


def _layernorm_pair(candidate_class, seed, d=5):
    """The candidate and the reference LayerNorm with the same gamma and beta, a 3-D batch and dout."""
    rng = np.random.default_rng(seed)
    mine, ref = candidate_class(d, dtype=np.float64), norm.LayerNorm(d, dtype=np.float64)
    for name in ("gamma", "beta"):
        mine.params[name][...] = ref.params[name][...] = rng.standard_normal(d)
    x = 3 * rng.standard_normal((2, 3, d)) + 1  # (B, T, d), deliberately not normalised
    return mine, ref, x, rng.standard_normal((2, 3, d))


# --- 03.1 LayerNorm.forward -----------------------------------------------------------


def _forward_hint(out, x, gamma, beta, eps):
    """Which step a wrong output of the right shape most likely comes from."""
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=-1, keepdims=True)
    d = x.shape[-1]
    mistakes = [
        (
            gamma * xc / (np.sqrt(var) + eps) + beta,
            "eps is added to the standard deviation: it goes inside the square root, sqrt(var + eps)",
        ),
        (
            gamma * xc / np.sqrt(var * d / (d - 1) + eps) + beta,
            "the variance divides by d - 1 (ddof=1): LayerNorm's is the mean of xc * xc, divided by d",
        ),
        (
            beta * xc / np.sqrt(var + eps) + gamma,
            "gamma and beta are swapped: out = gamma * xhat + beta, gamma scales and beta shifts",
        ),
        (xc / np.sqrt(var + eps), "gamma and beta are not applied: out = gamma * xhat + beta"),
    ]
    why = next((why for wrong, why in mistakes if np.allclose(out, wrong, rtol=1e-9, atol=1e-12)), None)
    if why is None and not np.allclose(((out - beta) / gamma).mean(axis=-1), 0, atol=1e-9):
        why = (
            "(out - beta) / gamma must have mean 0 over the last axis: take the mean and the variance "
            "over axis -1, keepdims=True"
        )
    return why or "go through the four steps again: centre, variance, normalise, scale and shift"


CACHE = ("xc", "inv_std", "xhat")


@exercise(
    "03.1",
    "LayerNorm.forward",
    reference=lambda: norm.LayerNorm.forward,
    uses="the course's LayerNorm.forward",
    method="forward",
)
def check_layernorm_forward(LayerNorm):
    cases = [("x of shape (4, 6)", 3, (4, 6), 1.0), ("x of shape (2, 3, 5)", 4, (2, 3, 5), 1.0)]
    cases.append(("x of shape (3, 8), of variance about 1e-6 (below eps)", 5, (3, 8), 3e-4))
    for what, seed, shape, scale in cases:
        mine, ref, _, _ = _layernorm_pair(LayerNorm, seed, d=shape[-1])
        x = scale * (3 * np.random.default_rng(seed + 10).standard_normal(shape) + 1)
        before = x.copy()
        try:
            out = mine.forward(x)
        except ValueError as e:  # shapes that do not broadcast, usually
            raise Wrong(
                f"forward on {what} raised ValueError: {e}. Keep the reduced axis (keepdims=True), so that "
                "the mean and the variance, (..., 1), broadcast against x"
            ) from None
        if not np.array_equal(x, before):
            raise Wrong(f"forward on {what} changed its input x: compute x - mean as a new array, not with -=")
        expected = ref.forward(x)
        gamma, beta = ref.params["gamma"], ref.params["beta"]
        problem = compare("out", out, expected, rtol=1e-9, atol=1e-12)
        if problem:
            shaped = isinstance(out, np.ndarray) and out.shape == x.shape
            hint = _forward_hint(np.asarray(out, np.float64), x, gamma, beta, ref.eps) if shaped else None
            raise Wrong(f"forward on {what}: {problem}" + (f" ({hint})" if hint else ""))
        cache = mine.cache
        if not isinstance(cache, tuple) or len(cache) != 3:
            got = "None" if cache is None else f"a {type(cache).__name__}"
            got += f" of {len(cache)}" if isinstance(cache, tuple) else ""
            raise Wrong(
                f"after forward on {what}, self.cache is {got}: keep the tuple (xc, inv_std, xhat) there, "
                "or backward, which unpacks it, fails"
            )
        for name, got, want in zip(CACHE, cache, ref.cache):
            problem = compare(f"self.cache[{CACHE.index(name)}] ({name})", got, want, rtol=1e-9, atol=1e-12)
            if problem:
                raise Wrong(
                    f"after forward on {what}: {problem} (backward reads the tuple (xc, inv_std, xhat), in that order)"
                )
    out32 = LayerNorm(5).forward(np.ones((2, 5), dtype=np.float32))
    if np.asarray(out32).dtype != np.float32:
        raise Wrong(f"out has dtype {np.asarray(out32).dtype} for a float32 input: float32 must stay float32")


# --- 03.2 LayerNorm.backward ------------------------------------------------------------


def _dx_hint(dx, x, dout, gamma, eps):
    """A question that points at the step a wrong dx most likely comes from."""
    dx = np.asarray(dx, dtype=np.float64)
    if dx.shape != x.shape:
        return "dx has the shape of x"
    xc = x - x.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)
    d = x.shape[-1]

    def steps_3_to_1(dxhat, *, through_var=True, centre=True):
        dvar = -0.5 * inv_std**3 * (dxhat * xc).sum(axis=-1, keepdims=True)
        dxc = dxhat * inv_std + (dvar * 2.0 * xc / d if through_var else 0.0)
        return dxc - dxc.mean(axis=-1, keepdims=True) if centre else dxc

    if np.allclose(dx, steps_3_to_1(dout)):
        return "it is the gradient for gamma = 1: step 4's dxhat is dout * gamma"
    if np.allclose(dx, steps_3_to_1(dout * gamma, through_var=False)):
        return "only the direct path: dxc also gets dvar * 2 * xc / d, the path through the variance (step 2)"
    if np.allclose(dx, steps_3_to_1(dout * gamma, centre=False)):
        return "it is dxc: step 1 subtracts the mean of dxc over the last axis"
    if not np.allclose(dx.sum(axis=-1), 0, atol=1e-9):
        return "every row of dx must sum to 0: does step 1 subtract the mean of dxc over the last axis?"
    return "go through steps 3 and 2 again: ds and dvar are one number per vector, (..., 1)"


@exercise(
    "03.2",
    "LayerNorm.backward",
    reference=lambda: norm.LayerNorm.backward,
    uses="the course's LayerNorm.backward",
    method="backward",
)
def check_layernorm_backward(LayerNorm):
    LayerNorm = _with_library_forward(LayerNorm, norm.LayerNorm)  # whatever forward is like, this checks backward
    mine, ref, x, dout = _layernorm_pair(LayerNorm, 0)
    mine.forward(x), ref.forward(x)
    dx_ref = ref.backward(dout)
    d = x.shape[-1]
    try:
        dx = mine.backward(dout)
    except (ValueError, TypeError) as e:  # a gradient of the wrong shape, usually
        raise Wrong(
            f"backward raised {type(e).__name__}: {e}. dx must have shape {x.shape}, dgamma and dbeta ({d},) "
            "(did you sum dgamma and dbeta over every row, e.g. after reshape(-1, d)?)"
        ) from None
    report(
        {
            "dx": (dx, dx_ref),
            "dgamma": (mine.grads["gamma"], ref.grads["gamma"]),
            "dbeta": (mine.grads["beta"], ref.grads["beta"]),
        },
        hints={
            "dx": _dx_hint(dx, x, dout, ref.params["gamma"], ref.eps),
            "dgamma": "dgamma is the sum over every row of dout * xhat",
            "dbeta": "dbeta is the sum over every row of dout",
        },
    )
    mine.backward(dout)
    for name in ("gamma", "beta"):
        if not np.allclose(mine.grads[name], 2 * ref.grads[name]):
            raise Wrong(f"a second backward did not double d{name}: add to self.grads with +=, do not assign")


def _cases(seed):
    """(what, axis, x): scores near +-1000, then distinct sizes on every axis along the last and a middle axis."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 5))
    return [
        (
            "Softmax().forward([[1000, 1001, 1002], [-1002, -1001, -1000]])",
            -1,
            np.array([[1000.0, 1001, 1002], [-1002, -1001, -1000]]),
        ),
        ("Softmax(axis=-1).forward(x), x of shape (3, 4, 5)", -1, x),
        ("Softmax(axis=1).forward(x), x of shape (3, 4, 5)", 1, x),
    ]


@exercise(
    "03.3",
    "Softmax.forward",
    reference=lambda: norm.Softmax.forward,
    uses="the course's Softmax.forward",
    method="forward",
)
def check_softmax_forward(Softmax):
    for what, axis, x in _cases(0):
        before = x.copy()
        try:
            with np.errstate(all="ignore"):  # overflow shows as a nan in y, named below
                y = Softmax(axis=axis).forward(x)
        except ValueError as e:  # shapes that do not broadcast, usually
            raise Wrong(
                f"{what} raised ValueError: {e}. Keep the reduced axis (keepdims=True), so that the "
                "maximum and the sum broadcast against x"
            ) from None
        if not np.array_equal(x, before):
            raise Wrong(f"{what} changed its input x: compute x - max as a new array, not with -=")
        problem = compare("y", y, norm.Softmax(axis=axis).forward(x), rtol=1e-10, atol=1e-12)
        if problem:
            y = np.asarray(y, dtype=np.float64)
            if not np.isfinite(y).all():
                hint = "exp overflows (or 0/0): shift each vector by its maximum along the axis before exp"
            elif y.shape == x.shape and not np.allclose(y.sum(axis=axis), 1):
                hint = f"y does not sum to 1 along axis {axis}: divide by the sum along self.axis, keepdims=True"
            elif axis != -1:
                hint = "shift by the maximum and divide by the sum along self.axis, not along the last axis"
            else:
                hint = "y = exp(x - max) / sum(exp(x - max)), the max and the sum along self.axis"
            raise Wrong(f"{what}: {problem} ({hint})")
    y32 = Softmax().forward(np.ones((2, 3), dtype=np.float32))
    if np.asarray(y32).dtype != np.float32:
        raise Wrong(f"y has dtype {np.asarray(y32).dtype} for a float32 input: float32 must stay float32")


@exercise(
    "03.4",
    "Softmax.backward",
    reference=lambda: norm.Softmax.backward,
    uses="the course's Softmax.backward",
    method="backward",
)
def check_softmax_backward(Softmax):
    Softmax = _with_library_forward(Softmax, norm.Softmax)  # whatever forward is like, this checks backward
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    for axis in (-1, 1):
        what = f"dx of Softmax(axis={axis}) on x of shape (3, 4, 5)"
        mine, ref = Softmax(axis=axis), norm.Softmax(axis=axis)
        y, _ = mine.forward(x), ref.forward(x)
        expected = ref.backward(dout)
        try:
            dx = mine.backward(dout)
        except ValueError as e:  # shapes that do not broadcast, usually
            raise Wrong(
                f"{what}: backward raised ValueError: {e}. The sum of dout * y is one number per "
                "vector: keep its axis (keepdims=True) so that it broadcasts against dout"
            ) from None
        problem = compare("dx", dx, expected, rtol=1e-10, atol=1e-12)
        if problem:
            dx = np.asarray(dx, dtype=np.float64)
            if dx.shape == x.shape and np.allclose(dx, -expected):
                hint = "the sign is flipped: dx = y * (dout - sum(dout * y))"
            elif dx.shape == x.shape and np.allclose(dx, y * dout):
                hint = "y * dout is only the diagonal of J: subtract y times the sum of dout * y along the axis"
            elif axis != -1:
                hint = "the sum of dout * y runs along self.axis, not along the last axis"
            else:
                hint = "the sum of dout * y runs along self.axis only: one number per vector"
            raise Wrong(f"{what}: {problem} ({hint})")
