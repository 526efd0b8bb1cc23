"""Checks of notebook 05's exercises: the positional table, residual_backward, Dropout, the
backward passes of EncoderLayer, DecoderLayer and Decoder (with dropout off and on), the key/value
cache's self_attend, and greedy_decode's loop."""

import numpy as np

from bytetrans_lib import config, decoding, embedding, layers, norm, tokenizer, transformer
from bytetrans_lib.exercises import Wrong, compare, exercise
from bytetrans_lib.tokenizer import BOS_ID, EOS_ID, PAD_ID


def _part(name):
    """The part of a module a parameter belongs to: 'ffn' for 'ffn.linear_1.W', 'layers.1' for
    'layers.1.norm_2.gamma'."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "layers" else parts[0]


def _verdict(what, outputs, grads, expected_grads):
    """None if every output and every parameter gradient is right; else what is wrong: the wrong
    outputs, the first wrong gradient, and the parts whose gradients are wrong and right.

    outputs: name -> (got, expected); grads, expected_grads: parameter name -> gradient."""
    problems = [compare(name, got, expected) for name, (got, expected) in outputs.items()]
    wrong = [name for name in expected_grads if compare(name, grads.get(name), expected_grads[name])]
    if wrong:
        problems.append(compare(f"grads['{wrong[0]}']", grads.get(wrong[0]), expected_grads[wrong[0]]))
    problems = [p for p in problems if p]
    if not problems:
        return None
    message = f"{what}: " + "; ".join(problems)
    if not wrong:
        return message + " (every parameter's gradient is right)"
    parts = list(dict.fromkeys(_part(name) for name in expected_grads))
    bad = [p for p in parts if any(_part(name) == p for name in wrong)]
    right = [p for p in parts if p not in bad]
    message += f" (the gradients of {', '.join(bad)} are wrong"
    return message + (f"; those of {', '.join(right)} are right)" if right else ")")


def _same(got, guess):
    """Whether `got` is the array `guess` (to round-off): a planted mistake that `got` reproduces."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return guess is not None and got.shape == np.shape(guess) and np.allclose(got, guess)


def _copy_parameters(mine, ref):
    for name, p in mine.parameters().items():
        p[...] = ref.parameters()[name]


def _tiny(norm_first, **sizes):
    """The tiny float64 configuration of the checks: C = 8, H = 2, F = 12."""
    sizes = {"d_model": 8, "n_heads": 2, "d_ff": 12, "max_len": 16, **sizes}
    return config.Config(**sizes, norm_first=norm_first, dtype="float64")


def _variant(norm_first):
    return "pre-LN" if norm_first else "post-LN"


DROPOUT, MASK_SEED = 0.5, 7  # the layers' checks in training mode: p and the seed of both generators
TRAINING = f"in training mode, dropout p = {DROPOUT}"


# --- 05.1 the positional-encoding table ---------------------------------------------------


