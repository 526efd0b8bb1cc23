"""The training loop of notebook 08: batches, metrics, resume, divergence, the command, the shipped model."""

import dataclasses
import hashlib
import inspect
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import EIGHT_PAIRS, ROOT

import bytetrans_lib as bt
import bytetrans_lib.train as train_module
from bytetrans_lib import preflight, scoring

PAIRS = EIGHT_PAIRS * 4
TINY = bt.Config(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32, max_len=32)
QUICK = dict(steps=8, batch_size=8, warmup=4, eval_every=4, n_eval=4)


def quiet(line):
    pass


# ---- batches -----------------------------------------------------------------------------------


def test_encode_pairs_builds_teacher_forcing_sequences():
    ((src, tgt_in, tgt_out),) = bt.encode_pairs([("Hi.", "Où ?")], max_len=16)
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


def test_too_long_pairs_names_the_pairs_a_model_cannot_hold_and_max_len_needed_the_size_that_would():
    pairs = [("Hi.", "Salut."), ("a" * 8, "b"), ("a", "é" * 4), ("a", "b" * 7)]  # "é" is 2 bytes: 8 in all
    assert bt.too_long_pairs(pairs, max_len=8) == [1, 2]  # 8 bytes + EOS (or BOS + 8 bytes): 9 ids
    assert bt.max_len_needed(pairs, [1, 2]) == 9
    assert bt.too_long_pairs(pairs, max_len=9) == []


# ---- metrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, distance",
    [("", "", 0), ("abc", "", 3), ("chat", "chats", 1), ("kitten", "sitting", 3), ("école", "ecole", 1)],
)
def test_edit_distance_counts_insertions_deletions_and_substitutions(a, b, distance):
    assert bt.edit_distance(a, b) == distance == bt.edit_distance(b, a)


def test_evaluate_scores_exact_match_and_character_accuracy(monkeypatch):
    pairs = [("a", "abcd"), ("b", "wxyz"), ("c", "ok")]
    table = {"a": "abcd", "b": "wxy", "c": "no"}  # what a fake model "translates"
    monkeypatch.setattr(scoring, "translate", lambda model, texts: [table[t] for t in texts])
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
    with pytest.raises(ValueError, match="TrainConfig.peak_lr must be > 0"):
        bt.TrainConfig(peak_lr=-1.0)
    assert bt.TrainConfig(peak_lr=2e-3, warmup=100).lr(100, 128) == pytest.approx(2e-3)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("clip", 0.0, "clip must be > 0"),
        ("clip", -1.0, "clip must be > 0"),
        ("clip", float("nan"), "clip must be a finite number"),
        ("clip", float("inf"), "clip must be a finite number"),
        ("peak_lr", 0.0, "peak_lr must be > 0"),
        ("peak_lr", float("nan"), "peak_lr must be a finite number"),
        ("peak_lr", float("inf"), "peak_lr must be a finite number"),
        ("batch_size", 0, "batch_size must be >= 1"),
        ("warmup", 0, "warmup must be >= 1"),
        ("eval_every", 0, "eval_every must be >= 1"),
        ("n_eval", 0, "n_eval must be >= 1"),
        ("steps", 2.5, "steps must be an integer"),
        ("steps", True, "steps must be an integer"),
        ("seed", -1, "seed must be >= 0"),
        ("cooldown", float("nan"), "cooldown must be a finite number"),
        ("cooldown", 1.5, "cooldown must be in"),
        ("label_smoothing", 1.0, "label_smoothing must be in"),
        ("peak_lr", "0.001", "peak_lr must be a finite number"),
    ],
)
def test_train_config_refuses_settings_that_would_silently_misbehave(name, value, message):
    with pytest.raises(ValueError, match=f"TrainConfig.{message}"):
        bt.TrainConfig(**{name: value})


def test_train_config_stores_numpy_numbers_as_python_numbers():
    tc = bt.TrainConfig(steps=np.int64(5), clip=np.float32(0.5), peak_lr=1)
    assert type(tc.steps) is int and type(tc.clip) is float and type(tc.peak_lr) is float
    assert json.loads(json.dumps(dataclasses.asdict(tc)))["steps"] == 5


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
        bt.fit(
            first,
            PAIRS,
            PAIRS[:4],
            bt.TrainConfig(**QUICK),
            state_path=tmp_path / "s.npz",
            on_eval=interrupt,
            log=quiet,
        )
    resumed = bt.Transformer(TINY, rng=np.random.default_rng(7))
    history = bt.fit(
        resumed,
        PAIRS,
        PAIRS[:4],
        bt.TrainConfig(**QUICK),
        state_path=tmp_path / "s.npz",
        resume=tmp_path / "s.npz",
        log=quiet,
    )
    assert history["step"] == [4, 8]
    for name, p in straight.parameters().items():
        assert np.array_equal(p, resumed.parameters()[name]), name


def test_resuming_from_a_state_of_another_model_names_every_difference(tmp_path):
    state = tmp_path / "s.npz"
    bt.fit(
        bt.Transformer(TINY, rng=np.random.default_rng(0)),
        PAIRS,
        PAIRS[:4],
        bt.TrainConfig(**QUICK),
        state_path=state,
        log=quiet,
    )
    other = bt.Config(**{**TINY.to_dict(), "d_model": 32, "d_ff": 64})
    with pytest.raises(
        ValueError,
        match=r"cannot resume from .*s\.npz: the state was saved with d_model=16, "
        r"d_ff=32; this run has d_model=32, d_ff=64",
    ):
        bt.fit(
            bt.Transformer(other, rng=np.random.default_rng(0)),
            PAIRS,
            PAIRS[:4],
            bt.TrainConfig(**QUICK),
            resume=state,
            log=quiet,
        )
    with pytest.raises(
        ValueError,
        match=r"the state was saved with batch_size=8, seed=0; this run has "
        r"batch_size=4, seed=1",
    ):
        bt.fit(
            bt.Transformer(TINY, rng=np.random.default_rng(0)),
            PAIRS,
            PAIRS[:4],
            bt.TrainConfig(**{**QUICK, "batch_size": 4, "seed": 1}),
            resume=state,
            log=quiet,
        )
    longer = bt.TrainConfig(**{**QUICK, "steps": 12, "eval_every": 6, "n_eval": 2})  # these may change
    assert bt.fit(
        bt.Transformer(TINY, rng=np.random.default_rng(0)), PAIRS, PAIRS[:4], longer, resume=state, log=quiet
    )["step"] == [4, 8, 12]


