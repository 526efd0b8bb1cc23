"""The README's figures of the shipped models, read from their reports.

The README's tables of the shipped runs sit between marker lines:

    <!-- figures: course (`make readme` writes this block from data/bytetrans-en-fr.json) -->
    ...
    <!-- end of figures -->

`python tools/readme_figures.py` (`make readme`) rewrites every such block from the report it
names, so that no figure of a run is typed by hand; `--check` only says whether the README is up
to date, and tests/test_readme.py runs that check in `make test`. Run it after re-training a
shipped model.
"""

import argparse
import json
import re
import sys
from pathlib import Path

from bytetrans_lib import write_atomically

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
REPORTS = {"course": ROOT / "data" / "bytetrans-en-fr.json", "everyday": ROOT / "data" / "bytetrans-everyday.json"}
BLOCK = re.compile(
    r"(?P<start><!-- figures: (?P<name>\w+) \(`make readme` writes this block from (?P<report>\S+)\) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<end><!-- end of figures -->)",
    re.S,
)


def percent(x):
    """0.975 -> '97.5%', 0.01 -> '1%': as a sentence would write it."""
    return f"{x:.1%}".replace(".0%", "%")


def learning_rate(x):
    """0.005 -> '5e-3'"""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def course(report):
    """The course's model: its run, and exact match over training."""
    tc, h, test = report["train_config"], report["history"], report["test"]
    minutes = report["train_seconds"] / 60
    tokens = sum(h["tokens_per_second"]) / len(h["tokens_per_second"])
    over_training = ", ".join(
        f"{percent(em)} after {s / 60:.1f} min" for em, s in zip(h["exact_match"][:-1], h["seconds"][:-1])
    )
    return (
        "| | |\n|---|---|\n"
        f"| training | {tc['steps']:,} steps of {tc['batch_size']} pairs, label smoothing {tc['label_smoothing']}, "
        f"Adam (peak lr {learning_rate(tc['peak_lr'])}, {tc['warmup']} warm-up steps, linear cool-down over the "
        f"last {tc['cooldown']:.0%}): **{minutes:.1f} minutes**, {tc['steps'] / report['train_seconds']:.1f} "
        f"steps/s, about {round(tokens, -3):,.0f} target bytes per second |\n"
        f"| whole command (with the final test evaluation) | **{report['seconds'] / 60:.1f} minutes** |\n"
        f"| all {test['n']:,} held-out test pairs (never seen in training), greedy decoding | "
        f"**{percent(test['exact_match'])} exact match, {percent(test['char_accuracy'])} character accuracy** |\n"
        f"\nExact match over training (validation sample of {tc['n_eval']} pairs): {over_training}, "
        f"{percent(h['exact_match'][-1])} at the end ({h['seconds'][-1] / 60:.1f} min).\n"
    )


def everyday(report):
    """The everyday model: its data, its run, and its test scores, greedy and by beam search."""
    tc, test, beam, cleaning = report["train_config"], report["test"], report["test_beam"], report["cleaning"]

    def scores(s):
        return (
            f"{percent(s['exact_match'])} exact match, {percent(s['char_accuracy'])} character accuracy "
            f"(closest reference), chrF {s['chrf']:.1f}"
        )

    rate = report["config"].get("dropout", 0.0)  # reports written before dropout have no such key
    dropout = f", dropout {rate}" if rate else ""
    return (
        "| | |\n|---|---|\n"
        f"| data | the first {cleaning['read']:,} lines of a 2022 copy of manythings' `fra.txt` (short sentences): "
        f"{report['pairs']:,} pairs after cleaning |\n"
        f"| training | {tc['steps']:,} steps of {tc['batch_size']} pairs, peak lr {learning_rate(tc['peak_lr'])}"
        f"{dropout}: "
        f"**{report['train_seconds'] / 60:.1f} minutes** ({tc['steps'] / report['train_seconds']:.1f} steps/s) |\n"
        f"| {test['n']:,} held-out English sentences, each scored against all its references "
        f"({test['n_references']:,} in all), greedy decoding | {scores(test)} |\n"
        f"| the same sentences, beam search (a beam of {beam['beam']}, notebook 08, section 4) | "
        f"**{scores(beam)}** |\n"
    )


RENDER = {"course": course, "everyday": everyday}


def render(text, root=ROOT):
    """`text` (the README) with every figures block rewritten from the report it names."""

    def block(m):
        if m["name"] not in RENDER:
            raise ValueError(f"README: unknown figures block {m['name']!r} (known: {', '.join(RENDER)})")
        report = json.loads((root / m["report"]).read_text(encoding="utf-8"))
        return m["start"] + RENDER[m["name"]](report) + m["end"]

    new, n = BLOCK.subn(block, text)
    if n == 0:
        raise ValueError("README: no figures block found")
    return new


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python tools/readme_figures.py", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether README.md is up to date")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if new == text:
        print("README.md: its figures are the shipped reports'")
        return 0
    if args.check:
        print("README.md: its figures differ from the shipped reports'; run `make readme`", file=sys.stderr)
        return 1
    write_atomically(README, lambda f: f.write(new.encode("utf-8")))  # the whole new README or the old one
    print("README.md: figures rewritten from the shipped reports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
