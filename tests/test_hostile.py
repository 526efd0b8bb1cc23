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
from conftest import EIGHT_PAIRS, ROOT

import bytetrans_lib as bt
import bytetrans_lib.train as train_module
from bytetrans_lib import preflight
from bytetrans_lib.exercises import edition

PAIRS = EIGHT_PAIRS * 12
TINY = ["--d-model", "16", "--n-heads", "2", "--n-encoder-layers", "1", "--n-decoder-layers", "1", "--d-ff", "32"]
TINY += ["--max-len", "32", "--steps", "4", "--batch-size", "8", "--warmup", "2", "--eval-every", "2", "--n-eval", "4"]
PREFIX = "python -m bytetrans_lib.train: error: "
SMALL = bt.Config(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32)


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
    for module in (train_module, preflight):  # the command and its checks name the shipped model
        monkeypatch.setattr(module, "DEFAULT_MODEL", tmp_path / "shipped" / "bytetrans-en-fr.npz")
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
        import bytetrans_lib.run as run
        import bytetrans_lib.train as train
        scored = run.evaluate_references
        def slow(*args, **kwargs):  # the scoring of a wide beam, made long enough to be interrupted
            print("scoring", flush=True)
            time.sleep(120)
            return scored(*args, **kwargs)
        run.evaluate_references = slow
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
    assert int(extra["step"]) == 4 and json.loads(str(extra["train_config"]))["seed"] == 1


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


# ---- 7-9: sizes: memory or CPU exhausted from a small input ----------------------------------------


def _zip_with(path, member, data=None, declared=None):
    """A zip holding `member`; with `declared`, a zip whose member says it holds `declared` bytes
    of one line (compressed zeros: a small file), written without holding them all in memory."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if data is not None:
            archive.writestr(member, data)
        else:
            with archive.open(member, "w", force_zip64=True) as f:
                chunk = b"a" * 2**20
                for _ in range(declared // len(chunk)):
                    f.write(chunk)


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "folder/fra.txt"])
def test_the_cleaner_refuses_devices_and_pipes_by_name_without_reading_them(tmp_path, source):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "folder" / "fra.txt")
    path = source if source.startswith("/") else tmp_path / source
    with pytest.raises(ValueError, match=r"is not a regular file \(a device, a named pipe or a socket\)"):
        bt.clean_pairs(path)


def test_the_cleaner_refuses_a_zip_member_larger_than_any_file_of_pairs_before_reading_it(tmp_path, monkeypatch):
    from bytetrans_lib import clean_dataset

    monkeypatch.setattr(clean_dataset, "MAX_INPUT_BYTES", 2**22)  # 4 MiB here, so that the test stays small
    _zip_with(tmp_path / "fra-eng.zip", "fra.txt", declared=2**23)  # 8 MiB of one line, a small zip
    assert (tmp_path / "fra-eng.zip").stat().st_size < 2**16
    with pytest.raises(ValueError, match=r"fra\.txt is larger than 4,194,304 bytes, far more than any file of pairs"):
        bt.clean_pairs(tmp_path / "fra-eng.zip")
    (tmp_path / "big.txt").write_bytes(b"a\tb\n" * (2**20 + 1))
    with pytest.raises(ValueError, match=r"big\.txt is larger than 4,194,304 bytes"):
        bt.clean_pairs(tmp_path / "big.txt")


def test_a_line_far_longer_than_any_pair_is_dropped_and_counted_without_being_decoded(tmp_path):
    (tmp_path / "fra.txt").write_bytes(b"Hi.\tSalut.\n" + b"x" * (2**16 + 1) + b"\tb\n" + b"Yes.\tOui.\n")
    pairs, report = bt.clean_pairs(tmp_path / "fra.txt")
    assert pairs == [("Hi.", "Salut."), ("Yes.", "Oui.")]
    assert report.read == 3 and report.dropped["too_long"] == 1


def test_the_training_command_names_a_device_or_pipe_as_data(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "fifo.tsv")
    for data in ["/dev/zero", "fifo.tsv"]:
        assert train_module.train_cli(["--data", data, "--out", "m.npz", *TINY]) == 2
        err = capsys.readouterr().err
        assert err == f"{PREFIX}--data {data} is not a regular file (a device, a named pipe or a socket)\n"
    with pytest.raises(ValueError, match="is not a regular file"):
        bt.read_tsv("/dev/zero")


def _append_member(path, name, shape, dtype):
    """Add to the .npz at `path` an array whose header declares `shape` and `dtype` (and a few bytes
    of data only): what a compressed file of zeros declares when it is small on disk."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name + ".npy", header.getvalue() + b"\0" * 64)


