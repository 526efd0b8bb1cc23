"""Loss, optimizers, schedule and clipping of notebook 06, and the overfit experiment."""

import ast
import io
import json
import math
import re
import tokenize

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import ROOT

import bytetrans_lib as bt


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---- cross-entropy -----------------------------------------------------------------------------


def test_cross_entropy_equals_minus_log_softmax_over_counted_positions():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 3, 5))
    targets = np.array([[0, 4, 2], [bt.PAD_ID, 1, bt.PAD_ID]])
    loss = bt.CrossEntropyLoss().forward(np.pad(logits, ((0, 0), (0, 0), (0, 255))), targets)
    p = softmax(np.pad(logits, ((0, 0), (0, 0), (0, 255))))
    keep = targets != bt.PAD_ID
    assert abs(loss - (-np.log(p[keep, targets[keep]]).mean())) < 1e-12


def test_label_smoothing_spreads_eps_over_all_ids():
    rng = np.random.default_rng(1)
    logits, targets, eps = rng.standard_normal((4, 7)), np.array([0, 3, 6, 2]), 0.2
    q = np.full((4, 7), eps / 7)
    q[np.arange(4), targets] += 1 - eps
    assert np.allclose(q.sum(axis=1), 1)
    expected = -(q * np.log(softmax(logits))).sum(axis=1).mean()
    loss = bt.CrossEntropyLoss(ignore_index=-1, label_smoothing=eps).forward(logits, targets)
    assert abs(loss - expected) < 1e-12


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_gradient_matches_finite_differences(smoothing):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((2, 3, 7))  # B, T, V all different
    targets = np.array([[1, 6, 0], [3, 6, 5]])  # id 6 is ignored
    loss_fn = bt.CrossEntropyLoss(ignore_index=6, label_smoothing=smoothing)

    class LossOfLogits(bt.Module):  # the loss as a module, for check_gradients and its floor
        def forward(self, x):
            self.cache = True
            return np.array(loss_fn.forward(x, targets))

        def backward(self, dout):
            return loss_fn.backward() * dout

    errors = bt.check_gradients(LossOfLogits(), logits, rng=rng)
    assert set(errors) == {"input[0]"}
    dlogits = loss_fn.backward()
    assert np.all(dlogits[targets == 6] == 0)
    assert dlogits.dtype == logits.dtype


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_extreme_logits_give_finite_loss_and_gradient(smoothing):
    logits = np.array([[[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]], dtype=np.float32)
    loss_fn = bt.CrossEntropyLoss(ignore_index=-1, label_smoothing=smoothing)
    loss = loss_fn.forward(logits, np.array([[1, 0]]))
    assert np.isfinite(loss) and loss > 1e4 * (1 - smoothing) - 1
    assert np.all(np.isfinite(loss_fn.backward()))


def test_cross_entropy_refuses_bad_input():
    loss_fn = bt.CrossEntropyLoss()
    with pytest.raises(ValueError, match="every target equals ignore_index"):
        loss_fn.forward(np.zeros((2, 3, 260)), np.full((2, 3), bt.PAD_ID))
    with pytest.raises(ValueError, match=r"need targets of shape \(2, 3\), got \(3, 2\)"):
        loss_fn.forward(np.zeros((2, 3, 260)), np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match="target id 300 is outside 0..259"):
        loss_fn.forward(np.zeros((1, 1, 260)), np.array([[300]]))
    with pytest.raises(TypeError, match="integer ids"):
        loss_fn.forward(np.zeros((1, 1, 260)), np.array([[1.0]]))
    with pytest.raises(RuntimeError, match="before forward"):
        bt.CrossEntropyLoss().backward()
    with pytest.raises(ValueError, match="label_smoothing"):
        bt.CrossEntropyLoss(label_smoothing=1.0)


# ---- Adam --------------------------------------------------------------------------------------


def reference_adam(theta, grads, lr, beta1, beta2, eps, wd):
    """Kingma & Ba, Algorithm 1, written out plainly (plus decoupled weight decay)."""
    m, v, out = np.zeros_like(theta), np.zeros_like(theta), []
    theta = theta.copy()
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        theta = theta - lr * wd * theta
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta.copy())
    return out


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adam_matches_the_reference_algorithm_over_several_steps(wd):
    rng = np.random.default_rng(3)
    theta0 = {"a": rng.standard_normal((3, 4)), "b.c": rng.standard_normal(5)}
    grads = [
        {k: rng.standard_normal(v.shape) * 10.0 ** rng.integers(-3, 3) for k, v in theta0.items()} for _ in range(8)
    ]
    params = {k: v.copy() for k, v in theta0.items()}
    adam = bt.Adam(params, lr=0.01, weight_decay=wd)
    assert adam.betas == (0.9, 0.98) and adam.eps == 1e-9  # Vaswani et al.'s settings by default
    live = params["a"]
    for step, g in enumerate(grads):
        adam.step(g)
        for name in theta0:
            expected = reference_adam(theta0[name], [gg[name] for gg in grads[: step + 1]], 0.01, 0.9, 0.98, 1e-9, wd)[
                -1
            ]
            assert np.abs(params[name] - expected).max() < 1e-12
    assert params["a"] is live  # updated in place: the model sees the new values


