"""Checks of notebook 06's exercises: CrossEntropyLoss (the loss and its gradient), Adam.step,
clip_grad_norm and train_step."""

import math

import numpy as np

from bytetrans_lib import config, optim, tokenizer, transformer
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


# --- 06.3 clip_grad_norm --------------------------------------------------------------------


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


@exercise("06.3", "clip_grad_norm", reference=lambda: optim.clip_grad_norm, uses="the library's clip_grad_norm")
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


# --- 06.4 train_step ------------------------------------------------------------------------

_TINY = {"d_model": 8, "n_heads": 2, "n_encoder_layers": 1, "n_decoder_layers": 1, "d_ff": 12, "max_len": 12}
_FRENCH = ["Salut.", "Oui !"]
_BATCH = (  # src_ids (2, 5), tgt_in (2, 7), tgt_out (2, 7): a teacher-forcing batch with padding
    tokenizer.encode_batch(["Hi.", "Yes!"], eos=True),
    tokenizer.encode_batch(_FRENCH, bos=True),
    tokenizer.encode_batch(_FRENCH, eos=True),
)


class _Recording(optim.Adam):
    """The library's Adam, keeping a copy of the gradients handed to each step."""

    def __init__(self, params):
        super().__init__(params, lr=0.01)
        self.given = []

    def step(self, grads):
        self.given.append({name: np.array(g, dtype=np.float64) for name, g in grads.items()})
        super().step(grads)


def _tiny_run(spoil=None):
    """A tiny float64 Transformer (the same weights every time), its Adam and its loss."""
    model = transformer.Transformer(config.Config(**_TINY, dtype="float64"), rng=np.random.default_rng(6))
    if spoil:
        spoil(model.parameters())
    return model, _Recording(model.parameters()), optim.CrossEntropyLoss()


def _same(got, expected):
    return all(
        name in got and np.shape(got[name]) == g.shape and np.allclose(got[name], g, rtol=1e-9, atol=1e-12)
        for name, g in expected.items()
    )


def _params_problem(model, expected):
    """What is wrong with the parameters of `model` (None if each equals `expected`'s)."""
    for name, theta in expected.parameters().items():
        mine = model.parameters()[name]
        if not np.array_equal(mine, theta, equal_nan=True):
            problem = compare(f"params['{name}']", mine, theta, rtol=1e-9, atol=1e-12)
            if problem:
                return problem
    return None


def _returned(result, call):
    """(loss, norm) from what train_step returned, or Wrong."""
    if not (isinstance(result, tuple | list) and len(result) == 2):
        raise Wrong(f"{call} returned {result!r}, expected the tuple (loss, norm)")
    try:
        return float(result[0]), float(result[1])
    except (TypeError, ValueError):
        raise Wrong(f"{call} returned {result!r}, expected two numbers (loss, norm)") from None


def _grads_problem(given, expected):
    """What is wrong with the gradients handed to optimizer.step (None if they are the course's)."""
    for name, g in expected.items():
        if name not in given:
            return f"grads has no '{name}'"
        problem = compare(f"grads['{name}']", given[name], g, rtol=1e-9, atol=1e-12)
        if problem:
            return problem
    return None


def _grads_hint(mine, ref, model, k, max_norm, norm, first_step_right):
    """Why the gradients handed to optimizer.step differ from the course's."""
    given, expected = mine.given[-1], ref.given[-1]
    if norm > max_norm and _same(given, {n: g * (norm / max_norm) for n, g in expected.items()}):
        if _same(model.gradients(), expected):
            return "clip_grad_norm ran after optimizer.step, which took the gradients not yet clipped: clip first"
        return (
            f"they were not clipped (their norm is {norm:.6g}, above max_norm={max_norm}): "
            "clip_grad_norm(model.gradients(), max_norm) before the step"
        )
    if k == 2 and first_step_right:
        return (
            "right at step 1, wrong at step 2: are the gradients zeroed at the start of each step "
            "(model.zero_grad())? backward adds into model.gradients(), so step 2 would also hold step 1's"
        )
    return "zero the gradients, forward, loss, backward of the loss's gradient, then clip"