def test_resuming_from_a_model_that_is_not_a_training_state_is_a_clear_error(tmp_path):
    bt.save_checkpoint(bt.Transformer(TINY, rng=np.random.default_rng(0)), tmp_path / "model.npz")
    with pytest.raises(ValueError, match=r"model\.npz is a model, not a training state"):
        bt.fit(
            bt.Transformer(TINY, rng=np.random.default_rng(0)),
            PAIRS,
            PAIRS[:4],
            bt.TrainConfig(**QUICK),
            resume=tmp_path / "model.npz",
            log=quiet,
        )
    with pytest.raises(FileNotFoundError, match=r"nothing\.npz: no such training state"):
        bt.fit(
            bt.Transformer(TINY, rng=np.random.default_rng(0)),
            PAIRS,
            PAIRS[:4],
            bt.TrainConfig(**QUICK),
            resume=tmp_path / "nothing.npz",
            log=quiet,
        )


def test_fit_and_evaluate_refuse_empty_data_instead_of_dividing_by_zero():
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="fit: train_pairs is empty"):
        bt.fit(model, [], PAIRS[:4], bt.TrainConfig(**QUICK), log=quiet)
    with pytest.raises(ValueError, match="fit: valid_pairs is empty"):
        bt.fit(model, PAIRS, [], bt.TrainConfig(**QUICK), log=quiet)
    with pytest.raises(ValueError, match="evaluate: no pairs to evaluate"):
        bt.evaluate(model, [])


def test_fit_refuses_a_state_path_it_could_not_write_before_training(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    steps = []
    try:
        with pytest.raises(
            PermissionError, match=r"cannot write .*s\.npz: the folder .*locked is read-only \(mode 555\)"
        ):
            bt.fit(
                bt.Transformer(TINY, rng=np.random.default_rng(0)),
                PAIRS,
                PAIRS[:4],
                bt.TrainConfig(**QUICK),
                state_path=locked / "s.npz",
                progress=lambda *a: steps.append(a),
                log=quiet,
            )
    finally:
        locked.chmod(0o755)
    assert steps == [] and list(locked.iterdir()) == []


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the NaN is the point
def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    state = tmp_path / "s.npz"
    bt.fit(model, PAIRS, PAIRS[:4], bt.TrainConfig(**{**QUICK, "steps": 4}), state_path=state, log=quiet)
    good = state.read_bytes()
    model.decoder.embedding.params["E"][:] = np.inf
    with pytest.raises(
        bt.TrainingDiverged, match=r"became nan at step 1; nothing was saved by this run, so .*s.npz is as it was"
    ):
        bt.fit(model, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), state_path=state, log=quiet)
    assert state.read_bytes() == good


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_a_nan_loss_without_a_state_path_still_says_what_happened():
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    model.decoder.embedding.params["E"][:] = np.inf
    with pytest.raises(
        bt.TrainingDiverged, match=r"became nan at step 1; no state_path was given, so nothing was saved"
    ):
        bt.fit(model, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), log=quiet)


# ---- the command -------------------------------------------------------------------------------

TINY_ARGS = [
    "--steps",
    "6",
    "--eval-every",
    "3",
    "--n-eval",
    "4",
    "--n-test",
    "4",
    "--batch-size",
    "8",
    "--warmup",
    "2",
    "--d-model",
    "16",
    "--n-heads",
    "2",
    "--d-ff",
    "32",
    "--n-encoder-layers",
    "1",
    "--n-decoder-layers",
    "1",
    "--max-len",
    "32",
]


