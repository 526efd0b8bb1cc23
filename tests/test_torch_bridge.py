"""Notebook 11: the PyTorch twin of the course's Transformer, proved equal to it (logits, loss, every
hand-written gradient, Adam, decoding), and notebook 08's training loop on one and two processes.

Skipped, saying why, where PyTorch is not installed: the course up to notebook 10 never needs it
(`make torch` installs it; CI does)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (make torch): notebook 11 needs it")

from conftest import EIGHT_PAIRS, ROOT  # noqa: E402

import bytetrans_lib as bt  # noqa: E402
from bytetrans_lib import torch_bridge as tb  # noqa: E402

SMALL = bt.Config(d_model=16, n_heads=2, n_encoder_layers=2, n_decoder_layers=2, d_ff=24, max_len=16, dtype="float64")


def random_model(config, seed=0):
    """Every tensor random, biases and norms included: zeros and ones hide mistakes in their gradients."""
    rng = np.random.default_rng(seed)
    model = bt.Transformer(config, rng=rng)
    for p in model.parameters().values():
        p += 0.3 * rng.standard_normal(p.shape)
    return model


def batch(seed=1):
    rng = np.random.default_rng(seed)
    src = bt.pad_batch([rng.integers(3, 256, 9), rng.integers(3, 256, 5), rng.integers(3, 256, 7)])
    tgt = bt.pad_batch([rng.integers(3, 256, 8), rng.integers(3, 256, 3), rng.integers(3, 256, 6)])
    return src, tgt[:, :-1], tgt[:, 1:]


def grad_error(a, b, scale):
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-6 * scale))


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_every_hand_written_gradient_equals_autograds_in_float64(norm_first, dropout):
    config = bt.Config(**{**SMALL.to_dict(), "norm_first": norm_first, "dropout": dropout})
    model = random_model(config)
    src, tgt_in, tgt_out = batch()
    torch_model = tb.to_torch(model).train()
    bt.train_mode(model, np.random.default_rng(7))
    tb.course_masks(torch_model, np.random.default_rng(7))
    loss_fn = bt.CrossEntropyLoss(label_smoothing=0.1)
    logits = model.forward(src, tgt_in)
    loss = loss_fn.forward(logits, tgt_out)
    model.zero_grad()
    model.backward(loss_fn.backward())
    logits_t = torch_model(torch.from_numpy(src), torch.from_numpy(tgt_in))
    loss_t = tb.label_smoothed_loss(logits_t, torch.from_numpy(tgt_out), 0.1)
    loss_t.backward()
    assert bt.rel_error(logits, logits_t.detach().numpy()) <= 1e-10
    assert abs(loss - loss_t.item()) <= 1e-12 * loss
    grads = model.gradients()
    scale = max(np.abs(g).max() for g in grads.values())
    names = [name for name, _ in torch_model.named_parameters()]
    assert names == list(grads)  # every parameter of the whole model, none left out
    errors = {name: grad_error(grads[name], t.grad.numpy(), scale) for name, t in torch_model.named_parameters()}
    assert max(errors.values()) <= 1e-9, max(errors, key=errors.get)
    if dropout:  # the masks matter: without them the two disagree
        torch_model.zero_grad()
        tb.course_masks(torch_model, np.random.default_rng(8))
        other = torch_model(torch.from_numpy(src), torch.from_numpy(tgt_in))
        assert bt.rel_error(logits, other.detach().numpy()) > 1e-3


def test_a_planted_mistake_in_a_backward_pass_is_caught():
    """The comparison can fail: a NumPy backward that forgets LayerNorm's gamma disagrees with autograd."""
    model = random_model(SMALL)
    src, tgt_in, tgt_out = batch()
    torch_model = tb.to_torch(model)
    loss_fn = bt.CrossEntropyLoss()
    layer = model.decoder.layers[0].norm_2
    original = layer.backward

    def wrong(dout):
        gamma = layer.params["gamma"].copy()
        layer.params["gamma"][...] = 1.0
        try:
            return original(dout)
        finally:
            layer.params["gamma"][...] = gamma

    layer.backward = wrong
    loss_fn.forward(model.forward(src, tgt_in), tgt_out)
    model.zero_grad()
    model.backward(loss_fn.backward())
    tb.label_smoothed_loss(
        torch_model(torch.from_numpy(src), torch.from_numpy(tgt_in)), torch.from_numpy(tgt_out)
    ).backward()
    grads = model.gradients()
    wrong_ones = [n for n, t in torch_model.named_parameters() if bt.rel_error(grads[n], t.grad.numpy()) > 1e-6]
    assert "decoder.layers.0.self_attn.W_q" in wrong_ones and "output.W" not in wrong_ones