def _table(max_len, d_model, *, swap=False, exponent=2, first_position=0, divide=True):
    """The sinusoidal table, or one of the usual mistakes (sin and cos swapped, exponent i/C
    instead of 2i/C, positions counted from 1, the frequency multiplied instead of divided)."""
    pos = np.arange(first_position, first_position + max_len)[:, None]
    two_i = np.arange(0, d_model, 2)
    power = 10000.0 ** (two_i * exponent / 2 / d_model)
    angle = pos / power if divide else pos * power
    even, odd = (np.cos, np.sin) if swap else (np.sin, np.cos)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = even(angle)
    pe[:, 1::2] = odd(angle[:, : d_model // 2])
    return pe


PE_MISTAKES = [
    ({"swap": True}, "the even features 2i hold the sine, the odd features 2i + 1 the cosine"),
    ({"exponent": 1}, "the exponent is 2i / d_model, with 2i the even feature index (0, 2, 4, ...), not i"),
    ({"first_position": 1}, "positions count from 0: row 0 is sin 0 = 0 and cos 0 = 1"),
    ({"divide": False}, "the angle is p / 10000^(2i/d_model): divide the position by the power, do not multiply"),
]


@exercise(
    "05.1", "positional_table", reference=lambda: embedding.positional_table, uses="the library's positional_table"
)
def check_positional_table(positional_table):
    for max_len, d_model in [(12, 8), (6, 5)]:
        name = f"positional_table({max_len}, {d_model})"
        try:
            got = positional_table(max_len, d_model)
        except (ValueError, IndexError) as e:
            if d_model % 2 == 0:
                raise
            raise Wrong(
                f"{name} raised {type(e).__name__}: {e}. An odd d_model has one "
                "cosine fewer than sines: pe[:, 1::2] takes angle[:, : d_model // 2]"
            ) from None
        expected = embedding.positional_table(max_len, d_model)
        problem = compare(name, got, expected, rtol=1e-12, atol=1e-12)
        if problem:
            got = np.asarray(got, dtype=np.float64)
            for mistake, hint in PE_MISTAKES:
                if got.shape == expected.shape and np.allclose(got, _table(max_len, d_model, **mistake)):
                    problem += f": {hint}"
                    break
            raise Wrong(problem)


# --- 05.2 residual_backward ---------------------------------------------------------------


def _residual_case(norm_first, seed=3):
    """A LayerNorm (gamma and beta random) and a FeedForward, run through residual(), and a dout:
    the same objects, in the same state, at every call with the same arguments."""
    rng = np.random.default_rng(seed)
    C = 6
    ln = norm.LayerNorm(C, dtype=np.float64)
    ln.params["gamma"][...] = 1 + 0.5 * rng.standard_normal(C)
    ln.params["beta"][...] = rng.standard_normal(C)
    ffn = layers.FeedForward(C, 10, rng=rng, dtype=np.float64)
    x = 2 * rng.standard_normal((2, 3, C)) + 1  # (B, T, C), deliberately not normalised
    transformer.residual(x, ln, ffn.forward, norm_first)
    return ln, ffn, rng.standard_normal((2, 3, C))


def _residual_grads(ln, ffn):
    return {f"norm.{k}": g for k, g in ln.grads.items()} | {f"ffn.{k}": g for k, g in ffn.gradients().items()}


def _no_identity(d, ln, f, norm_first):
    return ln.backward(f(d)) if norm_first else f(ln.backward(d))


def _swapped(d, ln, f, norm_first):
    return transformer.residual_backward(d, ln, f, not norm_first)


def _no_norm(d, ln, f, norm_first):
    return d + f(d)


def _branch_reversed(d, ln, f, norm_first):  # pre-LN: the norm's backward before the sublayer's
    return d + f(ln.backward(d)) if norm_first else None


def _sublayer_on_dout(d, ln, f, norm_first):  # post-LN: the sublayer's backward fed dout, not dz
    return None if norm_first else ln.backward(d) + f(d)


RESIDUAL_MISTAKES = [
    (
        _no_identity,
        "the identity path is missing: x also reaches the output directly, so dx is the branch's "
        "gradient plus the identity path's (in pre-LN dout itself, in post-LN dz)",
    ),
    (
        _swapped,
        "the two orders are swapped: norm_first=True is pre-LN, out = x + f(LN(x)), whose norm runs first "
        "in forward and so last in backward; norm_first=False is post-LN, out = LN(x + f(x))",
    ),
    (
        _no_norm,
        "the norm's backward is skipped: the gradient must go back through the LayerNorm too "
        "(call norm.backward once, in the branch in pre-LN, first of all in post-LN)",
    ),
    (
        _branch_reversed,
        "in the branch, forward ran the norm first and the sublayer last, so backward runs "
        "sublayer_backward first, then norm.backward",
    ),
    (
        _sublayer_on_dout,
        "after norm.backward, both paths of z = x + f(x) start from dz: the sublayer's backward takes dz, not dout",
    ),
]


def _residual_hint(dx, norm_first, grads, expected_grads):
    for mistake, hint in RESIDUAL_MISTAKES:
        ln, ffn, dout = _residual_case(norm_first)
        if _same(dx, mistake(dout, ln, ffn.backward, norm_first)):
            return hint
    if any(_same(grads[name], 2 * g) for name, g in expected_grads.items() if np.any(g)):
        return (
            "a gradient is twice the course's: call norm.backward and sublayer_backward once each "
            "(every call adds to the parameters' gradients)"
        )
    return None


@exercise(
    "05.2", "residual_backward", reference=lambda: transformer.residual_backward, uses="the library's residual_backward"
)
def check_residual_backward(residual_backward):
    for norm_first in (True, False):
        formula = "out = x + f(LN(x))" if norm_first else "out = LN(x + f(x))"
        what = f"{_variant(norm_first)} (norm_first={norm_first}, {formula}, f a FeedForward)"
        ln, ffn, dout = _residual_case(norm_first)
        ref_ln, ref_ffn, _ = _residual_case(norm_first)
        dx = residual_backward(dout, ln, ffn.backward, norm_first)
        expected = transformer.residual_backward(dout, ref_ln, ref_ffn.backward, norm_first)
        grads, expected_grads = _residual_grads(ln, ffn), _residual_grads(ref_ln, ref_ffn)
        message = _verdict(what, {"dx": (dx, expected)}, grads, expected_grads)
        if message:
            hint = _residual_hint(dx, norm_first, grads, expected_grads)
            raise Wrong(message + (f": {hint}" if hint else ""))


# --- 05.3 Dropout ------------------------------------------------------------------------

DRAW = "keep = self.rng.random(x.shape, dtype=np.float32) >= self.p"
EVAL_MODE = "in evaluation mode (self.training False, self.rng None, as eval_mode leaves them)"


def _dropout_pair(Dropout, p, seed):
    """The candidate's Dropout(p) and the library's: in training mode with generators seeded alike
    (seed), or in evaluation mode as eval_mode leaves them (seed None: training False, rng None)."""
    pair = Dropout(p), transformer.Dropout(p)
    for layer in pair:
        layer.training, layer.rng = seed is not None, None if seed is None else np.random.default_rng(seed)
    return pair


def _draws(seed, shape, n=1):
    """The first n float32 draws of a generator seeded with `seed`: the numbers of the masks."""
    rng = np.random.default_rng(seed)
    return [rng.random(shape, dtype=np.float32) for _ in range(n)]


def _scale_hint(out, x, p):
    """What the kept entries of out = x * keep * scale were scaled by, if it is a usual mistake."""
    out, x = np.asarray(out, dtype=np.float64), np.asarray(x, dtype=np.float64)
    kept = (np.abs(x) > 1e-12) & (np.abs(out) > 1e-12)
    if out.shape != x.shape or not kept.any():
        return None
    ratio = out[kept] / x[kept]
    if np.allclose(ratio, 1):
        return (
            f"forgot to scale: the kept entries are not divided by 1 - p; each entry is kept with probability "
            f"1 - p = {1 - p:g}, so x * keep alone has mean {1 - p:g} * x, and x * keep / (1 - p) keeps the mean x"
        )
    if np.allclose(ratio, 1 / p):
        return (
            f"scaled by p instead of 1 - p: the kept entries were divided by p = {p:g}; kept with probability "
            f"1 - p, they are divided by 1 - p = {1 - p:g} so that the mean stays x (with p its mean is "
            f"{(1 - p) / p:.3g} * x)"
        )
    if np.allclose(ratio, 1 - p):
        return f"the kept entries are multiplied by 1 - p = {1 - p:g}: divide by it, so that the mean stays x"
    return None


def _dropout_forward_hint(out, x, p, seed):
    (draw,) = _draws(seed, x.shape)
    if _same(out, x * (draw < p) / (1 - p)) or _same(out, x * (draw <= p) / (1 - p)):
        return (
            f"kept where it should drop: keep = draw < p keeps each entry with probability p = {p:g}, not "
            f"1 - p = {1 - p:g}; {DRAW} keeps it with probability 1 - p"
        )
    if _same(out, x * (np.random.default_rng(seed).random(x.shape) >= p) / (1 - p)):
        return (
            f"the mask was drawn in float64: draw it exactly as the exercise says, {DRAW}, so that it is the "
            "mask the same generator gives the course's Dropout"
        )
    hint = _scale_hint(out, x, p)
    if hint:
        return hint
    kept = np.mean(np.abs(np.asarray(out, dtype=np.float64)) > 1e-12)
    if abs(kept - p) < abs(kept - (1 - p)):
        return (
            f"it kept {kept:.0%} of the entries, about p = {p:g}: it keeps where it should drop; {DRAW} keeps "
            "each entry with probability 1 - p"
        )
    return (
        "the mask is not the one the check's generator, seeded like yours, draws: draw it once per forward, "
        f"exactly {DRAW}"
    )


def _dropout_backward_hint(dx, dout, p, seed):
    first, second = _draws(seed, dout.shape, 2)
    keep, new = first >= p, second >= p
    guesses = [
        (dout * keep, "backward forgot to scale"),
        (dout * keep / p, "backward scaled by p instead of 1 - p"),
        (dout * new / (1 - p), "backward drew a new mask"),
        (dout * new, "backward drew a new mask"),
        (dout, "backward passed dout through unchanged"),
    ]
    hint = next((hint for guess, hint in guesses if _same(dx, guess)), "it is not dout * keep / (1 - p)")
    return (
        f"{hint} (dx = dout * keep / (1 - p): the entries forward dropped get no gradient, the others forward's "
        "scale 1 / (1 - p); backward reads forward's mask from self.cache and never calls self.rng)"
    )


def _shape(value):
    try:
        return tuple(value)
    except TypeError:
        return None


def _dropout_train_case(Dropout, p, shape, seed):
    where = f"Dropout({p}) in training mode, x of shape {shape}"
    data = np.random.default_rng(seed + 100)
    x, dout = data.standard_normal(shape), data.standard_normal(shape)
    mine, ref = _dropout_pair(Dropout, p, seed)
    before = x.copy()
    out, expected = mine.forward(x), ref.forward(x)
    if not np.array_equal(x, before):
        raise Wrong(f"{where}: forward changed its input x in place: compute a new array, x * keep / (1 - p)")
    problem = compare("out", out, expected)
    if problem:
        raise Wrong(f"{where}: {problem}: {_dropout_forward_hint(out, x, p, seed)}")
    cache = mine.cache
    if not (isinstance(cache, tuple) and len(cache) == 2 and _shape(cache[1]) == shape):
        held = f"a tuple of {len(cache)}" if isinstance(cache, tuple) else f"an object of type {type(cache).__name__}"
        raise Wrong(
            f"{where}: out is right, but self.cache holds {held}, not (keep, x.shape): keep that pair in it, the "
            "shape second (backward reads the mask from it, and the door of backward checks dout against "
            "self.cache[1])"
        )
    dx, dx_expected = mine.backward(dout), ref.backward(dout)
    problem = compare("dx", dx, dx_expected)
    if problem:
        raise Wrong(f"{where}: out is right, but {problem}: {_dropout_backward_hint(dx, dout, p, seed)}")
    return x, dout


def _identity_case(mine, x, dout, where, stale=False):
    """forward(x) must be x and backward(dout) dout: Wrong naming `where` otherwise. stale: an
    earlier forward of `mine` drew a mask, which this backward must not use."""
    try:
        out = mine.forward(x)
    except (AttributeError, TypeError) as e:
        raise Wrong(
            f"{where}: forward raised {type(e).__name__}: {e}: it applied dropout in eval mode; unless "
            "self.training is True, forward returns x and draws nothing"
        ) from None
    problem = compare("out", out, x)
    if problem:
        raise Wrong(
            f"{where}: {problem}, expected x itself: it applied dropout in eval mode; unless self.training is "
            "True, forward returns x"
        )
    try:
        dx = mine.backward(dout)
    except (AttributeError, TypeError, IndexError) as e:
        raise Wrong(
            f"{where}: backward raised {type(e).__name__}: {e}: forward must store (None, x.shape) in "
            "self.cache when it drops nothing, and backward then returns dout"
        ) from None
    problem = compare("dx", dx, dout)
    if problem and stale:
        raise Wrong(
            f"{where}: {problem}, expected dout itself: backward used the mask of the earlier training-mode "
            "forward; every forward stores what it did, self.cache = (None, x.shape) when it dropped nothing"
        )
    if problem:
        raise Wrong(f"{where}: {problem}, expected dout itself: forward dropped nothing, so backward is the identity")


@exercise("05.3", "Dropout", reference=lambda: transformer.Dropout, uses="the library's Dropout")
def check_dropout(Dropout):
    for p, shape, seed in [(0.25, (3, 4, 10), 5), (0.6, (2, 7, 12), 11)]:
        x, dout = _dropout_train_case(Dropout, p, shape, seed)
    mine, _ = _dropout_pair(Dropout, 0.6, 5)
    mine.forward(x)
    mine.training, mine.rng = False, None  # eval_mode
    _identity_case(mine, x, dout, f"Dropout(0.6), after a training-mode forward, {EVAL_MODE}", stale=True)
    mine, _ = _dropout_pair(Dropout, 0.6, None)
    _identity_case(mine, x, dout, f"Dropout(0.6) {EVAL_MODE}")
    mine.rng = np.random.default_rng(3)
    _identity_case(mine, x, dout, "Dropout(0.6) with self.training False (and a generator in self.rng)")
    mine, _ = _dropout_pair(Dropout, 0.0, 5)
    with np.errstate(all="ignore"):
        out = mine.forward(x)
    problem = compare("out", out, x)
    if problem:
        out = np.asarray(out, dtype=np.float64)
        why = "kept where it should drop (draw < p is never true for p = 0)" if not np.any(out) else ""
        why = why or ("it divided by p = 0: scale by 1 / (1 - p)" if not np.isfinite(out).all() else "")
        raise Wrong(
            f"Dropout(0) in training mode: {problem}, expected x itself, since p = 0 drops nothing"
            + (f": {why}; {DRAW} keeps each entry with probability 1 - p" if why else "")
        )
    _identity_case(mine, x, dout, "Dropout(0) in training mode")
    mine, _ = _dropout_pair(Dropout, 0.25, 5)
    out = np.asarray(mine.forward(x.astype(np.float32)))
    if out.dtype != np.float32:
        raise Wrong(
            f"Dropout(0.25) in training mode on a float32 x: out has dtype {out.dtype}, expected float32, x's "
            "(x * keep / (1 - self.p) keeps it)"
        )


# --- 05.4 EncoderLayer.backward -----------------------------------------------------------


def _encoder_mistakes(norm_first):
    """Wrong backward passes a learner may write, as functions (layer, dout) -> dx."""
    rb = transformer.residual_backward

    def ffn_first(L, d, norm_first=norm_first):
        return rb(d, L.norm_2, L.ffn.backward, norm_first)

    def both(L, da):
        return np.add(*L.self_attn.backward(da))

    def branches_only(L, d):  # each residual without its identity path
        if norm_first:
            return L.norm_1.backward(both(L, L.norm_2.backward(L.ffn.backward(d))))
        return both(L, L.norm_1.backward(L.ffn.backward(L.norm_2.backward(d))))

    return [
        (
            lambda L, d: rb(ffn_first(L, d), L.norm_1, lambda da: L.self_attn.backward(da)[0], norm_first),
            "only the queries' gradient of self-attention reached dx: the sublayer read its input twice, as "
            "queries and as keys/values, so its input gradient is the sum of both (np.add(*self.self_attn.backward(da)))",
        ),
        (
            lambda L, d: rb(ffn_first(L, d), L.norm_1, lambda da: L.self_attn.backward(da)[1], norm_first),
            "only the keys/values' gradient of self-attention reached dx: the sublayer read its input twice, as "
            "queries and as keys/values, so its input gradient is the sum of both (np.add(*self.self_attn.backward(da)))",
        ),
        (
            lambda L, d: rb(rb(d, L.norm_1, lambda da: both(L, da), norm_first), L.norm_2, L.ffn.backward, norm_first),
            "backward goes through the sublayers in reverse: the feed-forward sublayer (the last one in forward) "
            "first, then self-attention",
        ),
        (
            lambda L, d: rb(ffn_first(L, d, not norm_first), L.norm_1, lambda da: both(L, da), not norm_first),
            f"this layer is {_variant(norm_first)}: pass self.norm_first to residual_backward",
        ),
        (
            branches_only,
            "the identity paths are missing: through a residual connection the input's gradient is dout itself "
            "plus the sublayer's; residual_backward adds both",
        ),
    ]


def _encoder_layers(EncoderLayer, norm_first, dropout=0.0):
    """The candidate and the reference EncoderLayer with the same weights, run forward on one batch;
    with dropout, in training mode with generators seeded alike (the same masks)."""
    cfg = _tiny(norm_first, dropout=dropout)
    ref = transformer.EncoderLayer(cfg, rng=np.random.default_rng(1))
    mine = EncoderLayer(cfg, rng=np.random.default_rng(1))
    _copy_parameters(mine, ref)
    if dropout:
        for layer in (mine, ref):
            transformer.train_mode(layer, np.random.default_rng(MASK_SEED))  # each its own generator, seeded alike
    rng = np.random.default_rng(2)
    src = tokenizer.pad_batch([[72, 105, 33, 10, 65], [79, 104, 258]])  # (2, 5), the second row padded
    x, dout = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 5, 8))
    mask = tokenizer.padding_mask(src)
    mine.forward(x, mask), ref.forward(x, mask)
    return mine, ref, dout


