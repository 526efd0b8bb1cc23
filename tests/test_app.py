"""`make explore` (notebook 09, bytetrans_lib.app): the model picker, errors shown on the page, the
command's refusals, and the app notebook that Voilà serves (its page is tested in tests/browser)."""

import json
import subprocess

import matplotlib
import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

import bytetrans_lib as bt
from bytetrans_lib import app

matplotlib.use("Agg")


def test_the_picker_offers_the_models_under_data_and_a_given_file_but_no_state_or_recording(tmp_path):
    labels = [label for label, _ in app.model_choices()]
    # the course's model first (the page opens on it), then the everyday model; no recording, no *.state.npz
    assert labels == ["data/bytetrans-en-fr.npz", "data/bytetrans-everyday-torch.npz", "data/bytetrans-everyday.npz"]
    extra = tmp_path / "mine.npz"
    assert app.model_choices(extra)[-1] == (str(extra), extra)


def test_a_file_that_is_not_a_model_is_reported_on_the_page_and_the_picker_still_works():
    recording = bt.DEFAULT_MODEL.with_name("bytetrans-en-fr.attention.npz")
    page = app.attention_app(extra=recording)
    assert page.picker.value == recording and page.explorer is None
    assert page.message.value.startswith(f"<b>Cannot open {recording}:</b> ")
    assert "is not a bytetrans checkpoint" in page.message.value
    page.picker.value = bt.DEFAULT_MODEL  # choose the shipped model: the explorer appears, the message goes
    assert page.message.value == "" and page.explorer is not None
    assert page.explorer.maps["french"] == "Je n'habite pas à côté de l'hôtel rouge."


def test_the_command_refuses_a_model_file_that_does_not_exist(capsys):
    assert app.explore_cli(["no/such/model.npz", "--no-browser"]) == 2
    assert capsys.readouterr().err == "python -m bytetrans_lib.app: error: no/such/model.npz: no such file\n"


def test_the_app_notebook_runs_and_shows_the_picker_and_the_explorer(monkeypatch):
    monkeypatch.delenv("BYTETRANS_MODEL", raising=False)
    notebook = nbformat.read(app.APP_NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "apps")}}
    ).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert [output.output_type for output in outputs if output.output_type == "error"] == []
    widgets = [output for output in outputs if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert len(widgets) == 1  # the app's VBox: picker, message, explorer


def test_the_make_target_serves_the_app_through_the_library_command():
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\nexplore:", 1)[1].split("\n\n")[0]
    assert "-m bytetrans_lib.app $(if $(MODEL)," in recipe
    # a model name with a space reaches the command as one argument (make -n prints, runs nothing)
    shown = subprocess.run(["make", "-n", "explore", "MODEL=my model.npz"], cwd=ROOT, capture_output=True, text=True)
    assert '-m bytetrans_lib.app "my model.npz"' in shown.stdout, shown.stdout + shown.stderr
    template = ROOT / "apps" / "jupyter" / "voila" / "templates" / "offline"  # the page's: nothing fetched off line
    assert json.loads((template / "conf.json").read_text())["base_template"] == "lab"


@pytest.mark.parametrize("name", ["attention_app", "model_choices", "explore_cli", "APP_NOTEBOOK"])
def test_the_app_s_names_are_in_the_flat_namespace(name):
    assert getattr(bt, name) is getattr(app, name)


def test_the_command_says_how_to_install_voila_when_it_is_missing(monkeypatch, capsys):
    real_find_spec = app.importlib.util.find_spec
    monkeypatch.setattr(app.importlib.util, "find_spec", lambda name: None if name == "voila" else real_find_spec(name))
    assert app.explore_cli(["--no-browser"]) == 2
    assert capsys.readouterr().err == (
        "python -m bytetrans_lib.app: error: Voilà is not installed: in a clone of the course, pip install -e "
        "'.[app]' (make explore does); for the installed package, pip install 'bytetrans[app]'\n"
    )
