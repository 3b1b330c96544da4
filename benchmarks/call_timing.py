"""Wall time of repeated calls, for the micro-benchmarks (bench_world_model, bench_onnx,
bench_pretrained_encoder). The planner benchmark times whole ``act()`` calls its own way
(planner_bench/grid.py).

Several functions are called in turn (round robin), so the other jobs of a loaded machine slow
all of them alike instead of whichever ran while they were busy; percentiles are the sorted
sample at ``round(q * (n - 1))`` (no interpolation: a reported p99 is a measured call).
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List

__all__ = ['time_calls', 'time_call', 'summarise']


def summarise(samples_ms: List[float]) -> Dict[str, float]:
    """``median_ms``, ``p90_ms``, ``p99_ms``, ``max_ms`` (rounded to µs) and ``samples`` of
    wall times in ms. ValueError on no samples."""
    if not samples_ms:
        raise ValueError('no timed calls to summarise')
    ordered = sorted(samples_ms)
    last = len(ordered) - 1

    def at(q: float) -> float:
        return round(ordered[round(q * last)], 3)
    return {'median_ms': round(statistics.median(ordered), 3), 'p90_ms': at(0.9),
            'p99_ms': at(0.99), 'max_ms': round(ordered[-1], 3), 'samples': len(ordered)}


def time_calls(fns: Dict[str, Callable[[], object]], repeats: int, warmup: int = 5
               ) -> Dict[str, Dict[str, float]]:
    """``{name: summarise(...)}`` of each ``fns[name]`` over ``repeats`` calls after
    ``warmup`` untimed ones, the functions called in turn."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f'need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}')
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: summarise(values) for name, values in samples.items()}


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 5) -> Dict[str, float]:
    """:func:`time_calls` of one function."""
    return time_calls({'fn': fn}, repeats, warmup)['fn']