def _through(layer, name, skip, d):
    """The gradient d through layer.<name>.backward, or d itself when `name` is in skip."""
    return d if name in skip else getattr(layer, name).backward(d)


def _skipped(names):
    calls = " and ".join(f"{name}.backward" for name in names)
    return f"your backward does not pass the gradient through {calls}"


DROPOUT_ORDER = (
    "forward ran each sublayer, then its Dropout on the sublayer's output, so backward runs the Dropout's "
    "backward first: the sublayer's backward takes self.dropout_k.backward(d)"
)


def _encoder_dropout_mistakes():
    """Backward passes that leave the dropouts out, or run them after the sublayers: (L, d) -> dx."""
    rb = transformer.residual_backward

    def backward(L, d, skip=(), after=False):
        def ffn(a):
            if after:
                return _through(L, "dropout_2", skip, L.ffn.backward(a))
            return L.ffn.backward(_through(L, "dropout_2", skip, a))

        def attn(a):
            if after:
                return _through(L, "dropout_1", skip, np.add(*L.self_attn.backward(a)))
            return np.add(*L.self_attn.backward(_through(L, "dropout_1", skip, a)))

        return rb(rb(d, L.norm_2, ffn, L.norm_first), L.norm_1, attn, L.norm_first)

    why = {
        "dropout_1": "self-attention's output went through self.dropout_1 in forward, so its gradient goes back "
        "through self.dropout_1.backward before self.self_attn.backward",
        "dropout_2": "the feed-forward's output went through self.dropout_2 in forward, so its gradient goes back "
        "through self.dropout_2.backward before self.ffn.backward",
    }
    return [
        (
            lambda L, d: backward(L, d, skip=("dropout_1", "dropout_2")),
            f"{_skipped(['dropout_1', 'dropout_2'])}: {DROPOUT_ORDER}",
        ),
        (lambda L, d: backward(L, d, skip=("dropout_1",)), f"{_skipped(['dropout_1'])}: {why['dropout_1']}"),
        (lambda L, d: backward(L, d, skip=("dropout_2",)), f"{_skipped(['dropout_2'])}: {why['dropout_2']}"),
        (
            lambda L, d: backward(L, d, after=True),
            f"your backward runs the dropouts' backward after the sublayers': {DROPOUT_ORDER}",
        ),
    ]