def _step_problem(train_step, max_norm):
    """Two steps of the candidate and of the course's train_step on identical tiny models."""
    (model, mine, loss_fn), (expected, ref, ref_loss_fn) = _tiny_run(), _tiny_run()
    first_step_right = False
    for k in (1, 2):
        with np.errstate(all="ignore"):
            result = train_step(model, loss_fn, mine, *_BATCH, max_norm=max_norm)
            loss, norm = optim.train_step(expected, ref_loss_fn, ref, *_BATCH, max_norm=max_norm)
        where = f"After step {k} with max_norm={max_norm}" + (
            " (clipping active)" if norm > max_norm else " (no clipping: the norm is below max_norm)"
        )
        got_loss, got_norm = _returned(result, f"{where}, train_step(...)")
        if len(mine.given) != len(ref.given):
            return f"{where}: optimizer.step ran {len(mine.given)} time(s), expected {k}: once per training step"
        problem = _grads_problem(mine.given[-1], ref.given[-1])
        if problem:
            hint = _grads_hint(mine, ref, model, k, max_norm, norm, first_step_right)
            return f"{where}: the gradients handed to optimizer.step are wrong ({problem}): {hint}"
        problem = _params_problem(model, expected)
        if problem:
            return (
                f"{where}: {problem}, although optimizer.step was handed the right gradients: step once, "
                "with them, and change no parameter otherwise"
            )
        if not math.isclose(got_loss, loss, rel_tol=1e-10):
            return (
                f"{where}: the returned loss is {got_loss:.6g}, expected {loss:.6g}: the batch's mean loss, "
                "what loss_fn.forward returns"
            )
        if not math.isclose(got_norm, norm, rel_tol=1e-10):
            problem = f"{where}: the returned norm is {got_norm:.6g}, expected {norm:.6g}"
            if norm > max_norm and math.isclose(got_norm, max_norm, rel_tol=1e-6):
                return (
                    problem
                    + ": that is the norm after clipping; return the norm before it, which clip_grad_norm returns"
                )
            return problem + ": return the global gradient norm from before clipping (what clip_grad_norm returns)"
        first_step_right = True
    return None


def _spoilt_problem(train_step, spoil, what):
    """One step of a model whose loss (or gradient norm) is not finite: nothing may move."""
    (model, mine, loss_fn), (expected, ref, ref_loss_fn) = _tiny_run(spoil), _tiny_run(spoil)
    with np.errstate(all="ignore"):
        result = train_step(model, loss_fn, mine, *_BATCH, max_norm=1.0)
        loss, norm = optim.train_step(expected, ref_loss_fn, ref, *_BATCH, max_norm=1.0)
    where = f"On a model whose {what}"
    got_loss, got_norm = _returned(result, f"{where}, train_step(...)")
    moved = _params_problem(model, expected)
    if mine.given or moved:
        moved = f" ({moved})" if moved else ""
        if math.isfinite(loss):
            return (
                f"{where}, optimizer.step ran{moved}: take the step only when the norm is finite "
                "(math.isfinite(norm)); clip_grad_norm leaves such gradients as they are"
            )
        return (
            f"{where}, optimizer.step ran{moved}: when the loss is not finite, return (loss, math.nan) "
            "before backward; no parameter may move"
        )
    if not (math.isnan(got_loss) if math.isnan(loss) else math.isclose(got_loss, loss, rel_tol=1e-10)):
        return f"{where}: the returned loss is {got_loss}, expected {loss}: return the loss as it is"
    if not (math.isnan(got_norm) if math.isnan(norm) else got_norm == norm):
        return f"{where}: the returned norm is {got_norm}, expected {norm}" + (
            ": a non-finite loss has no gradient to measure: return (loss, math.nan)" if math.isnan(norm) else ""
        )
    return None


def _nan_bias(params):
    params["output.b"][0] = np.nan  # one NaN: the loss is NaN


def _huge_output(params):
    params["output.W"][...] *= 1e155  # logits of 1e155: a finite loss, gradients whose squares overflow


@exercise("06.4", "train_step", reference=lambda: optim.train_step, uses="the library's train_step")
def check_train_step(train_step):
    for max_norm in (100.0, 0.5):  # clipping inactive, then active (the first norm is about 2.25)
        problem = _step_problem(train_step, max_norm)
        if problem:
            raise Wrong(problem)
    for spoil, what in ((_nan_bias, "loss is NaN"), (_huge_output, "loss is finite but whose gradient norm is inf")):
        problem = _spoilt_problem(train_step, spoil, what)
        if problem:
            raise Wrong(problem)
