"""The full model of notebook 05: parts, assembly, masks, decoding, checkpoints, the demo command."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

import bytetrans_lib as bt
from bytetrans_lib import decoding, diagnostics

TINY = dict(d_model=8, n_heads=2, n_encoder_layers=2, n_decoder_layers=2, d_ff=12, max_len=16, dtype="float64")


def tiny_model(seed=0, **overrides):
    return bt.Transformer(bt.Config(**{**TINY, **overrides}), rng=np.random.default_rng(seed))


def tiny_batch():
    src = bt.encode_batch(["Hi!", "Oh no"], eos=True)  # (2, 6), first row padded
    tgt = bt.encode_batch(["Ça va", "Oh"], bos=True)  # (2, 7), second row padded
    return src, tgt


# ---- parts ---------------------------------------------------------------------------------


def test_embedding_gradient_accumulates_over_repeated_ids():
    rng = np.random.default_rng(0)
    emb = bt.Embedding(260, 5, rng=rng, dtype=np.float64)
    ids = np.array([[7, 7, 7, 3], [7, 200, 3, 3]])  # (B=2, T=4): repeated ids
    errors = bt.check_gradients(emb, ids, rng=rng)
    assert set(errors) == {"E"}
    emb.zero_grad()
    _ = emb.forward(ids)
    _ = emb.backward(np.ones((2, 4, 5)))
    np.testing.assert_allclose(emb.grads["E"][7], 4 * np.sqrt(5))  # four uses of id 7
    assert np.all(emb.grads["E"][[0, 1, 2, 4]] == 0)


def test_embedding_rejects_bad_ids():
    emb = bt.Embedding(260, 4, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="id 260 is outside the vocabulary 0..259"):
        emb.forward(np.array([[1, 260]]))
    with pytest.raises(TypeError, match="integer ids"):
        emb.forward(np.array([[1.0]]))


def test_positional_encoding_is_sinusoidal_and_relative():
    pe = bt.PositionalEncoding(50, 16, dtype=np.float64).pe
    p, i = 7, 3
    assert np.isclose(pe[p, 2 * i], np.sin(p / 10000 ** (2 * i / 16)))
    assert np.isclose(pe[p, 2 * i + 1], np.cos(p / 10000 ** (2 * i / 16)))
    G = pe @ pe.T  # the similarity of two positions depends only on their distance
    for d in range(-49, 50):
        assert np.allclose(np.diagonal(G, d), np.diagonal(G, d)[0])
    assert bt.PositionalEncoding(10, 7).pe.shape == (10, 7)  # odd d_model works
    with pytest.raises(ValueError, match="sequence length 11 is longer than max_len=10"):
        bt.PositionalEncoding(10, 4).forward(np.zeros((1, 11, 4)))


# ---- layers and the whole model: gradients ---------------------------------------------------


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_and_decoder_layers_match_finite_differences(norm_first):
    config = bt.Config(**{**TINY, "norm_first": norm_first})
    rng = np.random.default_rng(1)
    src, tgt = tiny_batch()
    x = rng.standard_normal((2, 6, 8))  # B=2, T_src=6, C=8
    bt.check_gradients(bt.EncoderLayer(config, rng=rng), x, rng=rng, mask=bt.padding_mask(src))
    y = rng.standard_normal((2, 7, 8))  # T_tgt=7
    errors = bt.check_gradients(
        bt.DecoderLayer(config, rng=rng), y, x, rng=rng, tgt_mask=bt.target_mask(tgt), src_mask=bt.padding_mask(src)
    )
    assert {"input[0]", "input[1]"} <= set(errors)  # y and memory both checked


@pytest.mark.parametrize("norm_first", [True, False])
def test_whole_model_gradients_match_finite_differences_for_every_tensor(norm_first):
    model = tiny_model(2, norm_first=norm_first)
    src, tgt = tiny_batch()
    errors = bt.check_model_gradients(model, src, tgt, rng=np.random.default_rng(3))
    assert set(errors) == set(model.parameters())
    assert any(name.startswith("encoder.embedding") for name in errors)
    assert max(errors.values()) < 1e-6


# ---- dropout (issue 33) -------------------------------------------------------------------


class SameDraws:
    """A generator that draws the same numbers at every call: one fixed mask, for finite differences."""

    def __init__(self, seed):
        self.seed = seed

    def random(self, shape, dtype=np.float64):
        return np.random.default_rng(self.seed).random(shape, dtype=dtype)


def test_dropout_is_inverted_keeps_about_1_minus_p_and_its_backward_uses_forwards_mask():
    drop = bt.train_mode(bt.Dropout(0.3), np.random.default_rng(0))
    x = np.ones((64, 32, 16))
    out = drop.forward(x)
    assert set(np.unique(out)) == {0.0, 1 / 0.7}  # dropped, or kept and scaled by 1/(1 - p)
    assert abs(np.mean(out > 0) - 0.7) < 0.01 and abs(out.mean() - 1.0) < 0.015  # the mean is kept
    dout = np.random.default_rng(1).standard_normal(x.shape)
    assert np.array_equal(drop.backward(dout), dout * (out > 0) / 0.7)
    assert not np.array_equal(drop.forward(x), out)  # a new mask at every forward
    bt.eval_mode(drop)
    assert drop.forward(x) is x and drop.backward(dout) is dout  # off: the identity, both ways


def test_dropout_with_a_fixed_mask_matches_finite_differences_and_a_wrong_backward_is_caught():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 8))
    errors = bt.check_gradients(bt.train_mode(bt.Dropout(0.5), SameDraws(7)), x, rng=rng)
    assert max(errors.values()) < 1e-8

    class Unscaled(bt.Dropout):
        def backward(self, dout):
            return dout * self.cache[0]  # forgets the 1/(1 - p)

    with pytest.raises(AssertionError):
        bt.check_gradients(bt.train_mode(Unscaled(0.5), SameDraws(7)), x, rng=rng)


@pytest.mark.parametrize("p, error", [(1.0, ValueError), (-0.1, ValueError), (True, TypeError), ("0.1", TypeError)])
def test_dropout_refuses_a_rate_outside_0_to_1_by_name(p, error):
    with pytest.raises(error, match="Dropout: p must be"):
        bt.Dropout(p)


def test_train_mode_switches_every_dropout_of_a_model_even_one_of_another_class():
    model = tiny_model(0, dropout=0.2)
    assert len(list(bt.dropout_layers(model))) == 1 + 2 * 2 + 1 + 3 * 2  # the two sums and every sublayer

    class MyDropout(bt.Module):  # a learner's own Dropout in the exercise edition: not a subclass
        def __init__(self):
            super().__init__()
            self.p, self.training, self.rng = 0.2, False, None

    mine = MyDropout()
    model.encoder.layers[0].dropout_1 = mine
    rng = np.random.default_rng(0)
    bt.train_mode(model, rng)
    layers = list(bt.dropout_layers(model))
    assert mine in layers and all(layer.training and layer.rng is rng for layer in layers)
    bt.eval_mode(model)
    assert not any(layer.training or layer.rng is not None for layer in layers)
    with pytest.raises(TypeError, match="train_mode needs rng=np.random.Generator"):
        bt.train_mode(model, 0)


def test_dropout_changes_the_logits_only_in_training_mode_and_the_model_check_passes_with_a_fixed_mask():
    src, tgt = tiny_batch()
    plain, dropping = tiny_model(0), tiny_model(0, dropout=0.3)  # the same weights
    assert np.array_equal(plain.forward(src, tgt), dropping.forward(src, tgt))  # eval mode: no dropout
    bt.train_mode(dropping, np.random.default_rng(0))
    assert not np.allclose(plain.forward(src, tgt), dropping.forward(src, tgt))
    bt.train_mode(dropping, SameDraws(5))
    errors = bt.check_model_gradients(dropping, src, tgt, rng=np.random.default_rng(3))
    assert set(errors) == set(dropping.parameters()) and max(errors.values()) < 1e-6


def test_whole_model_check_catches_a_backward_that_does_not_reach_the_encoder():
    class NoEncoderGradient(bt.Transformer):
        def backward(self, dlogits):
            self.decoder.backward(self.output.backward(dlogits))  # forgets encoder.backward

    model = NoEncoderGradient(bt.Config(**TINY), rng=np.random.default_rng(0))
    with pytest.raises(AssertionError, match="gradient of encoder"):
        bt.check_model_gradients(model, *tiny_batch(), rng=np.random.default_rng(1))


def test_check_model_gradients_samples_entries_with_notebook_02s_numerical_gradient(monkeypatch):
    calls = []

    def recording(f, x, dout, h=1e-6, *, indices=None):
        calls.append(len(indices))
        return bt.numerical_gradient(f, x, dout, h, indices=indices)

    monkeypatch.setattr(diagnostics, "numerical_gradient", recording)
    model = tiny_model(2)
    errors = bt.check_model_gradients(model, *tiny_batch(), rng=np.random.default_rng(3), n_samples=4)
    assert len(calls) == len(errors) == len(model.parameters())  # one call per tensor, on a sample
    assert max(calls) == 4 + 2 and min(calls) >= 1


def test_check_model_gradients_needs_float64():
    model = tiny_model(dtype="float32")
    with pytest.raises(TypeError, match="float64"):
        bt.check_model_gradients(model, *tiny_batch(), rng=np.random.default_rng(0))


# ---- masks: causality and padding ------------------------------------------------------------


def test_changing_a_target_byte_leaves_earlier_logits_unchanged():
    model = tiny_model(4)
    src, tgt = tiny_batch()
    logits = model.forward(src, tgt)
    assert logits.shape == (2, 7, 260)
    for t in range(1, 7):
        changed = tgt.copy()
        changed[:, t] = 0x7A
        diff = np.abs(model.forward(src, changed) - logits)
        assert diff[:, :t].max() < 1e-10
        assert diff[0, t:].max() > 1e-6  # the first row is not padded at t: it does change


def test_padding_the_source_leaves_the_logits_unchanged():
    model = tiny_model(5)
    src, tgt = tiny_batch()
    logits = model.forward(src, tgt)
    padded = np.concatenate([src, np.full((2, 5), bt.PAD_ID)], axis=1)
    assert np.abs(model.forward(padded, tgt) - logits).max() < 1e-10


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src, tgt, error, pattern",
    [
        ([[1, 2, 300]], [[bt.BOS_ID]], ValueError, "src_ids contains id 300, outside the vocabulary"),
        ([[1, 2]], [[bt.BOS_ID, -1]], ValueError, "tgt_ids contains id -1"),
        (np.ones((1, 17), dtype=int), [[bt.BOS_ID]], ValueError, "src_ids has length 17.*max_len=16"),
        (np.ones((1, 3)), [[bt.BOS_ID]], TypeError, "src_ids must hold integer ids, got dtype float64"),
        ([[1, 2], [3, 4]], [[bt.BOS_ID]], ValueError, "batch sizes differ: src_ids has 2 rows, tgt_ids has 1"),
        ([1, 2], [bt.BOS_ID], ValueError, r"src_ids must have shape \(B, T\)"),
        (np.zeros((1, 0), dtype=int), [[bt.BOS_ID]], ValueError, "src_ids has length 0"),
    ],
)
def test_transformer_rejects_bad_ids_with_a_clear_error(src, tgt, error, pattern):
    with pytest.raises(error, match=pattern):
        tiny_model().forward(np.asarray(src), np.asarray(tgt))


def test_transformer_needs_a_config_and_a_generator():
    with pytest.raises(TypeError, match="needs a Config"):
        bt.Transformer(TINY, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng=np.random.Generator"):
        bt.Transformer(bt.Config(**TINY), rng=0)


def test_backward_runs_through_every_parameter():
    model = tiny_model(6)
    src, tgt = tiny_batch()
    model.zero_grad()
    logits = model.forward(src, tgt)
    model.backward(np.random.default_rng(0).standard_normal(logits.shape))
    for name, g in model.gradients().items():
        assert np.any(g != 0), f"{name} received no gradient"


# ---- greedy decoding -------------------------------------------------------------------------


def greedy_reference(model, text, max_len):
    """Greedy decoding the slow, obvious way: the whole model on the whole prefix, one byte at a
    time, until EOS or max_len bytes. Returns the byte ids written (EOS not included)."""
    src = np.array([bt.encode(text, eos=True)])
    tgt = [bt.BOS_ID]
    while len(tgt) - 1 < max_len:
        next_id = int(model.forward(src, np.array([tgt]))[0, -1].argmax())
        if next_id == bt.EOS_ID:
            break
        tgt.append(next_id)
    return tgt[1:]


def test_translate_is_greedy_decoding_batched_deterministic_and_stops_at_max_len():
    model = tiny_model(7)
    texts = ["Hello.", "Longer one.", "Oui"]
    outs = bt.translate(model, texts, max_len=10)
    expected = [greedy_reference(model, t, max_len=10) for t in texts]
    assert outs == [bt.decode(ids) for ids in expected]
    assert max(len(ids) for ids in expected) == 10  # an untrained model runs on: max_len stops it, exactly
    assert [bt.translate(model, [t], max_len=10)[0] for t in texts] == outs  # batching changes nothing
    assert bt.translate(model, texts, max_len=10) == outs


def test_translate_stops_at_eos():
    model = tiny_model(8)
    model.output.params["b"][bt.EOS_ID] = 1e3  # the model now always says "done"
    assert bt.translate(model, ["Hello.", "Yes"]) == ["", ""]
    model.output.params["b"][bt.EOS_ID] = 0
    model.output.params["b"][ord("a")] = 1e3  # and now always "a", until max_len
    assert bt.translate(model, ["Hello."], max_len=5) == ["aaaaa"]


def test_translate_refuses_too_long_input_and_bad_max_len():
    model = tiny_model()
    with pytest.raises(ValueError, match="more than max_len=16"):
        bt.translate(model, ["x" * 16])  # 16 bytes + EOS
    with pytest.raises(ValueError, match="max_len must be between 1 and 15"):
        bt.translate(model, ["x"], max_len=16)


# ---- checkpoints -----------------------------------------------------------------------------


def test_save_then_load_gives_identical_logits(tmp_path):
    model = tiny_model(9, norm_first=False)
    src, tgt = tiny_batch()
    path = tmp_path / "model.npz"
    bt.save_checkpoint(model, path)
    restored = bt.load_checkpoint(path)
    assert restored.config == model.config
    assert np.array_equal(restored.forward(src, tgt), model.forward(src, tgt))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary file left


def test_loading_a_truncated_file_raises_a_clear_error(tmp_path):
    path = tmp_path / "model.npz"
    bt.save_checkpoint(tiny_model(), path)
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a readable checkpoint"):
            bt.load_checkpoint(path)


def test_loading_a_file_with_a_missing_or_misshapen_tensor_raises(tmp_path):
    path = tmp_path / "model.npz"
    bt.save_checkpoint(tiny_model(), path)
    arrays = dict(np.load(path, allow_pickle=False))
    missing = {k: v for k, v in arrays.items() if k != "param/output.W"}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(ValueError, match=r"missing tensors \['output.W'\]"):
        bt.load_checkpoint(tmp_path / "missing.npz")
    misshapen = {**arrays, "param/output.b": np.zeros(3)}
    np.savez(tmp_path / "misshapen.npz", **misshapen)
    with pytest.raises(ValueError, match=r"tensor output.b has shape \(3,\)"):
        bt.load_checkpoint(tmp_path / "misshapen.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a bytetrans checkpoint"):
        bt.load_checkpoint(tmp_path / "other.npz")


def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = tiny_model(1)
    bt.save_checkpoint(old, path)
    before = path.read_bytes()

    def fail_halfway(file, **arrays):
        file.write(b"partial data")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", fail_halfway)
    with pytest.raises(KeyboardInterrupt):
        bt.save_checkpoint(tiny_model(2), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


# ---- the shape walk-through and the command ----------------------------------------------------


def test_shape_table_traces_every_stage_and_counts_every_parameter():
    model = tiny_model()
    src, tgt = tiny_batch()
    rows = bt.shape_table(model, src, tgt)
    assert sum(n for *_, n in rows) == bt.count_parameters(model)
    assert rows[0] == ("source ids", (2, 6), 0) and rows[-1][1] == (2, 7, 260)
    assert sum(1 for stage, *_ in rows if stage.startswith("encoder.layers.")) == 2


def test_demo_command_prints_the_shape_table_and_a_decode():
    result = subprocess.run(
        [sys.executable, "-m", "bytetrans_lib.diagnostics"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no runpy warning: the package imports its modules lazily
    assert "encoder.layers.0" in result.stdout and "1,026,308" in result.stdout
    assert "'The black cat sleeps.' -> " in result.stdout


def test_demo_command_prints_its_usage_for_help_and_refuses_what_it_does_not_know():
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "bytetrans_lib.diagnostics", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    result = run("--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: python -m bytetrans_lib.diagnostics")
    assert "--seed" in result.stdout and "encoder.layers.0" not in result.stdout  # the demo did not run
    for args, message in [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["extra"], "unrecognized arguments: extra"),
        (["--seed", "x"], "argument --seed: invalid int value: 'x'"),
        (["--seed", "-1"], "--seed must be >= 0, got -1"),
    ]:
        result = run(*args)
        assert result.returncode == 2 and message in result.stderr and result.stdout == "", args


def test_demo_cli_draws_the_weights_from_its_seed(capsys):
    bt.demo_cli(["--seed", "3"])
    seeded = capsys.readouterr().out
    bt.demo(seed=3)
    assert seeded == capsys.readouterr().out and "1,026,308" in seeded


def test_checkpoint_extra_arrays_round_trip(tmp_path):
    model = tiny_model(3)
    extra = {"step": np.array(42), "m/output.b": np.arange(5.0)}
    bt.save_checkpoint(model, tmp_path / "state.npz", extra=extra)
    restored, got = bt.load_checkpoint(tmp_path / "state.npz", return_extra=True)
    assert set(got) == set(extra) and int(got["step"]) == 42
    assert np.array_equal(got["m/output.b"], extra["m/output.b"])
    assert isinstance(bt.load_checkpoint(tmp_path / "state.npz"), bt.Transformer)


def test_a_saved_checkpoint_is_an_ordinary_file_not_a_private_one(tmp_path):
    import os

    bt.save_checkpoint(tiny_model(), tmp_path / "model.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o666 & ~umask


# ---- one residual wiring, used by the layers and by decoding -----------------------------------


def test_residual_is_x_plus_sublayer_of_ln_x_pre_ln_and_ln_of_x_plus_sublayer_post_ln():
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 3, 8))
    norm = bt.LayerNorm(8, dtype=np.float64)
    W = rng.standard_normal((8, 8))
    np.testing.assert_array_equal(bt.residual(x, norm, lambda a: a @ W, True), x + norm.forward(x) @ W)
    np.testing.assert_array_equal(bt.residual(x, norm, lambda a: a @ W, False), norm.forward(x + x @ W))
    # post-LN backward: the LayerNorm first, then both paths
    dz = norm.backward(dout)
    np.testing.assert_array_equal(bt.residual_backward(dout, norm, lambda d: d @ W.T, False), dz + dz @ W.T)
    _ = norm.forward(x)
    np.testing.assert_array_equal(
        bt.residual_backward(dout, norm, lambda d: d @ W.T, True), dout + norm.backward(dout @ W.T)
    )


@pytest.mark.parametrize("norm_first", [True, False])
def test_decode_step_runs_the_layers_own_attention_and_residual_wiring(monkeypatch, norm_first):
    model = tiny_model(3, norm_first=norm_first)
    src, _ = tiny_batch()
    cache = bt.DecoderCache(model, *model.encode(src))
    attends, residuals = [], []
    attend, residual = bt.MultiHeadAttention.attend, decoding.residual

    def counting_attend(self, *args, **kwargs):
        attends.append(self)
        return attend(self, *args, **kwargs)

    def counting_residual(*args):
        residuals.append(args[1])  # the LayerNorm of the sublayer
        return residual(*args)

    monkeypatch.setattr(bt.MultiHeadAttention, "attend", counting_attend)
    monkeypatch.setattr(decoding, "residual", counting_residual)
    bt.decode_step(model, cache, np.array([bt.BOS_ID, bt.BOS_ID]))
    layers = model.decoder.layers
    assert attends == [a for layer in layers for a in (layer.self_attn, layer.cross_attn)]
    assert residuals == [n for layer in layers for n in (layer.norm_1, layer.norm_2, layer.norm_3)]


def test_the_decoding_module_holds_no_attention_arithmetic_of_its_own():
    source = (ROOT / "bytetrans_lib" / "decoding.py").read_text(encoding="utf-8")
    for arithmetic in [" @ ", "sqrt", "softmax", "affine", "_split_heads", "_merge_heads", "W_q", "norm_first:"]:
        assert arithmetic not in source, f"decoding.py computes attention itself: it contains {arithmetic!r}"


# ---- decoding with a key/value cache ----------------------------------------------------------


@pytest.mark.parametrize("norm_first", [True, False])
def test_decode_step_gives_the_whole_prefix_logits_at_every_step_even_across_pad(norm_first):
    model = tiny_model(3, norm_first=norm_first)
    src, _ = tiny_batch()
    memory, src_mask = model.encode(src)
    cache = bt.DecoderCache(model, memory, src_mask)
    # a fixed target with PAD in the middle of one row: the cache must hide it as decode() does
    tgt = np.array(
        [
            [bt.BOS_ID, 67, 97, bt.PAD_ID, 118, 97, bt.EOS_ID, bt.PAD_ID, bt.PAD_ID, 120],
            [bt.BOS_ID, 79, 104, bt.EOS_ID, bt.PAD_ID, bt.PAD_ID, 33, 33, 33, 33],
        ]
    )
    for t in range(tgt.shape[1]):
        cached = bt.decode_step(model, cache, tgt[:, t])
        full = model.decode(tgt[:, : t + 1], memory, src_mask)[:, -1]
        np.testing.assert_allclose(cached, full, rtol=1e-10, atol=1e-12)
    assert cache.length == tgt.shape[1]


def test_translate_with_and_without_the_cache_writes_the_same_bytes():
    english = ["Hi!", "Oh no", "A cat.", "x"]
    for model in (tiny_model(4), tiny_model(5, dtype="float32", norm_first=False)):
        assert bt.translate(model, english) == bt.translate(model, english, use_cache=False)


def test_the_shipped_model_translates_the_same_with_and_without_the_cache():
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)  # float32, as users run it
    _, _, test_pairs = bt.split_pairs(bt.read_tsv(bt.CORPUS_PATH), seed=0)
    english = [e for e, _ in test_pairs[:64]]
    assert bt.translate(model, english) == bt.translate(model, english, use_cache=False)


def test_decode_step_refuses_a_full_cache_and_a_wrong_batch():
    model = tiny_model(6)
    src, _ = tiny_batch()
    cache = bt.DecoderCache(model, *model.encode(src))
    with pytest.raises(ValueError, match="one id per sentence"):
        bt.decode_step(model, cache, np.array([bt.BOS_ID]))
    for _ in range(model.config.max_len):
        bt.decode_step(model, cache, np.array([bt.BOS_ID, bt.BOS_ID]))
    with pytest.raises(ValueError, match="cache is full"):
        bt.decode_step(model, cache, np.array([65, 65]))


def test_the_shortest_model_translates_one_byte():
    model = tiny_model(max_len=2)
    assert len(bt.translate(model, ["a"])) == 1  # one byte + EOS in, BOS + one byte out
    with pytest.raises(ValueError, match="max_len must be between 1 and 1"):
        bt.translate(model, ["a"], max_len=2)


# ---- a batch of no sentences -------------------------------------------------------------------


def test_forward_refuses_an_empty_batch_with_a_clear_error():
    model = tiny_model()
    empty = np.zeros((0, 3), dtype=np.int64)
    with pytest.raises(ValueError, match=r"src_ids is an empty batch \(shape \(0, 3\)\)"):
        model.forward(empty, np.full((0, 2), bt.BOS_ID))
    with pytest.raises(ValueError, match="tgt_ids is an empty batch"):
        model.forward(tiny_batch()[0], np.zeros((0, 2), dtype=np.int64))


def test_translate_of_no_sentences_is_an_empty_list():
    model = tiny_model()
    assert bt.translate(model, []) == []
    assert bt.translate(model, ()) == []


# ---- translate: what it accepts ---------------------------------------------------------------


@pytest.mark.parametrize(
    "model, texts, kwargs, error, pattern",
    [
        (
            "tiny",
            "hello",
            {},
            TypeError,
            r"translate expects texts as a list of str, got str; wrap one sentence in a list",
        ),
        ("tiny", None, {}, TypeError, "translate expects texts as a list of str, got NoneType"),
        ("tiny", b"hello", {}, TypeError, "got bytes"),
        ("tiny", 42, {}, TypeError, "got int"),
        ("tiny", ["fine", 42], {}, TypeError, r"translate: texts\[1\] is int, not a str"),
        ("tiny", ["fine", None], {}, TypeError, r"texts\[1\] is NoneType"),
        (None, ["hello"], {}, TypeError, "translate needs a Transformer as model, got NoneType"),
        ("a string", ["hello"], {}, TypeError, "translate needs a Transformer as model, got str"),
        ("tiny", ["hello"], {"max_len": 5.5}, TypeError, "translate: max_len must be an int, got 5.5"),
        ("tiny", ["hello"], {"max_len": "10"}, TypeError, "max_len must be an int, got '10'"),
        ("tiny", ["hello"], {"max_len": True}, TypeError, "max_len must be an int, got True"),
        ("tiny", ["hello"], {"max_len": 0}, ValueError, "max_len must be between 1 and 15"),
    ],
)
def test_translate_refuses_a_bare_string_a_missing_model_and_a_non_integer_max_len(
    model, texts, kwargs, error, pattern
):
    model = tiny_model() if model == "tiny" else model
    with pytest.raises(error, match=pattern):
        bt.translate(model, texts, **kwargs)


def test_translate_normalises_each_text_as_the_training_data_was():
    model = tiny_model(7)
    for typed, plain in [
        (" I eat. ", "I eat."),
        ("I don’t know.", "I don't know."),
        ("Bonjour\u202f!", "Bonjour !"),
        ("«\u00a0Oui\u00a0» – ok…", '"Oui" - ok...'),
        ("cafe\u0301", "café"),
        ("a  b\tc ", "a b c"),
    ]:
        assert bt.translate(model, [typed], max_len=12) == bt.translate(model, [plain], max_len=12), typed
    # a text of 15 bytes once normalised fits max_len=16 with its EOS, even if typed with more
    assert len(bt.translate(model, ["   " + "x" * 15 + "   "], max_len=3)) == 1


def test_translate_returns_an_empty_string_for_an_empty_text_without_running_the_model(monkeypatch):
    model = tiny_model(8)
    model.output.params["b"][ord("a")] = 1e3  # the model always says "a", whatever it reads
    assert bt.translate(model, ["", "   ", "Hello.", "\n\u00a0"], max_len=5) == ["", "", "aaaaa", ""]

    def no_model(*args, **kwargs):
        raise AssertionError("the model was run for empty texts")

    monkeypatch.setattr(model, "encode", no_model)
    assert bt.translate(model, ["", " \t "]) == ["", ""]


def test_translate_names_the_text_that_is_too_long():
    model = tiny_model()
    with pytest.raises(
        ValueError,
        match=r"translate: texts\[2\] is 16 bytes long, 17 ids with its EOS: "
        "more than max_len=16",
    ):
        bt.translate(model, ["ok", "", "x" * 16])


def test_the_shipped_model_translates_typed_spellings_like_plain_ones():
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    typed = [" I eat. ", "I don’t know.", "  Where is the station?\n", "It’s “red”."]
    plain = ["I eat.", "I don't know.", "Where is the station?", 'It\'s "red".']
    assert bt.translate(model, typed) == bt.translate(model, plain)
    assert [bt.translate(model, [t])[0] for t in typed] == bt.translate(model, plain)
    assert bt.translate(model, ["", "I eat."])[0] == ""


def test_the_shipped_model_translates_text_with_invisible_characters_like_without():
    """A byte-order mark (Notepad), a zero-width space or a soft hyphen (web pages): invisible,
    and without normalize_text removing them, enough to turn "Le chat dort." into nonsense."""
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    plain = bt.translate(model, ["The cat sleeps.", "Where is the school?"])
    assert plain[0] == "Le chat dort."
    assert bt.translate(model, ["\ufeffThe cat sleeps.", "Where\u200b is the\u2060 sch\u00adool?"]) == plain


def test_embedding_and_positional_encoding_backward_refuse_a_dout_of_the_wrong_shape():
    """np.add.at would broadcast a wrong dout into the embedding's gradient without a word."""
    emb = bt.Embedding(11, 4, rng=np.random.default_rng(0), dtype=np.float64)
    emb.forward(np.array([[1, 2, 3], [4, 5, 6]]))  # (2, 3) -> (2, 3, 4)
    for wrong in [np.ones(4), np.ones((3, 4)), np.ones((2, 3, 5)), np.ones((1, 3, 4))]:
        with pytest.raises(ValueError, match=r"Embedding.backward expects dout of shape \(2, 3, 4\)"):
            emb.backward(wrong)
    assert not emb.grads["E"].any()  # nothing was accumulated
    pe = bt.PositionalEncoding(8, 4, dtype=np.float64)
    pe.forward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"PositionalEncoding.backward expects dout of shape \(2, 3, 4\)"):
        pe.backward(np.ones(4))
    with pytest.raises(ValueError, match="PositionalEncoding expects x of shape"):
        pe.forward(np.zeros((3, 4)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: bt.Embedding(-1, 4, rng=np.random.default_rng(0)),
        lambda: bt.Embedding(11, 2.5, rng=np.random.default_rng(0)),
        lambda: bt.Embedding(11, 4, rng=np.random.default_rng(0), dtype=np.int64),
        lambda: bt.PositionalEncoding(0, 4),
        lambda: bt.PositionalEncoding(8, 4, dtype="int32"),
    ],
)
def test_embedding_and_positional_encoding_refuse_bad_sizes_and_dtypes_by_name(make):
    with pytest.raises((TypeError, ValueError), match="Embedding|PositionalEncoding"):
        make()


