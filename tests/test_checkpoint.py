"""Checkpoints (notebook 05): a save that cannot be done right is refused before anything is
written, and a file is checked (config, then tensor shapes, then values) before a model is built."""

import json
import os
import re
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import bytetrans_lib as bt
from bytetrans_lib import checkpoint, files

TINY = dict(d_model=8, n_heads=2, n_encoder_layers=2, n_decoder_layers=2, d_ff=12, max_len=16, dtype="float64")


def tiny_model(seed=0, **overrides):
    return bt.Transformer(bt.Config(**{**TINY, **overrides}), rng=np.random.default_rng(seed))


def saved(tmp_path, name="model.npz", seed=0):
    """A good checkpoint at tmp_path/name; returns its path and its bytes."""
    path = tmp_path / name
    bt.save_checkpoint(tiny_model(seed), path)
    return path, path.read_bytes()


def rewritten(tmp_path, name, change):
    """A copy of a good checkpoint's arrays, changed by change(arrays), written with np.savez."""
    path, _ = saved(tmp_path, "good.npz")
    arrays = dict(np.load(path, allow_pickle=False))
    change(arrays)
    np.savez(tmp_path / name, **arrays)
    return tmp_path / name


def names(folder):
    return sorted(p.name for p in folder.iterdir())


# ---- save: refuse before writing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, error, pattern",
    [
        ({"note": None}, TypeError, r"extra\['note'\] would be a Python object \(dtype object\)"),
        ({"mixed": [1, "a", None]}, TypeError, r"extra\['mixed'\] would be a Python object"),
        ({"ragged": [[1, 2], [3]]}, ValueError, r"extra\['ragged'\] is ragged"),
        ({"ok": np.arange(3), "note": {"a": 1}}, TypeError, r"extra\['note'\]"),
        ({3: np.arange(3)}, TypeError, "extra's keys must be str, got 3"),
        ([("step", 1)], TypeError, "extra must be a dict name -> array, got list"),
    ],
)
def test_save_checkpoint_refuses_object_arrays_before_touching_the_old_file(tmp_path, extra, error, pattern):
    path, before = saved(tmp_path)
    with pytest.raises(error, match=pattern):
        bt.save_checkpoint(tiny_model(1), path, extra=extra)
    assert path.read_bytes() == before  # the good checkpoint, byte for byte
    assert names(tmp_path) == ["model.npz"]  # and no temporary file
    assert bt.load_checkpoint(path).config == bt.Config(**TINY)


def test_save_checkpoint_refuses_a_model_with_nan_or_infinite_parameters(tmp_path):
    path, before = saved(tmp_path)
    broken = tiny_model(1)
    broken.decoder.embedding.params["E"][3, 1] = np.nan
    with pytest.raises(ValueError, match="parameter decoder.embedding.E holds NaN or infinite values"):
        bt.save_checkpoint(broken, path)
    broken.decoder.embedding.params["E"][3, 1] = np.inf
    with pytest.raises(ValueError, match="nothing was written"):
        bt.save_checkpoint(broken, path)
    assert path.read_bytes() == before and names(tmp_path) == ["model.npz"]


def test_save_checkpoint_refuses_a_read_only_file_even_for_root(tmp_path):
    path, before = saved(tmp_path)
    path.chmod(0o444)
    with pytest.raises(
        PermissionError, match=r"save_checkpoint: cannot write .*model.npz: the file is read-only \(mode 444\)"
    ):
        bt.save_checkpoint(tiny_model(1), path)
    assert path.read_bytes() == before and path.stat().st_mode & 0o777 == 0o444
    assert names(tmp_path) == ["model.npz"]


