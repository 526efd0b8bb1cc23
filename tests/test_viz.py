"""notebook 09 (bytetrans_lib.viz): attention maps, grouping, and the explorer widget, without a kernel."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import bytetrans_lib as bt

SENTENCE = "I do not live next to the red hotel."


@pytest.fixture(scope="module")
def model():
    return bt.load_checkpoint(bt.DEFAULT_MODEL)


@pytest.fixture
def explorer(model):
    plt.close("all")
    widget = bt.explore_attention(model, "Where is the school?")  # -> "Où est l'école ?"
    yield widget
    plt.close("all")


def drawn(explorer):
    """(image array, query labels, key labels) of the explorer's last drawing."""
    q_labels, k_labels = explorer.last_labels
    return np.asarray(explorer.last_image.get_array()), q_labels, k_labels


def test_attention_maps_have_one_head_stack_per_layer_for_each_kind(model):
    maps = bt.attention_maps(model, SENTENCE, "Je n'habite pas à côté de l'hôtel rouge.")
    T_src, T_tgt, H = len(SENTENCE) + 1, len("Je n'habite pas à côté de l'hôtel rouge.".encode()) + 1, 4
    expected = {"encoder self": (T_src, T_src), "decoder self": (T_tgt, T_tgt), "cross": (T_tgt, T_src)}
    for kind, (T_q, T_kv) in expected.items():
        assert len(maps[kind]) == 2
        for weights in maps[kind]:
            assert weights.shape == (H, T_q, T_kv)
            np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    assert maps["src_ids"][-1] == bt.EOS_ID and maps["tgt_ids"][0] == bt.BOS_ID


def test_attention_maps_translates_when_no_french_is_given(model):
    maps = bt.attention_maps(model, SENTENCE)
    assert maps["french"] == bt.translate(model, [SENTENCE])[0]


def test_grouping_merges_continuation_bytes_and_words():
    ids = bt.encode("Où est l'école ?")
    chars = bt.group_positions(ids, "characters")
    assert [label for label, _ in chars][:3] == ["O", "ù", "␣"] and chars[1][1] == [1, 2]
    words = bt.group_positions(ids, "words")
    assert [label for label, _ in words] == ["Où", "␣", "est", "␣", "l'école", "␣", "?"]
    for by in bt.GROUPINGS:  # every position lands in exactly one group, in order
        assert [p for _, ps in bt.group_positions(ids, by) for p in ps] == list(range(len(ids)))