def test_float32_logits_of_the_shipped_model_agree_to_1e_5():
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    pairs = bt.read_tsv(bt.CORPUS_PATH)[:16]
    src, tgt_in, tgt_out = bt.make_batch(bt.encode_pairs(pairs, model.config.max_len), np.arange(16))
    logits = model.forward(src, tgt_in)
    with torch.no_grad():
        logits_t = tb.to_torch(model)(torch.from_numpy(src), torch.from_numpy(tgt_in)).numpy()
    assert logits_t.dtype == np.float32
    assert np.abs(logits - logits_t).max() <= 1e-5 * np.abs(logits).max()


def test_numpy_torch_numpy_is_the_identity_byte_for_byte_through_a_checkpoint(tmp_path):
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    bt.save_checkpoint(tb.to_numpy(tb.to_torch(model)), tmp_path / "back.npz")
    back = bt.load_checkpoint(tmp_path / "back.npz")
    assert back.config == model.config
    for name, p in model.parameters().items():
        q = back.parameters()[name]
        assert q.dtype == p.dtype and q.shape == p.shape and q.tobytes() == p.tobytes(), name
    assert list(tb.TorchTransformer(model.config).state_dict()) == list(model.parameters())


def test_conversions_refuse_what_is_not_the_other_model():
    with pytest.raises(TypeError, match="to_torch needs a bytetrans Transformer"):
        tb.to_torch(tb.TorchTransformer(bt.Config()))
    with pytest.raises(TypeError, match="to_numpy needs a TorchTransformer"):
        tb.to_numpy(bt.Transformer(bt.Config(), rng=np.random.default_rng(0)))
    with pytest.raises(TypeError, match="TorchTransformer needs a Config"):
        tb.TorchTransformer({"d_model": 16})
    other = bt.Transformer(bt.Config(d_model=32, n_heads=2, d_ff=64), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"copy_to_numpy: encoder.embedding.E has shape \(260, 128\) in PyTorch"):
        tb.copy_to_numpy(tb.TorchTransformer(bt.Config()), other)
    post = bt.Transformer(bt.Config(norm_first=False), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"unexpected \['decoder.norm.beta'"):
        tb.copy_to_numpy(tb.TorchTransformer(bt.Config()), post)


