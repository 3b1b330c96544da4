"""The top entries of torch.profiler and cProfile over ``act()`` calls of one configuration.

torch.profiler (CPU activity) ranks the operators by their own CPU time: which kernels the
plan spends its time in (``aten::addmm``, ``aten::layer_norm``, ...). cProfile ranks the
Python functions by their own time (``tottime``) and shows their cumulative time: where
the Python around the kernels costs. Both run over the same number of ``act()`` calls after
the warm-up; figures are per ``act()``.
"""

from __future__ import annotations

import cProfile
import os
import pstats
from typing import Any, Dict, List

import torch
from torch.profiler import profile, ProfilerActivity

from .grid import Replay
from .rigs import build_controller, Search, search_settings, Trace

__all__ = ['profile_configuration']

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _torch_top(replay: Replay, acts: int, top: int) -> List[Dict[str, Any]]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(acts):
            replay.step()
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:top]
    return [{'operator': e.key, 'calls_per_act': round(e.count / acts, 2),
             'self_ms_per_act': round(e.self_cpu_time_total / 1e3 / acts, 4),
             'total_ms_per_act': round(e.cpu_time_total / 1e3 / acts, 4)} for e in events]


def _where(key: tuple) -> str:
    filename, line, name = key
    if filename.startswith(_REPO):
        filename = os.path.relpath(filename, _REPO)
    elif os.sep in filename:
        filename = os.path.basename(filename)
    return f'{filename}:{line}({name})'


def _python_top(replay: Replay, acts: int, top: int) -> List[Dict[str, Any]]:
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        for _ in range(acts):
            replay.step()
    finally:
        profiler.disable()
    stats = pstats.Stats(profiler).stats
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    return [{'function': _where(key), 'calls_per_act': round(nc / acts, 2),
             'tottime_ms_per_act': round(tt * 1e3 / acts, 4),
             'cumtime_ms_per_act': round(ct * 1e3 / acts, 4)}
            for key, (_, nc, tt, ct, _) in ranked]


def profile_configuration(runtime: Any, node_settings: Any, trace: Trace, search: Search,
                          threads: int, warmup: int, acts: int, top: int) -> Dict[str, Any]:
    """Warm up, then ``acts`` act() calls under each profiler; the ``top`` entries of each."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        controller = build_controller(runtime, search_settings(node_settings, search))
        controller.warm_up()
        replay = Replay(controller, trace)
        for _ in range(max(1, warmup)):
            replay.step()
        torch_top = _torch_top(replay, acts, top)
        python_top = _python_top(replay, acts, top)
    finally:
        torch.set_num_threads(previous)
    return {'samples': search.samples, 'elites': search.elites, 'horizon': search.horizon,
            'iterations': search.iterations, 'threads': threads, 'acts': acts,
            'how_measured': __doc__.strip(),
            'torch_profiler_top_self_cpu': torch_top, 'cprofile_top_tottime': python_top}