def test_adam_state_round_trip_resumes_exactly():
    rng = np.random.default_rng(4)
    grads = [{"w": rng.standard_normal(6)} for _ in range(6)]
    straight = {"w": np.ones(6)}
    adam = bt.Adam(straight, lr=0.1)
    for g in grads:
        adam.step(g)
    resumed = {"w": np.ones(6)}
    first = bt.Adam(resumed, lr=0.1)
    for g in grads[:3]:
        first.step(g)
    state = {k: v.copy() for k, v in first.state_dict().items()}
    second = bt.Adam(resumed, lr=0.1)
    second.load_state_dict(state)
    for g in grads[3:]:
        second.step(g)
    assert np.array_equal(resumed["w"], straight["w"]) and second.t == 6


def test_adam_refuses_missing_gradients_and_bad_settings():
    adam = bt.Adam({"a": np.zeros(2), "b": np.zeros(2)})
    with pytest.raises(ValueError, match=r"gradients for \['b'\] are missing"):
        adam.step({"a": np.zeros(2)})
    with pytest.raises(ValueError, match=r"Adam: betas must be two numbers in \[0, 1\)"):
        bt.Adam({"a": np.zeros(2)}, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="no m/b"):
        adam.load_state_dict({"t": np.array(1), "m/a": np.zeros(2), "v/a": np.zeros(2)})


def test_sgd_steps_against_the_gradient_in_place():
    params = {"w": np.array([1.0, 2.0])}
    live = params["w"]
    bt.SGD(params, lr=0.5).step({"w": np.array([2.0, -2.0])})
    assert np.array_equal(live, [0.0, 3.0])


# ---- schedule and clipping ---------------------------------------------------------------------


def test_transformer_lr_has_the_documented_values():
    d, warmup = 512, 4000
    assert math.isclose(bt.transformer_lr(1, d, warmup), d**-0.5 * warmup**-1.5)
    assert math.isclose(bt.transformer_lr(warmup, d, warmup), (d * warmup) ** -0.5)
    assert math.isclose(bt.transformer_lr(2000, d, warmup), bt.transformer_lr(warmup, d, warmup) / 2)
    assert math.isclose(bt.transformer_lr(4 * warmup, d, warmup), bt.transformer_lr(warmup, d, warmup) / 2)
    assert math.isclose(bt.transformer_lr(100, 128, 300, factor=2.0), 2 * bt.transformer_lr(100, 128, 300))
    with pytest.raises(ValueError, match="counted from 1"):
        bt.transformer_lr(0, d)