def test_save_checkpoint_refuses_a_folder_that_cannot_be_written_before_writing(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    monkeypatch.setattr(files.tempfile, "mkstemp", lambda *a, **k: pytest.fail("a temporary file was created"))
    try:
        with pytest.raises(
            PermissionError, match=r"save_checkpoint: cannot write .*model.npz: the folder .*locked is read-only"
        ):
            bt.save_checkpoint(tiny_model(), folder / "model.npz")
        assert names(folder) == []
    finally:
        folder.chmod(0o755)


def test_save_checkpoint_refuses_a_missing_folder_a_folder_and_what_is_not_a_path_or_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere does not exist"):
        bt.save_checkpoint(tiny_model(), tmp_path / "nowhere" / "model.npz")
    with pytest.raises(IsADirectoryError, match="save_checkpoint: cannot write .*: it is a folder, not a file"):
        bt.save_checkpoint(tiny_model(), tmp_path)
    with pytest.raises(TypeError, match=r"save_checkpoint expects a file path \(str or Path\), got NoneType"):
        bt.save_checkpoint(tiny_model(), None)
    with pytest.raises(TypeError, match="save_checkpoint needs a Transformer as model, got NoneType"):
        bt.save_checkpoint(None, tmp_path / "model.npz")
    assert names(tmp_path) == []


@pytest.mark.parametrize("breaks", ["chmod", "savez", "replace"])
def test_save_checkpoint_never_leaves_its_temporary_file(tmp_path, monkeypatch, breaks):
    path, before = saved(tmp_path)

    def fail(*args, **kwargs):
        raise OSError(f"{breaks} failed")

    target = {"chmod": (files.os, "chmod"), "savez": (np, "savez"), "replace": (files.os, "replace")}[breaks]
    monkeypatch.setattr(*target, fail)
    with pytest.raises(OSError, match=f"{breaks} failed"):
        bt.save_checkpoint(tiny_model(1), path)
    assert path.read_bytes() == before and names(tmp_path) == ["model.npz"]


def edited_after_building(model, change):
    change(model)
    return model


@pytest.mark.parametrize(
    "break_it, error, pattern",
    [
        (
            lambda m: m.output.params.__setitem__("W", np.zeros((3, 3))),
            ValueError,
            r"parameter output.W has shape \(3, 3\) and dtype float64; the model's config needs shape \(8, 260\)",
        ),
        (
            lambda m: m.output.params.__setitem__("b", np.zeros(260, dtype=np.float32)),
            ValueError,
            r"parameter output.b has shape \(260,\) and dtype float32; .* needs shape \(260,\) and dtype float64",
        ),
        (
            lambda m: setattr(m.config, "d_model", 32),
            ValueError,
            r"parameter encoder.embedding.E has shape \(260, 8\) .* needs shape \(260, 32\)",
        ),
        (
            lambda m: setattr(m.config, "n_encoder_layers", 3),
            ValueError,
            r"the model does not match its config \(was the config changed after the model was built\?\): missing parameters "
            r"\['encoder.layers.2.ffn.linear_1.W'",
        ),
        (
            lambda m: setattr(m.config, "norm_first", False),
            ValueError,
            r"the model does not match .* unexpected \['decoder.norm.beta'",
        ),
        (
            lambda m: setattr(m.config, "n_heads", 4),
            ValueError,
            "the model's attention has 2 heads, its config says n_heads=4",
        ),
        (
            lambda m: setattr(m.config, "d_model", 9),
            ValueError,
            "the model's config is refused: Config.d_model=9 is not divisible by n_heads=2",
        ),
        (
            lambda m: setattr(m.config, "max_len", 1),
            ValueError,
            "the model's config is refused: Config.max_len must be >= 2",
        ),
        (
            lambda m: m.output.params.__setitem__("b", [0.0] * 260),
            TypeError,
            "parameter output.b is a list, not a NumPy array",
        ),
    ],
)
def test_save_checkpoint_refuses_a_model_its_config_no_longer_describes_before_touching_the_old_file(
    tmp_path, break_it, error, pattern
):
    """load_checkpoint would refuse such a file (or build another model from it): the save would
    replace a good checkpoint with one that cannot be loaded."""
    path, before = saved(tmp_path)
    with pytest.raises(error, match=f"save_checkpoint: {pattern}"):
        bt.save_checkpoint(edited_after_building(tiny_model(1), break_it), path)
    assert path.read_bytes() == before and names(tmp_path) == ["model.npz"]


@pytest.mark.parametrize(
    "extra, error, pattern",
    [
        ({"a\x00b": 1}, ValueError, r"extra's key 'a\\x00b' cannot be a name in the archive"),
        ({"": 1}, ValueError, "extra's key '' cannot be a name in the archive"),
        ({"a\udc80": 1}, ValueError, "cannot be a name in the archive .*lone surrogate"),
        (
            {"mixed": [1, "a"]},
            TypeError,
            r"extra\['mixed'\] would not load back as given: NumPy stores it as one "
            r"array of str \(dtype <U21\)",
        ),
        ({"mixed": (2.5, "a")}, TypeError, r"extra\['mixed'\] would not load back as given"),
        ({"nested": [["a", "b"], [1, 2]]}, TypeError, r"extra\['nested'\] would not load back"),
        ({"texts": [b"a", "b"]}, TypeError, r"give only str items, or only numbers"),
        ({"raw": [1, b"a"]}, TypeError, r"array of bytes \(dtype \|S21\).*give only bytes items"),
        ({"note": "ends in NUL\x00"}, TypeError, "dropping NUL characters at the end"),
    ],
)
def test_save_checkpoint_refuses_extra_that_would_not_load_back_as_given(tmp_path, extra, error, pattern):
    path, before = saved(tmp_path)
    with pytest.raises(error, match=f"save_checkpoint: .*{pattern}"):
        bt.save_checkpoint(tiny_model(1), path, extra=extra)
    assert path.read_bytes() == before and names(tmp_path) == ["model.npz"]


ROUND_TRIP_EXTRAS = [
    {},
    {"step": 42, "lr": 1e-3, "done": True, "history": '[{"step": 10, "loss": 2.5}]'},
    {"adam/m/output.b": np.arange(5.0), "adam/t": np.int64(7), "flags": np.array([True, False])},
    {
        "names": ["a", "bc", "été"],
        "grid": [["x", "y"], ["z", "w"]],
        "bytes": [b"\x00a", b"b"],
        "mixed numbers": [1, 2.5],
        "empty": np.zeros((0, 3)),
    },
    {"a/b": 1, "/lead": 2, "trail/": 3, "..": 4, "x.npy": 5, "été 😀": 6, " space ": 7, "tab\tkey": 8},
    {
        "when": np.datetime64("2024-01-02"),
        "z": np.array([1 + 2j]),
        "small": np.float16(0.5),
        "record": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
    },
]


@pytest.mark.parametrize(
    "overrides",
    [{}, {"norm_first": False, "dtype": "float32"}, {"n_encoder_layers": 0, "n_decoder_layers": 1, "vocab_size": 270}],
)
@pytest.mark.parametrize("extra", ROUND_TRIP_EXTRAS, ids=range(len(ROUND_TRIP_EXTRAS)))
def test_whatever_save_checkpoint_accepts_loads_back_equal(tmp_path, overrides, extra):
    """The round-trip property: a save that succeeds gives back the same config, parameters (shape,
    dtype, values) and extra (names, dtypes, values: a list of str comes back as those str)."""
    model = tiny_model(4, **overrides)
    bt.save_checkpoint(model, tmp_path / "model.npz", extra=extra)
    loaded, got = bt.load_checkpoint(tmp_path / "model.npz", return_extra=True)
    assert loaded.config == model.config
    params, loaded_params = model.parameters(), loaded.parameters()
    assert list(loaded_params) == list(params)
    for name, p in params.items():
        assert loaded_params[name].dtype == p.dtype and np.array_equal(loaded_params[name], p), name
    assert set(got) == set(extra)
    for name, value in extra.items():
        assert got[name].dtype == np.asarray(value).dtype and np.array_equal(got[name], np.asarray(value)), name
        if isinstance(value, (str, bytes, list)):
            assert got[name].tolist() == value, name


# ---- load: the config, then the shapes, then the values; the model last --------------------------


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        ({"n_encoder_layers": 10**6}, r"config is refused: Config.n_encoder_layers=1000000 is more than 64"),
        (
            {
                "d_model": 4096,
                "n_heads": 8,
                "d_ff": 16384,
                "n_encoder_layers": 64,
                "n_decoder_layers": 64,
                "max_len": 2048,
            },
            r"config is refused: .* parameters, more than 50,000,000",
        ),  # each size within its limit
        (
            {"d_model": 128, "n_heads": 4, "n_encoder_layers": 0, "n_decoder_layers": 0},
            r"does not match its config: missing tensors \[",
        ),  # within every bound, but not in the file
    ],
)
def test_load_checkpoint_refuses_a_crafted_oversized_config_fast_and_without_allocating(tmp_path, overrides, pattern):
    def craft(arrays):
        arrays["config"] = np.array(json.dumps({**bt.Config(**TINY).to_dict(), **overrides}))

    path = rewritten(tmp_path, "crafted.npz", craft)
    assert path.stat().st_size < 150_000  # a small file (about 100 KB) ...
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=pattern):
            bt.load_checkpoint(path)
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seconds < 5  # ... refused in milliseconds (generous for a loaded machine)
    assert peak < 20 * 2**20  # and without building the gigabytes of model it asks for


