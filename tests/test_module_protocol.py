"""The module protocol (COURSE.md), checked the same way on every layer and model.

forward(...) then backward(dout) returns the gradient of each float input; parameters() is a
dict of the live arrays; gradients() has the same keys, shapes and dtype; backward ADDS to the
parameter gradients; zero_grad() resets them in place; float32 and float64 both stay as they are.
"""

from dataclasses import dataclass

import numpy as np
import pytest

import bytetrans_lib as bt

# Every axis a different size, so a sum or transpose over the wrong axis cannot go unnoticed:
# batch 2, heads 3, head size 4, target 5, source 7, model 12, feed-forward 16, 11 ids.
B, H, T_TGT, T_SRC, C, F, V_SMALL = 2, 3, 5, 7, 12, 16, 11
V = bt.VOCAB_SIZE  # a Config needs the tokenizer's whole vocabulary
MAX_LEN = 10


@dataclass
class Case:
    module: bt.Module
    args: tuple  # forward(*args)
    grads_for: tuple  # indices of the args whose gradients backward returns, in order
    n_parameters: int  # counted from the sizes, independently of the code


def linear_size(d_in, d_out):
    return d_in * d_out + d_out


LAYERNORM = 2 * C
FEEDFORWARD = linear_size(C, F) + linear_size(F, C)
ATTENTION = 4 * linear_size(C, C)
ENCODER_LAYER = ATTENTION + 2 * LAYERNORM + FEEDFORWARD
DECODER_LAYER = 2 * ATTENTION + 3 * LAYERNORM + FEEDFORWARD


def ids(rng, T, padded):
    """(B, T) ids: random bytes, the second row ending in `padded` PADs."""
    out = rng.integers(0, 256, size=(B, T))
    out[1, T - padded :] = bt.PAD_ID
    return out


def floats(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def config(dtype, norm_first):
    return bt.Config(
        vocab_size=V,
        d_model=C,
        n_heads=H,
        n_encoder_layers=2,
        n_decoder_layers=2,
        d_ff=F,
        max_len=MAX_LEN,
        norm_first=norm_first,
        dtype=np.dtype(dtype).name,
    )


def make_case(name, dtype):
    rng = np.random.default_rng(0)
    src, tgt = ids(rng, T_SRC, padded=2), ids(rng, T_TGT, padded=1)
    src_mask, tgt_mask = bt.padding_mask(src), bt.target_mask(tgt)
    x, y, memory = (
        floats(rng, (B, T_TGT, C), dtype),
        floats(rng, (B, T_TGT, C), dtype),
        floats(rng, (B, T_SRC, C), dtype),
    )
    norm_first = not name.endswith("post-LN")
    final_norm = LAYERNORM if norm_first else 0
    if name == "Linear":
        return Case(bt.Linear(C, F, rng=rng, dtype=dtype), (x,), (0,), linear_size(C, F))
    if name == "GELU":
        return Case(bt.GELU(), (x,), (0,), 0)
    if name == "FeedForward":
        return Case(bt.FeedForward(C, F, rng=rng, dtype=dtype), (x,), (0,), FEEDFORWARD)
    if name == "LayerNorm":
        module = bt.LayerNorm(C, dtype=dtype)
        for p in module.parameters().values():  # not 1 and 0: a forgotten gamma would go unseen
            p[...] = rng.standard_normal(p.shape)
        return Case(module, (x,), (0,), LAYERNORM)
    if name.startswith("Softmax"):
        return Case(bt.Softmax(axis=int(name[len("Softmax(axis=") : -1])), (x,), (0,), 0)
    if name == "MultiHeadAttention":
        return Case(bt.MultiHeadAttention(C, H, rng=rng, dtype=dtype), (x, memory, src_mask), (0, 1), ATTENTION)
    if name == "Embedding":
        return Case(
            bt.Embedding(V_SMALL, C, rng=rng, dtype=dtype), (rng.integers(0, V_SMALL, (B, T_TGT)),), (), V_SMALL * C
        )
    if name == "PositionalEncoding":
        return Case(bt.PositionalEncoding(MAX_LEN, C, dtype=dtype), (x,), (0,), 0)
    cfg = config(dtype, norm_first)
    if name.startswith("EncoderLayer"):
        return Case(bt.EncoderLayer(cfg, rng=rng), (memory, src_mask), (0,), ENCODER_LAYER)
    if name.startswith("DecoderLayer"):
        return Case(bt.DecoderLayer(cfg, rng=rng), (y, memory, tgt_mask, src_mask), (0, 1), DECODER_LAYER)
    if name.startswith("Encoder"):
        return Case(bt.Encoder(cfg, rng=rng), (src, src_mask), (), V * C + 2 * ENCODER_LAYER + final_norm)
    if name.startswith("Decoder"):
        return Case(
            bt.Decoder(cfg, rng=rng), (tgt, memory, tgt_mask, src_mask), (1,), V * C + 2 * DECODER_LAYER + final_norm
        )
    if name.startswith("Transformer"):
        encoder, decoder = V * C + 2 * ENCODER_LAYER + final_norm, V * C + 2 * DECODER_LAYER + final_norm
        return Case(bt.Transformer(cfg, rng=rng), (src, tgt), (), encoder + decoder + linear_size(C, V))
    raise ValueError(name)


MODULES = [
    "Linear",
    "GELU",
    "FeedForward",
    "LayerNorm",
    "Softmax(axis=-1)",
    "Softmax(axis=1)",
    "MultiHeadAttention",
    "Embedding",
    "PositionalEncoding",
    "EncoderLayer",
    "EncoderLayer post-LN",
    "DecoderLayer",
    "DecoderLayer post-LN",
    "Encoder",
    "Encoder post-LN",
    "Decoder",
    "Decoder post-LN",
    "Transformer",
    "Transformer post-LN",
]
WITH_PARAMETERS = [name for name in MODULES if make_case(name, np.float64).n_parameters]
DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: 1e-6, np.float64: 1e-13}