def _dropout_verdict(message, same_as, mistakes, names):
    """Wrong for a layer that is right with dropout off but wrong in training mode: the mistake that
    same_as(wrong_backward) reproduces, or what such a backward usually misses."""
    for wrong_backward, hint in mistakes:
        if same_as(wrong_backward):
            raise Wrong(f"{message}: {hint}")
    raise Wrong(
        f"{message}: it is right with dropout off, so look at the dropouts: pass each sublayer's gradient through "
        f"its Dropout's backward ({', '.join(names)}) before the sublayer's backward"
    )


@exercise(
    "05.4", "EncoderLayer.backward", reference=lambda: transformer.EncoderLayer, uses="the library's EncoderLayer"
)
def check_encoder_layer_backward(EncoderLayer):
    for norm_first in (True, False):
        mine, ref, dout = _encoder_layers(EncoderLayer, norm_first)
        dx, dx_ref = mine.backward(dout), ref.backward(dout)
        what = f"EncoderLayer ({_variant(norm_first)})"
        message = _verdict(what, {"dx": (dx, dx_ref)}, mine.gradients(), ref.gradients())
        if not message:
            continue
        for wrong_backward, hint in _encoder_mistakes(norm_first):
            _, layer, _ = _encoder_layers(transformer.EncoderLayer, norm_first)
            if _same(dx, wrong_backward(layer, dout)):
                message += f": {hint}"
                break
        raise Wrong(message)
    mine, ref, dout = _encoder_layers(EncoderLayer, True, DROPOUT)
    dx, dx_ref = mine.backward(dout), ref.backward(dout)
    message = _verdict(f"EncoderLayer (pre-LN, {TRAINING})", {"dx": (dx, dx_ref)}, mine.gradients(), ref.gradients())
    if message:

        def same_as(wrong_backward):
            _, layer, _ = _encoder_layers(transformer.EncoderLayer, True, DROPOUT)
            return _same(dx, wrong_backward(layer, dout))

        _dropout_verdict(message, same_as, _encoder_dropout_mistakes(), ["self.dropout_1", "self.dropout_2"])


