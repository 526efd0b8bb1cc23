"""Checks of notebook 06's exercises: CrossEntropyLoss (the loss and its gradient), Adam.step,
transformer_lr and clip_grad_norm."""

import math

import numpy as np

from bytetrans_lib import optim
from bytetrans_lib.exercises import Wrong, compare, exercise

# --- 06.1 CrossEntropyLoss ------------------------------------------------------------------


def _loss_problem(where, loss, expected, N, size):
    """What is wrong with the loss `loss` (None if it is right)."""
    try:
        loss = float(loss)
    except (TypeError, ValueError):
        return f"{where}: forward returned {loss!r}, expected a number (a float)"
    if not math.isfinite(loss):
        return (
            f"{where}: the loss is {loss}, expected {expected:.6g}: subtract each row's maximum before exp "
            "(the log-sum-exp trick), so that exp never overflows and log never sees 0"
        )
    if math.isclose(loss, expected, rel_tol=1e-10, abs_tol=1e-12):
        return None
    problem = f"{where}: the loss is {loss:.6g}, expected {expected:.6g}"
    if math.isclose(loss, expected * N / size, rel_tol=1e-9):
        return problem + (
            f": the mean is over the N = {N} positions that count (targets != ignore_index), not over all {size}"
        )
    if math.isclose(loss, expected * N, rel_tol=1e-9):
        return problem + f": the loss is a mean: divide the sum by N = {N}"
    if math.isclose(loss, -expected, rel_tol=1e-9):
        return problem + ": the sign is flipped: the loss is -log p, positive"
    return problem


def _dlogits_problem(where, dlogits, expected, keep, N):
    problem = compare("dlogits", dlogits, expected, rtol=1e-9, atol=1e-12)
    if not problem:
        return None
    problem = f"{where}: {problem}"
    got = np.asarray(dlogits)
    if got.shape != expected.shape or not np.isfinite(got).all():
        return problem
    got = got.astype(np.float64)
    if np.any(got[~keep] != 0):
        return (
            problem + ": dlogits must be 0 at the ignored positions (targets == ignore_index): they are not in the loss"
        )
    if np.allclose(got, expected * N):
        return problem + f": N = {N} times too large: the loss is a mean, so its gradient is (p - q) / N"
    if np.allclose(got, -expected):
        return problem + ": the sign is flipped: dlogits = (p - q) / N"
    return problem


