"""The edges where a user's files, signals and sizes enter (issue 29): nothing is lost, nothing
exhausts the machine, every refusal is one clear line. Each test proves "nothing lost" with the
hashes of every file before and after; signals are sent to a real subprocess."""

import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

import bytetrans_lib as bt
import bytetrans_lib.train as train_module
from bytetrans_lib.exercises import edition

PAIRS = [
    ("The cat sleeps.", "Le chat dort."),
    ("I eat an apple.", "Je mange une pomme."),
    ("Where is the school?", "Où est l'école ?"),
    ("Yes.", "Oui."),
    ("We sing.", "Nous chantons."),
    ("The sea is blue.", "La mer est bleue."),
    ("Hello.", "Bonjour."),
    ("Thank you.", "Merci."),
] * 12
TINY = ["--d-model", "16", "--n-heads", "2", "--n-encoder-layers", "1", "--n-decoder-layers", "1", "--d-ff", "32"]
TINY += ["--max-len", "32", "--steps", "4", "--batch-size", "8", "--warmup", "2", "--eval-every", "2", "--n-eval", "4"]
PREFIX = "python -m bytetrans_lib.train: error: "


def hashes(folder):
    """name -> sha256 of every file under `folder` (links as their own text), temporary ones included."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = "link to " + os.readlink(path)
        elif path.is_file():
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """train_cli in tmp_path, with a tiny data file pairs.tsv and a previous run's m.npz, m.json,
    m.attention.npz and m.state.npz; run(*args) -> (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train_module, "DEFAULT_MODEL", tmp_path / "shipped" / "bytetrans-en-fr.npz")
    bt.write_tsv(PAIRS, tmp_path / "pairs.tsv")

    def run(*args):
        code = train_module.train_cli(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = run("--data", "pairs.tsv", "--out", "m.npz", *TINY)
    assert code == 0, err
    return run


def refused(run, *args):
    """The one error line of a run refused before training."""
    code, out, err = run(*args)
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and lines[0].startswith(PREFIX), (code, out, err)
    return lines[0][len(PREFIX) :]


# ---- 2-4: a run writes over nothing but what a run wrote there -------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        # 2: a finished model given as the state (the shipped everyday model was one)
        (["--out", "n.npz", "--state", "m.npz"], "--state m.npz is a model: training would replace it"),
        (["--out", "n.npz", "--state", "m.attention.npz"], "--state m.attention.npz is named as an attention"),
        (["--out", "n.npz", "--state", "m.json"], "--state m.json must end in .npz"),
        (["--out", "n.npz", "--state", "notes.npz"], "--state notes.npz is a .npz archive that is not a bytetrans"),
        # 3: the recording, or a state, as the model
        (["--out", "m.attention.npz"], "--out m.attention.npz is named as an attention recording of m.npz"),
        (["--out", "new.attention.npz"], "--out new.attention.npz is named as an attention recording"),
        (["--out", "m.state.npz"], "--out m.state.npz is named as a training state of m.npz"),
        (["--out", "link.npz"], "--out link.npz is an attention recording: training would replace it with a model"),
        # 4: files that are not this project's
        (["--out", "notes.npz"], "--out notes.npz is a .npz archive that is not a bytetrans file"),
        (["--out", "text.npz"], "--out text.npz is a file that is not a bytetrans model"),
        (["--out", "cfg.npz"], "the report cfg.json is a file that is not a bytetrans model, training state"),
        (["--out", "empty.npz"], "the report empty.json is a file that is not a bytetrans model"),
        (["--out", "n.npz", "--state", "fifo.npz"], "cannot write fifo.npz: it is not a regular file"),
    ],
)
def test_a_run_refuses_to_write_over_a_file_that_is_not_what_it_writes_there(cli, tmp_path, args, message):
    np.savez(tmp_path / "notes.npz", notes=np.arange(3))
    (tmp_path / "text.npz").write_text("my notes\n", encoding="utf-8")
    (tmp_path / "cfg.json").write_text('{"learning_rate": 3}\n', encoding="utf-8")
    (tmp_path / "empty.json").write_text("{}", encoding="utf-8")
    (tmp_path / "link.npz").symlink_to("m.attention.npz")
    os.mkfifo(tmp_path / "fifo.npz")
    before = hashes(tmp_path)
    assert refused(cli, "--data", "pairs.tsv", *args, *TINY).startswith(message)
    assert hashes(tmp_path) == before