def test_clipping_leaves_small_gradients_alone_and_scales_large_ones_to_the_exact_norm():
    small = {"a": np.array([0.3, 0.4], dtype=np.float32)}
    assert bt.clip_grad_norm(small, 1.0) == pytest.approx(0.5)
    assert np.array_equal(small["a"], np.array([0.3, 0.4], dtype=np.float32))
    rng = np.random.default_rng(5)
    large = {"a": rng.standard_normal((3, 4)) * 10, "b": rng.standard_normal(7) * 10}
    before = {k: v.copy() for k, v in large.items()}
    norm = bt.clip_grad_norm(large, 2.5)
    assert norm == pytest.approx(math.sqrt(sum((v**2).sum() for v in before.values())))
    after = math.sqrt(sum((v**2).sum() for v in large.values()))
    assert after == pytest.approx(2.5, rel=1e-12)
    for k in large:
        assert np.allclose(large[k], before[k] * 2.5 / norm)


# ---- proof of life -----------------------------------------------------------------------------


def test_the_full_model_memorises_a_handful_of_pairs():
    pairs = [
        ("Hello.", "Bonjour."),
        ("Yes.", "Oui."),
        ("I am here.", "Je suis là."),
        ("Where is the school?", "Où est l'école ?"),
    ]
    english, french = [e for e, _ in pairs], [f for _, f in pairs]
    src = bt.encode_batch(english, eos=True)
    tgt_in, tgt_out = bt.encode_batch(french, bos=True), bt.encode_batch(french, eos=True)
    config = bt.Config(d_model=32, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=64, max_len=32)
    model = bt.Transformer(config, rng=np.random.default_rng(0))
    adam, loss_fn = bt.Adam(model.parameters(), lr=3e-3), bt.CrossEntropyLoss()
    losses = [bt.train_step(model, loss_fn, adam, src, tgt_in, tgt_out, max_norm=1.0)[0] for _ in range(150)]
    assert abs(losses[0] - math.log(260)) < 1.0 and losses[-1] < 0.05
    assert bt.translate(model, english, max_len=30) == french


def small_batch_and_model(seed=0):
    src = bt.encode_batch(["Hi!", "Yes."], eos=True)
    tgt = bt.encode_batch(["Salut !", "Oui."], bos=True, eos=True)
    config = bt.Config(
        d_model=8, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=12, max_len=16, dtype="float64"
    )
    return bt.Transformer(config, rng=np.random.default_rng(seed)), (src, tgt[:, :-1], tgt[:, 1:])


def test_train_step_is_forward_loss_backward_clip_and_update_in_that_order():
    model, batch = small_batch_and_model()
    twin, _ = small_batch_and_model()
    adam, twin_adam = bt.Adam(model.parameters(), lr=1e-2), bt.Adam(twin.parameters(), lr=1e-2)
    loss_fn, twin_loss = bt.CrossEntropyLoss(label_smoothing=0.1), bt.CrossEntropyLoss(label_smoothing=0.1)
    model.gradients()["output.b"][...] = 7.0  # stale gradients from an earlier step must not leak in
    loss, norm = bt.train_step(model, loss_fn, adam, *batch, max_norm=0.5)
    twin.zero_grad()  # the same step, written out
    twin_loss_value = twin_loss.forward(twin.forward(batch[0], batch[1]), batch[2])
    twin.backward(twin_loss.backward())
    twin_norm = bt.clip_grad_norm(twin.gradients(), 0.5)
    twin_adam.step(twin.gradients())
    assert loss == twin_loss_value and norm == twin_norm and norm > 0.5  # clipping did something
    for name, p in model.parameters().items():
        assert np.array_equal(p, twin.parameters()[name]), name


