"""Cases for the checks of notebook 02's exercises: a stub and planted bugs per exercise."""

import numpy as np

from bytetrans_lib import layers


def _raises(*args, **kwargs):
    raise NotImplementedError


class _StubLinear(layers.Linear):
    def backward(self, dout):
        raise NotImplementedError


class _TextbookGELU(layers.Module):
    """Notebook 02's textbook GELU forward (it keeps x and t = tanh(u)), as the stub's base."""

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        t = np.tanh(layers.SQRT_2_OVER_PI * (x + layers.GELU_A * x**3))
        self.cache = (x, t)
        return 0.5 * x * (1.0 + t)


class _StubGELU(_TextbookGELU):
    def backward(self, dout):
        raise NotImplementedError


class _LinearDbFirstAxis(layers.Linear):  # sums dout over the first axis only
    def backward(self, dout):
        x = self.cache
        self.grads["W"] += x.reshape(-1, self.d_in).T @ dout.reshape(-1, self.d_out)
        self.grads["b"] += dout.sum(axis=0)
        return dout @ self.params["W"].T


class _LinearAssigns(layers.Linear):  # = instead of +=
    def backward(self, dout):
        x = self.cache
        self.grads["W"] = x.reshape(-1, self.d_in).T @ dout.reshape(-1, self.d_out)
        self.grads["b"] = dout.reshape(-1, self.d_out).sum(axis=0)
        return dout @ self.params["W"].T


class _LinearReshapeNotTranspose(layers.Linear):  # x.reshape(d_in, -1) where x2.T belongs
    def backward(self, dout):
        x = self.cache
        self.grads["W"] += x.reshape(self.d_in, -1) @ dout.reshape(-1, self.d_out)
        self.grads["b"] += dout.reshape(-1, self.d_out).sum(axis=0)
        return dout @ self.params["W"].T


def _numgrad(restore=True, step=2.0, sign=1.0):
    def numerical_gradient(f, x, dout, h=1e-6, *, indices=None):
        picks = np.arange(x.size) if indices is None else np.asarray(indices)
        grad = np.zeros(picks.size)
        for k, i in enumerate(picks):
            idx = np.unravel_index(i, x.shape)
            old = x[idx]
            x[idx] = old + h
            plus = np.sum(f() * dout)
            x[idx] = old - h
            minus = np.sum(f() * dout)
            if restore:
                x[idx] = old
            grad[k] = sign * (plus - minus) / (step * h)
        return grad.reshape(x.shape) if indices is None else grad

    return numerical_gradient


class _GELUHalfSlope(layers.GELU):  # forgets the x inside tanh
    def backward(self, dout):
        x = self.cache[0].reshape(self.cache[2])
        t = np.tanh(layers.SQRT_2_OVER_PI * (x + layers.GELU_A * x**3))
        return dout * 0.5 * (1 + t)


class _GELUNoDout(layers.GELU):  # the slope alone
    def backward(self, dout):
        return super().backward(np.ones_like(dout))


class _StubFeedForward(layers.FeedForward):
    def backward(self, dout):
        raise NotImplementedError


def _feedforward(order=("linear_2", "gelu", "linear_1"), *, zero_first=False, twice=None):
    """FeedForward whose backward calls its layers in `order`, with one mistake switched on."""

    def backward(self, dout):
        if zero_first:  # resets the gradients: a second backward does not add up
            self.zero_grad()
        for name in order:
            if name == twice:  # this layer's backward called a second time, its gradients added twice
                getattr(self, name).backward(dout)
            dout = getattr(self, name).backward(dout)
        return dout

    return type("FeedForward", (layers.FeedForward,), {"backward": backward})


STUBS = {"02.1": _StubLinear, "02.2": _raises, "02.3": _StubGELU, "02.4": _StubFeedForward}

BUGS = [
    (
        "02.1",
        _LinearDbFirstAxis,
        "dx must have shape (2, 3, 5), dW (5, 7) and db (7,) (did you sum dout over every batch axis?)",
    ),
    ("02.1", _LinearAssigns, "a second backward did not double dW: add to self.grads with +="),
    ("02.1", _LinearReshapeNotTranspose, "dW is wrong (max relative error"),
    ("02.2", _numgrad(step=1.0), "twice the right value; the central difference divides by 2h"),
    ("02.2", _numgrad(sign=-1.0), "the sign is flipped"),
    ("02.2", _numgrad(restore=False), "x is not as it was after the call"),
    ("02.3", _GELUHalfSlope, "only 0.5 (1 + t)"),
    ("02.3", _GELUNoDout, "the slope alone; multiply it by dout"),
    ("02.4", _feedforward(("linear_1", "gelu", "linear_2")), "Go back through the layers in reverse order"),
    ("02.4", _feedforward(("gelu", "linear_2", "linear_1")), "raised ValueError"),
    ("02.4", _feedforward(("linear_2", "linear_1")), "the GELU is skipped: pass dh through self.gelu.backward"),
    ("02.4", _feedforward(("linear_2", "linear_1")), "dlinear_2.W and dlinear_2.b are right"),
    ("02.4", _feedforward(("linear_2", "gelu")), "this is dh or du, (..., d_ff)"),
    ("02.4", _feedforward(zero_first=True), "a second backward did not double dlinear_1.W"),
    ("02.4", _feedforward(twice="linear_2"), "dlinear_2.W is wrong"),
    ("02.4", _feedforward(twice="linear_2"), "twice the right value: call each layer's backward once"),
]