def test_group_attention_sums_keys_and_takes_the_last_query_byte():
    ids = bt.encode("é a")  # bytes c3 a9 20 61: characters é, ␣, a
    weights = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.1, 0.1, 0.3], [0.0, 0.0, 1.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    grouped, q_labels, k_labels = bt.group_attention(weights, ids, ids, "characters")
    assert q_labels == k_labels == ["é", "␣", "a"]
    np.testing.assert_allclose(grouped, [[0.6, 0.1, 0.3], [0.0, 1.0, 0.0], [0.5, 0.25, 0.25]])


def test_explorer_draws_cross_attention_of_the_translation(explorer):
    image, q_labels, k_labels = drawn(explorer)
    assert explorer.message.value == ""
    assert explorer.maps["french"] == "Où est l'école ?" and "école" in explorer.translation.value
    assert image.shape == (len(q_labels), len(k_labels))
    assert q_labels[0] == "<bos>" and k_labels[-1] == "<eos>"
    assert explorer.last_title == "cross attention · layer 1 · mean over heads"


def test_explorer_redraws_when_the_layer_changes(explorer):
    before = drawn(explorer)[0].copy()
    explorer.layer.value = 0
    assert "layer 0" in explorer.last_title
    assert not np.allclose(drawn(explorer)[0], before)


def test_explorer_redraws_when_the_head_changes(explorer):
    explorer.head.value = 2
    image, q_labels, _ = drawn(explorer)
    assert "head 2" in explorer.last_title and "mean" not in explorer.last_title
    expected, _, _ = bt.group_attention(
        explorer.maps["cross"][1][2], explorer.maps["tgt_ids"], explorer.maps["src_ids"], "characters"
    )
    np.testing.assert_allclose(image, expected)


def test_switching_kind_changes_the_shape(explorer):
    explorer.grouping.value = "bytes"
    T_src, T_tgt = len("Where is the school?") + 1, len("Où est l'école ?".encode()) + 1
    assert drawn(explorer)[0].shape == (T_tgt, T_src)  # cross: French queries, English keys
    explorer.kind.value = "encoder self"
    assert drawn(explorer)[0].shape == (T_src, T_src)
    assert explorer.last_title.startswith("encoder self attention")
    explorer.kind.value = "decoder self"
    image = drawn(explorer)[0]
    assert image.shape == (T_tgt, T_tgt)
    assert np.all(np.triu(image, k=1) == 0)  # causal


def test_grouping_to_characters_and_words_shrinks_the_accented_axis(explorer):
    explorer.grouping.value = "bytes"
    n_bytes = drawn(explorer)[0].shape[0]
    explorer.grouping.value = "characters"
    image, q_labels, _ = drawn(explorer)
    assert image.shape[0] == n_bytes - 2  # ù and é: two bytes each, one cell each
    assert "ù" in q_labels and not any(label.startswith("·") for label in q_labels)
    np.testing.assert_allclose(image.sum(axis=1), 1.0, atol=1e-5)
    explorer.grouping.value = "words"
    words, q_labels, _ = drawn(explorer)
    assert words.shape[0] < image.shape[0] and "l'école" in q_labels
    np.testing.assert_allclose(words.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "Type an English sentence"),
        ("The cat sleeps under the table. " * 3, "at most 63 bytes"),
        ("猫はテーブルの下で寝ています", "trained on English"),
        ("Where is the 🐈?", "trained on English"),
    ],
)
def test_explorer_shows_a_message_instead_of_a_map(explorer, text, words):
    explorer.text.value = text
    assert words in explorer.message.value
    assert explorer.last_image is None and explorer.maps is None
    assert plt.get_fignums() == []
    explorer.text.value = "Where is the school?"  # and it recovers
    assert explorer.message.value == "" and explorer.last_image is not None


def test_exactly_one_figure_after_several_redraws(explorer):
    for layer, kind, grouping in [
        (0, "encoder self", "words"),
        (1, "decoder self", "bytes"),
        (0, "cross", "characters"),
    ]:
        explorer.layer.value = layer
        explorer.kind.value = kind
        explorer.grouping.value = grouping
    explorer.text.value = "Where is the old hotel?"
    assert len(plt.get_fignums()) == 1
    assert plt.gcf().axes[0].images[0] is explorer.last_image


def test_unsupported_text_accepts_accented_latin(model):
    assert bt.unsupported_text(model, "Où est l'école ?") is None
    assert bt.unsupported_text(model, "x" * 63) is None and bt.unsupported_text(model, "x" * 64)


def test_attention_grid_draws_every_layer_and_head(model):
    maps = bt.attention_maps(model, "Where is the school?")
    fig = bt.plot_attention_grid(maps, "cross", by="words")
    try:
        assert len(fig.axes) == 2 * 4
        assert [ax.get_title() for ax in fig.axes][:2] == ["layer 0 · head 0", "layer 0 · head 1"]
        assert fig.axes[0].images[0].get_array().shape == (7 + 1, 7 + 1)  # <bos>+7 words, 7 words+<eos>
    finally:
        plt.close(fig)


TYPED = [  # what phones and word processors type -> what the model was trained on
    ("I don\u2019t know.", "I don't know."),
    ("\u201cWhere is the school?\u201d", '"Where is the school?"'),
    ("I eat\u2026", "I eat..."),
    ("The cat \u2013 the dog \u2014 sleeps.", "The cat - the dog - sleeps."),
    ("\u00ab\u00a0Where is the school?\u00a0\u00bb", '"Where is the school?"'),
    ("Where\u00a0is the\u202fschool ?", "Where is the school ?"),
]


@pytest.mark.parametrize("typed, plain", TYPED)
def test_typographic_characters_are_explored_as_the_plain_ones_the_model_was_trained_on(model, typed, plain):
    assert bt.unsupported_text(model, typed) is None
    maps, expected = bt.attention_maps(model, typed), bt.attention_maps(model, plain)
    assert maps["english"] == plain and maps["french"] == expected["french"]
    np.testing.assert_array_equal(maps["src_ids"], expected["src_ids"])
    for kind in bt.KINDS:
        for got, want in zip(maps[kind], expected[kind]):
            np.testing.assert_array_equal(got, want)