@pytest.mark.parametrize("poison", ["loss", "gradient"])
def test_train_step_moves_no_parameter_when_the_loss_or_the_gradient_norm_is_not_finite(poison):
    model, batch = small_batch_and_model()
    loss_fn = bt.CrossEntropyLoss()
    if poison == "loss":
        model.parameters()["output.b"][0] = np.nan
    else:  # a finite loss whose gradient is not: the loss hands back an infinite dlogits
        exact_backward = loss_fn.backward
        loss_fn.backward = lambda: np.full_like(exact_backward(), np.inf)
    before = {name: p.copy() for name, p in model.parameters().items()}
    adam = bt.Adam(model.parameters(), lr=1e-2)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf on the way: expected here
        loss, norm = bt.train_step(model, loss_fn, adam, *batch)
    assert np.isfinite(loss) == (poison == "gradient") and not np.isfinite(norm) and adam.t == 0
    for name, p in model.parameters().items():
        assert np.array_equal(p, before[name], equal_nan=True), name


def test_adam_state_dict_is_a_snapshot_that_later_steps_do_not_change():
    params = {"w": np.ones(3, dtype=np.float32)}
    adam = bt.Adam(params, lr=0.1)
    adam.step({"w": np.array([1.0, -2.0, 3.0], dtype=np.float32)})
    state = adam.state_dict()
    m_before = state["m/w"].copy()
    adam.step({"w": np.array([5.0, 5.0, 5.0], dtype=np.float32)})
    assert np.array_equal(state["m/w"], m_before) and int(state["t"]) == 1
    assert params["w"].dtype == np.float32 and adam.m["w"].dtype == np.float32


def test_clipping_float32_gradients_measures_the_norm_accurately():
    g = {"a": np.full(100_000, 0.01, dtype=np.float32), "b": np.full((10, 10), -0.5, dtype=np.float32)}
    norm = bt.clip_grad_norm(g, 1e9)
    exact = math.sqrt(100_000 * float(np.float32(0.01)) ** 2 + 100 * 0.25)
    assert abs(norm - exact) / exact < 1e-12  # summed in float64, whatever the gradients are


# ---- bad settings are refused (issue 13) -------------------------------------------------------

NOT_POSITIVE = [0, 0.0, -1.0, float("nan"), float("inf"), -float("inf")]
NOT_A_NUMBER = ["1.0", None, True, [1.0]]


@pytest.mark.parametrize("max_norm", NOT_POSITIVE)
def test_clip_grad_norm_refuses_a_max_norm_that_is_not_a_positive_finite_number(max_norm):
    grads = {"a": np.array([3.0, 4.0])}
    message = rf"clip_grad_norm: max_norm must be a finite number > 0, got {max_norm}"
    with pytest.raises(ValueError, match=message):
        bt.clip_grad_norm(grads, max_norm)
    assert np.array_equal(grads["a"], [3.0, 4.0])  # refused before touching the gradients


@pytest.mark.parametrize("max_norm", NOT_A_NUMBER)
def test_clip_grad_norm_refuses_a_max_norm_that_is_not_a_number(max_norm):
    with pytest.raises(TypeError, match=r"clip_grad_norm: max_norm must be a number, got"):
        bt.clip_grad_norm({"a": np.array([3.0, 4.0])}, max_norm)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_clip_grad_norm_returns_a_non_finite_norm_and_leaves_the_gradients_as_they_are(bad):
    grads = {"a": np.array([bad, 1.0]), "b": np.array([3.0])}
    norm = bt.clip_grad_norm(grads, 1.0)
    assert not math.isfinite(norm)  # the caller sees the divergence (fit() stops on it)...
    assert np.array_equal(grads["a"], [bad, 1.0], equal_nan=True)  # ...and no scale was applied
    assert np.array_equal(grads["b"], [3.0])


@pytest.mark.parametrize("lr", NOT_POSITIVE)
def test_adam_and_sgd_refuse_a_learning_rate_that_is_not_a_positive_finite_number(lr):
    with pytest.raises(ValueError, match=rf"Adam: lr must be a finite number > 0, got {lr}"):
        bt.Adam({"w": np.zeros(2)}, lr=lr)
    with pytest.raises(ValueError, match=rf"SGD: lr must be a finite number > 0, got {lr}"):
        bt.SGD({"w": np.zeros(2)}, lr=lr)