def test_a_state_whose_extras_declare_gigabytes_is_refused_before_reading_them(tmp_path):
    model = bt.Transformer(SMALL, rng=np.random.default_rng(0))
    bt.save_checkpoint(model, tmp_path / "s.npz", extra={"step": np.array(3)})
    _append_member(tmp_path / "s.npz", "extra/huge", (2 * 10**8,), "<f8")  # 1.6 GB once read
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"extra arrays would take 1,600,000,008 bytes once read, more than"):
        bt.load_checkpoint(tmp_path / "s.npz", return_extra=True)
    assert time.perf_counter() - started < 5  # refused from the headers (generous: shared machines)
    assert bt.load_checkpoint(tmp_path / "s.npz").config.d_model == 16  # the model alone reads no extra


def test_a_recording_whose_marker_or_maps_declare_gigabytes_is_refused_before_reading_them(tmp_path):
    shipped = ROOT / "data" / "bytetrans-en-fr.attention.npz"
    shutil.copy(shipped, tmp_path / "r.npz")
    import zipfile

    with zipfile.ZipFile(tmp_path / "r.npz") as archive:  # the same recording with a huge marker
        members = {info.filename: archive.read(info) for info in archive.infolist() if info.filename != "format.npy"}
    with zipfile.ZipFile(tmp_path / "marker.npz", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    _append_member(tmp_path / "marker.npz", "format", (), "<U400000000")  # 1.6 GB of text
    assert not bt.is_recording(tmp_path / "marker.npz")
    with pytest.raises(ValueError, match="is not an attention recording"):
        bt.load_recording(tmp_path / "marker.npz")
    with zipfile.ZipFile(tmp_path / "maps.npz", "w") as archive:
        for name, data in members.items():
            if name != "0/cross.npy":
                archive.writestr(name, data)
        archive.writestr("format.npy", zipfile.ZipFile(tmp_path / "r.npz").read("format.npy"))
    steps = len(bt.load_recording(shipped)["steps"])
    english, french = bt.RECORDED_PAIRS[0]
    T_q, T_kv = len(french.encode()) + 1, len(english.encode()) + 1
    _append_member(tmp_path / "maps.npz", "0/cross", (steps, 64, 256, T_q, T_kv), "<u2")
    with pytest.raises(ValueError, match=r"its maps would take [\d,]+ bytes once read, more than the 268,435,456"):
        bt.load_recording(tmp_path / "maps.npz")


def test_translate_batches_many_texts_and_sizes_its_cache_by_max_len(monkeypatch):
    from bytetrans_lib import decoding

    model = bt.Transformer(SMALL, rng=np.random.default_rng(0))
    made = []
    real = decoding.DecoderCache

    def recorded(model, memory, src_mask, size=None):
        made.append((memory.shape[0], size))
        return real(model, memory, src_mask, size)

    monkeypatch.setattr(decoding, "DecoderCache", recorded)
    texts = [f"I see {i} cats." for i in range(bt.TRANSLATE_BATCH * 2 + 5)]
    out = bt.translate(model, texts, max_len=8)
    assert made == [(bt.TRANSLATE_BATCH, 8), (bt.TRANSLATE_BATCH, 8), (5, 8)]
    assert out[-5:] == bt.translate(model, texts[-5:], max_len=8)  # the same words, batched or not


# ---- 12-14: silently wrong answers ---------------------------------------------------------------


def test_non_finite_or_overflowing_weights_are_refused_at_decode_time_by_name(tmp_path):
    config = SMALL
    model = bt.Transformer(config, rng=np.random.default_rng(0))
    model.parameters()["output.W"][0, 0] = np.nan  # set in memory
    message = r"decode_step: the model's logits hold NaN or infinite values at position 0"
    with pytest.raises(ValueError, match=message):
        bt.translate(model, ["Hello."])
    with pytest.raises(ValueError, match=message):
        bt.beam_search(model, "Hello.", beam=2)
    big = bt.Transformer(config, rng=np.random.default_rng(0))
    for p in big.parameters().values():
        p[...] = 1e38
    bt.save_checkpoint(big, tmp_path / "big.npz")  # finite: saved and loaded, but it overflows
    with np.errstate(all="ignore"), pytest.raises(ValueError, match=message):
        bt.translate(bt.load_checkpoint(tmp_path / "big.npz"), ["Hello."])


def test_resuming_with_other_data_is_refused(cli, tmp_path):
    bt.write_tsv(PAIRS[:90] + [("The dog runs.", "Le chien court.")] * 6, tmp_path / "other.tsv")
    before = hashes(tmp_path)
    message = refused(cli, "--data", "other.tsv", "--out", "m.npz", "--resume", "m.state.npz", *TINY, "--steps", "8")
    assert message.startswith(
        "cannot resume from m.state.npz: the state was trained on other pairs than this run's --data"
    )
    assert hashes(tmp_path) == before


def test_the_explorer_shows_a_lone_surrogate_as_a_refusal_and_no_stale_map():
    model = bt.Transformer(SMALL, rng=np.random.default_rng(0))
    box = bt.explore_attention(model, "Hello.")
    assert box.maps is not None
    box.text.value = "Hi \ud83d."  # half of an emoji, as a broken paste gives
    assert "U+D83D, half of a character (a lone surrogate)" in box.message.value
    assert box.maps is None and box.last_image is None  # the previous sentence's map is gone


# ---- raw tracebacks: each a clear line now -------------------------------------------------------


def _damaged_state(tmp_path, change):
    """A copy of m.state.npz (the cli fixture's run) with its arrays changed by change(arrays)."""
    with np.load(tmp_path / "m.state.npz", allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    change(arrays)
    np.savez(tmp_path / "bad.state.npz", **arrays)


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda a: a.update({"extra/history": np.array("{not json")}), "its history or train_config is not JSON"),
        (lambda a: a.update({"extra/history": np.array("7")}), "its history should hold step, seconds"),
        (lambda a: a.update({"extra/train_config": np.array("[1")}), "its history or train_config is not JSON"),
        (lambda a: a.update({"extra/train_config": np.array("[1]")}), "its train_config should be a JSON object"),
        (
            lambda a: a.update({"extra/history": np.array(json.dumps({"step": [2, 4]}))}),
            "its history should hold step, seconds",
        ),
        (lambda a: a.update({"extra/step": np.array([4, 4])}), "its step must be one integer >= 0"),
        (lambda a: a.update({"extra/step": np.array(-5)}), "its step must be one integer >= 0"),
        (lambda a: a.update({"extra/step": np.array(1.7)}), "its step must be one integer >= 0, got array(1.7)"),
        (lambda a: a.update({"extra/step": np.array(3)}), "its history ends at step 4, its step is 3"),
        (lambda a: [a.pop(k) for k in list(a) if k.startswith("extra/adam/")], "it holds no Adam state"),
        (lambda a: a.pop("extra/adam/m/output.b"), "Adam.load_state_dict: the state has no m/output.b"),
    ],
)
def test_a_damaged_training_state_is_refused_by_name_before_training(cli, tmp_path, change, says):
    _damaged_state(tmp_path, change)
    before = hashes(tmp_path)
    message = refused(cli, "--data", "pairs.tsv", "--out", "m.npz", "--resume", "bad.state.npz", *TINY, "--steps", "8")
    assert message.startswith("cannot resume from bad.state.npz: the training state is damaged: " + says), message
    assert hashes(tmp_path) == before