def test_explorer_explores_a_curly_apostrophe_and_shows_the_sentence_it_read(model):
    plt.close("all")
    explorer = bt.explore_attention(model, "I don\u2019t know.")
    try:
        assert explorer.message.value == "" and explorer.last_image is not None
        assert explorer.maps["english"] == "I don't know."
        assert "Read as: <b>I don&#x27;t know.</b>" in explorer.translation.value  # what the model read
        straight = bt.attention_maps(model, "I don't know.")
        assert explorer.maps["french"] == straight["french"]
        for kind in bt.KINDS:
            for got, want in zip(explorer.maps[kind], straight[kind]):
                np.testing.assert_array_equal(got, want)
        explorer.text.value = "Where is the school?"  # typed as the model reads it: nothing extra shown
        assert "Read as" not in explorer.translation.value
    finally:
        plt.close("all")


@pytest.mark.parametrize(
    "text", ["猫はテーブルの下で寝ています", "I don\u2019t know \U0001f408.", "It costs 5 \u20ac."]
)
def test_explorer_still_refuses_what_the_model_never_saw(model, text):
    assert "trained on English" in bt.unsupported_text(model, text)


@pytest.mark.parametrize("not_a_model", ["not a model", None, 42, {"config": None}])
@pytest.mark.parametrize("function", [bt.explore_attention, bt.attention_maps, bt.unsupported_text])
def test_viz_entry_points_refuse_something_that_is_not_a_model(function, not_a_model):
    args = (not_a_model,) if function is bt.explore_attention else (not_a_model, "I eat.")
    expected = rf"{function.__name__}: model must be a Transformer.*got {type(not_a_model).__name__}"
    with pytest.raises(TypeError, match=expected):
        function(*args)


def test_explorer_refuses_a_starting_sentence_that_is_not_text(model):
    with pytest.raises(TypeError, match="explore_attention: sentence must be a str or None, got int"):
        bt.explore_attention(model, 42)


@pytest.mark.parametrize(
    "text, named",
    [
        ("Привет, как дела?", "'П р и в е т к а д л'"),  # Cyrillic: 2 bytes per letter, like é
        ("Γειά σου", "'Γ ε ι ά σ ο υ'"),  # Greek
        ("שלום", "'ש ל ו ם'"),  # Hebrew
        ("مرحبا", "'م ر ح ب ا'"),  # Arabic
        ("I eat\x00.", "'\\x00'"),  # a control character (C0)
        ("I eat\x9b.", "'\\x9b'"),  # C1
        ("The ʃip.", "'ʃ'"),  # U+0283: IPA, the first block after Latin Extended
    ],
)
def test_unsupported_text_refuses_two_byte_scripts_and_control_characters_naming_them(model, text, named):
    problem = bt.unsupported_text(model, text)
    assert problem is not None and "trained on English" in problem and f"never seen {named}" in problem


@pytest.mark.parametrize(
    "text",
    [
        "Où est l'école ?",
        "Łódź is a city.",
        "Ça coûte 5 £, ½ ×2 ¿?",
        "Straße Ærø ǅ",
        "\ufeffThe cat\u200b sleeps.\u00ad",
        "I eat.\t\n",
    ],
)
def test_unsupported_text_accepts_latin_letters_latin_1_signs_and_what_normalize_text_removes(model, text):
    assert bt.unsupported_text(model, text) is None


def test_the_explorer_says_it_cannot_show_cyrillic_instead_of_drawing_it(explorer):
    explorer.text.value = "Привет, как дела?"
    assert "never seen" in explorer.message.value and explorer.maps is None and explorer.last_image is None


def no_layers_model(**overrides):
    config = bt.Config(**{**dict(d_model=8, n_heads=2, d_ff=12, max_len=16), **overrides})
    return bt.Transformer(config, rng=np.random.default_rng(0))