def test_each_stack_and_layer_refuses_bad_input_at_its_own_door_and_trusts_its_model():
    """Issue 30: inner layers skip their checks inside a model, so a layer or stack a user calls
    directly must refuse what its first layer refused before, by name."""
    cfg = bt.Config(d_model=8, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=12, max_len=8, dtype="float64")
    model = bt.Transformer(cfg, rng=np.random.default_rng(0))
    src, tgt = bt.encode_batch(["ab", "c"], eos=True), bt.encode_batch(["xy", "z"], bos=True)  # (2, 3) each
    x = np.zeros((2, 3, 8))
    encoder_layer, decoder_layer = model.encoder.layers[0], model.decoder.layers[0]
    with pytest.raises(ValueError, match=r"mask of shape \(2, 3\) cannot broadcast to the attention scores' shape"):
        encoder_layer.forward(x, np.ones((2, 3), bool))
    with pytest.raises(TypeError, match="`mask == 0`"):
        encoder_layer.forward(x, np.zeros((2, 1, 1, 3)))
    with pytest.raises(ValueError, match=r"x_kv \(2, 3, 6\)"):
        decoder_layer.forward(x, np.zeros((2, 3, 6)))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.encoder.forward(np.array([[1, 300]]), None)
    with pytest.raises(ValueError, match="sequence length 9 is longer than max_len=8"):
        model.decoder.forward(np.ones((2, 9), int), np.zeros((2, 3, 8)), None, None)
    with pytest.raises(ValueError, match="different batch sizes"):
        model.decoder.forward(tgt, np.zeros((1, 3, 8)), None, None)
    memory = model.encoder.forward(src, bt.padding_mask(src))
    with pytest.raises(ValueError, match=r"Encoder.backward expects dout of shape \(2, 3, 8\)"):
        model.encoder.backward(np.ones((2, 8)))
    model.decoder.forward(tgt, memory, bt.target_mask(tgt), bt.padding_mask(src))
    with pytest.raises(ValueError, match=r"Decoder.backward expects dout of shape \(2, 3, 8\)"):
        model.decoder.backward(np.ones((2, 3, 5)))
    logits = model.forward(src, tgt)
    with pytest.raises(ValueError, match=r"Transformer.backward expects dout of shape \(2, 3, 260\)"):
        model.backward(np.ones(logits.shape[1:]))
    with pytest.raises(ValueError, match=r"batch sizes differ: 2 sources but 1 targets"):
        model.decode(tgt[:1], memory, bt.padding_mask(src))
    seen = []
    monkey = bt.MultiHeadAttention.check_forward
    bt.MultiHeadAttention.check_forward = lambda self, *a, **k: seen.append(1) or monkey(self, *a, **k)
    try:
        model.forward(src, tgt)  # inside the model, no attention checks its inputs again
        assert seen == []
        encoder_layer.forward(x)  # a layer called by hand is checked
        assert seen == [1]
    finally:
        bt.MultiHeadAttention.check_forward = monkey