# --- 05.5 DecoderLayer.backward -----------------------------------------------------------

TGT = tokenizer.pad_batch([[BOS_ID, 67, 104, 97], [BOS_ID, 79, 104]])  # (2, 4): the second row padded
SRC = tokenizer.pad_batch([[72, 105, 33, 10, 65, EOS_ID], [79, 104, EOS_ID]])  # (2, 6): T_src != T_tgt


def _decoder_layers(DecoderLayer, norm_first, dropout=0.0):
    """The candidate and the reference DecoderLayer with the same weights, run forward on one
    batch: y (2, 4, 8), memory (2, 6, 8); and dout (2, 4, 8). With dropout, in training mode with
    generators seeded alike (the same masks)."""
    cfg = _tiny(norm_first, dropout=dropout)
    ref = transformer.DecoderLayer(cfg, rng=np.random.default_rng(1))
    mine = DecoderLayer(cfg, rng=np.random.default_rng(1))
    _copy_parameters(mine, ref)
    if dropout:
        for layer in (mine, ref):
            transformer.train_mode(layer, np.random.default_rng(MASK_SEED))  # each its own generator, seeded alike
    rng = np.random.default_rng(2)
    y, memory, dout = (rng.standard_normal(shape) for shape in [(2, 4, 8), (2, 6, 8), (2, 4, 8)])
    masks = tokenizer.target_mask(TGT), tokenizer.padding_mask(SRC)
    mine.forward(y, memory, *masks), ref.forward(y, memory, *masks)
    return mine, ref, dout


def _decoder_layer_backward(
    L, d, *, self_grads=lambda g: np.add(*g), norm_first=None, forward_order=False, skip=(), after=False
):
    """DecoderLayer.backward, or one of the usual mistakes: -> (dy, dmemory). skip: the dropouts left
    out; after: each dropout's backward run after its sublayer's instead of before."""
    norm_first = L.norm_first if norm_first is None else norm_first
    kept = {}

    def cross(da):
        da_q, kept["dmemory"] = L.cross_attn.backward(da)
        return da_q

    def dropped(name, f):  # the sublayer's backward f, behind (or, wrongly, after) its dropout's
        if after:
            return lambda da: _through(L, name, skip, f(da))
        return lambda da: f(_through(L, name, skip, da))

    steps = [
        (L.norm_3, dropped("dropout_3", L.ffn.backward)),
        (L.norm_2, dropped("dropout_2", cross)),
        (L.norm_1, dropped("dropout_1", lambda da: self_grads(L.self_attn.backward(da)))),
    ]
    for n, f in steps[::-1] if forward_order else steps:
        d = transformer.residual_backward(d, n, f, norm_first)
    return d, kept["dmemory"]


def _decoder_dropout_mistakes():
    """The training-mode mistakes: (keyword arguments of _decoder_layer_backward, hint)."""
    why = {
        "dropout_1": "self-attention's output went through self.dropout_1 in forward",
        "dropout_2": "cross-attention's output went through self.dropout_2 in forward, so both of its gradients "
        "(dy's share and dmemory) start from self.dropout_2.backward(da)",
        "dropout_3": "the feed-forward's output went through self.dropout_3 in forward",
    }
    names = ["dropout_1", "dropout_2", "dropout_3"]
    return (
        [({"skip": tuple(names)}, f"{_skipped(names)}: {DROPOUT_ORDER}")]
        + [({"skip": (name,)}, f"{_skipped([name])}: {why[name]}") for name in names]
        + [({"after": True}, f"your backward runs the dropouts' backward after the sublayers': {DROPOUT_ORDER}")]
    )


def _decoder_layer_mistakes(norm_first):
    both = "its input gradient is the sum of both (np.add(*self.self_attn.backward(da)))"
    return [
        (
            {"self_grads": lambda g: g[0]},
            "only the queries' gradient of self-attention reached dy: self-attention read its input twice, "
            f"as queries and as keys/values, so {both}",
        ),
        (
            {"self_grads": lambda g: g[1]},
            "only the keys/values' gradient of self-attention reached dy: self-attention read its input twice, "
            f"as queries and as keys/values, so {both}",
        ),
        (
            {"forward_order": True},
            "backward goes through the sublayers in reverse: feed-forward first (the last in forward), then "
            "cross-attention, then self-attention",
        ),
        (
            {"norm_first": not norm_first},
            f"this layer is {_variant(norm_first)}: pass self.norm_first to residual_backward",
        ),
    ]


def _decoder_layer_hint(dy, dmemory, memory_shape, y_shape, norm_first):
    """A question that points at the likely mistake, from what dy and dmemory look like."""
    take = "the second gradient that self.cross_attn.backward(da) returns, its keys/values'"
    if dmemory is None or (np.shape(dmemory) == memory_shape and not np.any(dmemory)):
        return f"memory's gradient was lost: dmemory is {take}; keep it (e.g. in a nonlocal variable) and return it"
    if np.shape(dmemory) == y_shape:
        return (
            f"dmemory has the shape of y, {y_shape}: it is a gradient of the decoder's own positions, such as "
            f"self-attention's keys/values'; memory {memory_shape} is read by cross-attention alone, as its keys "
            f"and values, so dmemory is {take}"
        )
    for kwargs, hint in _decoder_layer_mistakes(norm_first):
        _, layer, dout = _decoder_layers(transformer.DecoderLayer, norm_first)
        guess_dy, guess_dmemory = _decoder_layer_backward(layer, dout, **kwargs)
        if _same(dy, guess_dy) and _same(dmemory, guess_dmemory):
            return hint
    return None