def run_train(*args):
    return subprocess.run(
        [sys.executable, "-m", "bytetrans_lib.train", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


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
    _, _, test_pairs = bt.split_pairs(PAIRS * 3, seed=0)  # 8 English sentences, each 12 times: few to test
    assert report["history"]["step"] == [3, 6] and report["test"]["n"] == min(
        4, len(bt.references_by_english(test_pairs))
    )
    assert (tmp_path / "a.state.npz").is_file()
    nine_steps = ["--steps", "9", *TINY_ARGS[2:]]  # TINY_ARGS starts with --steps 6
    longer = run_train(
        "--data", str(data), "--out", str(tmp_path / "c.npz"), "--resume", str(tmp_path / "a.state.npz"), *nine_steps
    )
    assert longer.returncode == 0, longer.stderr
    assert json.loads((tmp_path / "c.json").read_text())["history"]["step"] == [3, 6, 9]


def test_the_command_reports_a_missing_data_file():
    result = run_train("--data", "no/such/file.tsv")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("no/such/file.tsv: no such file")


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run train_cli in this process, in tmp_path, with a tiny data file, pairs.tsv.

    The shipped model's path is pointed into tmp_path too, so that even a broken default could
    not overwrite data/bytetrans-en-fr.npz. Returns run(*args) -> (exit code, stdout, stderr).
    """
    monkeypatch.chdir(tmp_path)
    for module in (train_module, preflight):  # the command and its checks name the shipped model
        monkeypatch.setattr(module, "DEFAULT_MODEL", tmp_path / "shipped" / "bytetrans-en-fr.npz")
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")

    def run(*args):
        code = train_module.train_cli(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def error_line(err):
    """The one line a refusal prints on stderr."""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m bytetrans_lib.train: error: "), err
    return lines[0][len("python -m bytetrans_lib.train: error: ") :]


def test_the_command_without_out_writes_to_runs_never_over_the_shipped_model(cli, tmp_path):
    real = ROOT / "data" / "bytetrans-en-fr.npz"  # bt.DEFAULT_MODEL points into tmp_path here
    shipped = hashlib.sha256(real.read_bytes()).hexdigest()
    code, out, err = cli("--data", "pairs.tsv", *TINY_ARGS)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "bytetrans-en-fr.attention.npz",
        "bytetrans-en-fr.json",
        "bytetrans-en-fr.npz",
        "bytetrans-en-fr.state.npz",
    ]
    assert not (tmp_path / "shipped").exists()
    assert hashlib.sha256(real.read_bytes()).hexdigest() == shipped
    # paths inside the current folder are printed relative to it
    assert out.splitlines()[-2] == "model written to runs/bytetrans-en-fr.npz, report to runs/bytetrans-en-fr.json"
    assert out.splitlines()[-1].endswith("written to runs/bytetrans-en-fr.attention.npz")
    assert bt.DEFAULT_OUT == Path("runs") / "bytetrans-en-fr.npz"


def test_the_help_says_where_the_model_goes_and_make_train_names_the_shipped_model():
    result = run_train("--help")
    assert result.returncode == 0
    help_text = "".join(result.stdout.split())
    assert (
        "(default:runs/bytetrans-en-fr.npz,orruns/bytetrans-everyday.npzwith--preseteveryday,whichgitignores;"
        in help_text
    )
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\ntrain:", 1)[1].split("\n\n")[0]
    assert "-m bytetrans_lib.train --out data/bytetrans-en-fr.npz" in recipe


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "pairs.tsv"], "--out pairs.tsv is the --data file"),
        (["--out", "./pairs.tsv"], "--out pairs.tsv is the --data file"),  # argparse's Path drops "./"
        (["--out", "link.npz"], "--out link.npz is the --data file"),  # a symbolic link to it
        (["--out", "model.json"], "--out model.json must end in .npz"),
        (["--out", "m.npz", "--state", "m.npz"], "--state m.npz is the model --out m.npz"),
        (["--out", "m.npz", "--state", "pairs.tsv"], "--state pairs.tsv is the --data file"),
        (["--out", "m.npz", "--state", "m.json"], "--state m.json is the report m.json"),
        (["--out", "pairs.npz", "--data", "pairs.json"], "the report pairs.json would overwrite the --data file"),
    ],
)
def test_the_command_refuses_outputs_that_would_overwrite_the_data_or_each_other(cli, tmp_path, args, message):
    (tmp_path / "link.npz").symlink_to(tmp_path / "pairs.tsv")
    if "pairs.json" in args:
        (tmp_path / "pairs.json").write_bytes((tmp_path / "pairs.tsv").read_bytes())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, out, err = cli(*(["--data", "pairs.tsv"] if "--data" not in args else []), *args, *TINY_ARGS)
    assert code == 2 and out == ""
    assert message in error_line(err)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "locked/m.npz"], "cannot write locked/m.npz: the folder locked is read-only (mode 555)"),
        (["--out", "locked/new/m.npz"], "cannot write locked/new/m.npz: the folder locked is read-only (mode 555)"),
        (
            ["--out", "m.npz", "--state", "locked/s.npz"],
            "cannot write locked/s.npz: the folder locked is read-only (mode 555)",
        ),
        (["--out", "old.npz"], "cannot write old.npz: the file is read-only (mode 444)"),
        (["--out", "m.npz", "--state", "old.npz"], "cannot write old.npz: the file is read-only (mode 444)"),
        (["--out", "other.npz"], "cannot write other.json: the file is read-only (mode 444)"),  # the report
    ],
)
def test_the_command_refuses_outputs_it_cannot_write_before_training(cli, tmp_path, args, message):
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0o555)
    for name in ["old.npz", "other.json"]:
        (tmp_path / name).write_bytes(b"keep")
        (tmp_path / name).chmod(0o444)
    try:
        code, out, err = cli("--data", "pairs.tsv", *args, *TINY_ARGS)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert code == 2 and out == ""  # no training line was printed
    assert error_line(err) == message
    assert list((tmp_path / "locked").iterdir()) == []
    assert (tmp_path / "old.npz").read_bytes() == (tmp_path / "other.json").read_bytes() == b"keep"
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "other.npz").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--clip", "0"], "argument --clip must be > 0"),
        (["--clip", "-1"], "argument --clip must be > 0"),
        (["--clip", "nan"], "argument --clip must be a finite number"),
        (["--peak-lr", "inf"], "argument --peak-lr must be a finite number"),
        (["--peak-lr", "0"], "argument --peak-lr must be > 0"),
        (["--n-eval", "0"], "argument --n-eval must be >= 1"),
        (["--n-test", "0"], "argument --n-test must be >= 1"),
        (["--beam", "0"], "argument --beam must be from 1 to 256, got 0"),
        (["--beam", "1000000"], "argument --beam must be from 1 to 256, got 1000000"),
        (
            ["--batch-size", "5000"],
            "--batch-size 5000 is more than the 72 training pairs of pairs.tsv: every batch would be all of them",
        ),
    ],
)
def test_the_command_refuses_settings_that_would_silently_misbehave(cli, tmp_path, args, message):
    code, out, err = cli("--data", "pairs.tsv", "--out", "m.npz", *TINY_ARGS, *args)
    assert code == 2 and out == ""
    assert error_line(err).startswith(message)
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "m.state.npz").exists()


@pytest.mark.parametrize("n_pairs", [0, 1, 10])
def test_too_few_pairs_is_a_clear_error_before_training(cli, tmp_path, n_pairs):
    pairs = [(f"I see {i} cats.", f"Je vois {i} chats.") for i in range(n_pairs)]
    bt.write_tsv(pairs, tmp_path / "few.tsv")
    code, out, err = cli("--data", "few.tsv", "--out", "m.npz", *TINY_ARGS)
    assert code == 2 and out == ""
    assert error_line(err) == (
        f"few.tsv holds {n_pairs} pair(s): too few to hold out validation and test "
        "pairs (5% each, at least 1 each); at least 11 pairs with different English "
        "sentences are needed"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few.tsv", "pairs.tsv"]


def test_train_and_report_refuses_too_few_pairs_before_training(tmp_path):
    bt.write_tsv([("Hi.", "Salut.")] * 3, tmp_path / "few.tsv")  # one English sentence: one group
    lines = []
    with pytest.raises(ValueError, match=r"few\.tsv holds 3 pair\(s\): too few to hold out"):
        bt.train_and_report(tmp_path / "few.tsv", tmp_path / "m.npz", TINY, bt.TrainConfig(**QUICK), log=lines.append)
    assert lines == [] and sorted(p.name for p in tmp_path.iterdir()) == ["few.tsv"]


def test_the_command_refuses_to_resume_from_a_state_of_another_size(cli, tmp_path):
    code, _, err = cli("--data", "pairs.tsv", "--out", "a.npz", *TINY_ARGS)
    assert code == 0, err
    code, out, err = cli(
        "--data", "pairs.tsv", "--out", "b.npz", "--resume", "a.state.npz", *TINY_ARGS, "--d-model", "32"
    )
    assert code == 2 and out == ""
    assert error_line(err) == (
        "cannot resume from a.state.npz: the state was saved with d_model=16; this "
        "run has d_model=32 (give the settings of the run that saved it)"
    )
    assert not (tmp_path / "b.npz").exists()


def test_paths_are_shown_relative_to_the_current_folder_or_else_to_the_repository(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT / "notebooks")
    assert bt.display_path(bt.DEFAULT_MODEL) == "data/bytetrans-en-fr.npz"
    assert bt.display_path(ROOT / "notebooks" / "x.npz") == "x.npz"
    assert bt.display_path(tmp_path / "x.npz") == str(tmp_path / "x.npz")  # elsewhere: as it is
    monkeypatch.chdir(tmp_path)
    assert bt.display_path(tmp_path / "runs" / "x.npz") == "runs/x.npz"


@pytest.mark.parametrize("notebook", ["07_data.ipynb", "08_training.ipynb"])
def test_notebooks_07_and_08_show_no_absolute_path_of_the_machine_that_ran_them(notebook):
    nb = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
            assert str(ROOT) not in text and "/tmp/" not in text and "/work/" not in text, (cell["id"], text)


# ---- the shipped model -------------------------------------------------------------------------


def test_the_shipped_model_still_translates_the_test_split_as_its_report_says():
    """The numbers in the report are measured again here, by today's code, on 200 test pairs."""
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    assert model.config == bt.Config()
    report = json.loads(bt.DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    assert report["data"] == bt.CORPUS_PATH.name and bt.Config.from_dict(report["config"]) == model.config
    _, _, test_pairs = bt.split_pairs(bt.read_tsv(bt.CORPUS_PATH), seed=0)  # never seen in training
    metrics, hypotheses = bt.evaluate(model, test_pairs[:200])
    # The report's samples are the first 30 test pairs with the model's translations: the same again.
    assert [[e, f, h] for (e, f, *_), h in zip(test_pairs, hypotheses)][:30] == report["samples"]
    # the goal the shipped run met: all test pairs scored, >= 95% exact and >= 99% characters, <= 10 minutes
    assert report["test"]["n"] == len(test_pairs) == 1500 and report["train_seconds"] <= 600
    assert report["test"]["exact_match"] >= 0.95 and report["test"]["char_accuracy"] >= 0.99
    # 200 pairs score like the report's 1,500 (the sampling error of an exact match is about 0.01)
    assert abs(metrics["exact_match"] - report["test"]["exact_match"]) <= 0.04
    assert abs(metrics["char_accuracy"] - report["test"]["char_accuracy"]) <= 0.01
    assert metrics["exact_match"] >= 0.95 - 0.04 and metrics["char_accuracy"] >= 0.99 - 0.01  # the targets


def test_fit_reports_progress_after_every_step_and_the_bar_draws_in_place(capsys):
    calls = []
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    bt.fit(
        model,
        PAIRS,
        PAIRS[:4],
        bt.TrainConfig(**QUICK),
        log=quiet,
        progress=lambda step, steps, loss, speed: calls.append((step, steps, loss, speed)),
    )
    assert [c[0] for c in calls] == list(range(1, 9)) and all(c[1] == 8 and c[3] > 0 for c in calls)
    bt.terminal_progress(4, 8, 1.5, 1234.0, width=8)
    bt.terminal_progress(8, 8, 1.25, 1234.0, width=8)
    err = capsys.readouterr().err
    assert err == "\r[####....] step 4/8  loss 1.500  1,234 tok/s \r[########] step 8/8  loss 1.250  1,234 tok/s \n"


# ---- issue 13, second probe: the command and the library refuse, up front, what would lose data ----


@pytest.mark.parametrize(
    "out, message",
    [
        ("bytetrans-en-fr.pt", "--out bytetrans-en-fr.pt must end in .npz"),  # its report: another model's
        ("model", "--out model must end in .npz (the checkpoint format), such as model.npz"),
        ("", "--out is empty: give the model's file name, such as runs/bytetrans-en-fr.npz"),
        ("newdir/", "--out newdir/ names a folder: give a file in it, such as newdir/bytetrans-en-fr.npz"),
    ],
)
def test_the_command_refuses_an_out_that_is_not_a_npz_file_so_no_report_overwrites_another(cli, tmp_path, out, message):
    (tmp_path / "bytetrans-en-fr.json").write_text("another model's report\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, stdout, err = cli("--data", "pairs.tsv", "--out", out, *TINY_ARGS)
    assert code == 2 and stdout == ""
    assert error_line(err).startswith(message)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_train_and_report_refuses_an_out_that_is_not_a_npz_file(tmp_path):
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")
    with pytest.raises(ValueError, match=r"out .*m\.pt must end in \.npz"):
        bt.train_and_report(tmp_path / "pairs.tsv", tmp_path / "m.pt", TINY, bt.TrainConfig(**QUICK), log=quiet)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.tsv"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds the report's file by /proc/self/fd (Linux)")
def test_a_disk_error_while_writing_the_report_leaves_the_previous_model_and_report_whole(tmp_path, monkeypatch):
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")
    args = (tmp_path / "pairs.tsv", tmp_path / "m.npz", TINY)
    bt.train_and_report(*args, bt.TrainConfig(**QUICK), n_test=2, log=quiet)  # the previous run
    before = {name: (tmp_path / name).read_bytes() for name in ["m.npz", "m.json", "m.attention.npz"]}
    real_fsync = os.fsync

    def full_disk_for_the_report(fd):  # the state is saved; the report's bytes fail
        if ".json." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk_for_the_report)
    lines = []
    with pytest.raises(OSError, match=r"train_and_report: cannot write .*m\.json: No space left on device"):
        bt.train_and_report(*args, bt.TrainConfig(**{**QUICK, "seed": 1}), n_test=2, log=lines.append)
    assert {name: (tmp_path / name).read_bytes() for name in before} == before  # all three, as they were
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.attention.npz",
        "m.json",
        "m.npz",
        "m.state.npz",
        "pairs.tsv",
    ]  # no temporary file
    assert lines[-1].startswith("stopped after training, before the model was saved:")
    _, extra = bt.load_checkpoint(tmp_path / "m.state.npz", return_extra=True)
    assert int(extra["step"]) == QUICK["steps"]  # the trained weights are kept, to resume from


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--out", "a.npz", "--resume", "a.npz"],
            "--resume a.npz is the model --out a.npz: saving the model would replace the training state",
        ),
        (
            ["--out", "b.npz", "--resume", "b.json"],
            "--resume b.json is the report b.json: writing the report would replace the training state",
        ),
    ],
)
def test_the_command_refuses_to_resume_from_the_file_it_would_write_the_model_or_report_to(
    cli, tmp_path, args, message
):
    code, _, err = cli("--data", "pairs.tsv", "--out", "a.npz", *TINY_ARGS)
    assert code == 0, err
    (tmp_path / "b.json").write_bytes((tmp_path / "a.state.npz").read_bytes())  # a state under an odd name
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, out, err = cli("--data", "pairs.tsv", *args, *TINY_ARGS[2:], "--steps", "9")
    assert code == 2 and out == ""
    assert error_line(err).startswith(message)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_resuming_with_the_state_as_state_continues_it_the_normal_way(cli, tmp_path):
    code, _, err = cli("--data", "pairs.tsv", "--out", "a.npz", *TINY_ARGS)
    assert code == 0, err
    code, _, err = cli(
        "--data", "pairs.tsv", "--out", "a.npz", "--resume", "a.state.npz", *TINY_ARGS[2:], "--steps", "9"
    )
    assert code == 0, err
    assert json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))["history"]["step"] == [3, 6, 9]
    _, extra = bt.load_checkpoint(tmp_path / "a.state.npz", return_extra=True)
    assert int(extra["step"]) == 9