def test_a_run_writes_over_its_own_earlier_files_and_a_link_to_them(cli, tmp_path):
    before = hashes(tmp_path)
    (tmp_path / "link.npz").symlink_to("m.npz")  # another spelling of the same model
    code, _, err = cli("--data", "pairs.tsv", "--out", "link.npz", *TINY, "--seed", "1")
    assert code == 0, err
    after = hashes(tmp_path)
    assert after["link.npz"] == "link to m.npz" and after["m.npz"] != before["m.npz"]
    assert bt.load_checkpoint(tmp_path / "link.npz").config.d_model == 16


def test_the_shipped_models_are_refused_as_states_or_recordings(cli, tmp_path):
    for name in ["bytetrans-en-fr.npz", "bytetrans-everyday.npz", "bytetrans-en-fr.attention.npz"]:
        shutil.copy(ROOT / "data" / name, tmp_path / name)
    before = hashes(tmp_path)
    for args in (
        ["--state", "bytetrans-everyday.npz"],
        ["--state", "bytetrans-en-fr.npz"],
        ["--out", "bytetrans-en-fr.attention.npz"],
        ["--state", "bytetrans-en-fr.attention.npz"],
    ):
        refused(cli, "--data", "pairs.tsv", *(["--out", "n.npz"] if "--out" not in args else []), *args, *TINY)
    assert hashes(tmp_path) == before


# ---- 1 and 6: signals ----------------------------------------------------------------------------