def test_plot_attention_grid_says_which_stack_has_no_layers():
    maps = bt.attention_maps(no_layers_model(n_decoder_layers=0), "Hi.", "Salut.")
    assert maps["cross"] == [] and maps["decoder self"] == []
    for kind in ["cross", "decoder self"]:
        with pytest.raises(
            ValueError,
            match=f"plot_attention_grid: the model has no decoder layers, so there is no {kind} attention to show",
        ):
            bt.plot_attention_grid(maps, kind)
    plt.close(bt.plot_attention_grid(maps, "encoder self"))
    maps = bt.attention_maps(no_layers_model(n_encoder_layers=0), "Hi.", "Salut.")
    with pytest.raises(ValueError, match="the model has no encoder layers, so there is no encoder self attention"):
        bt.plot_attention_grid(maps, "encoder self")


def test_explore_attention_refuses_a_model_without_decoder_layers_by_name():
    with pytest.raises(
        ValueError,
        match="explore_attention: the model has no decoder layers, so there is no "
        "cross or decoder self-attention to show",
    ):
        bt.explore_attention(no_layers_model(n_decoder_layers=0), "Hi.")


def test_the_explorer_of_a_model_without_encoder_layers_offers_only_the_decoder_kinds():
    plt.close("all")
    try:
        explorer = bt.explore_attention(no_layers_model(n_encoder_layers=0), "Hi.")
        assert explorer.kind.options == ("decoder self", "cross") and explorer.last_image is not None
        explorer.kind.value = "decoder self"
        assert explorer.last_title.startswith("decoder self attention")
    finally:
        plt.close("all")


# ---- issue 17: every head at once, and attention as it formed --------------------------------------

RECORDING = bt.DEFAULT_MODEL.with_name("bytetrans-en-fr.attention.npz")


def test_all_heads_draws_every_head_of_the_layer_side_by_side_in_one_figure(explorer, model):
    explorer.head.value = "all"
    fig = explorer.last_image.axes.figure
    assert [ax.get_title() for ax in fig.axes] == [f"head {h}" for h in range(model.config.n_heads)]
    assert fig._suptitle.get_text() == "cross attention · layer 1 · all heads"
    maps = explorer.maps
    for h, ax in enumerate(fig.axes):  # each panel is that head's map, grouped like the single view
        grouped, _, _ = bt.group_attention(maps["cross"][1][h], maps["tgt_ids"], maps["src_ids"], "characters")
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), grouped)
    assert plt.get_fignums() == [fig.number]  # the one figure of this drawing, the previous one closed


def test_the_training_step_slider_replays_a_recorded_sentence_and_waits_for_one(model):
    recording = bt.load_recording(RECORDING)
    english, french = recording["pairs"][0]
    explorer = bt.explore_attention(model, "Where is the school?", recording=recording)
    assert explorer.step.disabled and explorer.step.options[-1][1] == recording["steps"][-1]
    assert "Recorded during training: I leave the big white markets." in explorer.translation.value
    explorer.text.value = english
    assert not explorer.step.disabled and explorer.last_title.endswith("· step 2,800 of training")
    explorer.head.value = 1
    explorer.step.value = 0
    assert explorer.last_title == "cross attention · layer 1 · head 1 · step 0 of training"
    grouped, q_labels, _ = bt.group_attention(
        recording["maps"][0]["cross"][0, 1, 1], bt.encode(french, bos=True), bt.encode(english, eos=True), "characters"
    )
    np.testing.assert_array_equal(drawn(explorer)[0], grouped)  # the untrained model's map, from the file
    assert drawn(explorer)[1] == q_labels
    explorer.text.value = "Where is the school?"  # not recorded: the model's own maps again
    assert explorer.step.disabled and "step" not in explorer.last_title
    plt.close("all")


def test_without_a_recording_there_is_no_slider_to_see(explorer):
    assert explorer.step.layout.display == "none" and explorer.step.disabled


def test_the_app_replays_the_shipped_recording_and_ignores_one_from_another_run(tmp_path):
    page = bt.attention_app()  # the shipped model, its recording beside it
    assert page.message.value == "" and page.explorer.step.options[0] == ("0", 0)
    other = tmp_path / "other.npz"  # the shipped recording beside a different model
    bt.save_checkpoint(bt.Transformer(bt.Config(), rng=np.random.default_rng(1)), other)
    (tmp_path / "other.attention.npz").write_bytes(RECORDING.read_bytes())
    page.picker.options = [*page.picker.options, (str(other), other)]
    page.picker.value = other
    assert page.message.value == "other.attention.npz was recorded by another run: the training-step slider is off."
    assert page.explorer.step.layout.display == "none"
    plt.close("all")
