"""Cases for the checks of notebook 10's exercises: a stub and planted bugs per exercise."""

import statistics
import time
import timeit


def _raises(*args, **kwargs):
    raise NotImplementedError


def _time_it(summary=statistics.median, warmup_timed=False, clock=None):
    """time_it with one slip: another summary than the median, or the warm-up calls timed too."""

    def time_it(fn, repeats=7, warmup=2):
        now = clock or time.perf_counter
        times = []
        for _ in range(warmup):
            start = now()
            fn()
            if warmup_timed:
                times.append(now() - start)
        for _ in range(repeats):
            start = now()
            fn()
            times.append(now() - start)
        return summary(times)

    return time_it


def _no_warmup(fn, repeats=7, warmup=2):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _upper_middle(times):  # sorted(times)[n // 2]: right for an odd number of times only
    return sorted(times)[len(times) // 2]


def _flops(steps=3, per_product=2, cross_keys="src", output=True, per_layer=True):
    """matmul_flops with one slip: forward only, M*K*N per product, cross-attention keys from the
    French side, no output layer, or one layer of each kind whatever the config says."""

    def matmul_flops(config, batch, t_src, t_tgt):
        B, C, F, V = batch, config.d_model, config.d_ff, config.vocab_size

        def attention(t_q, t_kv):
            return per_product * B * (2 * t_q * C * C + 2 * t_kv * C * C) + 2 * per_product * B * t_q * t_kv * C

        def feed_forward(t):
            return 2 * per_product * B * t * C * F

        cross = attention(t_tgt, t_src if cross_keys == "src" else t_tgt)
        n_encoder, n_decoder = (config.n_encoder_layers, config.n_decoder_layers) if per_layer else (1, 1)
        encoder = n_encoder * (attention(t_src, t_src) + feed_forward(t_src))
        decoder = n_decoder * (attention(t_tgt, t_tgt) + cross + feed_forward(t_tgt))
        return steps * (encoder + decoder + output * per_product * B * t_tgt * C * V)

    return matmul_flops


STUBS = {"10.1": _raises, "10.2": _raises}

BUGS = [
    ("10.1", _time_it(summary=statistics.mean), "expected the median of the timed calls, 3: the mean"),
    ("10.1", _time_it(summary=min), "the fastest call, not the median"),
    ("10.1", _time_it(warmup_timed=True), "the 2 warm-up calls must not be timed"),
    ("10.1", _no_warmup, "fn was called 5 times by time_it(fn, repeats=5, warmup=2); expected 7"),
    ("10.1", _time_it(summary=_upper_middle), "with an even number of times the median is the mean of the two middle"),
    ("10.1", _time_it(clock=time.time), "time each call with time.perf_counter()"),
    ("10.1", _time_it(clock=time.process_time), "CPU time such as time.process_time"),
    ("10.2", _flops(per_layer=False), "multiply one layer's FLOPs by config.n_encoder_layers"),
    (
        "10.2",
        _flops(steps=1),
        "the output layer's FLOPs are wrong: 174,720 for B=3, t_src=5, t_tgt=7, d_model=16, d_ff=24; expected 524,160 (2·B·t_tgt·C·V, times 3): a third of it, the forward products alone; a training step is 3 times the forward pass",
    ),
    ("10.2", _flops(per_product=1), "an (M, K) @ (K, N) product is 2·M·K·N FLOPs"),
    ("10.2", _flops(cross_keys="tgt"), "one decoder layer's FLOPs are wrong"),
    ("10.2", _flops(output=False), "the output layer's FLOPs are wrong: 0 for B=3"),
]


def _time_it_with(read_clock):
    """A correct time_it that reads its wall clock through read_clock() (another clock than perf_counter)."""

    def time_it(fn, repeats=7, warmup=2):
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            start = read_clock()
            fn()
            times.append(read_clock() - start)
        return statistics.median(times)

    return time_it


# Correct solutions that read another wall clock than the notebook's: each must be accepted.
ACCEPTED = [
    ("10.1", _time_it_with(lambda: timeit.default_timer())),
    ("10.1", _time_it_with(lambda: time.monotonic())),
    ("10.1", _time_it_with(lambda: time.perf_counter_ns() / 1e9)),
]
