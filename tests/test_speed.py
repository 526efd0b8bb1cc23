"""The measuring tools of notebook 10: time_it, matmul_flops, profile_step."""

import sys
import types

import numpy as np
import pytest

import bytetrans_lib as bt

TINY = dict(d_model=8, n_heads=2, n_encoder_layers=1, n_decoder_layers=2, d_ff=12, max_len=16)


def test_time_it_warms_up_then_returns_the_median_of_the_timed_calls(monkeypatch):
    # A clock that only moves when fn runs: the warm-up takes 100 s, the timed calls 3, 1 and 8 s.
    durations, now = [100.0, 3.0, 1.0, 8.0], [0.0]

    def fn():
        now[0] += durations.pop(0)

    monkeypatch.setattr(sys.modules[bt.time_it.__module__], "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    assert bt.time_it(fn, repeats=3, warmup=1) == 3.0  # the median: not the mean 4.0, nor 5.5 with the warm-up
    assert durations == []
    with pytest.raises(ValueError, match="repeats >= 1"):
        bt.time_it(lambda: None, repeats=0)


def test_matmul_flops_of_the_reference_configuration_and_its_scaling():
    config = bt.Config()
    # per encoder layer 4*2BTC^2 + 2*2BT^2C + 2*2BTCF, per decoder layer that plus cross-attention
    # 2*2BTC^2 + 2*2BSC^2 + 2*2BTSC, output 2BTCV; times 3 for the backward pass
    B, T, C, F, V = 32, 48, 128, 512, 260
    encoder = 8 * B * T * C * C + 4 * B * T * T * C + 4 * B * T * C * F
    decoder = encoder + 4 * B * T * C * C + 4 * B * T * C * C + 4 * B * T * T * C
    expected = 3 * (2 * encoder + 2 * decoder + 2 * B * T * C * V)
    assert bt.matmul_flops(config, B, T, T) == expected == 9_441_902_592
    assert bt.matmul_flops(config, 2 * B, T, T) == 2 * expected  # linear in the batch


def test_profile_step_splits_the_step_and_restores_every_class():
    model = bt.Transformer(bt.Config(**TINY), rng=np.random.default_rng(0))
    src = bt.encode_batch(["Hi!", "Oh no"], eos=True)
    tgt = bt.encode_batch(["Salut !", "Oh non"], bos=True)
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
    before = {cls: dict(vars(cls)) for cls in (bt.Linear, bt.GELU, bt.LayerNorm, bt.MultiHeadAttention)}
    clip = bt.optim.clip_grad_norm
    profile = bt.profile_step(model, src, tgt_in, tgt_out, steps=2)
    assert bt.optim.clip_grad_norm is clip  # profiling times clipping and puts it back
    calls = {name: n for name, n, _ in profile["rows"]}
    assert calls["MultiHeadAttention.forward"] == 1 + 2 * 2 and calls["GELU.forward"] == 3
    assert calls["Linear.forward"] == 2 * 3 + 1 and calls["LayerNorm.forward"] == 2 + 1 + 3 * 2 + 1
    assert profile["rows"][-1][0] == "everything else" and profile["step"] > 0
    seconds = [row[2] for row in profile["rows"]]
    assert seconds[:-1] == sorted(seconds[:-1], reverse=True)  # the biggest share first
    assert seconds[-1] > 0  # the timed rows lie inside the step, none counted twice
    for cls, attributes in before.items():
        assert dict(vars(cls)) == attributes  # nothing left wrapped, nothing added


def test_profile_step_restores_the_classes_even_when_the_step_fails():
    model = bt.Transformer(bt.Config(**TINY), rng=np.random.default_rng(0))
    src = bt.encode_batch(["Hi!"], eos=True)
    with pytest.raises(ValueError):
        bt.profile_step(model, src, src, src[:, :2])  # targets of the wrong shape
    assert bt.Linear.forward.__qualname__ == "Linear.forward"
    assert bt.MultiHeadAttention.backward.__qualname__ == "MultiHeadAttention.backward"
    assert bt.optim.clip_grad_norm.__qualname__ == "clip_grad_norm"