@exercise(
    "05.5",
    "DecoderLayer.backward",
    reference=lambda: transformer.DecoderLayer.backward,
    uses="the course's DecoderLayer.backward",
    method="backward",
)
def check_decoder_layer_backward(DecoderLayer):
    for norm_first in (True, False):
        what = f"DecoderLayer ({_variant(norm_first)})"
        mine, ref, dout = _decoder_layers(DecoderLayer, norm_first)
        dy_ref, dmemory_ref = ref.backward(dout)
        try:
            got = mine.backward(dout)
        except (ValueError, TypeError) as e:  # shapes that do not add up, usually
            raise Wrong(
                f"{what}: backward raised {type(e).__name__}: {e}. Cross-attention's two gradients have different "
                f"shapes: its queries' (B, T_tgt, C) = {dy_ref.shape} goes on down the residual stream (return it "
                f"to residual_backward), its keys/values' (B, T_src, C) = {dmemory_ref.shape} is memory's gradient, "
                "dmemory: do not add them"
            ) from None
        if not (isinstance(got, tuple) and len(got) == 2):
            raise Wrong(
                f"{what}: backward returned {type(got).__name__}, expected two gradients, (dy, dmemory), "
                f"of shapes {dy_ref.shape} and {dmemory_ref.shape}"
            )
        dy, dmemory = got
        outputs = {"dy": (dy, dy_ref), "dmemory": (dmemory, dmemory_ref)}
        message = _verdict(what, outputs, mine.gradients(), ref.gradients())
        if message:
            hint = _decoder_layer_hint(dy, dmemory, dmemory_ref.shape, dy_ref.shape, norm_first)
            raise Wrong(message + (f": {hint}" if hint else ""))
    mine, ref, dout = _decoder_layers(DecoderLayer, True, DROPOUT)
    (dy_ref, dmemory_ref), (dy, dmemory) = ref.backward(dout), mine.backward(dout)
    outputs = {"dy": (dy, dy_ref), "dmemory": (dmemory, dmemory_ref)}
    message = _verdict(f"DecoderLayer (pre-LN, {TRAINING})", outputs, mine.gradients(), ref.gradients())
    if message:

        def same_as(kwargs):
            _, layer, _ = _decoder_layers(transformer.DecoderLayer, True, DROPOUT)
            guess_dy, guess_dmemory = _decoder_layer_backward(layer, dout, **kwargs)
            return _same(dy, guess_dy) and _same(dmemory, guess_dmemory)

        names = ["self.dropout_1", "self.dropout_2", "self.dropout_3"]
        _dropout_verdict(message, same_as, _decoder_dropout_mistakes(), names)


# --- 05.6 Decoder.backward ----------------------------------------------------------------


def _decoders(Decoder, norm_first, dropout=0.0):
    """The candidate and the reference Decoder of 2 layers with the same weights, run forward on
    TGT (2, 4) and a memory (2, 6, 8); and dout (2, 4, 8). With dropout, in training mode with
    generators seeded alike (the same masks)."""
    cfg = _tiny(norm_first, n_encoder_layers=1, n_decoder_layers=2, dropout=dropout)
    ref = transformer.Decoder(cfg, rng=np.random.default_rng(1))
    mine = Decoder(cfg, rng=np.random.default_rng(1))
    _copy_parameters(mine, ref)
    if dropout:
        for layer in (mine, ref):
            transformer.train_mode(layer, np.random.default_rng(MASK_SEED))  # each its own generator, seeded alike
    rng = np.random.default_rng(3)
    memory, dout = rng.standard_normal((2, 6, 8)), rng.standard_normal((2, 4, 8))
    masks = tokenizer.target_mask(TGT), tokenizer.padding_mask(SRC)
    mine.forward(TGT, memory, *masks), ref.forward(TGT, memory, *masks)
    return mine, ref, dout


def _memory_shares(norm_first, *, final_norm=True, forward_order=False):
    """Each layer's share of dmemory, {layer index: (B, T_src, C)}, in a backward written that way."""
    _, dec, dout = _decoders(transformer.Decoder, norm_first)
    dy = dec.norm.backward(dout) if dec.norm and final_norm else dout
    shares = {}
    for i in range(len(dec.layers)) if forward_order else reversed(range(len(dec.layers))):
        dy, shares[i] = dec.layers[i].backward(dy)
    return shares


def _decoder_hint(dmemory, grads, expected_grads, norm_first):
    n = len(_memory_shares(norm_first))
    if dmemory is None:
        return f"Decoder.backward returns dmemory, the sum of the {n} layers' memory gradients"
    for i, share in _memory_shares(norm_first).items():
        if _same(dmemory, share):
            which = "the first in forward, whose backward runs last" if i == 0 else "the last in forward"
            return (
                f"dmemory is layer {i}'s memory gradient alone ({which}): every layer's cross-attention reads "
                f"memory, so dmemory is the sum of all {n} layers' (dmemory += dm, not dmemory = dm)"
            )
    if norm_first and _same(dmemory, sum(_memory_shares(norm_first, final_norm=False).values())):
        return "the final norm is skipped: in pre-LN, forward ended with self.norm, so backward starts with self.norm.backward(dout)"
    if _same(dmemory, sum(_memory_shares(norm_first, forward_order=True).values())):
        return "backward visits the layers in reverse: for layer in reversed(self.layers)"
    if not np.any(grads["embedding.E"]) and np.any(expected_grads["embedding.E"]):
        return (
            "the embedding table's gradient is all zeros: after the layers, hand dy through the positions' "
            "backward to the embedding's, self.embedding.backward(self.positions.backward(dy))"
        )
    return None


@exercise(
    "05.6",
    "Decoder.backward",
    reference=lambda: transformer.Decoder.backward,
    uses="the course's Decoder.backward",
    method="backward",
)
def check_decoder_backward(Decoder):
    for norm_first in (True, False):
        what = f"Decoder ({_variant(norm_first)}, 2 layers)"
        mine, ref, dout = _decoders(Decoder, norm_first)
        dmemory, dmemory_ref = mine.backward(dout), ref.backward(dout)
        grads, expected_grads = mine.gradients(), ref.gradients()
        message = _verdict(what, {"dmemory": (dmemory, dmemory_ref)}, grads, expected_grads)
        if message:
            hint = _decoder_hint(dmemory, grads, expected_grads, norm_first)
            raise Wrong(message + (f": {hint}" if hint else ""))
    mine, ref, dout = _decoders(Decoder, True, DROPOUT)
    dmemory, dmemory_ref = mine.backward(dout), ref.backward(dout)
    grads, expected_grads = mine.gradients(), ref.gradients()
    message = _verdict(
        f"Decoder (pre-LN, 2 layers, {TRAINING})", {"dmemory": (dmemory, dmemory_ref)}, grads, expected_grads
    )
    if message:
        _, dec, _ = _decoders(transformer.Decoder, True, DROPOUT)
        dy = dec.norm.backward(dout)
        for layer in reversed(dec.layers):
            dy, _ = layer.backward(dy)
        dec.embedding.backward(dec.positions.backward(dy))  # without self.dropout.backward
        if _same(grads["embedding.E"], dec.gradients()["embedding.E"]):
            raise Wrong(
                f"{message}: {_skipped(['self.dropout'])}: forward ran the embeddings plus positions through "
                "self.dropout, so the gradient goes back through self.dropout.backward(dy), then the positions' "
                "and the embedding's backward"
            )
        raise Wrong(
            f"{message}: it is right with dropout off, so look at the dropout: after the layers, "
            "self.embedding.backward(self.positions.backward(self.dropout.backward(dy)))"
        )


