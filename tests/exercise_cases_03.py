"""Cases for the checks of notebook 03's exercises: a stub and planted bugs per exercise."""

import numpy as np

from bytetrans_lib import norm


class _StubLayerNormForward(norm.LayerNorm):
    def forward(self, x):
        raise NotImplementedError


class _StubLayerNorm(norm.LayerNorm):
    def backward(self, dout):
        raise NotImplementedError


class _StubSoftmaxForward(norm.Softmax):
    def forward(self, x):
        raise NotImplementedError


class _StubSoftmaxBackward(norm.Softmax):
    def backward(self, dout):
        raise NotImplementedError


def _layernorm_forward(*, eps_inside=True, ddof=0, swap=False, axis=-1, keep_cache=True):
    """The textbook LayerNorm's forward (notebook 03, section 1), with one mistake switched on."""

    def forward(self, x):
        xc = x - x.mean(axis=axis, keepdims=True)
        var = (xc * xc).sum(axis=axis, keepdims=True) / (x.shape[axis] - ddof)
        inv_std = 1.0 / np.sqrt(var + self.eps) if eps_inside else 1.0 / (np.sqrt(var) + self.eps)
        xhat = xc * inv_std
        if keep_cache:
            self.cache = (xc, inv_std, xhat)
        gamma, beta = self.params["gamma"], self.params["beta"]
        return beta * xhat + gamma if swap else gamma * xhat + beta

    return type("LayerNorm", (norm.LayerNorm,), {"forward": forward})


def _layernorm_cache_order(self, x):  # a right output, the cache in another order
    out = norm.LayerNorm.forward(self, x)
    xc, inv_std, xhat = self.cache
    self.cache = (xhat, xc, inv_std)
    return out


def _layernorm(*, gamma=True, through_var=True, centre=True, sum_rows=True, accumulate=True):
    """The textbook LayerNorm's backward (notebook 03, section 1), with one mistake switched on."""

    class LayerNorm(norm.LayerNorm):
        def backward(self, dout):
            xc, inv_std, xhat = self.cache
            d = self.d
            if sum_rows:
                dgamma, dbeta = (dout * xhat).reshape(-1, d).sum(axis=0), dout.reshape(-1, d).sum(axis=0)
            else:  # sums over the first axis only
                dgamma, dbeta = (dout * xhat).sum(axis=0), dout.sum(axis=0)
            if accumulate:
                self.grads["gamma"] += dgamma
                self.grads["beta"] += dbeta
            else:  # = instead of +=
                self.grads["gamma"] = dgamma
                self.grads["beta"] = dbeta
            dxhat = dout * self.params["gamma"] if gamma else dout
            ds = (dxhat * xc).sum(axis=-1, keepdims=True)
            dvar = -0.5 * inv_std**3 * ds
            dxc = dxhat * inv_std + (dvar * 2.0 * xc / d if through_var else 0.0)
            return dxc - dxc.mean(axis=-1, keepdims=True) if centre else dxc

    return LayerNorm


def _forward(*, shift=True, axis_of=lambda self: self.axis, keepdims=True, inplace=False):
    """Softmax with one mistake in forward."""

    def forward(self, x):
        axis = axis_of(self)
        if shift:
            if inplace:  # x -= max: changes the caller's array
                x -= x.max(axis=axis, keepdims=True)
                z = x
            else:
                z = x - x.max(axis=axis, keepdims=True)
        else:
            z = x
        e = np.exp(z)
        y = e / e.sum(axis=axis, keepdims=keepdims)
        self.cache = y
        return y

    return type("Softmax", (norm.Softmax,), {"forward": forward})


def _backward(kind):
    """Softmax with one mistake in backward."""

    def backward(self, dout):
        y = self.cache
        if kind == "sign":
            return y * ((dout * y).sum(axis=self.axis, keepdims=True) - dout)
        if kind == "diagonal":
            return y * dout
        if kind == "last axis":
            return y * (dout - (dout * y).sum(axis=-1, keepdims=True))
        if kind == "no keepdims":
            return y * (dout - (dout * y).sum(axis=self.axis))
        raise ValueError(kind)

    return type("Softmax", (norm.Softmax,), {"backward": backward})


STUBS = {
    "03.1": _StubLayerNormForward,
    "03.2": _StubLayerNorm,
    "03.3": _StubSoftmaxForward,
    "03.4": _StubSoftmaxBackward,
}

BUGS = [
    ("03.1", _layernorm_forward(eps_inside=False), "eps is added to the standard deviation"),
    ("03.1", _layernorm_forward(eps_inside=False), "x of shape (4, 6): out is wrong (max relative error"),
    ("03.1", _layernorm_forward(ddof=1), "the variance divides by d - 1 (ddof=1)"),
    ("03.1", _layernorm_forward(swap=True), "gamma and beta are swapped"),
    ("03.1", _layernorm_forward(axis=0), "must have mean 0 over the last axis"),
    ("03.1", _layernorm_forward(keep_cache=False), "self.cache is None: keep the tuple (xc, inv_std, xhat)"),
    ("03.1", _layernorm_forward(keep_cache=False), "or backward, which unpacks it, fails"),
    (
        "03.1",
        type("LayerNorm", (norm.LayerNorm,), {"forward": _layernorm_cache_order}),
        "self.cache[0] (xc) is wrong",
    ),
    ("03.2", _layernorm(gamma=False), "dx is wrong (max relative error"),
    ("03.2", _layernorm(gamma=False), "step 4's dxhat is dout * gamma"),
    ("03.2", _layernorm(through_var=False), "the path through the variance (step 2)"),
    ("03.2", _layernorm(centre=False), "step 1 subtracts the mean of dxc"),
    ("03.2", _layernorm(sum_rows=False), "dx must have shape (2, 3, 5), dgamma and dbeta (5,)"),
    ("03.2", _layernorm(accumulate=False), "a second backward did not double dgamma"),
    ("03.3", _forward(shift=False), "y has a non-finite entry"),
    ("03.3", _forward(shift=False), "shift each vector by its maximum"),
    ("03.3", _forward(axis_of=lambda self: -1), "Softmax(axis=1).forward(x), x of shape (3, 4, 5): y is wrong"),
    ("03.3", _forward(keepdims=False), "Keep the reduced axis (keepdims=True)"),
    ("03.3", _forward(inplace=True), "changed its input x"),
    ("03.4", _backward("sign"), "dx is wrong (max relative error 1 at dx"),
    ("03.4", _backward("sign"), "the sign is flipped"),
    ("03.4", _backward("diagonal"), "y * dout is only the diagonal of J"),
    ("03.4", _backward("last axis"), "dx of Softmax(axis=1) on x of shape (3, 4, 5): dx is wrong"),
    ("03.4", _backward("no keepdims"), "keep its axis (keepdims=True)"),
]


def _layernorm_with_var(self, x):  # np.var and a division, another way to the same numbers
    xc = x - x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + self.eps)
    xhat = xc / std
    self.cache = (xc, 1.0 / std, xhat)
    return xhat * self.params["gamma"] + self.params["beta"]


ACCEPTED = [
    ("03.1", _layernorm_forward()),  # the variance as a sum divided by d
    ("03.1", type("LayerNorm", (norm.LayerNorm,), {"forward": _layernorm_with_var})),
]