def test_load_checkpoint_refuses_a_small_compressed_file_whose_config_is_over_the_parameter_budget(tmp_path):
    """A config within Config.LIMITS (vocab 65,536, d_model 256) that makes 53 million parameters:
    compressed, its tensors of zeros would take a fraction of a megabyte, but loading them would take
    gigabytes. The budget refuses the config itself, before a single tensor is read."""

    def craft(arrays):
        arrays["config"] = np.array(json.dumps({**bt.Config().to_dict(), "vocab_size": 65_536, "d_model": 256}))

    path = rewritten(tmp_path, "big.npz", craft)
    np.savez_compressed(tmp_path / "small.npz", **dict(np.load(path, allow_pickle=False)))
    tracemalloc.start()
    try:
        with pytest.raises(
            ValueError,
            match=r"small.npz: its config is refused: Config: these sizes make a model "
            r"of 53,033,984 parameters, more than 50,000,000.*MAX_PARAMETERS",
        ):
            bt.load_checkpoint(tmp_path / "small.npz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_load_checkpoint_reads_no_tensor_before_the_config_and_the_shapes_are_checked(tmp_path, monkeypatch):
    path = rewritten(tmp_path, "misshapen.npz", lambda a: a.update({"param/output.W": np.zeros((8, 3))}))
    read = []
    original = np.lib.npyio.NpzFile.__getitem__
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda self, key: read.append(key) or original(self, key))
    with pytest.raises(ValueError, match=r"tensor output.W has shape \(8, 3\), the config needs \(8, 260\)"):
        bt.load_checkpoint(path)
    assert sorted(read) == ["config", "format"]