def test_resuming_from_a_state_past_the_last_step_is_refused_and_the_same_step_only_finishes(cli, tmp_path):
    code, _, err = cli("--data", "pairs.tsv", "--out", "a.npz", *TINY_ARGS)  # 6 steps
    assert code == 0, err
    code, out, err = cli(
        "--data", "pairs.tsv", "--out", "b.npz", "--resume", "a.state.npz", *TINY_ARGS[2:], "--steps", "3"
    )
    assert code == 2 and out == ""
    assert error_line(err) == (
        "cannot resume from a.state.npz: the state is at step 6; --steps 3 would train nothing: give --steps > 6"
    )
    assert not (tmp_path / "b.npz").exists() and not (tmp_path / "b.json").exists()
    train, valid, _ = bt.split_pairs(bt.read_tsv(tmp_path / "pairs.tsv"), seed=0)  # the run's own pairs
    with pytest.raises(ValueError, match=r"the state is at step 6; steps=2 would train nothing: give steps > 6"):
        bt.fit(
            bt.Transformer(TINY, rng=np.random.default_rng(0)),
            train,
            valid,
            bt.TrainConfig(**{**QUICK, "steps": 2}),
            resume=tmp_path / "a.state.npz",
            log=quiet,
        )
    code, _, err = cli("--data", "pairs.tsv", "--out", "c.npz", "--resume", "a.state.npz", *TINY_ARGS)
    assert code == 0, err  # the same step: nothing to train, but the model and its report are written
    report = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert report["history"]["step"] == [3, 6] and report["train_config"]["steps"] == 6


