"""The training loop of notebook 07: batches, metrics, resume, divergence, the command, the shipped model."""
import json
import subprocess
import sys

import numpy as np
import pytest

import bytetrans_lib as bt
import bytetrans_lib.train as train_module
from conftest import ROOT

PAIRS = [("The cat sleeps.", "Le chat dort."), ("I eat an apple.", "Je mange une pomme."),
         ("Where is the school?", "Où est l'école ?"), ("Yes.", "Oui."), ("We sing.", "Nous chantons."),
         ("The sea is blue.", "La mer est bleue."), ("Hello.", "Bonjour."), ("Thank you.", "Merci.")] * 4
TINY = bt.Config(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32, max_len=32)
QUICK = dict(steps=8, batch_size=8, warmup=4, eval_every=4, n_eval=4)


def quiet(line):
    pass


# ---- batches -----------------------------------------------------------------------------------

def test_encode_pairs_builds_teacher_forcing_sequences():
    (src, tgt_in, tgt_out), = bt.encode_pairs([("Hi.", "Où ?")], max_len=16)
    assert src.tolist() == [*b"Hi.", bt.EOS_ID]
    assert tgt_in.tolist() == [bt.BOS_ID, *"Où ?".encode()]
    assert tgt_out.tolist() == [*"Où ?".encode(), bt.EOS_ID]


def test_encode_pairs_refuses_pairs_longer_than_max_len_and_counts_them():
    with pytest.raises(ValueError, match=r"2 pair\(s\) need more than max_len=8 ids \(the first is pair 1\)"):
        bt.encode_pairs([("a", "b"), ("a" * 8, "b"), ("a", "b" * 8)], max_len=8)


def test_epoch_batches_cover_every_pair_once_grouped_by_length_and_seeded():
    encoded = bt.encode_pairs(PAIRS, max_len=32)
    batches = bt.epoch_batches(encoded, 5, seed=3, epoch=0)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(encoded)))
    again = bt.epoch_batches(encoded, 5, seed=3, epoch=0)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    other = bt.epoch_batches(encoded, 5, seed=3, epoch=1)
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other))
    for indices in batches:  # lengths within a batch are close: sorted before cutting
        lengths = [max(len(encoded[i][0]), len(encoded[i][1])) for i in indices]
        assert max(lengths) - min(lengths) <= 8
    src, tgt_in, tgt_out = bt.make_batch(encoded, batches[0])
    assert src.shape[0] == tgt_in.shape[0] == len(batches[0]) and tgt_in.shape == tgt_out.shape


# ---- metrics -----------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, distance", [("", "", 0), ("abc", "", 3), ("chat", "chats", 1),
                                            ("kitten", "sitting", 3), ("école", "ecole", 1)])
def test_edit_distance_counts_insertions_deletions_and_substitutions(a, b, distance):
    assert bt.edit_distance(a, b) == distance == bt.edit_distance(b, a)


def test_evaluate_scores_exact_match_and_character_accuracy(monkeypatch):
    pairs = [("a", "abcd"), ("b", "wxyz"), ("c", "ok")]
    table = {"a": "abcd", "b": "wxy", "c": "no"}  # what a fake model "translates"
    monkeypatch.setattr(train_module, "translate", lambda model, texts: [table[t] for t in texts])
    metrics, outputs = bt.evaluate(None, pairs)
    assert outputs == ["abcd", "wxy", "no"]
    assert metrics["n"] == 3 and metrics["exact_match"] == pytest.approx(1 / 3)
    assert metrics["char_accuracy"] == pytest.approx(1 - (0 + 1 + 2) / 10)


# ---- the loop ----------------------------------------------------------------------------------

def test_train_config_refuses_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match=r"unknown TrainConfig key\(s\) \['step'\]"):
        bt.TrainConfig.from_dict({"step": 10})
    with pytest.raises(ValueError, match="must be >= 1"):
        bt.TrainConfig(steps=0)
    with pytest.raises(ValueError, match="peak_lr must be a number >= 0"):
        bt.TrainConfig(peak_lr=-1.0)
    assert bt.TrainConfig(peak_lr=2e-3, warmup=100).lr(100, 128) == pytest.approx(2e-3)


def test_training_lowers_the_loss_and_records_its_history():
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    history = bt.fit(model, PAIRS, PAIRS[:4], bt.TrainConfig(**{**QUICK, "steps": 40, "eval_every": 20}), log=quiet)
    assert history["step"] == [20, 40]
    assert history["train_loss"][1] < history["train_loss"][0] < np.log(260) + 1
    assert all(len(v) == 2 for v in history.values())


