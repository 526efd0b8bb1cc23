"""How fast is a training step of the NumPy Transformer, and how does it compare?

    make bench        (or: python benchmarks/train_step.py [--steps N] [--json FILE])

The reference configuration: vocab 260, d_model 128, 4 heads, 2 encoder + 2 decoder layers,
d_ff 512, batch 32, source and target padded to 48 bytes (lengths drawn from 24 to 48),
float32, BLAS limited to 2 threads. Reports the median time per step split into forward (with
the loss), backward and optimizer; tokens per second; FLOPs per step counted analytically;
the achieved GFLOP/s against the same machine's large-square matmul; memory (what one NumPy
step allocates, and the whole process's peak); which BLAS
NumPy uses. When PyTorch is importable (it is never a dependency of the course), the same
architecture runs in PyTorch eager in the same process, alternating with NumPy, each timed
step preceded by a pause so that one library's spinning BLAS/OpenMP threads cannot steal a
core from the other; PyTorch is also timed alone, to check that the alternation is fair.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # before NumPy starts its thread pool
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import bytetrans_lib as bt  # noqa: E402

B, T, PAUSE = 32, 48, 0.5
CONFIG = bt.Config(d_model=128, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=512, max_len=64)


def reference_batch(seed=0):
    """Random bytes with realistic padding: each sentence 24 to 48 bytes, padded to 48."""
    rng = np.random.default_rng(seed)

    def ids(extra):
        return bt.pad_batch([rng.integers(32, 127, int(n)).tolist() + extra for n in rng.integers(23, T, B)])

    src = ids([bt.EOS_ID])
    body = [rng.integers(32, 127, int(n)) for n in rng.integers(23, T, B)]
    tgt_in = bt.pad_batch([[bt.BOS_ID, *b] for b in body])
    tgt_out = bt.pad_batch([[*b, bt.EOS_ID] for b in body])
    return src, tgt_in, tgt_out


class NumpyStep:
    """bt.train_step (notebook 06) on one batch, timed in three parts: forward (with the loss),
    backward (with the loss's), and the rest (zero_grad, clipping, Adam)."""

    def __init__(self, batch):
        self.model = bt.Transformer(CONFIG, rng=np.random.default_rng(0))
        self.loss_fn = bt.CrossEntropyLoss(label_smoothing=0.1)
        self.adam = bt.Adam(self.model.parameters(), lr=1e-3)
        self.batch = batch
        self.parts = {"forward": 0.0, "backward": 0.0}
        for obj in (self.model, self.loss_fn):  # instance attributes: train_step calls these
            obj.forward, obj.backward = self._timed("forward", obj.forward), self._timed("backward", obj.backward)

    def _timed(self, part, method):
        def wrapper(*args):
            start = time.perf_counter()
            try:
                return method(*args)
            finally:
                self.parts[part] += time.perf_counter() - start

        return wrapper

    def __call__(self):
        self.parts.update(forward=0.0, backward=0.0)
        start = time.perf_counter()
        bt.train_step(self.model, self.loss_fn, self.adam, *self.batch, max_norm=1.0)
        step = time.perf_counter() - start
        forward, backward = self.parts["forward"], self.parts["backward"]
        return forward, backward, step - forward - backward


class TorchStep:
    """The same architecture in PyTorch eager: pre-LN nn.Transformer, tanh GELU, no dropout."""

    def __init__(self, batch):
        import torch

        torch.manual_seed(0)
        torch.set_num_threads(2)
        self.torch = torch
        c = CONFIG
        self.src_emb = torch.nn.Embedding(c.vocab_size, c.d_model)
        self.tgt_emb = torch.nn.Embedding(c.vocab_size, c.d_model)
        with warnings.catch_warnings():  # "nested tensors are off with norm_first": we want them off
            warnings.simplefilter("ignore", UserWarning)
            self.core = torch.nn.Transformer(
                d_model=c.d_model,
                nhead=c.n_heads,
                num_encoder_layers=c.n_encoder_layers,
                num_decoder_layers=c.n_decoder_layers,
                dim_feedforward=c.d_ff,
                dropout=0.0,
                activation=lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
                batch_first=True,
                norm_first=True,
            )
        self.out = torch.nn.Linear(c.d_model, c.vocab_size)
        pe = bt.PositionalEncoding(c.max_len, c.d_model).pe
        self.pe = torch.tensor(pe)
        params = [
            *self.src_emb.parameters(),
            *self.tgt_emb.parameters(),
            *self.core.parameters(),
            *self.out.parameters(),
        ]
        self.params = params
        self.adam = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.98), eps=1e-9)
        self.loss_fn = torch.nn.CrossEntropyLoss(ignore_index=bt.PAD_ID, label_smoothing=0.1)
        src, tgt_in, tgt_out = (torch.tensor(a) for a in batch)
        self.src, self.tgt_in, self.tgt_out = src, tgt_in, tgt_out
        T_tgt = tgt_in.shape[1]
        self.causal = torch.triu(torch.ones(T_tgt, T_tgt, dtype=torch.bool), diagonal=1)  # True = blocked

    def __call__(self):
        torch, c = self.torch, CONFIG
        t0 = time.perf_counter()
        self.adam.zero_grad()
        x = self.src_emb(self.src) * c.d_model**0.5 + self.pe[: self.src.shape[1]]
        y = self.tgt_emb(self.tgt_in) * c.d_model**0.5 + self.pe[: self.tgt_in.shape[1]]
        h = self.core(
            x,
            y,
            tgt_mask=self.causal,
            src_key_padding_mask=self.src == bt.PAD_ID,
            tgt_key_padding_mask=self.tgt_in == bt.PAD_ID,
            memory_key_padding_mask=self.src == bt.PAD_ID,
        )
        loss = self.loss_fn(self.out(h).reshape(-1, c.vocab_size), self.tgt_out.reshape(-1))
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.adam.step()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2