LONG_FRENCH = "Je vois trente-deux chats noirs."  # 32 bytes: BOS + 32 = 33 ids, one more than max_len 32


def test_the_command_refuses_pairs_too_long_for_the_model_before_training(cli, tmp_path):
    assert len(LONG_FRENCH.encode()) == 32
    pairs = PAIRS * 3
    pairs[4] = ("I see thirty-two black cats.", LONG_FRENCH)
    pairs[9] = ("I see many cats.", "x" * 40)
    bt.write_tsv(pairs, tmp_path / "long.tsv")
    code, out, err = cli("--data", "long.tsv", "--out", "m.npz", *TINY_ARGS)
    assert code == 2 and out == ""
    assert error_line(err) == (
        "long.tsv: 2 pair(s) have a side longer than 31 bytes, more than --max-len 32 can hold (the model adds "
        "EOS to the English and BOS to the French); the first is line 5: 'I see thirty-two black cats.'. "
        "Clean the file with `python -m bytetrans_lib.clean_dataset long.tsv -o CLEANED.tsv --max-len 31`, "
        "or train with --max-len 41"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.tsv", "pairs.tsv"]
    pairs[4], pairs[9] = ("I see thirty-two black cats.", LONG_FRENCH[:31]), PAIRS[1]  # 31 bytes: it fits
    bt.write_tsv(pairs, tmp_path / "fits.tsv")
    code, _, err = cli("--data", "fits.tsv", "--out", "m.npz", *TINY_ARGS)
    assert code == 0, err


def test_train_and_report_and_fit_refuse_pairs_too_long_for_the_model_before_training(tmp_path):
    pairs = PAIRS * 3 + [("I see thirty-two black cats.", LONG_FRENCH)]
    bt.write_tsv(pairs, tmp_path / "long.tsv")
    lines = []
    with pytest.raises(
        ValueError,
        match=r"long\.tsv: 1 pair\(s\) have a side longer than 31 bytes, more than "
        r"max_len=32 can hold .* the first is line 97",
    ):
        bt.train_and_report(tmp_path / "long.tsv", tmp_path / "m.npz", TINY, bt.TrainConfig(**QUICK), log=lines.append)
    assert lines == [] and sorted(p.name for p in tmp_path.iterdir()) == ["long.tsv"]
    steps = []
    for where in ["train_pairs", "valid_pairs"]:
        train, valid = (pairs, PAIRS[:4]) if where == "train_pairs" else (PAIRS, pairs[-2:])
        with pytest.raises(
            ValueError,
            match=rf"fit: 1 pair\(s\) of {where} have a side longer than 31 bytes, "
            rf"more than max_len=32 can hold .* the first is {where}\[\d+\]",
        ):
            bt.fit(
                bt.Transformer(TINY, rng=np.random.default_rng(0)),
                train,
                valid,
                bt.TrainConfig(**QUICK),
                state_path=tmp_path / "new" / "s.npz",
                progress=lambda *a: steps.append(a),
                log=quiet,
            )
    assert steps == [] and not (tmp_path / "new").exists()


def test_the_command_names_a_data_file_that_is_not_utf8_or_is_a_folder(cli, tmp_path):
    (tmp_path / "latin1.tsv").write_bytes("Hi.\tSalut.\nSummer.\tÉté.\n".encode("latin-1"))
    code, out, err = cli("--data", "latin1.tsv", "--out", "m.npz", *TINY_ARGS)
    assert code == 2 and out == ""
    line = error_line(err)
    assert line.startswith("latin1.tsv, line 2: not UTF-8") and "python -m bytetrans_lib.clean_dataset" in line
    (tmp_path / "adir").mkdir()
    code, out, err = cli("--data", "adir", "--out", "m.npz", *TINY_ARGS)
    assert code == 2 and error_line(err).startswith("--data adir is a folder, not a file")
    assert not (tmp_path / "m.npz").exists()


def test_fit_and_evaluate_accept_pairs_that_carry_an_attribution():
    with_attribution = [(e, f, "CC-BY 2.0 (France) Attribution: example") for e, f in PAIRS]
    model = bt.Transformer(TINY, rng=np.random.default_rng(0))
    history = bt.fit(model, with_attribution, with_attribution[:4], bt.TrainConfig(**QUICK), log=quiet)
    plain = bt.Transformer(TINY, rng=np.random.default_rng(0))
    assert history["train_loss"] == bt.fit(plain, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), log=quiet)["train_loss"]
    assert bt.evaluate(model, with_attribution[:4]) == bt.evaluate(model, PAIRS[:4])
    assert len(bt.encode_pairs(with_attribution, max_len=32)) == len(PAIRS)