def test_load_checkpoint_refuses_a_npy_file_naming_it(tmp_path):
    np.save(tmp_path / "weights.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"weights.npy is a single NumPy array \(.npy, as np.save writes\)"):
        bt.load_checkpoint(tmp_path / "weights.npy")


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda a: a.update(config=np.array("{d_model: 8")), "its config is not JSON"),
        (
            lambda a: a.update(config=np.array("[8, 2]")),
            "its config is refused: Config.from_dict expects a dict, got list",
        ),
        (
            lambda a: a.update(config=np.array(json.dumps({**TINY, "d_model": 8.0}))),
            "its config is refused: Config.d_model must be an int, got 8.0",
        ),
        (
            lambda a: a.update(config=np.array(json.dumps({**TINY, "dtype": None}))),
            "Config.dtype must be float32 or float64",
        ),
        (
            lambda a: a.update(config=np.array(json.dumps({**TINY, "n_head": 2}))),
            r"unknown Config key\(s\) \['n_head'\]",
        ),
        (
            lambda a: a.update(config=np.array(["{}", "{}"])),
            r"its config should be a short text, got an array of shape \(2,\)",
        ),
        (lambda a: a.pop("config"), "has no config"),
        (lambda a: a.pop("format"), "is not a bytetrans checkpoint"),
        (lambda a: a.update(format=np.array("something-else")), "is not a bytetrans checkpoint"),
        (lambda a: a["param/output.b"].__setitem__(0, np.nan), "tensor output.b holds NaN or infinite values"),
        (lambda a: a["param/encoder.embedding.E"].__setitem__((5, 2), -np.inf), "tensor encoder.embedding.E holds NaN"),
        (
            lambda a: a.update({"param/output.b": np.zeros(260, dtype=np.int64)}),
            "tensor output.b has dtype int64, not floating",
        ),
        (lambda a: a.pop("param/output.b"), r"missing tensors \['output.b'\]"),
    ],
)
def test_load_checkpoint_refuses_a_bad_config_a_missing_key_or_non_finite_weights_naming_the_file(
    tmp_path, change, pattern
):
    path = rewritten(tmp_path, "bad.npz", change)
    with pytest.raises(ValueError, match=f"bad.npz.*{pattern}"):
        bt.load_checkpoint(path)


