"""Checks of notebook 05's exercises: Embedding.backward, the positional table,
EncoderLayer.backward and greedy_decode's loop."""

import numpy as np

from bytetrans_lib import config, decoding, embedding, tokenizer, transformer
from bytetrans_lib.exercises import Wrong, compare, exercise
from bytetrans_lib.tokenizer import EOS_ID, PAD_ID

# --- 05.1 Embedding.backward ------------------------------------------------------------


@exercise("05.1", "Embedding.backward", reference=lambda: embedding.Embedding, uses="the library's Embedding")
def check_embedding_backward(Embedding):
    rng = np.random.default_rng(5)
    mine = Embedding(12, 4, rng=np.random.default_rng(1), dtype=np.float64)
    ref = embedding.Embedding(12, 4, rng=np.random.default_rng(1), dtype=np.float64)
    mine.params["E"][...] = ref.params["E"]
    ids = np.array([[3, 3, 7, 3, 1], [7, 0, 3, 11, 11]])  # id 3 four times, 7 and 11 twice
    dout = rng.standard_normal((2, 5, 4))
    mine.forward(ids), ref.forward(ids)
    mine.backward(dout), ref.backward(dout)
    got, expected = mine.grads["E"], ref.grads["E"]
    problem = compare("grads['E']", got, expected)
    if problem:
        got = np.asarray(got, dtype=np.float64)
        buffered = np.zeros_like(expected)
        buffered[ids] += dout * ref.scale  # the writes of a repeated id overwrite each other
        if got.shape == expected.shape and np.allclose(got, buffered):
            problem += (
                ": the rows of repeated ids received one occurrence's gradient (id 3 is looked up 4 times). "
                "With E[ids] += ..., repeated indices overwrite each other; np.add.at adds every occurrence"
            )
        elif got.shape == expected.shape and np.allclose(got * ref.scale, expected):
            problem += (
                f": sqrt(d_model) = {ref.scale:g} times too small. forward multiplied the rows by self.scale, "
                "so their gradient is dout * self.scale"
            )
        raise Wrong(problem)
    mine.backward(dout)
    if not np.allclose(mine.grads["E"], 2 * expected):
        raise Wrong(
            "a second backward did not double grads['E']: add into self.grads['E'] (np.add.at adds into the "
            "array it is given), do not replace it"
        )


# --- 05.2 the positional-encoding table ---------------------------------------------------


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
    "05.2", "positional_table", reference=lambda: embedding.positional_table, uses="the library's positional_table"
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


# --- 05.3 EncoderLayer.backward -----------------------------------------------------------


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
            f"this layer is {'pre' if norm_first else 'post'}-LN: pass self.norm_first to residual_backward",
        ),
        (
            branches_only,
            "the identity paths are missing: through a residual connection the input's gradient is dout itself "
            "plus the sublayer's; residual_backward adds both",
        ),
    ]


def _encoder_layers(EncoderLayer, norm_first):
    """The candidate and the reference EncoderLayer with the same weights, run forward on one batch."""
    cfg = config.Config(d_model=8, n_heads=2, d_ff=12, max_len=16, norm_first=norm_first, dtype="float64")
    ref = transformer.EncoderLayer(cfg, rng=np.random.default_rng(1))
    mine = EncoderLayer(cfg, rng=np.random.default_rng(1))
    for name, p in mine.parameters().items():
        p[...] = ref.parameters()[name]
    rng = np.random.default_rng(2)
    src = tokenizer.pad_batch([[72, 105, 33, 10, 65], [79, 104, 258]])  # (2, 5), the second row padded
    x, dout = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 5, 8))
    mask = tokenizer.padding_mask(src)
    mine.forward(x, mask), ref.forward(x, mask)
    return mine, ref, dout


@exercise(
    "05.3", "EncoderLayer.backward", reference=lambda: transformer.EncoderLayer, uses="the library's EncoderLayer"
)
def check_encoder_layer_backward(EncoderLayer):
    for norm_first in (True, False):
        variant = f"EncoderLayer ({'pre' if norm_first else 'post'}-LN)"
        mine, ref, dout = _encoder_layers(EncoderLayer, norm_first)
        dx, dx_ref = mine.backward(dout), ref.backward(dout)
        problems = [compare("dx", dx, dx_ref)]
        grads, expected = mine.gradients(), ref.gradients()
        wrong = [name for name in expected if compare(f"grads['{name}']", grads[name], expected[name])]
        if wrong:
            problems.append(compare(f"grads['{wrong[0]}']", grads[wrong[0]], expected[wrong[0]]))
        problems = [p for p in problems if p]
        if not problems:
            continue
        sublayers = list(dict.fromkeys(name.split(".")[0] for name in expected))
        bad = [s for s in sublayers if any(name.split(".")[0] == s for name in wrong)]
        message = f"{variant}: " + "; ".join(problems)
        if wrong:
            message += f" (the gradients of {', '.join(bad)} are wrong"
            right = [s for s in sublayers if s not in bad]
            message += f"; those of {', '.join(right)} are right)" if right else ")"
        else:
            message += " (every parameter's gradient is right)"
        got = np.asarray(dx, dtype=np.float64)
        for wrong_backward, hint in _encoder_mistakes(norm_first):
            _, layer, _ = _encoder_layers(transformer.EncoderLayer, norm_first)
            if got.shape == dx_ref.shape and np.allclose(got, wrong_backward(layer, dout)):
                message += f": {hint}"
                break
        raise Wrong(message)


# --- 05.4 greedy_decode's loop -----------------------------------------------------------

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


@exercise("05.4", "greedy_decode's loop", reference=lambda: decoding.greedy_decode, uses="the library's greedy_decode")
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