def test_character_accuracy_of_empty_references_is_1_when_the_translation_is_empty_too(monkeypatch):
    table = {"Hi.": "", "Yes.": "Oui.", "No.": "Non."}
    monkeypatch.setattr(scoring, "translate", lambda model, texts: [table[t] for t in texts])
    assert bt.evaluate(None, [("Hi.", "")])[0] == {"n": 1, "exact_match": 1.0, "char_accuracy": 1.0}
    assert bt.evaluate(None, [("Yes.", "")])[0] == {"n": 1, "exact_match": 0.0, "char_accuracy": 0.0}
    assert bt.evaluate(None, [("Hi.", ""), ("No.", "Non")])[0]["char_accuracy"] == pytest.approx(1 - 1 / 3)


def test_train_and_report_scores_every_test_pair_unless_told_how_many(tmp_path):
    pairs = [(f"I see {n} cats.", f"Je vois {n} chats.") for n in range(80)]  # a test split of 4
    bt.write_tsv(pairs, tmp_path / "pairs.tsv")
    _, _, test_pairs = bt.split_pairs(pairs, seed=0)
    assert len(test_pairs) > 2
    report = bt.train_and_report(tmp_path / "pairs.tsv", tmp_path / "m.npz", TINY, bt.TrainConfig(**QUICK), log=quiet)
    assert report["test"]["n"] == len(test_pairs)  # all of them, however many (the default was 1,000)
    report = bt.train_and_report(
        tmp_path / "pairs.tsv", tmp_path / "m.npz", TINY, bt.TrainConfig(**QUICK), n_test=2, log=quiet
    )
    assert report["test"]["n"] == 2
    assert inspect.signature(bt.train_and_report).parameters["n_test"].default is None
    with pytest.raises(ValueError, match=r"n_test must be an integer >= 1 or None \(all\), got 0"):
        bt.train_and_report(tmp_path / "pairs.tsv", tmp_path / "m.npz", TINY, bt.TrainConfig(**QUICK), n_test=0)


# ---- the everyday model: presets, cleaning on the way, a report without the data's sentences ----


def manythings_zip(path, pairs):
    """A zip shaped like manythings.org's download: fra.txt (3 columns) and _about.txt."""
    attribution = "CC-BY 2.0 (France) Attribution: example #1 (ann) & #2 (bob)"
    lines = "".join(f"{e}\t{f}\t{attribution}\n" for e, f in pairs)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fra.txt", lines)
        archive.writestr("_about.txt", "Sentence pairs from the Tatoeba Project (made up for this test).\n")
    return path


COUNTED = [(f"I count {n} birds.", f"Je compte {n} oiseaux.") for n in range(60)]


def test_the_presets_are_the_course_model_and_a_larger_everyday_model_under_10_mb():
    assert bt.PRESETS["course"] == (bt.Config(), bt.TrainConfig())
    config, train_config = bt.PRESETS["everyday"]
    model = bt.Transformer(config, rng=np.random.default_rng(0))
    n_params = sum(p.size for p in model.parameters().values())
    assert n_params > 2 * sum(
        p.size for p in bt.Transformer(bt.Config(), rng=np.random.default_rng(0)).parameters().values()
    )
    assert 4 * n_params <= 10e6  # float32 weights: the checkpoint stays under 10 MB
    assert train_config.steps > bt.TrainConfig().steps
    assert bt.EVERYDAY_MODEL == ROOT / "data" / "bytetrans-everyday.npz"
    assert len(bt.EVERYDAY_SENTENCES) == 10
    assert all(accepted and all(bt.normalize_text(f) == f for f in accepted) for _, accepted in bt.EVERYDAY_SENTENCES)