def test_attention_gives_zero_weights_to_a_query_with_no_key_and_no_nan_gradients():
    rng = np.random.default_rng(1)
    layer = bt.MultiHeadAttention(8, 2, rng=rng, dtype=np.float64)
    torch_layer = tb.TorchAttention(8, 2, torch.float64)
    with torch.no_grad():
        for name, t in torch_layer.named_parameters():
            t.copy_(torch.from_numpy(layer.params[name]))
    x = rng.standard_normal((2, 4, 8))
    mask = np.ones((2, 1, 4, 4), dtype=bool)
    mask[1, :, 2] = False
    out = layer.forward(x, x, mask)
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch_layer(xt, xt, torch.from_numpy(mask))
    out_t.sum().backward()
    assert bt.rel_error(out, out_t.detach().numpy()) <= 1e-12
    assert np.all(torch_layer.attn[1, :, 2].numpy() == 0) and torch.isfinite(xt.grad).all()


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_the_course_adam_equals_torch_adam_with_eps_added_to_the_corrected_root(weight_decay):
    rng = np.random.default_rng(3)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    tensors = {name: torch.tensor(p.copy(), requires_grad=True) for name, p in params.items()}
    ours = bt.Adam(
        params, lr=1e-2, betas=(0.9, 0.98), eps=1e-3, weight_decay=weight_decay
    )  # a large eps: its place shows
    kind = torch.optim.AdamW if weight_decay else torch.optim.Adam
    theirs = kind(tensors.values(), lr=1e-2, betas=(0.9, 0.98), eps=1e-3, weight_decay=weight_decay)
    for _ in range(5):
        grads = {name: 1e-3 * rng.standard_normal(p.shape) for name, p in params.items()}
        ours.step(grads)
        for name, t in tensors.items():
            t.grad = torch.from_numpy(grads[name].copy())
        theirs.step()
    for name, p in params.items():
        assert bt.rel_error(p, tensors[name].detach().numpy()) <= 1e-13, name


def test_adam_state_goes_both_ways():
    model = random_model(SMALL)
    torch_model = tb.to_torch(model)
    optimizer = tb.torch_adam(torch_model, lr=1e-3)
    src, tgt_in, tgt_out = batch()
    for _ in range(2):
        optimizer.zero_grad()
        tb.label_smoothed_loss(
            torch_model(torch.from_numpy(src), torch.from_numpy(tgt_in)), torch.from_numpy(tgt_out)
        ).backward()
        optimizer.step()
    course = tb.adam_state_to_course(optimizer, torch_model, model)
    assert course.t == 2
    again = tb.torch_adam(tb.to_torch(model), lr=1e-3)
    tb.adam_state_from_course(course, again, torch_model)
    for p in torch_model.parameters():
        assert torch.equal(again.state[p]["exp_avg"], optimizer.state[p]["exp_avg"])


def test_greedy_decoding_and_beam_search_choose_the_same_bytes():
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    torch_model = tb.to_torch(model)
    sentences = [english for english, _ in bt.read_tsv(bt.CORPUS_PATH)[-10:]] + ["", "  The cat.  "]
    assert bt.translate(model, sentences) == tb.translate_torch(torch_model, sentences)
    for sentence in sentences[:3] + [""]:
        (best, score), (best_t, score_t) = (
            bt.beam_search(model, sentence, beam=3),
            tb.beam_search_torch(torch_model, sentence, beam=3),
        )
        assert best == best_t and abs(score - score_t) <= 1e-4


def test_fit_and_fit_torch_take_the_same_steps_with_dropout():
    pairs = bt.read_tsv(bt.CORPUS_PATH)[:200]
    config = bt.Config(d_model=32, n_heads=2, d_ff=64, dropout=0.1)
    tc = bt.TrainConfig(steps=6, batch_size=16, warmup=2, eval_every=3, n_eval=4)
    histories = []
    for trainer in (bt.fit, tb.fit_torch):
        model = bt.Transformer(config, rng=np.random.default_rng(0))
        histories.append(trainer(model, pairs[:180], pairs[180:], tc, log=lambda line: None))
    for key in ("train_loss", "valid_loss"):
        assert np.allclose(histories[0][key], histories[1][key], rtol=1e-5), key
    assert histories[0]["step"] == histories[1]["step"] == [3, 6]