@pytest.mark.parametrize("lr", NOT_A_NUMBER)
def test_adam_and_sgd_refuse_a_learning_rate_that_is_not_a_number(lr):
    with pytest.raises(TypeError, match=r"Adam: lr must be a number"):
        bt.Adam({"w": np.zeros(2)}, lr=lr)
    with pytest.raises(TypeError, match=r"SGD: lr must be a number"):
        bt.SGD({"w": np.zeros(2)}, lr=lr)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"betas": (0.9, 1.0)}, r"Adam: betas must be two numbers in \[0, 1\), got \(0.9, 1.0\)"),
        ({"betas": (-0.1, 0.98)}, r"betas must be two numbers in \[0, 1\)"),
        ({"betas": (0.9, float("nan"))}, r"betas must be two numbers in \[0, 1\), got \(0.9, nan\)"),
        ({"betas": (0.9,)}, r"betas must be two numbers"),
        ({"betas": 0.9}, r"betas must be two numbers"),
        ({"eps": 0.0}, r"Adam: eps must be a finite number > 0, got 0.0"),
        ({"eps": float("nan")}, r"Adam: eps must be a finite number > 0, got nan"),
        ({"weight_decay": -0.01}, r"Adam: weight_decay must be a finite number >= 0, got -0.01"),
        ({"weight_decay": float("nan")}, r"Adam: weight_decay must be a finite number >= 0, got nan"),
        ({"weight_decay": float("inf")}, r"Adam: weight_decay must be a finite number >= 0, got inf"),
    ],
)
def test_adam_refuses_bad_betas_eps_and_weight_decay_by_name(settings, message):
    with pytest.raises((ValueError, TypeError), match=message):
        bt.Adam({"w": np.zeros(2)}, **settings)


def test_adam_accepts_numpy_numbers_and_a_list_of_betas():
    adam = bt.Adam(
        {"w": np.zeros(2)}, lr=np.float32(0.5), betas=[0.5, np.float64(0.75)], eps=1e-8, weight_decay=np.int64(0)
    )
    assert adam.lr == 0.5 and adam.betas == (0.5, 0.75)


def adam_with_two_parameters():
    params = {"a": np.zeros(3), "b": np.zeros((2, 3))}
    return params, bt.Adam(params, lr=0.1)


def assert_untouched(params, adam):
    assert adam.t == 0
    for name in params:
        assert not params[name].any() and not adam.m[name].any() and not adam.v[name].any()


def test_adam_step_refuses_a_gradient_of_the_wrong_shape_before_updating_anything():
    params, adam = adam_with_two_parameters()
    grads = {"a": np.ones(3), "b": np.ones(3)}  # (3,) would broadcast silently into (2, 3)
    with pytest.raises(
        ValueError,
        match=r"Adam.step: the gradient of 'b' has shape \(3,\), "
        r"but the parameter has shape \(2, 3\)",
    ):
        adam.step(grads)
    assert_untouched(params, adam)  # 'a' came first and is valid: still not updated


def test_adam_step_names_missing_and_unknown_gradients_before_updating_anything():
    params, adam = adam_with_two_parameters()
    with pytest.raises(ValueError, match=r"Adam.step: gradients for \['b'\] are missing"):
        adam.step({"a": np.ones(3)})
    with pytest.raises(ValueError, match=r"Adam.step: gradients for \['c'\] match no parameter"):
        adam.step({"a": np.ones(3), "b": np.ones((2, 3)), "c": np.ones(1)})
    assert_untouched(params, adam)