def matmul_peak(n=2048, repeats=5):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
        for i in threadpool_info()
    )


def step_peak_memory(step):
    """Peak bytes that NumPy allocated during one step (activations, caches, temporaries),
    beyond what already existed (parameters, optimizer state): NumPy reports its array
    buffers to tracemalloc."""
    import tracemalloc

    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def median_parts(samples):
    return [statistics.median(s[k] for s in samples) for k in range(3)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per library")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    batch = reference_batch()
    tokens = int((batch[2] != bt.PAD_ID).sum())
    flops = bt.matmul_flops(CONFIG, B, batch[0].shape[1], batch[1].shape[1])
    numpy_step = NumpyStep(batch)
    try:
        torch_step = TorchStep(batch)
    except ImportError:
        torch_step = None
    for _ in range(3):  # warm-up: first calls allocate, and BLAS starts its threads
        numpy_step()
        if torch_step:
            torch_step()

    np_samples, torch_samples = [], []
    for _ in range(args.steps):  # alternate, with a pause before every timed step
        time.sleep(PAUSE)
        np_samples.append(numpy_step())
        if torch_step:
            time.sleep(PAUSE)
            torch_samples.append(torch_step())
    torch_alone = []
    if torch_step:
        for _ in range(min(10, args.steps)):
            time.sleep(PAUSE)
            torch_alone.append(torch_step())

    peak = matmul_peak()
    step_memory = step_peak_memory(numpy_step)
    forward, backward, optimizer = median_parts(np_samples)
    step = statistics.median(sum(s) for s in np_samples)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}",
        "blas": blas_info(),
        "config": f"B={B}, T_src={batch[0].shape[1]}, T_tgt={batch[1].shape[1]}, {CONFIG}",
        "numpy_step_ms": round(step * 1e3, 1),
        "numpy_forward_ms": round(forward * 1e3, 1),
        "numpy_backward_ms": round(backward * 1e3, 1),
        "numpy_optimizer_ms": round(optimizer * 1e3, 1),
        "tokens_per_second": round(tokens / step),
        "gflop_per_step": round(flops / 1e9, 2),
        "achieved_gflops": round(flops / step / 1e9, 1),
        "matmul_peak_gflops": round(peak, 1),
        "fraction_of_peak": round(flops / step / 1e9 / peak, 3),
        "numpy_step_allocated_mb": round(step_memory / 2**20),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if torch_step:
        t_step = statistics.median(sum(s) for s in torch_samples)
        t_alone = statistics.median(sum(s) for s in torch_alone)
        import torch

        result.update(
            torch_version=torch.__version__,
            torch_step_ms=round(t_step * 1e3, 1),
            torch_step_alone_ms=round(t_alone * 1e3, 1),
            numpy_over_torch=round(step / t_step, 2),
        )
    else:
        result["torch"] = "not installed: comparison skipped (make torch installs it)"
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