def test_an_interrupted_run_resumes_bit_for_bit(tmp_path):
    straight = bt.Transformer(TINY, rng=np.random.default_rng(0))
    bt.fit(straight, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), log=quiet)
    def interrupt(history):  # called after the training state of step 4 is saved
        raise KeyboardInterrupt

    first = bt.Transformer(TINY, rng=np.random.default_rng(0))
    with pytest.raises(KeyboardInterrupt):
        bt.fit(first, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), state_path=tmp_path / "s.npz",
               on_eval=interrupt, log=quiet)
    resumed = bt.Transformer(TINY, rng=np.random.default_rng(7))
    history = bt.fit(resumed, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), state_path=tmp_path / "s.npz",
                       resume=tmp_path / "s.npz", log=quiet)
    assert history["step"] == [4, 8]
    for name, p in straight.parameters().items():
        assert np.array_equal(p, resumed.parameters()[name]), name


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the NaN is the point
def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    state = tmp_path / "s.npz"
    bt.fit(model, PAIRS, PAIRS[:4], bt.TrainConfig(**{**QUICK, "steps": 4}), state_path=state, log=quiet)
    good = state.read_bytes()
    model.decoder.embedding.params["E"][:] = np.inf
    with pytest.raises(bt.TrainingDiverged, match=r"became nan at step 1; nothing was saved by this run, so .*s.npz is as it was"):
        bt.fit(model, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), state_path=state, log=quiet)
    assert state.read_bytes() == good


# ---- the command -------------------------------------------------------------------------------

TINY_ARGS = ["--steps", "6", "--eval-every", "3", "--n-eval", "4", "--n-test", "4", "--batch-size", "8",
             "--warmup", "2", "--d-model", "16", "--n-heads", "2", "--d-ff", "32",
             "--n-encoder-layers", "1", "--n-decoder-layers", "1", "--max-len", "32"]


def run_train(*args):
    return subprocess.run([sys.executable, "-m", "bytetrans_lib.train", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_the_command_trains_end_to_end_deterministically_and_resumes(tmp_path):
    data = tmp_path / "pairs.tsv"
    bt.write_tsv(PAIRS * 3, data)
    outputs = []
    for name in ["a", "b"]:
        result = run_train("--data", str(data), "--out", str(tmp_path / f"{name}.npz"), *TINY_ARGS)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert "test: exact match" in result.stdout
        outputs.append(bt.load_checkpoint(tmp_path / f"{name}.npz"))
    for param, p in outputs[0].parameters().items():  # same seed, same machine: the same model
        assert np.array_equal(p, outputs[1].parameters()[param])
    report = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert report["history"]["step"] == [3, 6] and report["test"]["n"] == 4
    assert (tmp_path / "a.state.npz").is_file()
    nine_steps = ["--steps", "9", *TINY_ARGS[2:]]  # TINY_ARGS starts with --steps 6
    longer = run_train("--data", str(data), "--out", str(tmp_path / "c.npz"), "--resume",
                       str(tmp_path / "a.state.npz"), *nine_steps)
    assert longer.returncode == 0, longer.stderr
    assert json.loads((tmp_path / "c.json").read_text())["history"]["step"] == [3, 6, 9]


def test_the_command_reports_a_missing_data_file():
    result = run_train("--data", "no/such/file.tsv")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("no/such/file.tsv: no such file")


# ---- the shipped model -------------------------------------------------------------------------

def test_the_shipped_model_loads_translates_and_met_its_targets():
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    assert model.config == bt.Config()
    report = json.loads(bt.DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    assert report["test"]["exact_match"] >= 0.85 and report["test"]["char_accuracy"] >= 0.97
    assert report["seconds"] <= 15 * 60
    _, _, test_pairs = bt.split_pairs(bt.read_tsv(bt.CORPUS_PATH), seed=0)
    english = [e for e, _ in test_pairs[:20]]
    french = [f for _, f in test_pairs[:20]]
    correct = sum(a == b for a, b in zip(bt.translate(model, english), french))
    assert correct >= 15  # held-out sentences, never seen in training


def test_fit_reports_progress_after_every_step_and_the_bar_draws_in_place(capsys):
    calls = []
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    bt.fit(model, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), log=quiet,
           progress=lambda step, steps, loss, speed: calls.append((step, steps, loss, speed)))
    assert [c[0] for c in calls] == list(range(1, 9)) and all(c[1] == 8 and c[3] > 0 for c in calls)
    bt.terminal_progress(4, 8, 1.5, 1234.0, width=8)
    bt.terminal_progress(8, 8, 1.25, 1234.0, width=8)
    err = capsys.readouterr().err
    assert err == "\r[####....] step 4/8  loss 1.500  1,234 tok/s \r[########] step 8/8  loss 1.250  1,234 tok/s \n"