@exercise("06.1", "CrossEntropyLoss", reference=lambda: optim.CrossEntropyLoss, uses="the library's CrossEntropyLoss")
def check_cross_entropy(CrossEntropyLoss):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 3, 7))
    targets = np.array([[1, 6, 0], [3, 6, 6]])  # id 6 plays PAD: 3 of the 6 positions count
    keep = targets != 6
    for eps in (0.0, 0.1):
        where = f"CrossEntropyLoss(ignore_index=6, label_smoothing={eps})"
        mine, ref = CrossEntropyLoss(6, eps), optim.CrossEntropyLoss(6, eps)
        problem = _loss_problem(where, mine.forward(logits, targets), ref.forward(logits, targets), 3, 6)
        if problem and eps:
            problem += (
                ": right without label smoothing, wrong with it: -sum(q log p) with q = eps / V on every id and "
                "1 - eps more on the true one, i.e. -(1 - eps) log p[true] - eps * mean(log p)"
            )
        if problem:
            raise Wrong(problem)
        problem = _dlogits_problem(where, mine.backward(), ref.backward(), keep, 3)
        if problem and eps:
            problem += (
                ": right without label smoothing, wrong with it: q is eps / V on every id plus 1 - eps on the "
                "true one, so subtract eps / V everywhere and 1 - eps more at the true id"
            )
        if problem:
            raise Wrong(problem)
    extreme = np.array([[[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]])  # (1, 2, 3)
    where = "CrossEntropyLoss(ignore_index=-1) on logits of ±1e4"
    mine, ref = CrossEntropyLoss(-1), optim.CrossEntropyLoss(-1)
    problem = _loss_problem(
        where, mine.forward(extreme, np.array([[1, 0]])), ref.forward(extreme, np.array([[1, 0]])), 2, 2
    )
    problem = problem or _dlogits_problem(where, mine.backward(), ref.backward(), np.ones((1, 2), dtype=bool), 2)
    if problem:
        raise Wrong(problem)
    mine = CrossEntropyLoss(6)
    mine.forward(logits.astype(np.float32), targets)
    dlogits = np.asarray(mine.backward())
    if dlogits.dtype != np.float32:
        raise Wrong(
            f"for float32 logits, dlogits has dtype {dlogits.dtype}, expected float32: the gradient has the "
            "logits' dtype (np.zeros(shape, dtype=dtype))"
        )


# --- 06.2 Adam.step -------------------------------------------------------------------------


def _theta_mistakes(before, m, v, t, lr, betas, eps, weight_decay):
    """theta after one step for the usual mistakes, from the right m and v."""
    c1, c2 = 1 - betas[0] ** t, 1 - betas[1] ** t
    decayed = before - lr * weight_decay * before
    return [
        (
            decayed - lr * m / (np.sqrt(v) + eps),
            "a missing bias correction: m_hat = m / (1 - beta1^t) and "
            "v_hat = v / (1 - beta2^t); the step is lr * m_hat / (sqrt(v_hat) + eps)",
        ),
        (decayed - lr * (m / c1) / (np.sqrt(v) + eps), "a missing bias correction of v: v_hat = v / (1 - beta2^t)"),
        (decayed - lr * m / (np.sqrt(v / c2) + eps), "a missing bias correction of m: m_hat = m / (1 - beta1^t)"),
        (
            before - lr * (m / c1) / (np.sqrt(v / c2) + eps),
            "weight_decay was not applied: theta -= lr * weight_decay * theta",
        ),
        (
            decayed - lr * (m / c1) / np.sqrt(v / c2 + eps),
            "eps is inside the square root: it is added after it, lr * m_hat / (sqrt(v_hat) + eps) "
            "(Kingma & Ba, Algorithm 1)",
        ),
    ]


MOMENTS = {"m": "m = beta1 m + (1 - beta1) g", "v": "v = beta2 v + (1 - beta2) g^2"}


def _adam_step_problem(where, mine, ref, arrays, moments, before, grads):
    """What is wrong after one step of `mine` (None if it is right); ref took the same step."""
    if mine.t != ref.t:
        return f"{where}: t is {mine.t}, expected {ref.t}: count each step (self.t += 1), before the bias corrections"
    for name in ref.params:
        for kind in "mv":
            got, expected = getattr(mine, kind)[name], getattr(ref, kind)[name]
            problem = compare(f"Adam.{kind}['{name}']", got, expected)
            if not problem:
                continue
            beta2 = ref.betas[1]
            if kind == "v" and np.allclose(got, beta2 * before[f"v/{name}"] + (1 - beta2) * grads[name]):
                hint = "v averages the squared gradient, g * g"
            else:
                hint = MOMENTS[kind]
            if ref.weight_decay:
                hint += (
                    " (right without weight decay: m and v average the gradient alone; the decay shrinks theta apart)"
                )
            return f"{where}: {problem}: {hint}"
    for name, theta in ref.params.items():
        problem = compare(f"params['{name}']", arrays[name], theta)
        if problem and not compare(f"params['{name}']", mine.params[name], theta):
            return (
                f"{where}: params['{name}'] was replaced by a new array, not changed in place: the model still "
                "computes with the old one (theta -= ..., not self.params[name] = ...)"
            )
        if problem and not np.isfinite(np.asarray(arrays[name], dtype=np.float64)).all():
            return f"{where}: {problem} (is t counted before the bias corrections? at t = 0, 1 - beta^t = 0)"
        if problem:
            args = (before[name], ref.m[name], ref.v[name], ref.t, ref.lr, ref.betas, ref.eps, ref.weight_decay)
            hint = next(
                (h for wrong, h in _theta_mistakes(*args) if np.allclose(arrays[name], wrong, rtol=1e-10)), None
            )
            return f"{where}: {problem}" + (f": {hint}" if hint else "")
    for name in ref.params:
        for kind, state in (("m", mine.m), ("v", mine.v)):
            if state[name] is not moments[f"{kind}/{name}"]:
                return (
                    f"{where}: Adam.{kind}['{name}'] was replaced by a new array: update m and v in place "
                    f"({kind} *= beta{'12'[kind == 'v']}; {kind} += ...)"
                )
    return None


@exercise("06.2", "Adam.step", reference=lambda: optim.Adam, uses="the library's Adam")
def check_adam_step(Adam):
    rng = np.random.default_rng(4)
    start = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    steps = [{"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)} for _ in range(3)]
    for weight_decay in (0.0, 0.1):
        settings = {"lr": 0.01, "betas": (0.9, 0.98), "eps": 1e-8, "weight_decay": weight_decay}
        arrays = {name: p.copy() for name, p in start.items()}  # what the model holds
        mine, ref = Adam(dict(arrays), **settings), optim.Adam({k: p.copy() for k, p in start.items()}, **settings)
        moments = {f"{kind}/{name}": state[name] for kind, state in (("m", mine.m), ("v", mine.v)) for name in start}
        for k, grads in enumerate(steps, start=1):
            before = {name: p.copy() for name, p in ref.params.items()}
            before |= {f"v/{name}": v.copy() for name, v in ref.v.items()}
            mine.step(grads), ref.step(grads)
            where = f"After step {k}" + (f" with weight_decay={weight_decay}" if weight_decay else "")
            problem = _adam_step_problem(where, mine, ref, arrays, moments, before, grads)
            if problem:
                raise Wrong(problem)


# --- 06.3 transformer_lr --------------------------------------------------------------------

LR_CASES = [
    (1, 512, 4000, 1.0),
    (100, 512, 4000, 1.0),
    (4000, 512, 4000, 1.0),
    (16000, 512, 4000, 1.0),
    (3, 64, 10, 2.0),
    (50, 64, 10, 2.0),
]
LR_MISTAKES = [
    (lambda s, d, w, f: f * min(s**-0.5, s * w**-1.5), "d_model^-0.5 scales the whole curve: multiply by it"),
    (lambda s, d, w, f: d**-0.5 * min(s**-0.5, s * w**-1.5), "factor scales the whole curve: multiply by it"),
    (
        lambda s, d, w, f: f * d**-0.5 * max(s**-0.5, s * w**-1.5),
        "the rate is the smaller of the two branches (min): the warm-up branch before step = warmup, the decay after",
    ),
    (
        lambda s, d, w, f: f * d**-0.5 * min(s**-0.5, s * w**-0.5),
        "the warm-up branch is step * warmup^-1.5, so that the two branches meet at step = warmup",
    ),
]


@exercise("06.3", "transformer_lr", reference=lambda: optim.transformer_lr, uses="the library's transformer_lr")
def check_transformer_lr(transformer_lr):
    for step, d_model, warmup, factor in LR_CASES:
        call = f"transformer_lr(step={step}, d_model={d_model}, warmup={warmup}, factor={factor})"
        got, expected = (
            transformer_lr(step, d_model, warmup, factor),
            optim.transformer_lr(step, d_model, warmup, factor),
        )
        if not isinstance(got, float | int | np.floating):
            raise Wrong(f"{call} returned {got!r}, expected a number ({expected:.6g})")
        if math.isclose(got, expected, rel_tol=1e-12):
            continue
        problem = f"{call} gave {got:.6g}, expected {expected:.6g}"
        for wrong, hint in LR_MISTAKES:
            if all(math.isclose(transformer_lr(*case), wrong(*case), rel_tol=1e-12) for case in LR_CASES):
                raise Wrong(f"{problem}: {hint}")
        if step < warmup:
            raise Wrong(
                f"{problem}: during warm-up (step < warmup) the rate is factor * d_model^-0.5 * step * warmup^-1.5"
            )
        raise Wrong(f"{problem}: after warm-up the rate is factor * d_model^-0.5 * step^-0.5")


# --- 06.4 clip_grad_norm --------------------------------------------------------------------


def _clip_problem(clip_grad_norm, grads, max_norm, what):
    """Clip copies of `grads` with the candidate and the reference; what is wrong, or None."""
    arrays = {name: g.copy() for name, g in grads.items()}  # what the model holds
    given, expected = dict(arrays), {name: g.copy() for name, g in grads.items()}
    norm, expected_norm = clip_grad_norm(given, max_norm), optim.clip_grad_norm(expected, max_norm)
    call = f"clip_grad_norm({what}, max_norm={max_norm})"
    for name, g in expected.items():
        if np.array_equal(arrays[name], g, equal_nan=True):
            continue
        problem = compare(f"grads['{name}']", arrays[name], g, rtol=1e-12, atol=1e-15)
        if not problem:
            continue
        if not compare(f"grads['{name}']", given[name], g, rtol=1e-12, atol=1e-15):
            return (
                f"{call}: grads['{name}'] was replaced by a new array, not scaled in place: model.gradients() "
                "holds the old one (g *= scale, not grads[name] = ...)"
            )
        if not math.isfinite(expected_norm):
            return f"{call}: {problem}: an infinite or NaN norm must leave the gradients as they are (no scale repairs them)"
        if expected_norm <= max_norm:
            return f"{call}: {problem}: the norm {expected_norm:g} is not above max_norm={max_norm}, so nothing changes"
        per_tensor = {n: a * min(1.0, max_norm / np.linalg.norm(a)) for n, a in grads.items()}
        if all(np.allclose(arrays[n], per_tensor[n]) for n in grads):
            return (
                f"{call}: {problem}: the norm is per tensor, not global: one norm over all the tensors together, "
                "and one scale, max_norm / norm, for all of them (clipping each on its own changes the direction of the update)"
            )
        return f"{call}: {problem}"
    if not isinstance(norm, float | int | np.floating):
        return f"{call} returned {norm!r}, expected the norm before clipping, {expected_norm:g}"
    if not (math.isclose(norm, expected_norm, rel_tol=1e-12) or (math.isnan(norm) and math.isnan(expected_norm))):
        return f"{call} returned {norm:g}, expected {expected_norm:g}: return the global norm from before clipping"
    return None


@exercise("06.4", "clip_grad_norm", reference=lambda: optim.clip_grad_norm, uses="the library's clip_grad_norm")
def check_clip_grad_norm(clip_grad_norm):
    rng = np.random.default_rng(6)
    cases = [
        ({"a": np.array([3.0, 0.0]), "b": np.array([[0.0], [4.0]])}, 1.0, "a of norm 3 and b of norm 4"),
        ({"a": np.array([0.3, 0.4])}, 1.0, "a of norm 0.5"),
        (
            {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4), "E": rng.standard_normal((2, 5))},
            2.0,
            "three random tensors",
        ),
        ({"a": np.array([np.inf, 1.0])}, 1.0, "a = [inf, 1]"),
    ]
    for grads, max_norm, what in cases:
        problem = _clip_problem(clip_grad_norm, grads, max_norm, what)
        if problem:
            raise Wrong(problem)