def test_the_everyday_preset_cleans_a_manythings_zip_and_its_report_holds_no_sentence_of_the_data(cli, tmp_path):
    manythings_zip(tmp_path / "fra-eng.zip", COUNTED + COUNTED[:3])  # 3 duplicates for the cleaner to count
    code, out, err = cli(
        "--preset", "everyday", "--clean", "--data", "fra-eng.zip", "--no-record-attention", *TINY_ARGS
    )
    assert code == 0, err
    assert "cleaned 63 lines of fra-eng.zip/fra.txt: kept 60 pairs" in out
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "bytetrans-everyday.json",
        "bytetrans-everyday.npz",
        "bytetrans-everyday.state.npz",
    ]
    text = (tmp_path / "runs" / "bytetrans-everyday.json").read_text(encoding="utf-8")
    report = json.loads(text)
    assert report["cleaning"]["read"] == 63 and report["cleaning"]["kept"] == 60
    assert report["cleaning"]["dropped"]["duplicate"] == 3 and report["cleaning"]["skipped"] == {
        "fra-eng.zip": ["_about.txt"]
    }
    tsv = "".join(f"{e}\t{f}\n" for e, f in COUNTED).encode()
    assert report["pairs"] == 60 and report["pairs_sha256"] == hashlib.sha256(tsv).hexdigest()  # names the data
    assert report["config"]["d_model"] == 16  # a flag overrides the preset's setting...
    assert report["train_config"]["peak_lr"] == bt.PRESETS["everyday"][1].peak_lr  # ...and only that one
    assert "samples" not in report and [s["english"] for s in report["sentences"]] == [
        e for e, _ in bt.EVERYDAY_SENTENCES
    ]
    assert all(
        s["right"] == (s["translation"] in s["accepted"]) and s["in_training"] is False for s in report["sentences"]
    )
    assert not any(e in text or f in text for e, f in COUNTED)  # no sentence of the data in the report
    assert {"chrf", "n_references", "exact_match", "char_accuracy"} <= set(report["test"])
    # the everyday preset also scores beam search's translations, beside greedy decoding's
    beam = report["test_beam"]
    assert beam["beam"] == bt.BEAM_SIZE and beam["alpha"] == bt.BEAM_ALPHA and beam["n"] == report["test"]["n"]
    assert all(s["beam_right"] == (s["beam_translation"] in s["accepted"]) for s in report["sentences"])


def test_training_with_clean_takes_the_original_projects_folder_and_without_it_says_so(cli, tmp_path):
    folder = tmp_path / "versions" / "3"
    folder.mkdir(parents=True)
    manythings_zip(tmp_path / "z.zip", COUNTED)
    with zipfile.ZipFile(tmp_path / "z.zip") as archive:
        (folder / "fra.txt").write_bytes(archive.read("fra.txt"))
    (folder / "deu.txt").write_bytes(b"Hi.\tHallo.\n")
    (folder / "_about.txt").write_bytes(b"about\n")
    code, out, err = cli("--data", "versions/3", "--out", "m.npz", *TINY_ARGS)
    assert code == 2 and error_line(err).endswith("or train with --clean")
    code, out, err = cli("--clean", "--data", "versions/3", "--out", "m.npz", "--no-record-attention", *TINY_ARGS)
    assert code == 0, err
    report = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert report["cleaning"]["files"] == ["versions/3/fra.txt"]
    assert report["cleaning"]["skipped"] == {"versions/3": ["_about.txt", "deu.txt"]}
    assert report["cleaning"]["read"] == report["cleaning"]["kept"] == 60 and "samples" in report
    assert report["test_beam"] is None  # the course's preset decodes greedily only, unless told --beam
    code, out, err = cli("--clean", "--data", "nowhere", "--out", "m2.npz", *TINY_ARGS)
    assert code == 2 and error_line(err) == "nowhere: no such file or folder"


