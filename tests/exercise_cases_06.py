"""Cases for the checks of notebook 06's exercises: a stub and planted bugs per exercise."""

import math

import numpy as np

from bytetrans_lib import optim


def _raises(*args, **kwargs):
    raise NotImplementedError


class _StubLoss(optim.CrossEntropyLoss):
    def forward(self, logits, targets):
        raise NotImplementedError


def _softmax_loss(logits, targets, ignore_index, eps, *, stable=True, count_all=False):
    """A plain forward: (loss, cache) as CrossEntropyLoss keeps it."""
    keep = targets != ignore_index
    N, t = int(keep.sum()), targets[keep]
    z = logits[keep].astype(np.float64)
    if stable:
        z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    log_p = np.log(p)
    loss = -((1 - eps) * log_p[np.arange(N), t] + eps * log_p.mean(axis=-1)).sum() / (targets.size if count_all else N)
    return loss, (keep, p, t, N, logits.dtype, logits.shape)


class _LossMeanOverAll(optim.CrossEntropyLoss):  # divides by every position, padding included
    def forward(self, logits, targets):
        loss, self.cache = _softmax_loss(logits, targets, self.ignore_index, self.label_smoothing, count_all=True)
        return float(loss)


class _LossNoMaxSubtracted(optim.CrossEntropyLoss):  # exp overflows for large logits
    def forward(self, logits, targets):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, self.cache = _softmax_loss(logits, targets, self.ignore_index, self.label_smoothing, stable=False)
        return float(loss)


class _LossGradientNotMean(optim.CrossEntropyLoss):  # forgets / N in backward
    def backward(self):
        keep, p, t, N, dtype, shape = self.cache
        d = p - self.label_smoothing / shape[-1]
        d[np.arange(N), t] -= 1.0 - self.label_smoothing
        dlogits = np.zeros(shape, dtype=dtype)
        dlogits[keep] = d
        return dlogits


class _LossGradientOneHot(optim.CrossEntropyLoss):  # subtracts 1 at the true id, smoothing or not
    def backward(self):
        keep, p, t, N, dtype, shape = self.cache
        d = p - self.label_smoothing / shape[-1]
        d[np.arange(N), t] -= 1.0
        dlogits = np.zeros(shape, dtype=dtype)
        dlogits[keep] = d / N
        return dlogits


class _LossGradientFloat64(optim.CrossEntropyLoss):  # np.zeros(shape): float64 whatever the logits
    def backward(self):
        keep, p, t, N, dtype, shape = self.cache
        dlogits = np.zeros(shape)
        dlogits[keep] = super().backward()[keep]
        return dlogits


class _StubAdam(optim.Adam):
    def step(self, grads):
        raise NotImplementedError


def _adam(
    *,
    correct=True,
    square=True,
    count_first=True,
    in_place=True,
    theta_in_place=True,
    coupled_decay=False,
    eps_inside=False,
):
    """An Adam whose step has the given mistakes (the defaults are right)."""

    class Adam(optim.Adam):
        def step(self, grads):
            if count_first:
                self.t += 1
            beta1, beta2 = self.betas
            with np.errstate(divide="ignore", invalid="ignore"):
                c1, c2 = (1 - beta1**self.t, 1 - beta2**self.t) if correct else (1.0, 1.0)
                for name, theta in self.params.items():
                    g = grads[name] + self.weight_decay * theta if coupled_decay else grads[name]
                    m = beta1 * self.m[name] + (1 - beta1) * g
                    v = beta2 * self.v[name] + (1 - beta2) * (g * g if square else g)
                    if in_place:
                        self.m[name][...], self.v[name][...] = m, v
                    else:
                        self.m[name], self.v[name] = m, v
                    if self.weight_decay and not coupled_decay:
                        theta = theta - self.lr * self.weight_decay * theta
                    if eps_inside:
                        new = theta - self.lr * (m / c1) / np.sqrt(v / c2 + self.eps)
                    else:
                        new = theta - self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
                    if theta_in_place:
                        self.params[name][...] = new
                    else:
                        self.params[name] = new
            if not count_first:
                self.t += 1

    return Adam


def _clip(*, per_tensor=False, always=False, in_place=True):
    def clip_grad_norm(grads, max_norm):
        norm = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))
        for name, g in grads.items():
            own = float(np.linalg.norm(g)) if per_tensor else norm
            if math.isfinite(own) and (own > max_norm or always):
                if in_place:
                    g *= max_norm / own
                else:
                    grads[name] = g * (max_norm / own)
        return norm

    return clip_grad_norm


STUBS = {"06.1": _StubLoss, "06.2": _StubAdam, "06.3": _raises, "06.4": _raises}

BUGS = [
    ("06.1", _LossMeanOverAll, "the mean is over the N = 3 positions that count"),
    ("06.1", _LossNoMaxSubtracted, "subtract each row's maximum before exp"),
    ("06.1", _LossGradientNotMean, "dlogits is wrong (max relative error"),
    ("06.1", _LossGradientNotMean, "N = 3 times too large"),
    ("06.1", _LossGradientOneHot, "label_smoothing=0.1): dlogits is wrong"),
    ("06.1", _LossGradientOneHot, "right without label smoothing, wrong with it"),
    ("06.1", _LossGradientFloat64, "dlogits has dtype float64, expected float32"),
    ("06.2", _adam(correct=False), "After step 1: params['w'] is wrong"),
    ("06.2", _adam(correct=False), "a missing bias correction: m_hat = m / (1 - beta1^t)"),
    ("06.2", _adam(square=False), "Adam.v['w'] is wrong"),
    ("06.2", _adam(square=False), "v averages the squared gradient"),
    ("06.2", _adam(count_first=False), "is t counted before the bias corrections?"),
    ("06.2", _adam(in_place=False), "Adam.m['w'] was replaced by a new array: update m and v in place"),
    ("06.2", _adam(theta_in_place=False), "params['w'] was replaced by a new array, not changed in place"),
    ("06.2", _adam(coupled_decay=True), "with weight_decay=0.1: Adam.m['w'] is wrong"),
    ("06.2", _adam(eps_inside=True), "eps is inside the square root: it is added after it"),
    ("06.3", lambda s, d, w=4000, f=1.0: f * min(s**-0.5, s * w**-1.5), "d_model^-0.5 scales the whole curve"),
    ("06.3", lambda s, d, w=4000, f=1.0: f * d**-0.5 * max(s**-0.5, s * w**-1.5), "the smaller of the two branches"),
    (
        "06.3",
        lambda s, d, w=4000, f=1.0: f * d**-0.5 * min(s**-0.5, s * w**-0.5),
        "transformer_lr(step=1, d_model=512, warmup=4000, factor=1.0) gave",
    ),
    ("06.4", _clip(per_tensor=True), "the norm is per tensor, not global"),
    ("06.4", _clip(always=True), "the norm 0.5 is not above max_norm=1.0, so nothing changes"),
    ("06.4", _clip(in_place=False), "grads['a'] was replaced by a new array, not scaled in place"),
]