@pytest.mark.parametrize(
    "content, says",
    [
        (b"", "is not a checkpoint: a checkpoint is a .npz (zip) archive, and this file is empty"),
        (b"PK", "is not a readable checkpoint"),
        (b"hello, world\n", "is not a checkpoint: a checkpoint is a .npz (zip) archive, and this file is something"),
        (b'{"config": {}}\n', "and this file is JSON text (a run's report? its model is the .npz beside it)"),
        (b"PK\x03\x04" + bytes(100), "is not a readable checkpoint"),
    ],
)
def test_load_checkpoint_refuses_files_that_are_not_archives_naming_them(tmp_path, content, says):
    (tmp_path / "junk.npz").write_bytes(content)
    with pytest.raises(ValueError, match="junk.npz .*" + re.escape(says)):
        bt.load_checkpoint(tmp_path / "junk.npz")
    assert "pickled" not in says


def test_load_checkpoint_refuses_devices_folders_and_deeply_nested_configs_by_name(tmp_path):
    for path in ["/dev/zero", tmp_path]:
        with pytest.raises(ValueError, match="is not a checkpoint: it is not a regular file"):
            bt.load_checkpoint(path)
    path = rewritten(tmp_path, "deep.npz", lambda a: a.update({"config": np.array("[" * 40_000 + "]" * 40_000)}))
    with pytest.raises(ValueError, match="deep.npz: its config is nested too deeply"):
        bt.load_checkpoint(path)


def test_load_checkpoint_still_reads_a_compressed_copy_and_the_missing_file_error_is_unchanged(tmp_path):
    path, _ = saved(tmp_path)
    np.savez_compressed(tmp_path / "small.npz", **dict(np.load(path, allow_pickle=False)))
    model = bt.load_checkpoint(tmp_path / "small.npz")
    assert all(
        np.array_equal(p, q)
        for p, q in zip(model.parameters().values(), bt.load_checkpoint(path).parameters().values())
    )
    with pytest.raises(FileNotFoundError):
        bt.load_checkpoint(tmp_path / "absent.npz")
    with pytest.raises(TypeError, match=r"load_checkpoint expects a file path \(str or Path\), got NoneType"):
        bt.load_checkpoint(None)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"norm_first": False},
        {"n_encoder_layers": 0, "n_decoder_layers": 3},
        {"n_encoder_layers": 3, "n_decoder_layers": 0, "vocab_size": 300, "d_ff": 5},
    ],
)
def test_parameter_shapes_lists_every_tensor_of_the_model_in_order_without_building_it(overrides):
    model = tiny_model(**overrides)
    assert list(checkpoint._parameter_shapes(model.config).items()) == [
        (n, p.shape) for n, p in model.parameters().items()
    ]


