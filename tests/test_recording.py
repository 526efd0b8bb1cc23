"""Recording attention as it forms (notebook 08, section 1.5): the recorder, the file beside the model,
the command's --no-record-attention, and the recording shipped with the course's model."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from test_train import PAIRS, QUICK, quiet  # the same tiny corpus and run as the loop's tests

import bytetrans_lib as bt
import bytetrans_lib.train as train_module
from bytetrans_lib import preflight
from bytetrans_lib.recording import (
    PER,
    RECORDED_KINDS,
    RECORDED_PAIRS,
    AttentionRecorder,
    load_recording,
    recording_steps,
)

SMALL = bt.Config(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=2, d_ff=32)  # max_len 64
SHIPPED_RECORDING = bt.DEFAULT_MODEL.with_name("bytetrans-en-fr.attention.npz")


def test_recording_steps_are_closer_together_early_and_end_at_the_last_step():
    assert recording_steps(3200) == [0, 25, 50, 100, 200, 400, 800, 1600, 2400, 3200]
    assert recording_steps(8) == [0, 1, 2, 4, 6, 8]  # a short run: fewer steps, none twice
    assert recording_steps(1) == [0, 1]


def test_the_recorded_pairs_show_elision_adjective_order_and_agreement_and_fit_the_course_model():
    frenches = " ".join(french for _, french in RECORDED_PAIRS)
    assert len(RECORDED_PAIRS) == 6
    assert "l'île" in frenches and "l'école" in frenches and "n'est" in frenches  # elision
    assert "les grands marchés blancs" in frenches  # one adjective before the noun, one after
    assert "fourmis rouges ne jouent" in frenches  # plural on noun, adjective and verb
    assert bt.too_long_pairs(RECORDED_PAIRS, bt.Config().max_len) == []
    assert RECORDED_KINDS == bt.KINDS  # notebook 09's names of the three kinds


@pytest.mark.parametrize("steps", [[], [-1], [1.5], ["3"]])
def test_the_recorder_refuses_steps_that_are_not_whole_numbers_from_zero(steps):
    with pytest.raises(ValueError, match="AttentionRecorder: steps must be integers >= 0"):
        AttentionRecorder(steps)


def test_fit_records_every_map_at_the_chosen_steps_and_trains_exactly_as_without_recording():
    plain = bt.Transformer(SMALL, rng=np.random.default_rng(0))
    bt.fit(plain, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), log=quiet)
    recorded = bt.Transformer(SMALL, rng=np.random.default_rng(0))
    recorder = AttentionRecorder([0, 3, 8, 50])  # 50 is past the end: never reached
    bt.fit(recorded, PAIRS, PAIRS[:4], bt.TrainConfig(**QUICK), record=recorder, log=quiet)
    for name, p in plain.parameters().items():  # recording reads the model; it changes nothing
        assert np.array_equal(p, recorded.parameters()[name]), name
    assert recorder.recorded == [0, 3, 8]
    state = recorder.state_dict()
    for i, (english, french) in enumerate(RECORDED_PAIRS):
        T_src, T_tgt = len(english.encode()) + 1, len(french.encode()) + 1
        expected = {"encoder self": (1, T_src, T_src), "decoder self": (2, T_tgt, T_tgt), "cross": (2, T_tgt, T_src)}
        for kind, (layers, T_q, T_kv) in expected.items():
            maps = state[f"{i}/{kind}"]
            assert maps.shape == (3, layers, 2, T_q, T_kv) and maps.dtype == np.uint16
            assert np.all(np.abs(maps.sum(axis=-1) / PER - 1) <= T_kv / (2 * PER))  # rows sum to 1
        causal = state[f"{i}/decoder self"]
        assert not np.any(np.triu(np.ones((T_tgt, T_tgt), bool), k=1) & (causal > 0))  # no future byte
    # the last recording is the trained model's own attention, in thousandths
    maps = bt.attention_maps(recorded, *RECORDED_PAIRS[0])
    for kind in RECORDED_KINDS:
        assert np.abs(state[f"0/{kind}"][-1] / PER - np.stack(maps[kind])).max() <= 0.5 / PER + 1e-6


def test_an_interrupted_run_resumes_its_recording_where_it_stopped(tmp_path):
    straight = AttentionRecorder(recording_steps(8))
    bt.fit(
        bt.Transformer(SMALL, rng=np.random.default_rng(0)),
        PAIRS,
        PAIRS[:4],
        bt.TrainConfig(**QUICK),
        record=straight,
        log=quiet,
    )

    def interrupt(history):
        raise KeyboardInterrupt

    first = AttentionRecorder(recording_steps(8))
    with pytest.raises(KeyboardInterrupt):  # stopped just after the state of step 4 was saved
        bt.fit(
            bt.Transformer(SMALL, rng=np.random.default_rng(0)),
            PAIRS,
            PAIRS[:4],
            bt.TrainConfig(**QUICK),
            state_path=tmp_path / "s.npz",
            on_eval=interrupt,
            record=first,
            log=quiet,
        )
    resumed = AttentionRecorder(recording_steps(8))  # a new process: a new, empty recorder
    bt.fit(
        bt.Transformer(SMALL, rng=np.random.default_rng(1)),
        PAIRS,
        PAIRS[:4],
        bt.TrainConfig(**QUICK),
        resume=tmp_path / "s.npz",
        record=resumed,
        log=quiet,
    )
    assert resumed.recorded == straight.recorded == [0, 1, 2, 4, 6, 8]
    for key, value in straight.state_dict().items():
        assert np.array_equal(resumed.state_dict()[key], value), key


def test_train_and_report_saves_the_recording_beside_the_model_and_names_it_in_the_report(tmp_path):
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")
    lines = []
    report = bt.train_and_report(
        tmp_path / "pairs.tsv", tmp_path / "m.npz", SMALL, bt.TrainConfig(**QUICK), n_test=2, log=lines.append
    )
    assert report["attention_recording"] == "m.attention.npz"
    recording = load_recording(tmp_path / "m.attention.npz")
    assert recording["steps"] == recording_steps(8) and recording["pairs"] == list(RECORDED_PAIRS)
    assert set(recording["maps"][0]) == set(RECORDED_KINDS) and recording["maps"][0]["cross"].dtype == np.float32
    model = bt.load_checkpoint(tmp_path / "m.npz")  # the last step's maps are the saved model's
    maps = bt.attention_maps(model, *RECORDED_PAIRS[2])
    assert np.abs(recording["maps"][2]["cross"][-1] - np.stack(maps["cross"])).max() <= 0.5 / PER + 1e-6
    assert lines[-1].startswith("attention of 6 sentences at steps [0, 1, 2, 4, 6, 8] written to ")
    with np.load(tmp_path / "m.attention.npz", allow_pickle=False) as archive:  # no pickle anywhere
        assert all(archive[key].dtype != object for key in archive.files)


def test_a_model_too_small_for_some_recorded_sentences_records_the_others_and_says_so(tmp_path):
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")
    lines = []
    short = bt.Config(**{**SMALL.to_dict(), "max_len": 32})
    bt.train_and_report(
        tmp_path / "pairs.tsv", tmp_path / "m.npz", short, bt.TrainConfig(**QUICK), n_test=2, log=lines.append
    )
    fitting = [p for i, p in enumerate(RECORDED_PAIRS) if i not in bt.too_long_pairs(RECORDED_PAIRS, 32)]
    assert 0 < len(fitting) < 6
    assert f"attention: {6 - len(fitting)} of the 6 recorded sentences are longer than max_len=32 holds; " in lines[1]
    assert load_recording(tmp_path / "m.attention.npz")["pairs"] == fitting


def test_without_recording_no_file_is_written_and_an_earlier_one_is_left_as_it_was(tmp_path):
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")
    (tmp_path / "m.attention.npz").write_bytes(b"an earlier run's recording")
    lines = []
    report = bt.train_and_report(
        tmp_path / "pairs.tsv",
        tmp_path / "m.npz",
        SMALL,
        bt.TrainConfig(**QUICK),
        n_test=2,
        record_attention=False,
        log=lines.append,
    )
    assert report["attention_recording"] is None
    assert (tmp_path / "m.attention.npz").read_bytes() == b"an earlier run's recording"
    assert lines[-1].endswith("m.attention.npz is an earlier run's, left as it was")


def test_the_command_records_by_default_and_not_with_no_record_attention(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for module in (train_module, preflight):  # the command and its checks name the shipped model
        monkeypatch.setattr(module, "DEFAULT_MODEL", tmp_path / "shipped" / "bytetrans-en-fr.npz")
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")
    args = ["--data", "pairs.tsv", "--steps", "4", "--eval-every", "2", "--n-eval", "2", "--n-test", "2"]
    args += ["--batch-size", "8", "--warmup", "2", "--d-model", "16", "--n-heads", "2", "--d-ff", "32"]
    args += ["--n-encoder-layers", "1", "--n-decoder-layers", "1"]
    assert train_module.train_cli([*args, "--out", "a.npz"]) == 0
    assert load_recording("a.attention.npz")["steps"] == [0, 1, 2, 3, 4]
    assert train_module.train_cli([*args, "--out", "b.npz", "--no-record-attention"]) == 0
    assert not Path("b.attention.npz").exists() and Path("b.npz").exists()


@pytest.mark.parametrize(
    "data, out, resume, message",
    [
        ("m.attention.npz", "m.npz", None, "the attention recording m.attention.npz would overwrite the data file"),
        (
            "pairs.tsv",
            "m.npz",
            "m.attention.npz",
            r"resume m\.attention\.npz is the attention recording m\.attention\.npz: recording attention would",
        ),
    ],
)
def test_train_and_report_refuses_a_recording_that_would_overwrite_its_data_or_state(
    tmp_path, monkeypatch, data, out, resume, message
):
    monkeypatch.chdir(tmp_path)
    bt.write_tsv(PAIRS * 3, "pairs.tsv")
    bt.write_tsv(PAIRS * 3, "m.attention.npz")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises((ValueError, FileExistsError), match=message):
        bt.train_and_report(data, out, SMALL, bt.TrainConfig(**QUICK), resume=resume, log=quiet)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_train_and_report_refuses_to_record_over_a_file_that_is_not_a_recording(tmp_path):
    bt.write_tsv(PAIRS * 3, tmp_path / "pairs.tsv")
    bt.save_checkpoint(bt.Transformer(SMALL, rng=np.random.default_rng(0)), tmp_path / "m.attention.npz")  # a model
    before = (tmp_path / "m.attention.npz").read_bytes()
    with pytest.raises(FileExistsError, match=r"m\.attention\.npz is a model: training would replace it with an"):
        bt.train_and_report(tmp_path / "pairs.tsv", tmp_path / "m.npz", SMALL, bt.TrainConfig(**QUICK), log=quiet)
    assert (tmp_path / "m.attention.npz").read_bytes() == before and not (tmp_path / "m.npz").exists()


def test_load_recording_says_clearly_when_there_is_none_or_it_is_something_else(tmp_path):
    with pytest.raises(FileNotFoundError, match="no attention recording here .* --no-record-attention"):
        load_recording(tmp_path / "none.attention.npz")
    model = bt.Transformer(SMALL, rng=np.random.default_rng(0))
    bt.save_checkpoint(model, tmp_path / "model.npz")
    with pytest.raises(ValueError, match="is not an attention recording"):
        load_recording(tmp_path / "model.npz")
    recorder = AttentionRecorder([0])
    recorder(model, 0)
    recorder.save(tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["1/cross"] = arrays["1/cross"][..., :-1]  # one key column lost
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"'1/cross' has shape \(1, 2, 2, \d+, \d+\), expected \(1, layers, heads"):
        load_recording(tmp_path / "bad.npz")


# ---- the recording shipped with the course's model -------------------------------------------------


def test_the_shipped_recording_is_small_has_ten_steps_and_ends_with_the_shipped_model_s_attention():
    assert SHIPPED_RECORDING.stat().st_size < 2 * 2**20
    report = json.loads(bt.DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    assert report["attention_recording"] == SHIPPED_RECORDING.name
    recording = load_recording(SHIPPED_RECORDING)
    assert recording["steps"] == recording_steps(report["train_config"]["steps"]) and len(recording["steps"]) == 10
    assert recording["pairs"] == list(RECORDED_PAIRS)
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    for (english, french), maps in zip(recording["pairs"], recording["maps"]):
        now = bt.attention_maps(model, english, french)
        for kind in RECORDED_KINDS:
            assert np.abs(maps[kind][-1] - np.stack(now[kind])).max() <= 0.5 / PER + 1e-6, (english, kind)


def test_notebook_09_s_section_on_how_attention_forms_says_so_and_goes_on_without_a_recording(
    tmp_path, monkeypatch, capsys
):
    """A model trained with --no-record-attention: section 8's cells print why, and raise nothing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    notebook = json.loads((ROOT / "notebooks" / "09_attention_maps.ipynb").read_text(encoding="utf-8"))
    cells = {cell["id"]: "".join(cell["source"]) for cell in notebook["cells"]}
    model_path = tmp_path / "bytetrans-en-fr.npz"  # the shipped model, without its recording beside it
    model_path.write_bytes(bt.DEFAULT_MODEL.read_bytes())
    monkeypatch.setattr(bt, "DEFAULT_MODEL", model_path)
    namespace = {"bt": bt, "np": np, "plt": plt, "group_attention": bt.group_attention}
    namespace["model"] = bt.load_checkpoint(model_path)
    for cell_id in ["c22b", "c22d", "c22f", "c22h"]:
        exec(cells[cell_id], namespace)
    out = capsys.readouterr().out
    assert out == (
        f"{tmp_path / 'bytetrans-en-fr.attention.npz'}: no attention recording here (a run records one beside "
        "its model unless it is trained with --no-record-attention)\n"
        "This section needs a recording; the rest of the notebook does not.\n"
    )
    assert namespace["history"] is None and plt.get_fignums() == []


def test_the_recorder_says_which_pair_does_not_fit_a_smaller_model_before_running_it():
    model = bt.Transformer(bt.Config(**{**SMALL.to_dict(), "max_len": 32}), rng=np.random.default_rng(0))
    recorder = AttentionRecorder([0])
    with pytest.raises(ValueError, match=r"AttentionRecorder: \d of its pairs do not fit the model's max_len=32"):
        recorder(model, 0)
    assert recorder.recorded == []
    recorder(model, 5)  # a step it does not record: nothing to check, nothing run