@pytest.mark.parametrize("flag", ["--n-encoder-layers", "--n-decoder-layers"])
def test_a_model_without_encoder_or_decoder_layers_is_told_to_train_without_recording(cli, flag):
    message = refused(cli, "--data", "pairs.tsv", "--out", "z.npz", *TINY, flag, "0")
    assert message.endswith("has not every kind of attention to record: train it with --no-record-attention")


@pytest.mark.parametrize(
    "args, says",
    [
        (["--port", "-5"], "argument --port must be from 1 to 65535, got -5"),
        (["--port", "70000"], "argument --port must be from 1 to 65535, got 70000"),
        (["--max-pages", "0"], "argument --max-pages must be from 1 to 64, got 0"),
        (["/dev/zero"], "/dev/zero: not a regular file (a folder, a device or a pipe)"),
        (["data"], "data: not a regular file (a folder, a device or a pipe)"),
        (["missing.npz"], "missing.npz: no such file"),
    ],
)
def test_the_app_command_refuses_bad_arguments_in_one_line(monkeypatch, capsys, args, says):
    from bytetrans_lib import app

    monkeypatch.chdir(ROOT)
    assert app.explore_cli(args) == 2
    assert capsys.readouterr().err == f"python -m bytetrans_lib.app: error: {says}\n"


