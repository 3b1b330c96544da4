"""The figures of one offline-reach run, from its per-episode records: success count with a
Wilson 95 % interval, mean steps to the goal and the measured planning time."""

from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np

from ..results import wilson_interval

__all__ = ['plan_timing', 'summarise_episodes']


def plan_timing(plan_s: Sequence[float]) -> Dict[str, float]:
    """``plan_ms_p50`` and ``plan_ms_mean`` of one episode's plans (``plan_s``: wall seconds
    of each ``controller.act``); empty: NaN."""
    if not plan_s:
        return {'plan_ms_p50': float('nan'), 'plan_ms_mean': float('nan')}
    ms = 1e3 * np.asarray(plan_s, dtype=np.float64)
    return {'plan_ms_p50': float(np.median(ms)), 'plan_ms_mean': float(ms.mean())}


def summarise_episodes(episodes: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """``successes``, ``episodes``, ``success_rate``, ``wilson95`` ([low, high]),
    ``mean_steps_to_goal`` (successful episodes only; None without one) and ``mean_plan_ms``
    (every plan of every episode, each episode weighted by its steps).

    Raises:
        ValueError: no episodes.
    """
    if not episodes:
        raise ValueError('no episodes to summarise')
    wins = [e for e in episodes if e['success']]
    steps = np.asarray([e['steps'] for e in episodes], dtype=np.float64)
    plan_ms = np.asarray([e['plan_ms_mean'] for e in episodes], dtype=np.float64)
    return {'successes': len(wins), 'episodes': len(episodes),
            'success_rate': len(wins) / len(episodes),
            'wilson95': wilson_interval(len(wins), len(episodes)),
            'mean_steps_to_goal': (float(np.mean([e['steps'] for e in wins])) if wins
                                   else None),
            'mean_plan_ms': float((plan_ms * steps).sum() / steps.sum())}
