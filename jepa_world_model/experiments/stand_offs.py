"""Stand-offs of the mobile base: the robot stands still, far from its goal, for a while.

A stand-off is a run of at least ``min_duration`` seconds of consecutive control steps in
which the base moves slower than ``max_speed`` (its odometry position from one step to the
next) while the goal is more than ``min_goal_distance`` away. It is what a robot waiting for
a person who is giving way to it looks like; a robot turning on the spot to find its way
counts too (speed is of the position only), which keeps the measure simple and the same for
every condition. Measured from an episode's ``position_trace`` and ``distance_trace``
(:class:`~.results.EpisodeResult`). No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, List, Sequence, Tuple

import numpy as np

__all__ = ['StandOffRule', 'stand_offs', 'stand_off_summary']


@dataclass(frozen=True)
class StandOffRule:
    """What counts as a stand-off (see the module docstring)."""

    min_duration: float = 2.0      # s
    max_speed: float = 0.05        # m/s
    min_goal_distance: float = 0.3  # m (twice the success tolerance)

    def describe(self) -> str:
        return (f'>= {self.min_duration:g} s of consecutive steps with base speed < '
                f'{self.max_speed:g} m/s while the goal is > {self.min_goal_distance:g} m away')


def stand_offs(positions: Any, distances: Any, dt: float,
               rule: StandOffRule = StandOffRule()) -> List[Tuple[int, int]]:
    """``[(first_step, steps), ...]`` of the stand-offs of one episode.

    Args:
        positions: ``[T, 2]`` the base's position at steps 1..T [m].
        distances: ``[T]`` distance to the goal at the same steps [m].
        dt: Seconds per step.

    Raises:
        ValueError: Traces of different lengths or ``dt`` not > 0.
    """
    xy = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    dist = np.asarray(distances, dtype=np.float64).reshape(-1)
    if len(xy) != len(dist) or not dt > 0:
        raise ValueError(f'{len(xy)} positions and {len(dist)} distances, dt {dt}')
    if len(xy) < 2:
        return []
    speed = np.linalg.norm(np.diff(xy, axis=0), axis=1) / dt        # step t-1 -> t, [T - 1]
    still = (speed < rule.max_speed) & (dist[1:] > rule.min_goal_distance)
    need = int(math.ceil(rule.min_duration / dt - 1e-9))
    runs, start = [], None
    for t, s in enumerate(np.append(still, False)):
        if s and start is None:
            start = t
        elif not s and start is not None:
            if t - start >= need:
                runs.append((start + 2, t - start))   # steps are 1-based; speed ends at t+1
            start = None
    return runs


def stand_off_summary(episodes: Sequence[dict], dt: float,
                      rule: StandOffRule = StandOffRule()) -> dict:
    """Per condition: episodes with a stand-off, their seeds, and stand-off seconds in all.

    ``episodes``: the ``episodes`` of a plan-eval results file (with ``position_trace``).

    Raises:
        ValueError: An episode without a position trace (a run before it was recorded).
    """
    seeds, seconds = [], 0.0
    for e in episodes:
        if len(e.get('position_trace') or []) != len(e['distance_trace']):
            raise ValueError(f'episode seed {e["seed"]} has no position trace to measure')
        runs = stand_offs(e['position_trace'], e['distance_trace'], dt, rule)
        if runs:
            seeds.append(int(e['seed']))
            seconds += sum(n for _, n in runs) * dt
    return {'rule': rule.describe(), 'episodes_with_stand_off': len(seeds),
            'seeds': seeds, 'stand_off_seconds': round(seconds, 1)}