# --- 05.7 DecoderCache.self_attend ----------------------------------------------------------

# Teacher-forced ids, fed one column per step: sentence 0 holds PAD at positions 3, 6 and 7 (a
# PAD in the middle, as an untrained model's argmax may write, and PAD after EOS); sentence 1 none.
CACHE_TGT = np.array(
    [
        [BOS_ID, 67, 97, PAD_ID, 118, EOS_ID, PAD_ID, PAD_ID],
        [BOS_ID, 79, 104, 33, 110, 111, 33, 46],
    ]
)
CACHE_SRC = tokenizer.pad_batch([[72, 105, EOS_ID], [79, 104, 33, 10, EOS_ID]])  # (2, 5)


def _attend_only_new(self, i, attention, a):
    t, K, V = self.length, self.keys[i], self.values[i]
    K[:, :, t : t + 1], V[:, :, t : t + 1] = attention.keys_values(a)
    return attention.attend(a, K[:, :, t : t + 1], V[:, :, t : t + 1], self.real[:, None, None, t : t + 1])


def _attend_without_pad_mask(self, i, attention, a):
    t, K, V = self.length, self.keys[i], self.values[i]
    K[:, :, t : t + 1], V[:, :, t : t + 1] = attention.keys_values(a)
    return attention.attend(a, K[:, :, : t + 1], V[:, :, : t + 1])


def _attend_before_t(self, i, attention, a):
    t, K, V = self.length, self.keys[i], self.values[i]
    K[:, :, t : t + 1], V[:, :, t : t + 1] = attention.keys_values(a)
    return attention.attend(a, K[:, :, :t], V[:, :, :t], self.real[:, None, None, :t])


CACHE_MISTAKES = [
    (
        _attend_only_new,
        "the new position attended to itself alone: it attends to every real position 0..t, the ones cached "
        "at the steps before too: K[:, :, : t + 1] and V[:, :, : t + 1]",
    ),
    (
        _attend_without_pad_mask,
        "PAD keys must be hidden, as model.decode's target mask hides them: pass the mask of the real positions "
        "0..t, self.real[:, None, None, : t + 1]",
    ),
    (
        _attend_before_t,
        "the new position must attend to itself too: positions 0..t, t included (: t + 1)",
    ),
]


def _cache_model(norm_first):
    model = transformer.Transformer(
        _tiny(norm_first, n_encoder_layers=1, n_decoder_layers=2, max_len=12), rng=np.random.default_rng(4)
    )
    memory, src_mask = model.encode(CACHE_SRC)
    return model, memory, src_mask


def _new_cache(DecoderCache, model, memory, src_mask):
    """A cache whose buffers hold NaN where nothing was written: np.empty may hold anything."""
    cache = DecoderCache(model, memory, src_mask)
    for buffer in cache.keys + cache.values:
        buffer[...] = np.nan
    return cache


def _step(model, cache, t):
    """decode_step's logits at position t, or None when they are not finite (decode_step refuses them)."""
    try:
        with np.errstate(all="ignore"):
            return decoding.decode_step(model, cache, CACHE_TGT[:, t])
    except ValueError as e:
        if "NaN or infinite" in str(e):
            return None
        raise


def _mistake_logits(norm_first, mistake, steps):
    """The logits at step `steps` of a cache whose self_attend is `mistake`."""
    model, memory, src_mask = _cache_model(norm_first)
    Cache = type("DecoderCache", (decoding.DecoderCache,), {"self_attend": mistake})
    cache = _new_cache(Cache, model, memory, src_mask)
    for t in range(steps + 1):
        logits = _step(model, cache, t)
    return logits


def _buffer_problem(cache, ref, t, layers):
    """What is wrong with position t of the buffers of these layers after step t, or None."""
    for i, name in ((i, name) for i in layers for name in ("keys", "values")):
        got, expected = getattr(cache, name)[i], getattr(ref, name)[i]
        if np.allclose(got[:, :, t], expected[:, :, t]):
            continue
        if t + 1 < got.shape[2] and np.allclose(got[:, :, t + 1], expected[:, :, t]):
            return (
                f"the new position's {name[:-1]} went to position t + 1 = {t + 1} of self.{name}[{i}], not to "
                f"t = {t} (write it at self.length: K[:, :, t : t + 1])"
            )
        return (
            f"position t = {t} of self.{name}[{i}] does not hold its {name[:-1]} after the step: write the new "
            f"position's key and value into the buffers themselves (K[:, :, t : t + 1] = ...), so that the "
            "next steps find them there"
        )
    return None


@exercise(
    "05.7",
    "DecoderCache.self_attend",
    reference=lambda: decoding.DecoderCache.self_attend,
    uses="the course's DecoderCache.self_attend",
    method="self_attend",
)
def check_cache_self_attend(DecoderCache):
    for norm_first in (True, False):
        what = f"decode_step with your DecoderCache ({_variant(norm_first)} model, 2 decoder layers)"
        model, memory, src_mask = _cache_model(norm_first)
        cache = _new_cache(DecoderCache, model, memory, src_mask)
        ref = _new_cache(decoding.DecoderCache, model, memory, src_mask)
        for t in range(CACHE_TGT.shape[1]):
            where = f"{what}, step {t + 1} (position t = {t})"
            try:
                logits = _step(model, cache, t)
            except (ValueError, IndexError, TypeError) as e:
                raise Wrong(
                    f"{where}: it raised {type(e).__name__}: {e} (keys_values(a) gives K and V of shape "
                    "(B, H, 1, Dh); attend takes K and V of shape (B, H, t + 1, Dh) and a mask that broadcasts "
                    "to (B, H, 1, t + 1))"
                ) from None
            _step(model, ref, t)
            expected = model.decode(CACHE_TGT[:, : t + 1], memory, src_mask)[:, -1]  # (B, V)
            problem = _buffer_problem(cache, ref, t, [0])  # layer 0's input is the embedding, whatever else
            if problem:
                raise Wrong(f"{where}: {problem}")
            if logits is None:
                raise Wrong(
                    f"{where}: the logits are NaN: attention read positions after t, where the buffers hold "
                    "nothing yet (np.empty leaves whatever the memory held; here NaN): attend to "
                    "K[:, :, : t + 1] and V[:, :, : t + 1] only"
                )
            problem = compare("logits", logits, expected, rtol=1e-8, atol=1e-10)
            if not problem:
                problem = _buffer_problem(cache, ref, t, range(len(cache.keys)))  # right so far: every layer's
                if problem:
                    raise Wrong(f"{where}: the logits are right, but {problem}")
                continue
            for mistake, hint in CACHE_MISTAKES:
                guess = _mistake_logits(norm_first, mistake, t)
                if guess is not None and _same(logits, guess):
                    raise Wrong(f"{where}: {problem}, compared with model.decode on the prefix ({hint})")
            rows = [b for b in range(len(CACHE_TGT)) if not np.allclose(logits[b], expected[b], rtol=1e-8, atol=1e-10)]
            pads = [b for b in rows if PAD_ID in CACHE_TGT[b, : t + 1]]
            said = f"sentence {rows[0]}" + (" (whose prefix holds PAD)" if pads else "")
            raise Wrong(
                f"{where}: {problem}, compared with model.decode on the prefix; {said} is wrong (write the new key "
                "and value at t, then attend to the real positions 0..t)"
            )


