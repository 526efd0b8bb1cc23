"""Checks of notebook 10's exercises (speed): time_it, matmul_flops."""

import time
import timeit

from bytetrans_lib import speed
from bytetrans_lib.config import Config
from bytetrans_lib.exercises import Wrong, exercise


class _Clock:
    """A clock that only moves when the timed function runs: each call takes the next duration."""

    def __init__(self, durations):
        self.now, self.durations, self.calls = 1000.0, list(durations), 0

    def __call__(self):
        return self.now

    def ns(self):
        return int(self.now * 1e9)

    def fn(self):
        self.now += self.durations[self.calls] if self.calls < len(self.durations) else 1e6
        self.calls += 1


# Every wall clock a correct time_it may read, by the name it is read under. (timeit bound its
# default_timer to time.perf_counter when it was imported, so it is replaced on its own.)
CLOCKS = [(time, "perf_counter"), (time, "monotonic"), (time, "time"), (timeit, "default_timer")]
NS_CLOCKS = [(time, "perf_counter_ns"), (time, "monotonic_ns"), (time, "time_ns")]


def _timed(time_it, durations, repeats, warmup):
    """time_it(fn, repeats, warmup) with every wall clock replaced by a _Clock (only for the call)."""
    clock = _Clock(durations)
    saved = [(module, name, getattr(module, name)) for module, name in CLOCKS + NS_CLOCKS]
    for module, name in CLOCKS:
        setattr(module, name, clock)
    for module, name in NS_CLOCKS:
        setattr(module, name, clock.ns)
    try:
        result = time_it(clock.fn, repeats=repeats, warmup=warmup)
    finally:
        for module, name, original in saved:
            setattr(module, name, original)
    return result, clock.calls


@exercise("10.1", "time_it", reference=lambda: speed.time_it, uses="the library's time_it")
def check_time_it(time_it):
    # two slow warm-up calls (20 s, 30 s), then five timed ones with one outlier (50 s): median 3
    timed = [50.0, 1.0, 4.0, 3.0, 2.0]
    result, calls = _timed(time_it, [20.0, 30.0, *timed], repeats=5, warmup=2)
    if calls != 7:
        raise Wrong(
            f"fn was called {calls} times by time_it(fn, repeats=5, warmup=2); expected 7: 2 untimed warm-up "
            "calls, then 5 timed ones"
        )
    if not isinstance(result, int | float) or isinstance(result, bool):
        raise Wrong(f"time_it returned a {type(result).__name__}, expected the median time in seconds (a float)")
    if result != 3.0:
        why = {
            12.0: "the mean of the timed calls; one slow call (here 50 s) must not move the answer: take the median",
            1.0: "the fastest call, not the median",
            60.0: "the total of the timed calls, not the median",
            2.0: "the time of the last call, not the median of all timed calls",
            4.0: "the median of all 7 calls: the 2 warm-up calls must not be timed",
        }.get(result, "")
        if result < 1e-3:
            why = (
                "about no time at all: time each call with time.perf_counter(), a wall clock (the check replaces "
                "it, and time.monotonic, time.time and timeit.default_timer, with a clock of its own; a clock read "
                "before time_it runs, or CPU time such as time.process_time, does not see the calls take time)"
            )
        raise Wrong(
            f"time_it returned {result:g} for timed calls of 50, 1, 4, 3 and 2 s, after warm-up calls of 20 and "
            f"30 s; expected the median of the timed calls, 3{': ' + why if why else ''}"
        )
    result, _ = _timed(time_it, [9.0, 4.0, 1.0, 3.0, 2.0], repeats=4, warmup=1)
    if result != 2.5:
        raise Wrong(
            f"time_it returned {result:g} for 4 timed calls of 4, 1, 3 and 2 s; expected their median, 2.5: with "
            "an even number of times the median is the mean of the two middle ones (statistics.median)"
        )


def _config(n_encoder_layers, n_decoder_layers):
    return Config(d_model=16, n_heads=2, n_encoder_layers=n_encoder_layers, n_decoder_layers=n_decoder_layers, d_ff=24)


def _why(got, expected):
    """A hint when one part of the count is off by a typical factor."""
    if got == 0:
        return ": it is missing"
    if 3 * got == expected:
        return ": a third of it, the forward products alone; a training step is 3 times the forward pass"
    if 2 * got == expected:
        return ": half of it; an (M, K) @ (K, N) product is 2·M·K·N FLOPs, a multiply and an add each"
    return ""


@exercise("10.2", "matmul_flops", reference=lambda: speed.matmul_flops, uses="the library's matmul_flops")
def check_matmul_flops(matmul_flops):
    B, S, T = 3, 5, 7  # the English (S) and French (T) lengths differ, so that a swap shows

    def count(candidate, n_encoder_layers, n_decoder_layers):
        return candidate(_config(n_encoder_layers, n_decoder_layers), B, S, T)

    got, expected = count(matmul_flops, 2, 3), count(speed.matmul_flops, 2, 3)
    if isinstance(got, bool) or not isinstance(got, int | float) or got != int(got):
        raise Wrong(f"matmul_flops returned {got!r}, expected a whole number of FLOPs (an int)")
    if len({count(matmul_flops, *layers) for layers in ((0, 0), (1, 1), (2, 3))}) == 1:
        raise Wrong(
            f"matmul_flops is {got:,} whatever the number of layers (0, 1 or 2 encoder and 0, 1 or 3 decoder "
            "layers): multiply one layer's FLOPs by config.n_encoder_layers and config.n_decoder_layers"
        )
    parts = [
        ("the output layer's FLOPs", (0, 0), None, "2·B·t_tgt·C·V, times 3"),
        (
            "one encoder layer's FLOPs",
            (1, 0),
            (0, 0),
            "self-attention and the feed-forward block, on the t_src English positions",
        ),
        (
            "one decoder layer's FLOPs",
            (0, 1),
            (0, 0),
            "self-attention on t_tgt positions, cross-attention with t_tgt queries and t_src keys and values, "
            "and the feed-forward block on t_tgt",
        ),
    ]
    for name, layers, base, what in parts:
        mine = count(matmul_flops, *layers) - (count(matmul_flops, *base) if base else 0)
        ref = count(speed.matmul_flops, *layers) - (count(speed.matmul_flops, *base) if base else 0)
        if mine != ref:
            raise Wrong(
                f"{name} are wrong: {mine:,} for B={B}, t_src={S}, t_tgt={T}, d_model=16, d_ff=24; expected "
                f"{ref:,} ({what}){_why(mine, ref)}"
            )
    if got != expected:
        raise Wrong(
            f"matmul_flops is {got:,} with 2 encoder and 3 decoder layers, expected {expected:,}: each part is right "
            "on its own; multiply one layer's FLOPs by config.n_encoder_layers and config.n_decoder_layers"
        )
