"""Cases for the checks of notebook 05's exercises: a stub and planted bugs per exercise."""

import inspect

import numpy as np

from bytetrans_lib import decoding, transformer
from bytetrans_lib.transformer import residual_backward


def _raises(*args, **kwargs):
    raise NotImplementedError


def _sin_cos_swapped(max_len, d_model):
    angle = np.arange(max_len)[:, None] / 10000.0 ** (np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.cos(angle), np.sin(angle[:, : d_model // 2])
    return pe


def _exponent_i(max_len, d_model):  # 10000^(i/d) with i = 0, 1, 2, ...: frequencies too fast
    angle = np.arange(max_len)[:, None] / 10000.0 ** (np.arange(d_model // 2 + d_model % 2) / d_model)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angle), np.cos(angle[:, : d_model // 2])
    return pe


def _even_d_model_only(max_len, d_model):  # breaks on an odd d_model
    angle = np.arange(max_len)[:, None] / 10000.0 ** (np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angle), np.cos(angle)
    return pe


class _StubEncoderLayer(transformer.EncoderLayer):
    def backward(self, dout):
        raise NotImplementedError


class _EncoderQueriesOnly(transformer.EncoderLayer):  # drops the keys/values' gradient
    def backward(self, dout):
        dh = residual_backward(dout, self.norm_2, self.ffn.backward, self.norm_first)
        return residual_backward(dh, self.norm_1, lambda da: self.self_attn.backward(da)[0], self.norm_first)


class _EncoderForwardOrder(transformer.EncoderLayer):  # self-attention first, as in forward
    def backward(self, dout):
        dh = residual_backward(dout, self.norm_1, lambda da: np.add(*self.self_attn.backward(da)), self.norm_first)
        return residual_backward(dh, self.norm_2, self.ffn.backward, self.norm_first)


class _EncoderAlwaysPreLN(transformer.EncoderLayer):  # norm_first=True hard-coded
    def backward(self, dout):
        dh = residual_backward(dout, self.norm_2, self.ffn.backward, True)
        return residual_backward(dh, self.norm_1, lambda da: np.add(*self.self_attn.backward(da)), True)


class _EncoderNoIdentity(transformer.EncoderLayer):  # the branches only, no residual path (pre-LN form)
    def backward(self, dout):
        dh = self.norm_2.backward(self.ffn.backward(dout))
        return self.norm_1.backward(np.add(*self.self_attn.backward(dh)))


# --- 05.2 residual_backward ----------------------------------------------------------------


def _residual_no_identity(dout, norm, sublayer_backward, norm_first):  # the branch only
    if norm_first:
        return norm.backward(sublayer_backward(dout))
    return sublayer_backward(norm.backward(dout))


def _residual_swapped(dout, norm, sublayer_backward, norm_first):  # pre-LN's formula for post-LN and back
    if not norm_first:
        return dout + norm.backward(sublayer_backward(dout))
    dz = norm.backward(dout)
    return dz + sublayer_backward(dz)


def _residual_no_norm(dout, norm, sublayer_backward, norm_first):  # norm.backward never called
    return dout + sublayer_backward(dout)


def _residual_branch_reversed(dout, norm, sublayer_backward, norm_first):  # pre-LN: the norm's backward first
    if norm_first:
        return dout + sublayer_backward(norm.backward(dout))
    dz = norm.backward(dout)
    return dz + sublayer_backward(dz)


def _residual_sublayer_on_dout(dout, norm, sublayer_backward, norm_first):  # post-LN: the sublayer fed dout
    if norm_first:
        return dout + norm.backward(sublayer_backward(dout))
    return norm.backward(dout) + sublayer_backward(dout)


def _residual_sublayer_twice(dout, norm, sublayer_backward, norm_first):  # called once to look, once to use
    sublayer_backward(dout)
    return residual_backward(dout, norm, sublayer_backward, norm_first)


def _residual_written_out(dout, norm, sublayer_backward, norm_first):  # correct: the post-LN dz named in both
    dz = dout if norm_first else norm.backward(dout)
    branch = sublayer_backward(dz)
    return dz + (norm.backward(branch) if norm_first else branch)


# --- 05.3 Dropout ---------------------------------------------------------------------------


def _dropout(forward=None, backward=None):
    """The library's Dropout with forward and/or backward replaced: (self, x) -> out, (self, dout) -> dx."""
    methods = {name: f for name, f in [("forward", forward), ("backward", backward)] if f is not None}
    return type("Dropout", (transformer.Dropout,), methods)


def _mask(self, x):
    return self.rng.random(x.shape, dtype=np.float32) >= self.p


def _forward_with(out):
    """A forward that stores the cache as the course's does and returns out(self, x, keep)."""

    def forward(self, x):
        keep = _mask(self, x) if self.training and self.p > 0 else None
        self.cache = (keep, x.shape)
        return x if keep is None else out(self, x, keep)

    return forward


def _forward_always(self, x):  # draws and drops whatever the mode
    keep = _mask(self, x)
    self.cache = (keep, x.shape)
    return x * keep / (1 - self.p)


def _forward_flipped(self, x):  # keeps with probability p
    keep = self.rng.random(x.shape, dtype=np.float32) < self.p if self.training and self.p > 0 else None
    self.cache = (keep, x.shape)
    return x if keep is None else x * keep / (1 - self.p)


def _forward_float64_draw(self, x):  # the right probability, other numbers
    keep = self.rng.random(x.shape) >= self.p if self.training and self.p > 0 else None
    self.cache = (keep, x.shape)
    return x if keep is None else x * keep / (1 - self.p)


def _forward_in_place(self, x):
    keep = _mask(self, x) if self.training and self.p > 0 else None
    self.cache = (keep, x.shape)
    if keep is not None:
        x *= keep / (1 - self.p)
    return x


def _forward_stale_cache(self, x):  # stores the mask in training mode only
    if not (self.training and self.p > 0):
        return x
    keep = _mask(self, x)
    self.cache = (keep, x.shape)
    return x * keep / (1 - self.p)


def _forward_mask_only(self, x):  # the cache holds the mask alone: the backward door needs the shape too
    keep = _mask(self, x) if self.training and self.p > 0 else None
    self.cache = keep
    return x if keep is None else x * keep / (1 - self.p)


def _backward_mask_only(self, dout):
    return dout if self.cache is None else dout * self.cache / (1 - self.p)


def _backward_new_mask(self, dout):
    keep = _mask(self, dout)
    return dout * keep / (1 - self.p)


def _backward_unscaled(self, dout):
    keep, _ = self.cache
    return dout if keep is None else dout * keep


def _backward_stale(self, dout):  # for _forward_stale_cache: the last mask drawn, whatever forward did since
    keep, _ = self.cache or (None, None)
    return dout if keep is None else dout * keep / (1 - self.p)


def _forward_where(self, x):  # correct: np.where instead of a product
    keep = _mask(self, x) if self.training and self.p > 0 else None
    self.cache = (keep, x.shape)
    return x if keep is None else np.where(keep, x / (1 - self.p), 0.0)


def _forward_scaled_mask(self, x):  # correct: the cache holds the mask already scaled, in x's dtype
    scale = (_mask(self, x) / (1 - self.p)).astype(x.dtype) if self.training and self.p > 0 else None
    self.cache = (scale, x.shape)
    return x if scale is None else x * scale


def _forward_float64_scale(self, x):  # the scaled mask in float64: a float32 x comes out float64
    scale = _mask(self, x) / (1 - self.p) if self.training and self.p > 0 else None
    self.cache = (scale, x.shape)
    return x if scale is None else x * scale


def _backward_scaled_mask(self, dout):
    scale, _ = self.cache
    return dout if scale is None else dout * scale


class _StubDropout(transformer.Dropout):
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


# --- 05.4 EncoderLayer.backward, in training mode ---------------------------------------------


class _EncoderNoDropout(transformer.EncoderLayer):  # the course's backward before dropout: skips both
    def backward(self, dout):
        dh = residual_backward(dout, self.norm_2, self.ffn.backward, self.norm_first)
        return residual_backward(dh, self.norm_1, lambda da: np.add(*self.self_attn.backward(da)), self.norm_first)


class _EncoderNoDropout1(transformer.EncoderLayer):  # self-attention's dropout left out
    def backward(self, dout):
        dh = residual_backward(
            dout, self.norm_2, lambda d: self.ffn.backward(self.dropout_2.backward(d)), self.norm_first
        )
        return residual_backward(dh, self.norm_1, lambda d: np.add(*self.self_attn.backward(d)), self.norm_first)


class _EncoderDropoutAfter(transformer.EncoderLayer):  # each dropout's backward after its sublayer's
    def backward(self, dout):
        dh = residual_backward(
            dout, self.norm_2, lambda d: self.dropout_2.backward(self.ffn.backward(d)), self.norm_first
        )
        return residual_backward(
            dh, self.norm_1, lambda d: self.dropout_1.backward(np.add(*self.self_attn.backward(d))), self.norm_first
        )


# --- 05.5 DecoderLayer.backward ----------------------------------------------------------------


class _StubDecoderLayer(transformer.DecoderLayer):
    def backward(self, dout):
        raise NotImplementedError


def _decoder_layer(self_attn, cross_attn):
    """A DecoderLayer whose backward gets the self- and cross-attention gradients this way:
    self_attn(layer, da) and cross_attn(layer, da, kept) return the residual stream's gradient."""

    class Layer(transformer.DecoderLayer):
        def backward(self, dout):
            kept = {"dmemory": None}
            dh2 = residual_backward(dout, self.norm_3, self.ffn.backward, self.norm_first)
            dh1 = residual_backward(dh2, self.norm_2, lambda da: cross_attn(self, da, kept), self.norm_first)
            dy = residual_backward(dh1, self.norm_1, lambda da: self_attn(self, da, kept), self.norm_first)
            return dy, kept["dmemory"]

    return Layer


def _both(layer, da, kept):
    return np.add(*layer.self_attn.backward(da))


def _cross(layer, da, kept):
    da_q, kept["dmemory"] = layer.cross_attn.backward(da)
    return da_q


def _memory_from_self(layer, da, kept):  # dmemory taken from self-attention's keys/values
    da_q, kept["dmemory"] = layer.self_attn.backward(da)
    return da_q + kept["dmemory"]


def _cross_query_only(layer, da, kept):  # memory's gradient dropped
    return layer.cross_attn.backward(da)[0]


def _cross_summed(layer, da, kept):  # both of cross-attention's gradients added into the stream
    return np.add(*layer.cross_attn.backward(da))


def _self_queries_only(layer, da, kept):  # self-attention's keys/values' gradient dropped
    return layer.self_attn.backward(da)[0]


class _DecoderLayerForwardOrder(transformer.DecoderLayer):  # self-attention first, as in forward
    def backward(self, dout):
        dmemory = []
        dh1 = residual_backward(dout, self.norm_1, lambda da: np.add(*self.self_attn.backward(da)), self.norm_first)

        def cross(da):
            da_q, dm = self.cross_attn.backward(da)
            dmemory.append(dm)
            return da_q

        dh2 = residual_backward(dh1, self.norm_2, cross, self.norm_first)
        return residual_backward(dh2, self.norm_3, self.ffn.backward, self.norm_first), dmemory[0]


class _DecoderLayerAlwaysPreLN(transformer.DecoderLayer):  # norm_first=True hard-coded
    def backward(self, dout):
        dmemory = []

        def cross(da):
            da_q, dm = self.cross_attn.backward(da)
            dmemory.append(dm)
            return da_q

        dh2 = residual_backward(dout, self.norm_3, self.ffn.backward, True)
        dh1 = residual_backward(dh2, self.norm_2, cross, True)
        return residual_backward(dh1, self.norm_1, lambda da: np.add(*self.self_attn.backward(da)), True), dmemory[0]


class _DecoderLayerNoCrossDropout(transformer.DecoderLayer):  # dropout_2 left out, the others kept
    def backward(self, dout):
        dmemory = []

        def cross(da):
            da_q, dm = self.cross_attn.backward(da)
            dmemory.append(dm)
            return da_q

        dh2 = residual_backward(
            dout, self.norm_3, lambda d: self.ffn.backward(self.dropout_3.backward(d)), self.norm_first
        )
        dh1 = residual_backward(dh2, self.norm_2, cross, self.norm_first)
        dy = residual_backward(
            dh1, self.norm_1, lambda d: np.add(*self.self_attn.backward(self.dropout_1.backward(d))), self.norm_first
        )
        return dy, dmemory[0]


class _DecoderLayerByHand(transformer.DecoderLayer):  # correct: the pre-LN and post-LN wiring written out
    def backward(self, dout):
        def through(d, norm, sublayer_backward):
            if self.norm_first:
                return d + norm.backward(sublayer_backward(d))
            dz = norm.backward(d)
            return dz + sublayer_backward(dz)

        grads = {}

        def cross(da):
            grads["q"], grads["kv"] = self.cross_attn.backward(self.dropout_2.backward(da))
            return grads["q"]

        d = through(dout, self.norm_3, lambda da: self.ffn.backward(self.dropout_3.backward(da)))
        d = through(d, self.norm_2, cross)
        d = through(d, self.norm_1, lambda da: sum(self.self_attn.backward(self.dropout_1.backward(da))))
        return d, grads["kv"]


# --- 05.6 Decoder.backward ------------------------------------------------------------------


class _StubDecoder(transformer.Decoder):
    def backward(self, dout):
        raise NotImplementedError


def _decoder(*, keep="sum", final_norm=True, embedding=True, forward_order=False, dropout=True):
    class Stack(transformer.Decoder):
        def backward(self, dout):
            dy = self.norm.backward(dout) if self.norm and final_norm else dout
            dmemory = None
            for layer in self.layers if forward_order else reversed(self.layers):
                dy, dm = layer.backward(dy)
                if keep == "sum":
                    dmemory = dm if dmemory is None else dmemory + dm
                elif keep == "last assigned" or dmemory is None:  # dmemory = dm / the first one kept
                    dmemory = dm
            if embedding:
                self.embedding.backward(self.positions.backward(self.dropout.backward(dy) if dropout else dy))
            return dmemory

    return Stack


# --- 05.7 DecoderCache.self_attend ----------------------------------------------------------


class _StubCache(decoding.DecoderCache):
    def self_attend(self, i, attention, a):
        raise NotImplementedError


def _cache(body):
    """A DecoderCache whose self_attend is `body` (source, indented 4, t K V a attention i in scope)."""
    namespace = {"np": np}
    exec(
        "def self_attend(self, i, attention, a):\n    t, K, V = self.length, self.keys[i], self.values[i]\n" + body,
        namespace,
    )
    return type("DecoderCache", (decoding.DecoderCache,), {"self_attend": namespace["self_attend"]})


_WRITE = "    K[:, :, t : t + 1], V[:, :, t : t + 1] = attention.keys_values(a)\n"


# --- 05.8 greedy_decode's loop ------------------------------------------------------------


def _greedy_with(loop):
    """The library's greedy_decode with its loop replaced by `loop` (source, indented 4)."""
    source = inspect.getsource(decoding.greedy_decode)
    start, end = source.index("    for _ in range(max_len):"), source.index("    return tgt")
    namespace = dict(vars(decoding))
    exec(source[:start] + loop + source[end:], namespace)
    return namespace["greedy_decode"]


_LOOP = """    for _ in range(max_len):
        if use_cache:
            logits = decode_step(model, cache, tgt[:, -1])
        else:
            logits = model.decode(tgt, memory, src_mask)[:, -1]
        next_ids = np.where(done, PAD_ID, logits.argmax(axis=-1))
        tgt = np.concatenate([tgt, next_ids[:, None]], axis=1)
        done |= next_ids == EOS_ID
        if done.all():
            break
"""


def _loop(old, new):
    assert old in _LOOP, old
    return _greedy_with(_LOOP.replace(old, new))


STUBS = {
    "05.1": _raises,
    "05.2": _raises,
    "05.3": _StubDropout,
    "05.4": _StubEncoderLayer,
    "05.5": _StubDecoderLayer,
    "05.6": _StubDecoder,
    "05.7": _StubCache,
    "05.8": _greedy_with("    raise NotImplementedError\n"),
}

_READ = "    return attention.attend(a, K[:, :, : t + 1], V[:, :, : t + 1], self.real[:, None, None, : t + 1])\n"

BUGS = [
    ("05.1", _sin_cos_swapped, "the even features 2i hold the sine"),
    ("05.1", _exponent_i, "positional_table(12, 8) is wrong"),
    ("05.1", _exponent_i, "the exponent is 2i / d_model"),
    ("05.1", _even_d_model_only, "An odd d_model has one cosine fewer than sines"),
    ("05.4", _EncoderQueriesOnly, "EncoderLayer (pre-LN): dx is wrong"),
    ("05.4", _EncoderQueriesOnly, "only the queries' gradient of self-attention reached dx"),
    ("05.4", _EncoderForwardOrder, "the feed-forward sublayer (the last one in forward) first"),
    ("05.4", _EncoderAlwaysPreLN, "EncoderLayer (post-LN): dx is wrong"),
    ("05.4", _EncoderAlwaysPreLN, "pass self.norm_first to residual_backward"),
    ("05.4", _EncoderNoIdentity, "EncoderLayer (pre-LN): dx is wrong"),
    ("05.4", _EncoderNoIdentity, "the identity paths are missing"),
    ("05.2", _residual_no_identity, "pre-LN (norm_first=True, out = x + f(LN(x)), f a FeedForward): dx is wrong"),
    ("05.2", _residual_no_identity, "(every parameter's gradient is right): the identity path is missing"),
    ("05.2", _residual_swapped, "the two orders are swapped"),
    ("05.2", _residual_no_norm, "grads['norm.gamma'] is wrong"),
    ("05.2", _residual_no_norm, "the norm's backward is skipped"),
    ("05.2", _residual_branch_reversed, "backward runs sublayer_backward first, then norm.backward"),
    (
        "05.2",
        _residual_sublayer_on_dout,
        "post-LN (norm_first=False, out = LN(x + f(x)), f a FeedForward): dx is wrong",
    ),
    ("05.2", _residual_sublayer_on_dout, "the sublayer's backward takes dz, not dout"),
    ("05.2", _residual_sublayer_twice, "a gradient is twice the course's"),
    ("05.3", _dropout(forward=_forward_with(lambda self, x, keep: x * keep)), "out is wrong"),
    ("05.3", _dropout(forward=_forward_with(lambda self, x, keep: x * keep)), "forgot to scale"),
    ("05.3", _dropout(forward=_forward_with(lambda self, x, keep: x * keep / self.p)), "scaled by p instead of 1 - p"),
    ("05.3", _dropout(forward=_forward_flipped), "kept where it should drop"),
    ("05.3", _dropout(forward=_forward_flipped), "keeps each entry with probability p = 0.25"),
    ("05.3", _dropout(forward=_forward_float64_draw), "the mask was drawn in float64"),
    ("05.3", _dropout(forward=_forward_in_place), "forward changed its input x in place"),
    (
        "05.3",
        _dropout(forward=_forward_mask_only, backward=_backward_mask_only),
        "out is right, but self.cache holds an object of type ndarray, not (keep, x.shape)",
    ),
    ("05.3", _dropout(backward=_backward_new_mask), "out is right, but dx is wrong"),
    ("05.3", _dropout(backward=_backward_new_mask), "backward drew a new mask"),
    ("05.3", _dropout(backward=_backward_unscaled), "backward forgot to scale"),
    (
        "05.3",
        _dropout(forward=_forward_float64_scale, backward=_backward_scaled_mask),
        "float32 x: out has dtype float64, expected float32",
    ),
    ("05.3", _dropout(forward=_forward_always), "in evaluation mode (self.training False"),
    ("05.3", _dropout(forward=_forward_always), "it applied dropout in eval mode"),
    (
        "05.3",
        _dropout(forward=_forward_stale_cache, backward=_backward_stale),
        "backward used the mask of the earlier training-mode forward",
    ),
    ("05.4", _EncoderNoDropout, "EncoderLayer (pre-LN, in training mode, dropout p = 0.5): dx is wrong"),
    ("05.4", _EncoderNoDropout, "does not pass the gradient through dropout_1.backward and dropout_2.backward"),
    ("05.4", _EncoderNoDropout1, "your backward does not pass the gradient through dropout_1.backward:"),
    ("05.4", _EncoderDropoutAfter, "runs the dropouts' backward after the sublayers'"),
    (
        "05.5",
        _decoder_layer(_memory_from_self, lambda layer, da, kept: layer.cross_attn.backward(da)[0]),
        "dmemory has shape (2, 4, 8), expected (2, 6, 8)",
    ),
    (
        "05.5",
        _decoder_layer(_memory_from_self, lambda layer, da, kept: layer.cross_attn.backward(da)[0]),
        "dmemory has the shape of y",
    ),
    ("05.5", _decoder_layer(_both, _cross_query_only), "memory's gradient was lost"),
    ("05.5", _decoder_layer(_both, _cross_summed), "Cross-attention's two gradients have different shapes"),
    ("05.5", _decoder_layer(_self_queries_only, _cross), "DecoderLayer (pre-LN): dy is wrong"),
    ("05.5", _decoder_layer(_self_queries_only, _cross), "only the queries' gradient of self-attention reached dy"),
    ("05.5", _DecoderLayerForwardOrder, "backward goes through the sublayers in reverse: feed-forward first"),
    ("05.5", _DecoderLayerAlwaysPreLN, "DecoderLayer (post-LN): dy is wrong"),
    ("05.5", _DecoderLayerAlwaysPreLN, "pass self.norm_first to residual_backward"),
    ("05.5", _DecoderLayerNoCrossDropout, "DecoderLayer (pre-LN, in training mode, dropout p = 0.5): dy is wrong"),
    ("05.5", _DecoderLayerNoCrossDropout, "your backward does not pass the gradient through dropout_2.backward"),
    ("05.6", _decoder(keep="last assigned"), "Decoder (pre-LN, 2 layers): dmemory is wrong"),
    ("05.6", _decoder(keep="last assigned"), "dmemory is layer 0's memory gradient alone"),
    ("05.6", _decoder(keep="first"), "dmemory is layer 1's memory gradient alone"),
    ("05.6", _decoder(final_norm=False), "the final norm is skipped"),
    ("05.6", _decoder(embedding=False), "grads['embedding.E'] is wrong"),
    ("05.6", _decoder(embedding=False), "the embedding table's gradient is all zeros"),
    ("05.6", _decoder(forward_order=True), "backward visits the layers in reverse"),
    ("05.6", _decoder(dropout=False), "Decoder (pre-LN, 2 layers, in training mode, dropout p = 0.5)"),
    ("05.6", _decoder(dropout=False), "your backward does not pass the gradient through self.dropout.backward"),
    (
        "05.7",
        _cache(_WRITE + "    return attention.attend(a, K, V, self.real[:, None, None, :])\n"),
        "step 1 (position t = 0): the logits are NaN: attention read positions after t",
    ),
    ("05.7", _cache(_WRITE + "    return attention.attend(a, K, V)\n"), "attention read positions after t"),
    (
        "05.7",
        _cache("    K[:, :, t + 1 : t + 2], V[:, :, t + 1 : t + 2] = attention.keys_values(a)\n" + _READ),
        "the new position's key went to position t + 1 = 1 of self.keys[0], not to t = 0",
    ),
    (
        "05.7",
        _cache(_WRITE + "    return attention.attend(a, K[:, :, : t + 1], V[:, :, : t + 1])\n"),
        "step 4 (position t = 3): logits is wrong",
    ),
    (
        "05.7",
        _cache(_WRITE + "    return attention.attend(a, K[:, :, : t + 1], V[:, :, : t + 1])\n"),
        "PAD keys must be hidden",
    ),
    (
        "05.7",
        _cache(_WRITE + _READ.replace(": t + 1", "t : t + 1")),
        "the new position attended to itself alone",
    ),
    (
        "05.7",
        _cache(_WRITE + _READ.replace(": t + 1", ":t")),
        "the new position must attend to itself too",
    ),
    (
        "05.7",
        _cache(
            "    k, v = attention.keys_values(a)\n"
            "    K, V = np.concatenate([K[:, :, :t], k], axis=2), np.concatenate([V[:, :, :t], v], axis=2)\n"
            "    return attention.attend(a, K, V, self.real[:, None, None, : t + 1])\n"
        ),
        "position t = 0 of self.keys[0] does not hold its key after the step",
    ),
    (
        "05.8",
        _loop("np.where(done, PAD_ID, logits.argmax(axis=-1))", "logits.argmax(axis=-1)"),
        "a finished sentence continues with PAD",
    ),
    ("05.8", _loop("done |= next_ids", "done = next_ids"), "expected 256 (PAD_ID): it produced EOS at step"),
    ("05.8", _loop("done.all()", "done.any()"), "the loop stopped after 3 steps, expected 6"),
    ("05.8", _loop("        if done.all():\n            break\n", ""), "the loop ran 12 steps, expected 6"),
    ("05.8", _loop("range(max_len)", "range(max_len - 1)"), "the loop stopped after 4 steps, expected 5: a sentence"),
    ("05.8", _loop("argmax", "argmin"), "the argmax of the last position's logits"),
    (
        "05.8",
        _loop("model.decode(tgt, memory, src_mask)[:, -1]", "model.decode(tgt[:, -1:], memory, src_mask)[:, -1]"),
        "expected the whole prefix",
    ),
]

ACCEPTED = [
    ("05.2", _residual_written_out),
    ("05.3", _dropout(forward=_forward_where)),
    ("05.3", _dropout(forward=_forward_scaled_mask, backward=_backward_scaled_mask)),
    ("05.5", _DecoderLayerByHand),
    ("05.6", _decoder()),
    (
        "05.7",
        _cache(
            "    k, v = attention.keys_values(a)\n"
            "    K[:, :, t], V[:, :, t] = k[:, :, 0], v[:, :, 0]\n"
            "    real = self.real[:, : t + 1]\n"
            "    return attention.attend(a, K[:, :, : t + 1], V[:, :, : t + 1], real[:, None, None, :])\n"
        ),
    ),
]