@pytest.mark.parametrize("bad", [[1.0, 1.0, 1.0], np.ones((2, 3), dtype=complex)], ids=["list", "complex"])
def test_adam_step_refuses_a_gradient_that_is_not_an_array_of_real_numbers(bad):
    params, adam = adam_with_two_parameters()
    with pytest.raises(TypeError, match=r"Adam.step: the gradient of 'b' must be a NumPy array of numbers"):
        adam.step({"a": np.ones(3), "b": bad})
    assert_untouched(params, adam)


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -1e-3])
def test_adam_step_refuses_a_learning_rate_a_schedule_set_to_nan_or_negative(lr):
    params, adam = adam_with_two_parameters()
    adam.lr = lr
    with pytest.raises(ValueError, match=rf"Adam.step: lr must be a finite number >= 0, got {lr}"):
        adam.step({"a": np.ones(3), "b": np.ones((2, 3))})
    assert_untouched(params, adam)


def test_adam_step_accepts_a_learning_rate_of_zero_set_by_a_schedule():
    params, adam = adam_with_two_parameters()
    adam.lr = 0.0  # a schedule may end at 0: moments are updated, the weights do not move
    adam.step({"a": np.ones(3), "b": np.ones((2, 3))})
    assert adam.t == 1 and not params["a"].any() and adam.m["a"].all()


def test_sgd_step_refuses_wrong_shapes_and_missing_gradients_before_updating_anything():
    params = {"a": np.zeros(3), "b": np.zeros((2, 3))}
    sgd = bt.SGD(params, lr=0.1)
    with pytest.raises(
        ValueError,
        match=r"SGD.step: the gradient of 'b' has shape \(1,\), "
        r"but the parameter has shape \(2, 3\)",
    ):
        sgd.step({"a": np.ones(3), "b": np.ones(1)})
    with pytest.raises(ValueError, match=r"SGD.step: gradients for \['b'\] are missing"):
        sgd.step({"a": np.ones(3)})
    assert not params["a"].any() and not params["b"].any()


def test_adam_load_state_dict_refuses_a_mismatched_shape_without_loading_anything():
    params = {"w": np.zeros(3)}
    adam = bt.Adam(params, lr=0.1)
    state = {"t": np.array(5), "m/w": np.ones(3), "v/w": np.ones(2)}  # m fits, v does not
    with pytest.raises(
        ValueError,
        match=r"Adam.load_state_dict: v/w has shape \(2,\), "
        r"but the parameter 'w' has shape \(3,\)",
    ):
        adam.load_state_dict(state)
    assert adam.t == 0 and not adam.m["w"].any() and not adam.v["w"].any()  # nothing half-loaded
    state = {"t": np.array(5), "m/w": np.ones(3), "v/w": np.ones(3), "m/other": np.ones(2)}
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: \['m/other'\] match no parameter"):
        adam.load_state_dict(state)  # a state saved for another model
    assert adam.t == 0 and not adam.m["w"].any()


def test_adam_load_state_dict_refuses_a_state_without_a_step_count():
    adam = bt.Adam({"w": np.zeros(3)}, lr=0.1)
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: the state has no step count 't'"):
        adam.load_state_dict({"m/w": np.ones(3), "v/w": np.ones(3)})
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: the step count 't' must be .* >= 0, got -1"):
        adam.load_state_dict({"t": np.array(-1), "m/w": np.ones(3), "v/w": np.ones(3)})
    assert adam.t == 0 and not adam.m["w"].any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"warmup": 0}, r"transformer_lr: warmup must be a finite number > 0, got 0"),
        ({"warmup": -100}, r"transformer_lr: warmup must be a finite number > 0, got -100"),
        ({"warmup": float("nan")}, r"warmup must be a finite number > 0, got nan"),
        ({"d_model": 0}, r"transformer_lr: d_model must be a finite number > 0, got 0"),
        ({"factor": -1.0}, r"transformer_lr: factor must be a finite number > 0, got -1.0"),
        ({"factor": float("nan")}, r"factor must be a finite number > 0, got nan"),
        ({"step": float("nan")}, r"steps are counted from 1, got nan"),
    ],
)
def test_transformer_lr_refuses_settings_that_divide_by_zero_or_give_no_number(kwargs, message):
    arguments = {"step": 10, "d_model": 128, "warmup": 300, "factor": 1.0} | kwargs
    with pytest.raises(ValueError, match=message):
        bt.transformer_lr(**arguments)


