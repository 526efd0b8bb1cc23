"""The README's figures of the shipped models are read from their reports, never typed (issue 28)."""

import importlib.util
import json
import re

import pytest
from conftest import ROOT

import bytetrans_lib as bt

spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "tools" / "readme_figures.py")
readme_figures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_figures)

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_figures_are_what_make_readme_writes_from_the_shipped_reports():
    assert readme_figures.render(README) == README, "README.md's figures are stale: run `make readme`"
    assert readme_figures.main(["--check"]) == 0
    names = [m["name"] for m in readme_figures.BLOCK.finditer(README)]
    assert names == ["course", "everyday", "everyday"]
    assert "data/bytetrans-everyday-torch.json" in README


def test_a_figures_block_is_rewritten_from_its_report_and_only_it(tmp_path):
    report = json.loads(bt.DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    report["test"]["exact_match"] = 0.5
    (tmp_path / "r.json").write_text(json.dumps(report), encoding="utf-8")
    text = "before\n<!-- figures: course (`make readme` writes this block from r.json) -->\nold\n<!-- end of figures -->\nafter\n"
    new = readme_figures.render(text, root=tmp_path)
    assert new.startswith("before\n<!-- figures: course") and new.endswith("<!-- end of figures -->\nafter\n")
    assert "old" not in new and "**50% exact match," in new
    assert f"| all {report['test']['n']:,} held-out test pairs" in new


@pytest.mark.parametrize(
    "text, message",
    [
        ("no block here\n", "no figures block found"),
        (
            "<!-- figures: other (`make readme` writes this block from r.json) -->\n<!-- end of figures -->\n",
            "unknown figures block 'other'",
        ),
    ],
)
def test_a_readme_without_a_known_block_is_refused_by_name(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        readme_figures.render(text)


@pytest.mark.parametrize(
    "model, section", [("everyday", "### The everyday model\n"), ("everyday-torch", "PyTorch and dropout\n")]
)
def test_the_readme_table_of_ten_everyday_sentences_is_what_the_report_says_the_model_wrote(model, section):
    report = json.loads((ROOT / "data" / f"bytetrans-{model}.json").read_text(encoding="utf-8"))
    table = README.split(section)[1].split("| English | greedy decoding | beam search")[1].split("\n\n")[0]
    rows = {
        english: (greedy, beam) for english, greedy, beam in re.findall(r"^\| (.+?) \| (.+?) \| (.+?) \|$", table, re.M)
    }
    assert sorted(rows) == sorted(row["english"] for row in report["sentences"])
    for row in report["sentences"]:
        greedy, beam = rows[row["english"]]
        assert greedy.startswith(row["translation"] + " ("), (row["english"], greedy)
        verdict = greedy[len(row["translation"]) + 2 :]  # what the README says of it: right, or why not
        assert (verdict.startswith("right") and not verdict.startswith("right but")) == row["right"], greedy
        beam = beam.replace("**", "")
        assert (
            beam == "the same"
            if row["beam_translation"] == row["translation"]
            else beam.startswith(row["beam_translation"] + " (")
        ), (row["english"], beam)


def test_the_readme_names_every_exercise_in_its_notebooks_row_and_counts_them():
    from bytetrans_lib import exercises

    exercises._load()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"The {len(exercises.EXERCISES)} exercises:" in text
    rows = {line[2:4]: line for line in text.splitlines() if re.match(r"\| \d\d \| ", line)}
    for exercise_id, ex in sorted(exercises.EXERCISES.items()):
        name = re.match(r"[\w.]+", ex.title)[0]
        assert f"`{name}`" in rows[exercise_id[:2]], f"README's row {exercise_id[:2]} does not name {name}"