def test_positional_table_is_the_formula_in_float64_for_odd_and_even_widths():
    for max_len, d in [(5, 4), (6, 5)]:
        pe = bt.positional_table(max_len, d)
        assert pe.dtype == np.float64 and pe.shape == (max_len, d)
        p, i = 3, 1
        assert np.isclose(pe[p, 2 * i], np.sin(p / 10000 ** (2 * i / d)))
        assert np.isclose(pe[p, 2 * i + 1], np.cos(p / 10000 ** (2 * i / d)))
    assert np.array_equal(bt.PositionalEncoding(6, 5, dtype=np.float64).pe, bt.positional_table(6, 5))


def test_stacks_without_layers_still_check_their_ids_at_the_door():
    cfg = bt.Config(n_encoder_layers=0, n_decoder_layers=0, d_model=8, n_heads=2, d_ff=8, max_len=8)
    model = bt.Transformer(cfg, rng=np.random.default_rng(0))
    src, tgt = bt.encode_batch(["a"], eos=True), bt.encode_batch(["b"], bos=True)
    memory = model.encoder.forward(src, bt.padding_mask(src))
    assert memory.shape == (1, 2, 8)
    assert model.decoder.forward(tgt, memory, bt.target_mask(tgt), bt.padding_mask(src)).shape == (1, 2, 8)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.encoder.forward(np.array([[300]]), None)