# ---- refused by name: what would silently do the wrong thing (issue 13) -----------------------


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool])
def test_cross_entropy_refuses_logits_that_are_not_floating_point(dtype):
    # integer logits gave the right loss but an all-zero gradient (p - q rounded to integers)
    with pytest.raises(
        TypeError,
        match=rf"^CrossEntropyLoss\.forward: logits must be floating-point, "
        rf"got dtype {np.dtype(dtype).name}",
    ):
        bt.CrossEntropyLoss().forward(np.array([[1, 2, 3], [3, 2, 1]], dtype=dtype), np.array([0, 1]))


@pytest.mark.parametrize("smoothing", ["0.1", None, True, [0.1]])
def test_cross_entropy_refuses_a_label_smoothing_that_is_not_a_number(smoothing):
    with pytest.raises(TypeError, match=r"^CrossEntropyLoss: label_smoothing must be a number in \[0, 1\), got "):
        bt.CrossEntropyLoss(label_smoothing=smoothing)


@pytest.mark.parametrize("smoothing", [1.0, -0.1, float("nan")])
def test_cross_entropy_refuses_a_label_smoothing_outside_zero_to_one_by_name(smoothing):
    with pytest.raises(ValueError, match=rf"^CrossEntropyLoss: label_smoothing must be in \[0, 1\), got {smoothing}$"):
        bt.CrossEntropyLoss(label_smoothing=smoothing)


@pytest.mark.parametrize("ignore_index", [str(bt.PAD_ID), None, 256.0, True])
def test_cross_entropy_refuses_an_ignore_index_that_is_not_an_int(ignore_index):
    # "256" or 256.0 would compare unequal to every target: padding would silently count in the loss
    with pytest.raises(TypeError, match=r"^CrossEntropyLoss: ignore_index must be an int"):
        bt.CrossEntropyLoss(ignore_index=ignore_index)
    assert bt.CrossEntropyLoss(ignore_index=np.int64(6)).ignore_index == 6


@pytest.mark.parametrize("optimizer", [bt.Adam, bt.SGD])
@pytest.mark.parametrize(
    "value, got",
    [([1.0, 2.0], "list"), (np.arange(3), "an array of dtype int64"), (np.float64(1.0), "float64")],
    ids=["list", "int64", "scalar"],
)
def test_optimizers_refuse_a_parameter_that_is_not_a_float_array_naming_it(optimizer, value, got):
    # a list has no in-place update; an integer array cannot hold a step of lr = 0.001
    with pytest.raises(
        TypeError,
        match=rf"^{optimizer.__name__}: params\['w'\] must be a NumPy array of floats "
        rf"\(it is changed in place\), got {got}$",
    ):
        optimizer({"b": np.zeros(2), "w": value})


@pytest.mark.parametrize("optimizer", [bt.Adam, bt.SGD])
def test_optimizers_take_a_dict_of_parameters(optimizer):
    with pytest.raises(
        TypeError,
        match=rf"^{optimizer.__name__}: params must be a dict name -> array, "
        r"as model.parameters\(\) returns, got list$",
    ):
        optimizer([np.zeros(2)])


@pytest.mark.parametrize("t", [2.7, 3.0, True, "3", None, np.array([1, 2])], ids=str)
def test_adam_load_state_dict_refuses_a_step_count_that_is_not_an_integer(t):
    adam = bt.Adam({"w": np.zeros(3)}, lr=0.1)
    with pytest.raises(ValueError, match=r"^Adam\.load_state_dict: the step count 't' must be an integer >= 0"):
        adam.load_state_dict({"t": t, "m/w": np.ones(3), "v/w": np.ones(3)})  # 2.7 became t = 2
    assert adam.t == 0 and not adam.m["w"].any()
    adam.load_state_dict({"t": np.int32(4), "m/w": np.ones(3), "v/w": np.ones(3)})
    assert adam.t == 4 and type(adam.t) is int