# --- 05.8 greedy_decode's loop -----------------------------------------------------------

# A tiny model whose EOS logit is raised so that, for these four sentences, it wins after 3, 4,
# 6 and 4 steps (each argmax by a margin above 0.01, far from any float round-off).
TINY = {"d_model": 16, "n_heads": 2, "n_encoder_layers": 1, "n_decoder_layers": 1, "d_ff": 32, "max_len": 16}
TEXTS = ["Hi.", "The cat.", "Yes!", "Oh no"]


def _greedy_models(greedy_decode):
    """The tiny model twice: as the library's Transformer, and as the Transformer of the
    candidate's own namespace (in notebook 05, the notebook's class), with the same weights."""
    Transformer = getattr(greedy_decode, "__globals__", {}).get("Transformer", transformer.Transformer)
    Config = Transformer.__init__.__globals__.get("Config", config.Config)
    ref = transformer.Transformer(config.Config(**TINY, dtype="float64"), rng=np.random.default_rng(9))
    ref.output.params["b"][EOS_ID] = 3.0
    mine = Transformer(Config(**TINY, dtype="float64"), rng=np.random.default_rng(9))
    for name, p in mine.parameters().items():
        p[...] = ref.parameters()[name]
    return mine, ref


def _run(greedy_decode, model, max_len, use_cache):
    """greedy_decode's translations of TEXTS, and the ids it fed the decoder's embedding at every step."""
    fed, forward = [], model.decoder.embedding.forward

    def recording(ids):
        fed.append(np.array(ids))
        return forward(ids)

    src = tokenizer.pad_batch([tokenizer.encode(text, eos=True) for text in TEXTS])
    model.decoder.embedding.forward = recording
    try:
        tgt = greedy_decode(model, src, max_len, use_cache=use_cache)
    finally:
        del model.decoder.embedding.forward
    return [tokenizer.decode(row) for row in np.asarray(tgt)], fed


def _steps(fed, use_cache, where):
    """(B, steps): the newest id of each sentence that each decoder call was fed."""
    B = len(TEXTS)
    for k, ids in enumerate(fed, start=1):
        if use_cache and ids.shape != (B, 1):
            raise Wrong(
                f"{where}: at step {k} the decoder was fed ids of shape {ids.shape}; decode_step feeds the newest "
                f"byte of each sentence, tgt[:, -1] of shape ({B},)"
            )
        if not use_cache and ids.shape != (B, k):
            raise Wrong(
                f"{where}: at step {k} model.decode was fed ids of shape {ids.shape}, expected the whole prefix "
                f"({B}, {k}): BOS and every byte chosen so far"
            )
    return np.stack([ids[:, -1] for ids in fed], axis=1) if fed else np.zeros((B, 0), dtype=np.int64)


def _compare_steps(got, expected, max_len, where):
    for k in range(min(got.shape[1], expected.shape[1])):
        for b in np.flatnonzero(got[:, k] != expected[:, k]):
            g, e = int(got[b, k]), int(expected[b, k])
            said = f"{where}: at step {k + 1}, sentence {b} was fed {g}, expected {e}"
            if e == PAD_ID:
                eos = int(np.flatnonzero(expected[b] == EOS_ID)[0])
                raise Wrong(
                    f"{said} (PAD_ID): it produced EOS at step {eos}, and a finished sentence continues with PAD "
                    "(next_ids = np.where(done, PAD_ID, ...), and done stays True: done |= ...)"
                )
            if g == PAD_ID:
                raise Wrong(f"{said}: it has not produced EOS yet; done must only mark the sentences whose byte is EOS")
            raise Wrong(f"{said}: the byte chosen at step {k} is the argmax of the last position's logits")
    n, n_expected = got.shape[1], expected.shape[1]
    if n > n_expected:
        why = (
            f"every sentence had produced EOS after step {n_expected}: stop there (if done.all(): break)"
            if n_expected < max_len
            else f"max_len={max_len} bytes at most"
        )
        raise Wrong(f"{where}: the loop ran {n} steps, expected {n_expected}: {why}")
    if n < n_expected:
        open_ = [b for b in range(len(TEXTS)) if EOS_ID not in expected[b, 1 : n + 1]]
        if n_expected == max_len:
            why = f"a sentence that never produces EOS gets max_len={max_len} bytes, one per step (range(max_len))"
        elif open_ and n > 0:
            why = f"sentence {open_[0]} had not produced EOS yet; stop when every sentence is done (done.all())"
        else:
            why = f"keep going until every sentence is done or max_len={max_len} steps have run"
        raise Wrong(f"{where}: the loop stopped after {n} steps, expected {n_expected}: {why}")


@exercise("05.8", "greedy_decode's loop", reference=lambda: decoding.greedy_decode, uses="the library's greedy_decode")
def check_greedy_loop(greedy_decode):
    mine, ref = _greedy_models(greedy_decode)
    for use_cache in (True, False):
        for max_len in (12, 5):
            where = f"greedy_decode(model, src, max_len={max_len}, use_cache={use_cache}) on {TEXTS}"
            outputs, fed = _run(greedy_decode, mine, max_len, use_cache)
            expected_outputs, expected_fed = _run(decoding.greedy_decode, ref, max_len, use_cache)
            _compare_steps(_steps(fed, use_cache, where), _steps(expected_fed, use_cache, where), max_len, where)
            if outputs != expected_outputs:
                raise Wrong(
                    f"{where} wrote {outputs!r}, expected {expected_outputs!r}: append each step's bytes to tgt "
                    "(the last step's too)"
                )
