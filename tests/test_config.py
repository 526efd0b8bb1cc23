"""The model's settings (notebook 05, section 3): Config, its checks, its limits and its parameter count."""

import subprocess
import sys

import numpy as np
import pytest

import bytetrans_lib as bt
from bytetrans_lib import checkpoint

TINY = dict(d_model=8, n_heads=2, n_encoder_layers=2, n_decoder_layers=2, d_ff=12, max_len=16, dtype="float64")


def tiny_model(seed=0, **overrides):
    return bt.Transformer(bt.Config(**{**TINY, **overrides}), rng=np.random.default_rng(seed))


def test_config_is_a_module_of_its_own_that_the_model_checkpoints_and_diagnostics_import():
    from bytetrans_lib import config, diagnostics, transformer

    assert config.__all__ == ["Config"] and bt.Config is config.Config
    assert transformer.Config is checkpoint.Config is diagnostics.Config is config.Config
    assert "Config" not in transformer.__all__  # defined once, in config
    # the settings alone, without the model: importing config builds on the tokenizer only
    code = "import sys, bytetrans_lib.config; print(sorted(m for m in sys.modules if m.startswith('bytetrans_lib.')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "['bytetrans_lib.config', 'bytetrans_lib.tokenizer']"


@pytest.mark.parametrize(
    "values, error, pattern",
    [
        ({"n_head": 2}, ValueError, r"unknown Config key\(s\) \['n_head'\]"),
        ({"d_model": 10, "n_heads": 4}, ValueError, "d_model=10 is not divisible by n_heads=4"),
        ({"n_encoder_layers": -1}, ValueError, "n_encoder_layers must be >= 0"),
        ({"d_model": 0}, ValueError, "d_model must be >= 1"),
        ({"max_len": 12.5}, TypeError, "max_len must be an int"),
        ({"dtype": "int32"}, ValueError, "dtype must be float32 or float64"),
        ({"vocab_size": 100}, ValueError, "smaller than the tokenizer's 260"),
        ({"norm_first": "yes"}, TypeError, "norm_first must be True or False"),
    ],
)
def test_config_refuses_unknown_keys_and_inconsistent_values(values, error, pattern):
    with pytest.raises(error, match=pattern):
        bt.Config.from_dict(values)


def test_config_stores_the_dtype_by_name_and_round_trips_through_a_dict():
    config = bt.Config(dtype=np.float64)
    assert config.dtype == "float64"
    assert bt.Config.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "values, error, pattern",
    [
        ({"dtype": None}, ValueError, "Config.dtype must be float32 or float64, got None"),
        ({"d_model": 16.0}, TypeError, "Config.d_model must be an int, got 16.0"),
        ({"n_heads": True}, TypeError, "Config.n_heads must be an int, got True"),
        ({"max_len": np.float64(32)}, TypeError, "Config.max_len must be an int"),
        ({"n_encoder_layers": 10**6}, ValueError, r"Config.n_encoder_layers=1000000 is more than 64.*Config.LIMITS"),
        ({"d_model": 8192, "n_heads": 8}, ValueError, "Config.d_model=8192 is more than 4096"),
        ({"max_len": 10**9}, ValueError, "Config.max_len=1000000000 is more than 2048"),
    ],
)
def test_config_refuses_a_missing_dtype_non_int_sizes_and_sizes_over_its_limits(values, error, pattern):
    with pytest.raises(error, match=pattern):
        bt.Config(**values)


def test_config_limits_are_one_documented_table_that_the_default_model_is_far_below():
    assert set(bt.Config.LIMITS) == {
        "vocab_size",
        "d_model",
        "n_heads",
        "n_encoder_layers",
        "n_decoder_layers",
        "d_ff",
        "max_len",
    }
    default = bt.Config()
    assert all(getattr(default, name) * 8 <= limit for name, limit in bt.Config.LIMITS.items())
    assert default.parameter_count() * 40 <= bt.Config.MAX_PARAMETERS