def forward_backward(case, dout_seed=1):
    """Run forward, then backward with a random dout; return (output, dout, backward's result)."""
    out = case.module.forward(*case.args)
    dout = floats(np.random.default_rng(dout_seed), out.shape, out.dtype)
    return out, dout, case.module.backward(dout)


def input_gradients(case, result):
    """backward's result as a tuple with one gradient per differentiable input."""
    if not case.grads_for:
        assert result is None, f"{type(case.module).__name__}.backward returned {type(result).__name__}, not None"
        return ()
    return (result,) if len(case.grads_for) == 1 else tuple(result)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", MODULES)
def test_parameters_and_gradients_have_the_same_keys_shapes_and_dtype(name, dtype):
    case = make_case(name, dtype)
    params, grads = case.module.parameters(), case.module.gradients()
    assert list(params) == list(grads)
    for key in params:
        assert params[key].shape == grads[key].shape, key
        assert params[key].dtype == grads[key].dtype == dtype, key
    assert sum(p.size for p in params.values()) == case.n_parameters  # every child is collected, once
    # the same arrays on every call: an optimizer holding them updates the module itself
    assert all(case.module.parameters()[key] is p for key, p in params.items())
    assert all(case.module.gradients()[key] is g for key, g in grads.items())


@pytest.mark.parametrize("name", WITH_PARAMETERS)
def test_forward_reads_the_arrays_that_parameters_returns(name):
    case = make_case(name, np.float64)
    before = case.module.forward(*case.args)
    for p in case.module.parameters().values():
        p[...] = 0  # in place, through the dict
    assert not np.allclose(case.module.forward(*case.args), before)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", MODULES)
def test_forward_and_backward_keep_the_dtype_and_return_one_gradient_per_input(name, dtype):
    case = make_case(name, dtype)
    out, _, result = forward_backward(case)
    assert out.dtype == dtype
    gradients = input_gradients(case, result)
    assert len(gradients) == len(case.grads_for)
    for i, dx in zip(case.grads_for, gradients):
        assert dx.shape == case.args[i].shape and dx.dtype == dtype, i
    assert all(g.dtype == dtype for g in case.module.gradients().values())


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", MODULES)
def test_two_backward_calls_accumulate_twice_the_parameter_gradients(name, dtype):
    case = make_case(name, dtype)
    _, dout, first = forward_backward(case)
    once = {key: g.copy() for key, g in case.module.gradients().items()}
    assert not once or any(g.any() for g in once.values())  # otherwise 2 x 0 == 0 proves nothing
    second = case.module.backward(dout)
    for key, g in case.module.gradients().items():
        scale = np.abs(once[key]).max(initial=0)
        np.testing.assert_allclose(g, 2 * once[key], rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * scale, err_msg=key)
    # the input gradients do not depend on what was accumulated before
    for dx_first, dx_second in zip(input_gradients(case, first), input_gradients(case, second)):
        np.testing.assert_array_equal(dx_first, dx_second)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", MODULES)
def test_zero_grad_resets_the_same_arrays_in_place_and_leaves_the_parameters(name, dtype):
    case = make_case(name, dtype)
    forward_backward(case)
    grads = case.module.gradients()
    params = {key: p.copy() for key, p in case.module.parameters().items()}
    case.module.zero_grad()
    after = case.module.gradients()
    assert list(after) == list(grads)
    for key, g in after.items():
        assert g is grads[key], f"{key}: zero_grad replaced the array instead of zeroing it"
        assert not g.any(), key
    for key, p in case.module.parameters().items():
        np.testing.assert_array_equal(p, params[key])