def _start(tmp_path, script, *args):
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait_for(process, word, timeout=120):
    """Read the subprocess's stdout until a line holds `word` (no fixed sleep)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if word in line:
                return
    process.kill()
    raise AssertionError(f"{word!r} never came; stdout: {''.join(seen)!r}; stderr: {process.stderr.read()!r}")


SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_during_the_final_scoring_changes_neither_the_model_nor_its_report(cli, tmp_path, signum):
    script = """
        import sys, time
        import bytetrans_lib.train as train
        scored = train.evaluate_references
        def slow(*args, **kwargs):  # the scoring of a wide beam, made long enough to be interrupted
            print("scoring", flush=True)
            time.sleep(120)
            return scored(*args, **kwargs)
        train.evaluate_references = slow
        sys.exit(train.train_cli(sys.argv[1:]))
    """
    before = hashes(tmp_path)
    process = _start(tmp_path, script, "--data", "pairs.tsv", "--out", "m.npz", *TINY, "--seed", "1")
    _wait_for(process, "scoring")
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    after = hashes(tmp_path)
    assert process.returncode == (130 if signum == signal.SIGINT else -signum), err
    for name in ["m.npz", "m.json", "m.attention.npz", "pairs.tsv"]:
        assert after[name] == before[name], name  # the model and its report (and recording) as they were
    assert set(after) == set(before)  # no temporary file left
    if signum == signal.SIGINT:
        assert "before the model was saved" in out and "--resume m.state.npz continues" in err
    _, extra = bt.load_checkpoint(tmp_path / "m.state.npz", return_extra=True)
    assert int(extra["step"]) == 4 and int(np.asarray(json.loads(str(extra["train_config"]))["seed"])) == 1


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_while_files_are_written_leaves_them_as_they_were_and_no_temporary_file(tmp_path, signum):
    script = """
        import time
        import bytetrans_lib as bt
        def slow(f):  # half a file written, then a wait: the signal comes mid-write
            f.write(b"new" * 1000)
            f.flush()
            print("writing", flush=True)
            time.sleep(120)
        bt.write_together([("a.bin", lambda f: f.write(b"new")), ("b.bin", slow)])
    """
    for name in ["a.bin", "b.bin"]:
        (tmp_path / name).write_bytes(b"old")
    before = hashes(tmp_path)
    process = _start(tmp_path, script)
    _wait_for(process, "writing")
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == -signum, err  # ended by the signal (Python does so for an uncaught Ctrl-C too)
    assert hashes(tmp_path) == before  # a.bin's finished new bytes were not renamed in either


def test_a_signal_ignored_or_handled_by_the_program_is_left_as_it_was(tmp_path):
    seen = []
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        bt.write_atomically(tmp_path / "a", lambda f: os.kill(os.getpid(), signal.SIGHUP) or f.write(b"new"))
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN  # nohup's choice kept
        signal.signal(signal.SIGHUP, lambda s, frame: seen.append(s))
        bt.write_atomically(tmp_path / "b", lambda f: os.kill(os.getpid(), signal.SIGHUP) or f.write(b"new"))
    finally:
        signal.signal(signal.SIGHUP, old)
    assert seen == [signal.SIGHUP] and (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == b"new"


def test_an_error_writing_one_file_of_a_set_leaves_all_of_them_and_names_the_file(tmp_path):
    for name in ["a", "b"]:
        (tmp_path / name).write_bytes(b"old")

    def too_large(f):
        raise OSError(27, "File too large")

    with pytest.raises(OSError, match=r"save: cannot write .*/b: File too large"):
        bt.write_together([(tmp_path / "a", lambda f: f.write(b"new")), (tmp_path / "b", too_large)], "save")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == b"old"
    (tmp_path / "c").symlink_to("a")
    with pytest.raises(ValueError, match=r"/a would be written twice"):
        bt.write_together([(tmp_path / "a", lambda f: f.write(b"new")), (tmp_path / "c", lambda f: f.write(b"x"))])
    assert (tmp_path / "a").read_bytes() == b"old"


# ---- 5: the exercise edition ------------------------------------------------------------------------


def test_edition_make_never_writes_into_notebooks_through_a_link(tmp_path):
    files = edition.build()
    solved = hashes(ROOT / "notebooks")
    name = sorted(files)[2]
    (tmp_path / name).symlink_to(ROOT / "notebooks" / name)
    for folder in (tmp_path, tmp_path / "via-link"):
        if folder.name == "via-link":
            (tmp_path / name).unlink()
            folder.symlink_to(ROOT / "notebooks")
        for force in (False, True):
            with pytest.raises(FileExistsError, match="is in notebooks/, the solved edition"):
                edition.write(files, folder, force=force)
    assert hashes(ROOT / "notebooks") == solved


@pytest.mark.parametrize("damaged", ["edited", "{}", "[]", "cut"])
def test_edition_make_force_keeps_a_copy_of_the_learners_notebook(tmp_path, capsys, damaged):
    files = edition.build()
    edition.write(files, tmp_path)
    name = sorted(files)[0]
    text = files[name]
    work = {
        "edited": text.replace("# YOUR CODE HERE", "x = 1  # my answer", 1),
        "{}": "{}",
        "[]": "[]",
        "cut": text[: len(text) // 2],
    }[damaged]
    (tmp_path / name).write_text(work, encoding="utf-8")
    assert edition.main(["make", "--folder", str(tmp_path)]) == 1  # refused without --force
    assert "would replace work in exercises/" + name in capsys.readouterr().err
    assert (tmp_path / name).read_text(encoding="utf-8") == work
    for round in (1, 2):  # twice: the second copy must not replace the first
        if round == 2:
            (tmp_path / name).write_text(work, encoding="utf-8")
        assert edition.main(["make", "--folder", str(tmp_path), "--force"]) == 0
        assert (tmp_path / name).read_text(encoding="utf-8") == text
    kept = sorted((tmp_path / "backups").iterdir())
    assert len(kept) == 2 and all(p.read_text(encoding="utf-8") == work for p in kept)
    assert "kept your edited " + name in capsys.readouterr().out
    assert edition.differences(files, tmp_path) == []  # backups/ is not an exercise notebook


def test_edition_make_names_a_damaged_solved_notebook(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_bytes.ipynb").write_text('{"cells": [', encoding="utf-8")
    real_build = edition.build
    monkeypatch.setattr(edition, "build", lambda: real_build(tmp_path / "notebooks"))
    assert edition.main(["make", "--folder", str(tmp_path / "ex")]) == 1
    assert capsys.readouterr().err.startswith("edition make: notebooks/01_bytes.ipynb is not a notebook the edition")
