"""Cases for the checks of notebook 05's exercises: a stub and planted bugs per exercise."""

import inspect

import numpy as np

from bytetrans_lib import decoding, embedding, transformer
from bytetrans_lib.transformer import residual_backward


class _StubEmbedding(embedding.Embedding):
    def backward(self, dout):
        raise NotImplementedError


class _EmbeddingBuffered(embedding.Embedding):  # fancy-index += : repeated ids overwrite each other
    def backward(self, dout):
        ids = self.cache
        self.grads["E"][ids] += dout * self.scale


class _EmbeddingNoScale(embedding.Embedding):  # forgets the sqrt(d_model) of forward
    def backward(self, dout):
        np.add.at(self.grads["E"], self.cache, dout)


class _EmbeddingAssigns(embedding.Embedding):  # = instead of adding into self.grads
    def backward(self, dout):
        dE = np.zeros_like(self.params["E"])
        np.add.at(dE, self.cache, dout * self.scale)
        self.grads["E"] = dE


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
    "05.1": _StubEmbedding,
    "05.2": _raises,
    "05.3": _StubEncoderLayer,
    "05.4": _greedy_with("    raise NotImplementedError\n"),
}

BUGS = [
    ("05.1", _EmbeddingBuffered, "grads['E'] is wrong (max relative error"),
    ("05.1", _EmbeddingBuffered, "the rows of repeated ids received one occurrence's gradient"),
    ("05.1", _EmbeddingNoScale, "sqrt(d_model) = 2 times too small"),
    ("05.1", _EmbeddingAssigns, "a second backward did not double grads['E']"),
    ("05.2", _sin_cos_swapped, "the even features 2i hold the sine"),
    ("05.2", _exponent_i, "positional_table(12, 8) is wrong"),
    ("05.2", _exponent_i, "the exponent is 2i / d_model"),
    ("05.2", _even_d_model_only, "An odd d_model has one cosine fewer than sines"),
    ("05.3", _EncoderQueriesOnly, "EncoderLayer (pre-LN): dx is wrong"),
    ("05.3", _EncoderQueriesOnly, "only the queries' gradient of self-attention reached dx"),
    ("05.3", _EncoderForwardOrder, "the feed-forward sublayer (the last one in forward) first"),
    ("05.3", _EncoderAlwaysPreLN, "EncoderLayer (post-LN): dx is wrong"),
    ("05.3", _EncoderAlwaysPreLN, "pass self.norm_first to residual_backward"),
    ("05.3", _EncoderNoIdentity, "EncoderLayer (pre-LN): dx is wrong"),
    ("05.3", _EncoderNoIdentity, "the identity paths are missing"),
    (
        "05.4",
        _loop("np.where(done, PAD_ID, logits.argmax(axis=-1))", "logits.argmax(axis=-1)"),
        "a finished sentence continues with PAD",
    ),
    ("05.4", _loop("done |= next_ids", "done = next_ids"), "expected 256 (PAD_ID): it produced EOS at step"),
    ("05.4", _loop("done.all()", "done.any()"), "the loop stopped after 3 steps, expected 6"),
    ("05.4", _loop("        if done.all():\n            break\n", ""), "the loop ran 12 steps, expected 6"),
    ("05.4", _loop("range(max_len)", "range(max_len - 1)"), "the loop stopped after 4 steps, expected 5: a sentence"),
    ("05.4", _loop("argmax", "argmin"), "the argmax of the last position's logits"),
    (
        "05.4",
        _loop("model.decode(tgt, memory, src_mask)[:, -1]", "model.decode(tgt[:, -1:], memory, src_mask)[:, -1]"),
        "expected the whole prefix",
    ),
]