@pytest.mark.parametrize(
    "grads, message",
    [
        ([np.ones(3)], r"grads must be a dict name -> array, as model.gradients\(\) returns, got list$"),
        (
            {"w": np.ones(3, dtype=np.int64)},
            r"grads\['w'\] must be a NumPy array of floats \(it is changed in place\), "
            r"got an array of dtype int64$",
        ),
    ],
)
def test_clip_grad_norm_takes_a_dict_of_float_arrays(grads, message):
    with pytest.raises(TypeError, match=rf"^clip_grad_norm: {message}"):
        bt.clip_grad_norm(grads, 1.0)


@pytest.mark.parametrize("step", [True, "10", None])
def test_transformer_lr_refuses_a_step_that_is_not_a_number(step):
    with pytest.raises(TypeError, match=r"^transformer_lr: step must be a number \(counted from 1\), got "):
        bt.transformer_lr(step, 128)
    assert bt.transformer_lr(np.int64(10), 128) == bt.transformer_lr(10, 128)


# ---- what notebook 06 says (issue 13, section 6) -----------------------------------------------

NOTEBOOKS = ROOT / "notebooks"


def markdown_of(notebook):
    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_notebook_06_states_the_true_size_of_the_uncorrected_adam_step():
    t = np.arange(1, 1001)
    ratio = (1 - 0.9**t) / np.sqrt(1 - 0.98**t)  # uncorrected step / corrected step, any gradients
    assert f"{ratio[0]:.2f}" == "0.71" and f"{ratio.max():.2f}" == "1.55" and t[ratio.argmax()] == 14
    assert ((1 - 0.9**t) / np.sqrt(1 - 0.999**t)).max() > 6  # "several times" is Kingma & Ba's 0.999
    text = " ".join(markdown_of("06_adam.ipynb").split())
    assert "0.71" in text and "1.55" in text
    for sentence in re.split(r"(?<=\.)\s", text):
        if "several times" in sentence:
            assert "0.999" in sentence, sentence


def shape_comments(source):
    """(name, comment tuple) for each top-level `name = ...  # (a, b)` statement of a cell."""
    comments = {
        tok.start[0]: tok.string
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    }
    tree = ast.parse(source)
    targets = [
        s.targets[0].id
        for s in tree.body
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
    ]
    for s in tree.body:
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
            m = re.match(r"#\s*(\([^()]*\))", comments.get(s.end_lineno, ""))
            if m and targets.count(s.targets[0].id) == 1:  # a name assigned twice: skip it
                yield s.targets[0].id, m.group(1)


@pytest.mark.parametrize("notebook", ["06_adam.ipynb", "03_layernorm.ipynb"])
def test_shape_comments_in_the_notebook_match_the_arrays(notebook):
    cells = [
        c for c in json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"
    ]
    sources = ["\n".join(line for line in "".join(c["source"]).splitlines() if not line.startswith("%")) for c in cells]
    last = max(i for i, s in enumerate(sources) if any(shape_comments(s)))
    namespace, checked = {}, 0
    for source in sources[: last + 1]:
        exec(compile(source, notebook, "exec"), namespace)  # the notebook's own code, in order
        for name, comment in shape_comments(source):
            try:
                expected = eval(comment, dict(namespace))  # "(3, d)" with the cell's d
            except NameError:
                continue  # symbolic, like (B, T, d): nothing to compare
            expected = expected if isinstance(expected, tuple) else (expected,)
            if all(isinstance(n, int) for n in expected):
                assert np.shape(namespace[name]) == expected, f"{notebook}: {name} is {comment}?"
                checked += 1
    plt.close("all")
    assert checked >= 2
