"""Is a change slower? Time the training step of two versions of the library in one sitting.

    python benchmarks/compare.py BEFORE [AFTER] [--rounds 5] [--steps 20]

BEFORE and AFTER are git revisions (AFTER defaults to the working tree, uncommitted edits
included). Each revision is checked out into a temporary git worktree; then the two run in
turns, `--rounds` times each, every run in a fresh process that builds make bench's reference
model and batch (benchmarks/train_step.py), warms up, and reports the median of `--steps`
steps of forward, loss, backward, clipping and Adam, written with the public API that every
version of the course has. Alternating the two spreads the machine's drift over both, so the
ratio is fair even where single timings are noisy. Prints each run, the median of each side
and the ratio AFTER / BEFORE; nothing is asserted.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STEP = """
import os, statistics, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")
import numpy as np
import bytetrans_lib as bt
assert bt.__file__.startswith(sys.argv[2]), (bt.__file__, sys.argv[2])
B, T = 32, 48
rng = np.random.default_rng(0)
pad = lambda rows: bt.pad_batch([list(map(int, r)) for r in rows])
src = pad([list(rng.integers(32, 127, int(n))) + [bt.EOS_ID] for n in rng.integers(23, T, B)])
body = [rng.integers(32, 127, int(n)) for n in rng.integers(23, T, B)]
tgt_in, tgt_out = pad([[bt.BOS_ID, *b] for b in body]), pad([[*b, bt.EOS_ID] for b in body])
config = bt.Config(d_model=128, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=512, max_len=64)
model = bt.Transformer(config, rng=np.random.default_rng(0))
loss_fn, adam = bt.CrossEntropyLoss(label_smoothing=0.1), bt.Adam(model.parameters(), lr=1e-3)

def step():
    model.zero_grad()
    loss_fn.forward(model.forward(src, tgt_in), tgt_out)
    model.backward(loss_fn.backward())
    bt.clip_grad_norm(model.gradients(), 1.0)
    adam.step(model.gradients())

times = []
for i in range(3 + int(sys.argv[1])):
    start = time.perf_counter()
    step()
    if i >= 3:
        times.append(time.perf_counter() - start)
print(statistics.median(times) * 1e3)
"""


def worktree(revision, folder):
    """A checkout of `revision` in `folder` (a detached git worktree), or the working tree."""
    if revision is None:
        return ROOT
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(folder), revision], check=True
    )
    return folder


def time_once(tree, steps):
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", STEP, str(steps), str(tree)], env=env, cwd=tree, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"compare.py: the step failed in {tree}:\n{out.stderr}")
    return float(out.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="git revision to compare against (e.g. a commit before the change)")
    parser.add_argument("after", nargs="?", help="git revision (default: the working tree)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each side, alternating")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per run")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bytetrans-compare-") as tmp:
        trees = {}
        try:
            for name, rev in (("before", args.before), ("after", args.after)):
                trees[name] = worktree(rev, Path(tmp) / name)
            runs = {"before": [], "after": []}
            for round_ in range(args.rounds):
                for name in ("before", "after") if round_ % 2 == 0 else ("after", "before"):
                    runs[name].append(time_once(trees[name], args.steps))
                    print(f"round {round_ + 1}: {name:6} {runs[name][-1]:7.1f} ms", flush=True)
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    before, after = statistics.median(runs["before"]), statistics.median(runs["after"])
    print(f"median of {args.rounds} runs of {args.steps} steps: before ({args.before}) {before:.1f} ms, ", end="")
    print(f"after ({args.after or 'working tree'}) {after:.1f} ms, after / before = {after / before:.3f}")


if __name__ == "__main__":
    main()