def test_a_state_saved_by_fit_torch_resumes_in_fit_where_it_stopped(tmp_path):
    pairs = bt.read_tsv(bt.CORPUS_PATH)[:200]
    config = bt.Config(d_model=32, n_heads=2, d_ff=64)
    short, full = (bt.TrainConfig(steps=s, batch_size=16, warmup=2, eval_every=3, n_eval=4) for s in (3, 6))
    straight = bt.Transformer(config, rng=np.random.default_rng(0))
    reference = bt.fit(straight, pairs[:180], pairs[180:], full, log=lambda line: None)
    first = bt.Transformer(config, rng=np.random.default_rng(0))
    tb.fit_torch(first, pairs[:180], pairs[180:], short, state_path=tmp_path / "s.npz", log=lambda line: None)
    resumed = bt.Transformer(config, rng=np.random.default_rng(0))
    history = bt.fit(resumed, pairs[:180], pairs[180:], full, resume=tmp_path / "s.npz", log=lambda line: None)
    assert history["step"] == [3, 6]
    assert np.allclose(history["train_loss"], reference["train_loss"], rtol=1e-4)


def test_fit_torch_refuses_what_it_cannot_do():
    model = bt.Transformer(bt.Config(d_model=32, n_heads=2, d_ff=64), rng=np.random.default_rng(0))
    tc = bt.TrainConfig(steps=2, batch_size=4, eval_every=2, n_eval=2)
    with pytest.raises(ValueError, match="records no attention maps"):
        tb.fit_torch(model, EIGHT_PAIRS, EIGHT_PAIRS, tc, record=lambda m, s: None)
    with pytest.raises(ValueError, match="masks must be 'course' or 'torch'"):
        tb.fit_torch(model, EIGHT_PAIRS, EIGHT_PAIRS, tc, masks="numpy")


def run(command, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_two_processes_under_torchrun_give_one_process_loss_curve_and_a_numpy_checkpoint(tmp_path):
    bt.write_tsv(bt.read_tsv(bt.CORPUS_PATH)[:300], tmp_path / "pairs.tsv")
    flags = "--data pairs.tsv --steps 8 --batch-size 16 --warmup 3 --eval-every 4 --n-eval 6 --n-test 6"
    flags += " --d-model 32 --n-heads 2 --d-ff 64 --dropout 0.1 --threads 1"
    torchrun = Path(sys.executable).with_name("torchrun")
    one = run([sys.executable, "-m", "bytetrans_lib.torch_bridge", *flags.split(), "--out", "one.npz"], tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    two = run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node=2",
            "--log-dir=logs",  # torchrun's own logs: here, not in a new folder of /tmp at every run
            "-m",
            "bytetrans_lib.torch_bridge",
            *flags.split(),
            "--out",
            "two.npz",
        ],
        tmp_path,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("model written to two.npz") == 1  # the first process reports; the other is silent
    a, b = (json.loads((tmp_path / f"{name}.json").read_text())["history"] for name in ("one", "two"))
    assert a["step"] == b["step"] == [4, 8]
    for key in ("train_loss", "valid_loss"):
        assert np.allclose(a[key], b[key], rtol=1e-5), key
    model = bt.load_checkpoint(tmp_path / "two.npz")
    assert model.config.dropout == 0.1 and isinstance(bt.translate(model, ["The cat."])[0], str)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["pairs.tsv", "one.npz", "one.json", "one.state.npz", "two.npz", "two.json", "two.state.npz", "logs"]
    )  # and torchrun's logs, where --log-dir put them


def test_the_command_refuses_a_device_it_does_not_have_and_bad_flags(tmp_path, capsys):
    if not torch.cuda.is_available():
        assert tb.train_torch_cli(["--device", "cuda", "--out", str(tmp_path / "x.npz")]) == 2
        assert "PyTorch sees no CUDA device here" in capsys.readouterr().err
    assert tb.train_torch_cli(["--threads", "0", "--out", str(tmp_path / "x.npz")]) == 2
    assert "--threads must be >= 1" in capsys.readouterr().err
    assert tb.train_torch_cli(["--dropout", "1.5", "--out", str(tmp_path / "x.npz")]) == 2
    assert "Config.dropout must be in [0, 1)" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_the_module_says_what_to_install_when_torch_is_missing():
    code = "import sys; sys.modules['torch'] = None; import bytetrans_lib.torch_bridge"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0 and "needs PyTorch" in done.stderr and "make torch" in done.stderr