def test_make_train_everyday_asks_for_the_data_and_names_the_shipped_everyday_model():
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\ntrain-everyday:", 1)[1].split("\n\n")[0]
    assert "-m bytetrans_lib.train --preset everyday --clean --data" in recipe
    assert "--out data/bytetrans-everyday.npz" in recipe
    result = subprocess.run(
        ["make", "-s", "train-everyday"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DATA": ""},
    )
    assert result.returncode != 0 and "make train-everyday DATA=" in result.stdout + result.stderr


# ---- the shipped everyday model --------------------------------------------------------------------

EVERYDAY_DATA = ROOT.parent / "shared" / "data" / "tatoeba" / "fra-eng-76k.txt"  # not in the repository


def test_the_shipped_everyday_model_is_the_preset_under_10_mb_and_its_report_quotes_no_tatoeba_sentence():
    report = json.loads(bt.EVERYDAY_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    config, train_config = bt.PRESETS["everyday"]
    assert bt.EVERYDAY_MODEL.stat().st_size <= 10e6
    assert bt.load_checkpoint(bt.EVERYDAY_MODEL).config == config
    assert bt.Config.from_dict(report["config"]) == config
    assert report["train_config"] == dataclasses.asdict(train_config)
    assert report["train_seconds"] <= 65 * 60  # about an hour on 2 cores
    assert "samples" not in report  # the test split's sentences are Tatoeba's: none in the report
    assert [row["english"] for row in report["sentences"]] == [english for english, _ in bt.EVERYDAY_SENTENCES]
    assert all(row["right"] == (row["translation"] in row["accepted"]) for row in report["sentences"])
    assert report["test"]["n"] >= 500 and report["test"]["n_references"] > report["test"]["n"]
    assert report["cleaning"]["read"] == 76038 and report["cleaning"]["dropped"]["truncated"] == 1
    assert report["pairs"] == report["cleaning"]["kept"]
    beam = report["test_beam"]  # the command's default for --preset everyday
    assert beam["beam"] == bt.BEAM_SIZE and beam["alpha"] == bt.BEAM_ALPHA
    assert (beam["n"], beam["n_references"]) == (report["test"]["n"], report["test"]["n_references"])
    assert all(row["beam_right"] == (row["beam_translation"] in row["accepted"]) for row in report["sentences"])


def test_the_everyday_report_reproduces_from_the_data_it_names():
    if not EVERYDAY_DATA.is_file():
        pytest.skip(f"{EVERYDAY_DATA} not found (it sits next to the repository, not in it)")
    report = json.loads(bt.EVERYDAY_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    pairs, _ = bt.clean_pairs(EVERYDAY_DATA)
    tsv = "".join(f"{english}\t{french}\n" for english, french, *_ in pairs).encode()
    assert hashlib.sha256(tsv).hexdigest() == report["pairs_sha256"]  # the very data it was trained on
    _, _, test_pairs = bt.split_pairs(pairs, seed=0)
    metrics, _ = bt.evaluate_references(bt.load_checkpoint(bt.EVERYDAY_MODEL), bt.references_by_english(test_pairs))
    assert metrics["n"] == report["test"]["n"] and metrics["n_references"] == report["test"]["n_references"]
    for name, tolerance in [("exact_match", 0.01), ("char_accuracy", 0.01), ("chrf", 1.0)]:
        assert abs(metrics[name] - report["test"][name]) <= tolerance, name
    beam = report["test_beam"]
    metrics, _ = bt.evaluate_references(
        bt.load_checkpoint(bt.EVERYDAY_MODEL),
        bt.references_by_english(test_pairs),
        beam=beam["beam"],
        alpha=beam["alpha"],
    )
    for name, tolerance in [("exact_match", 0.01), ("char_accuracy", 0.01), ("chrf", 1.0)]:
        assert abs(metrics[name] - beam[name]) <= tolerance, name


# ---- notebook 11: the everyday model trained by PyTorch with dropout --------------------------------

EVERYDAY_TORCH_MODEL = bt.EVERYDAY_TORCH_MODEL  # notebook 08 names it, so that loading it needs no PyTorch


def test_the_everyday_torch_model_is_what_its_make_target_trains_and_beats_the_numpy_one():
    """Shipped because it scores better than notebook 08's everyday model on the same held-out sentences
    (greedy decoding: exact match and characters), by the course's NumPy code, with the settings of
    `make train-everyday-torch`, in about an hour on 2 cores."""
    report = json.loads(EVERYDAY_TORCH_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    before = json.loads(bt.EVERYDAY_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    config, train_config = bt.PRESETS["everyday"]
    config, train_config = dataclasses.replace(config, dropout=0.1), dataclasses.replace(train_config, steps=16_000)
    assert bt.load_checkpoint(EVERYDAY_TORCH_MODEL).config == config == bt.Config.from_dict(report["config"])
    assert report["train_config"] == dataclasses.asdict(train_config)
    recipe = subprocess.run(
        ["make", "-n", "train-everyday-torch", "DATA=x.zip"], cwd=ROOT, capture_output=True, text=True
    )
    assert "-m bytetrans_lib.torch_bridge --preset everyday --dropout 0.1 --steps 16000 --clean" in recipe.stdout
    assert "--out data/bytetrans-everyday-torch.npz" in recipe.stdout
    assert report["train_seconds"] <= 65 * 60 and EVERYDAY_TORCH_MODEL.stat().st_size <= 10e6
    assert "samples" not in report and report["pairs_sha256"] == before["pairs_sha256"]
    assert (report["test"]["n"], report["test"]["n_references"]) == (
        before["test"]["n"],
        before["test"]["n_references"],
    )
    for metric in ("exact_match", "char_accuracy"):
        assert report["test"][metric] > before["test"][metric], metric
    assert [row["english"] for row in report["sentences"]] == [english for english, _ in bt.EVERYDAY_SENTENCES]


# ---- issue 28: what the notebook shows is what today's code prints -----------------------------


def test_the_log_lines_are_made_from_the_history_and_the_report_alone(tmp_path):
    """eval_line and result_lines give back exactly what a run logged, from what it saved."""
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")
    config = dataclasses.replace(TINY, max_len=64)  # long enough for every recorded sentence
    lines = []
    report = bt.train_and_report(
        tmp_path / "pairs.tsv", tmp_path / "m.npz", config, bt.TrainConfig(**QUICK), beam=2, log=lines.append
    )
    recording = bt.load_recording(tmp_path / "m.attention.npz")
    tc = bt.TrainConfig.from_dict(report["train_config"])
    split = bt.split_pairs(PAIRS * 3, seed=0)
    n_parameters = sum(p.size for p in bt.Transformer(config, rng=np.random.default_rng(0)).parameters().values())
    expected = [bt.split_line(split, n_parameters)]
    expected += [bt.eval_line(report["history"], i, tc, config.d_model) for i in range(len(report["history"]["step"]))]
    recorded = (len(recording["pairs"]), recording["steps"])
    expected += bt.result_lines(report, tmp_path / "m.npz", tmp_path / "m.json", tmp_path / "m.attention.npz", recorded)
    assert lines == expected
    assert lines[-4].startswith("test: exact match") and lines[-3].startswith("test, beam search (2)")


def notebook_outputs(path, marker):
    """The text lines printed by the cell of notebook `path` whose source contains `marker`."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    (cell,) = [c for c in nb["cells"] if c["cell_type"] == "code" and marker in "".join(c["source"])]
    text = "".join("".join(o["text"]) for o in cell["outputs"] if o.get("output_type") == "stream")
    return text.splitlines()


def test_notebook_08_shows_the_shipped_run_line_for_line_as_todays_code_prints_it_from_its_report():
    """The training cell's output is exempt from nbval (it shows a run of minutes): this holds it to
    the shipped report instead, so an output left by older code, or by another run, fails here."""
    report = json.loads(bt.DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    config, tc = bt.Config.from_dict(report["config"]), bt.TrainConfig.from_dict(report["train_config"])
    recording = bt.load_recording(bt.DEFAULT_MODEL.with_suffix(".attention.npz"))
    split = bt.split_pairs(bt.read_tsv(bt.CORPUS_PATH), seed=0)
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    expected = [bt.split_line(split, sum(p.size for p in model.parameters().values()))]
    expected += [bt.eval_line(report["history"], i, tc, config.d_model) for i in range(len(report["history"]["step"]))]
    expected += bt.result_lines(
        report,
        bt.DEFAULT_MODEL,
        bt.DEFAULT_MODEL.with_suffix(".json"),
        bt.DEFAULT_MODEL.with_suffix(".attention.npz"),
        (len(recording["pairs"]), recording["steps"]),
    )
    shown = notebook_outputs(ROOT / "notebooks" / "08_training.ipynb", "FULL_TRAINING = ")
    assert shown == expected


def test_both_shipped_reports_are_in_the_format_todays_code_writes(tmp_path):
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")
    today = bt.train_and_report(tmp_path / "pairs.tsv", tmp_path / "m.npz", TINY, bt.TrainConfig(**QUICK), log=quiet)
    for path, translations in [(bt.DEFAULT_MODEL, "samples"), (bt.EVERYDAY_MODEL, "sentences")]:
        shipped = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        assert set(shipped) == set(today) - {"samples"} | {translations}, path.name
        assert set(shipped["test"]) == set(today["test"]) and set(shipped["history"]) == set(today["history"])
