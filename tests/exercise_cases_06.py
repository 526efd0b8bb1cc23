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


def _train(*, zero=True, clip="before", stop_at_nan=True, step_if_finite=True, norm_after=False):
    """train_step, with one of its moves left out or misplaced (the defaults are right)."""

    def train_step(model, loss_fn, optimizer, src_ids, tgt_in, tgt_out, max_norm=1.0):
        if zero:
            model.zero_grad()
        loss = loss_fn.forward(model.forward(src_ids, tgt_in), tgt_out)
        if stop_at_nan and not math.isfinite(loss):
            return loss, math.nan
        model.backward(loss_fn.backward())
        norm = optim.clip_grad_norm(model.gradients(), max_norm) if clip == "before" else math.nan
        if clip != "before":  # the norm, measured without clipping
            norm = math.sqrt(sum(float(np.sum(g**2)) for g in model.gradients().values()))
        if math.isfinite(norm) or not step_if_finite:
            optimizer.step(model.gradients())
        if clip == "after":
            norm = optim.clip_grad_norm(model.gradients(), max_norm)
        if norm_after:
            norm = math.sqrt(sum(float(np.sum(g**2)) for g in model.gradients().values()))
        return loss, norm

    return train_step


def _train_step_checks_at_the_end(model, loss_fn, optimizer, src_ids, tgt_in, tgt_out, max_norm=1.0):
    model.zero_grad()
    logits = model.forward(src_ids, tgt_in)  # (B, T_tgt, V)
    loss, norm = loss_fn.forward(logits, tgt_out), math.nan
    if np.isfinite(loss):
        model.backward(loss_fn.backward())
        norm = optim.clip_grad_norm(model.gradients(), max_norm)
        if np.isfinite(norm):
            optimizer.step(model.gradients())
    return loss, norm


def _train_step_backward_first(model, loss_fn, optimizer, src_ids, tgt_in, tgt_out, max_norm=1.0):
    """Computes the gradients even of a NaN loss, and steps only on a finite norm: right too."""
    for g in model.gradients().values():
        g[...] = 0
    loss = loss_fn.forward(model.forward(src_ids, tgt_in), tgt_out)
    model.backward(loss_fn.backward())
    norm = optim.clip_grad_norm(model.gradients(), max_norm)
    if math.isfinite(loss) and math.isfinite(norm):
        optimizer.step(model.gradients())
    return loss, norm if math.isfinite(loss) else math.nan


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
    ("06.3", _clip(per_tensor=True), "the norm is per tensor, not global"),
    ("06.3", _clip(always=True), "the norm 0.5 is not above max_norm=1.0, so nothing changes"),
    ("06.3", _clip(in_place=False), "grads['a'] was replaced by a new array, not scaled in place"),
    ("06.4", _train(zero=False), "are the gradients zeroed at the start of each step (model.zero_grad())?"),
    ("06.4", _train(clip="after"), "clip_grad_norm ran after optimizer.step"),
    (
        "06.4",
        _train(clip="none"),
        "the gradients handed to optimizer.step are wrong (grads['encoder.embedding.E'] is wrong",
    ),
    ("06.4", _train(clip="none"), "they were not clipped (their norm is 2.25123, above max_norm=0.5)"),
    ("06.4", _train(stop_at_nan=False, step_if_finite=False), "On a model whose loss is NaN, optimizer.step ran"),
    ("06.4", _train(norm_after=True), "that is the norm after clipping; return the norm before it"),
    ("06.4", _train(step_if_finite=False), "whose gradient norm is inf, optimizer.step ran"),
]

ACCEPTED = [("06.4", _train_step_checks_at_the_end), ("06.4", _train_step_backward_first)]