def _notebook(path, *sources):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_make_progress_reports_a_hung_a_killed_and_a_damaged_notebook_and_keeps_the_other_rows(tmp_path, capsys):
    _notebook(tmp_path / "01_fine.ipynb", "print('✓ Exercise 01.1, fine: done.')")
    _notebook(tmp_path / "02_hangs.ipynb", "while True:\n    pass", 'check("02.1", None)')
    _notebook(tmp_path / "03_exits.ipynb", "import os\nos._exit(3)", 'check("03.1", None)')
    (tmp_path / "04_cut.ipynb").write_text('{"cells": [{"cell_type": "code", "sou', encoding="utf-8")
    (tmp_path / "05_list.ipynb").write_text("[]", encoding="utf-8")
    before = hashes(tmp_path)
    rows = edition.progress(tmp_path, timeout=3)
    by_notebook = {}
    for notebook, exercise, status, message in rows:
        by_notebook.setdefault(notebook, []).append((exercise, status, message))
    assert by_notebook["01_fine"] == [("01.1 fine", "done", "")]
    assert ("02.1", "not run", "a cell ran longer than 3 s and was stopped before this check") in by_notebook[
        "02_hangs"
    ]
    assert any("kernel died" in message for _, status, message in by_notebook["03_exits"] if status == "error")
    for damaged in ("04_cut", "05_list"):
        ((exercise, status, message),) = by_notebook[damaged]
        assert status == "error" and message.startswith("it cannot be read as a notebook"), message
    edition.print_progress(rows)
    assert "1 of " in capsys.readouterr().out
    assert hashes(tmp_path) == before  # read only


def test_a_recording_without_pairs_is_refused_by_name_and_the_app_says_so(tmp_path):
    from bytetrans_lib import app

    with np.load(ROOT / "data" / "bytetrans-en-fr.attention.npz", allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["pairs"] = np.array("[]")
    np.savez(tmp_path / "m.attention.npz", **arrays)
    with pytest.raises(ValueError, match=r"m\.attention\.npz: its pairs should be a JSON list of \[english, french\]"):
        bt.load_recording(tmp_path / "m.attention.npz")
    shutil.copy(ROOT / "data" / "bytetrans-en-fr.npz", tmp_path / "m.npz")
    page = app.attention_app(tmp_path / "m.npz")
    assert "its pairs should be a JSON list" in page.message.value and page.explorer is None
