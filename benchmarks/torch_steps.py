"""A training step of the everyday model's sizes three ways, in one sitting: the NumPy course, PyTorch in
one process (two threads), and PyTorch in two processes of one thread each under torchrun
(DistributedDataParallel over gloo). Notebook 11, section 5; `make bench-torch`.

The same 64-pair batches of the course's corpus in each, float32, dropout 0.1, label smoothing 0.1,
clipping and Adam; medians over the timed steps after a warm-up. The two-process timing is this
script run again by torchrun (--worker), timed by its first process between two barriers.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import bytetrans_lib as bt

CONFIG = bt.Config(d_model=192, n_heads=6, d_ff=768, dropout=0.1)  # the everyday preset's sizes
BATCH, WARMUP, STEPS = 64, 3, 20


def batches():
    encoded = bt.encode_pairs(bt.read_tsv(bt.CORPUS_PATH), CONFIG.max_len)
    chosen = bt.epoch_batches(encoded, BATCH, 0, 0)[: WARMUP + STEPS]
    return [bt.make_batch(encoded, indices) for indices in chosen]


def numpy_steps(data):
    model = bt.Transformer(CONFIG, rng=np.random.default_rng(0))
    loss_fn, optimizer = bt.CrossEntropyLoss(label_smoothing=0.1), bt.Adam(model.parameters(), lr=1e-4)
    times = []
    for step, (src, tgt_in, tgt_out) in enumerate(data):
        started = time.perf_counter()
        bt.train_mode(model, np.random.default_rng([0, 1, step]))
        bt.train_step(model, loss_fn, optimizer, src, tgt_in, tgt_out)
        bt.eval_mode(model)
        times.append(time.perf_counter() - started)
    return times[WARMUP:]


def torch_steps(data, rank=0, world=1):
    import torch

    from bytetrans_lib import torch_bridge as tb

    torch_model = tb.to_torch(bt.Transformer(CONFIG, rng=np.random.default_rng(0)))
    net = torch.nn.parallel.DistributedDataParallel(torch_model) if world > 1 else torch_model
    optimizer = tb.torch_adam(torch_model, lr=1e-4)
    times = []
    for src, tgt_in, tgt_out in data:
        if world > 1:
            torch.distributed.barrier()
        started = time.perf_counter()
        counted = int((tgt_out != bt.PAD_ID).sum())
        src_t, tgt_in_t, tgt_out_t = (torch.from_numpy(part[rank::world]) for part in (src, tgt_in, tgt_out))
        net.train()
        optimizer.zero_grad()
        loss = tb.label_smoothed_loss(net(src_t, tgt_in_t), tgt_out_t, 0.1, reduction="sum") * (world / counted)
        loss.backward()
        tb.clip_grad_norm_torch(torch_model.parameters(), 1.0)
        optimizer.step()
        if world > 1:
            torch.distributed.barrier()
        times.append(time.perf_counter() - started)
    return times[WARMUP:]


def worker(out):
    """Run by torchrun: every process steps; the first one writes the times."""
    import torch

    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    times = torch_steps(batches(), rank, world)
    if rank == 0:
        Path(out).write_text(json.dumps(times))
    torch.distributed.destroy_process_group()


def profile(data):
    """PyTorch's profiler over the one-process steps: each operation's share of the time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    with profiler(activities=[ProfilerActivity.CPU]) as run:
        torch_steps(data)
    table = run.key_averages()
    total = sum(event.self_cpu_time_total for event in table)
    print(f"PyTorch, 1 process x 2 threads, {WARMUP + STEPS} steps: the operations taking the most time")
    for event in sorted(table, key=lambda event: -event.self_cpu_time_total)[:8]:
        share = event.self_cpu_time_total / total
        print(f"  {event.key:28} {share:6.1%}  ({event.count / (WARMUP + STEPS):.0f} calls a step)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile", action="store_true", help="only profile the one-process PyTorch steps: where their time goes"
    )
    args = parser.parse_args()
    if args.worker is not None:
        return worker(args.worker)
    import torch

    torch.set_num_threads(2)
    data = batches()
    if args.profile:
        return profile(data)
    medians = {}
    medians["NumPy (2 BLAS threads)"] = statistics.median(numpy_steps(data)) * 1000
    medians["PyTorch, 1 process x 2 threads"] = statistics.median(torch_steps(data)) * 1000
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "times.json"
        torchrun = Path(sys.executable).with_name("torchrun")
        logs = f"--log-dir={Path(folder) / 'logs'}"  # torchrun's own logs, removed with the folder
        command = [str(torchrun), "--standalone", "--nproc_per_node=2", logs, __file__, "--worker", str(out)]
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
        medians["PyTorch, 2 processes x 1 thread"] = statistics.median(json.loads(out.read_text())) * 1000
    result = {
        "config": CONFIG.to_dict(),
        "batch": BATCH,
        "steps": STEPS,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, PyTorch {torch.__version__}",
        "median_ms": {name: round(ms, 1) for name, ms in medians.items()},
    }
    for name, ms in result["median_ms"].items():
        print(f"{name:32} {ms:7.1f} ms  ({medians['NumPy (2 BLAS threads)'] / ms:.2f}x NumPy's speed)")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