def test_the_file_helpers_are_public_so_that_other_modules_can_share_them(tmp_path):
    path = bt.write_atomically(tmp_path / "note.txt", lambda f: f.write(b"hi"), "demo")
    assert path.read_bytes() == b"hi" and bt.check_writable(path) == path
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=r"demo: cannot write .*note.txt: the file is read-only"):
        bt.write_atomically(path, lambda f: f.write(b"lost"), "demo")
    assert path.read_bytes() == b"hi"


def test_the_shipped_checkpoint_still_loads():
    model = bt.load_checkpoint(bt.DEFAULT_MODEL)
    assert model.config == bt.Config()
    assert all(np.isfinite(p).all() for p in model.parameters().values())
    assert os.path.getsize(bt.DEFAULT_MODEL) > 4 * bt.count_parameters(model)


# ---- what a path may be: never replace a link, a device or a pipe with a file -----------------


def test_save_checkpoint_through_a_symbolic_link_writes_its_file_and_keeps_the_link(tmp_path):
    target, _ = saved(tmp_path, "real.npz")
    (tmp_path / "link.npz").symlink_to("real.npz")
    bt.save_checkpoint(tiny_model(seed=5), tmp_path / "link.npz")
    assert (tmp_path / "link.npz").is_symlink() and os.readlink(tmp_path / "link.npz") == "real.npz"
    loaded = bt.load_checkpoint(target)
    assert np.array_equal(loaded.parameters()["output.b"], tiny_model(seed=5).parameters()["output.b"])
    assert names(tmp_path) == ["link.npz", "real.npz"]


def test_save_checkpoint_refuses_a_pipe_or_device_instead_of_replacing_it_with_a_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match="cannot write .*pipe: it is not a regular file"):
        bt.save_checkpoint(tiny_model(), tmp_path / "pipe")
    assert not (tmp_path / "pipe").is_file() and names(tmp_path) == ["pipe"]
    (tmp_path / "null").symlink_to(os.devnull)  # /dev/null, reached through a link
    with pytest.raises(ValueError, match="not a regular file"):
        bt.save_checkpoint(tiny_model(), tmp_path / "null")
    assert Path(os.devnull).is_char_device()


def test_save_checkpoint_refuses_a_link_to_nothing_and_a_path_ending_in_a_separator(tmp_path):
    (tmp_path / "dangling.npz").symlink_to("missing/model.npz")
    with pytest.raises(FileNotFoundError, match="it is a link to .*missing/model.npz, which does not exist"):
        bt.save_checkpoint(tiny_model(), tmp_path / "dangling.npz")
    with pytest.raises(IsADirectoryError, match="it is a folder, not a file"):
        bt.save_checkpoint(tiny_model(), str(tmp_path / "newdir") + os.sep)
    assert names(tmp_path) == ["dangling.npz"]


def test_the_temporary_file_never_takes_the_name_of_a_file_that_is_already_there(tmp_path):
    """The temporary name is unique (mkstemp), so a user's own model.npz.tmp or .partial survives."""
    for name in ["model.npz.tmp", "model.npz.partial", ".model.npz.tmp"]:
        (tmp_path / name).write_text("mine")
    bt.save_checkpoint(tiny_model(), tmp_path / "model.npz")
    assert all(
        (tmp_path / name).read_text() == "mine" for name in ["model.npz.tmp", "model.npz.partial", ".model.npz.tmp"]
    )
    assert names(tmp_path) == [".model.npz.tmp", "model.npz", "model.npz.partial", "model.npz.tmp"]