# each limit is reached by a model within the parameter budget (the other sizes are the defaults)
REACHING_EACH_LIMIT = {
    "vocab_size": dict(vocab_size=65_536, d_model=64),
    "d_model": dict(d_model=4_096, n_encoder_layers=0, n_decoder_layers=0),
    "n_heads": dict(d_model=256, n_heads=256),
    "n_encoder_layers": dict(n_encoder_layers=64),
    "n_decoder_layers": dict(n_decoder_layers=64),
    "d_ff": dict(d_ff=16_384),
    "max_len": dict(max_len=2_048),
}


@pytest.mark.parametrize("name", list(bt.Config.LIMITS))
def test_every_size_limit_can_be_reached_within_the_parameter_budget(name):
    config = bt.Config(**REACHING_EACH_LIMIT[name])
    assert getattr(config, name) == bt.Config.LIMITS[name]
    assert config.parameter_count() <= bt.Config.MAX_PARAMETERS


@pytest.mark.parametrize(
    "values, count",
    [
        ({"vocab_size": 65_536, "d_model": 256}, "53,033,984"),  # a 0.2 MB compressed file asked for 700 MB
        ({**bt.Config.LIMITS, "dtype": "float64"}, "30,878,547,968"),  # every size at its limit
        (
            {"d_model": 1024, "n_heads": 8, "n_encoder_layers": 6, "n_decoder_layers": 6, "d_ff": 4096},
            "177,160,452",
        ),  # Transformer-big
    ],
)
def test_config_refuses_sizes_that_make_more_parameters_than_the_budget(values, count):
    with pytest.raises(
        ValueError,
        match=rf"Config: these sizes make a model of {count} parameters, more than "
        r"50,000,000, the most this course allows \(Config.MAX_PARAMETERS\)",
    ):
        bt.Config(**values)


def test_the_parameter_budget_leaves_room_for_the_base_model_of_vaswani_et_al():
    base = bt.Config(d_model=512, n_heads=8, n_encoder_layers=6, n_decoder_layers=6, d_ff=2048)
    assert base.parameter_count() == 44_540_164 <= bt.Config.MAX_PARAMETERS


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"norm_first": False},
        {"n_encoder_layers": 0, "n_decoder_layers": 3},
        {"n_encoder_layers": 3, "n_decoder_layers": 0, "vocab_size": 300, "d_ff": 5},
        {"d_model": 6, "n_heads": 3, "max_len": 2},
    ],
)
def test_parameter_count_is_what_the_built_model_holds(overrides):
    model = tiny_model(**overrides)
    shapes = checkpoint._parameter_shapes(model.config)
    assert model.config.parameter_count() == bt.count_parameters(model) == sum(int(np.prod(s)) for s in shapes.values())
    assert bt.Config().parameter_count() == 1_026_308


@pytest.mark.parametrize("max_len", [1, 0, -5])
def test_config_refuses_a_max_len_too_short_for_one_byte_and_bos(max_len):
    with pytest.raises(ValueError, match=rf"Config.max_len must be >= 2 \(one byte and BOS or EOS\), got {max_len}"):
        bt.Config(max_len=max_len)


def test_config_stores_numpy_integers_as_python_ints_so_a_checkpoint_saves(tmp_path):
    config = bt.Config(
        d_model=np.int64(16),
        n_heads=np.int32(2),
        n_encoder_layers=np.int64(1),
        n_decoder_layers=np.uint8(1),
        d_ff=np.int64(24),
        max_len=np.int64(16),
        norm_first=np.True_,
    )
    assert all(type(getattr(config, name)) is int for name in bt.Config.LIMITS)
    assert type(config.norm_first) is bool
    model = bt.Transformer(config, rng=np.random.default_rng(0))
    bt.save_checkpoint(model, tmp_path / "model.npz")
    restored = bt.load_checkpoint(tmp_path / "model.npz")
    assert (
        restored.config
        == config
        == bt.Config(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=24, max_len=16)
    )
