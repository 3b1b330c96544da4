"""Stand-offs and stalls of the mobile base: far from its goal, it stops, or it stops gaining.

* A **stand-off** is a stretch of at least ``min_duration`` seconds in which the base travels
  less than ``max_speed x min_duration`` metres (path length, so a slow crawl counts and a
  back-and-forth does not) while the goal is more than ``min_goal_distance`` away
  throughout: the robot waiting for a person who is giving way to it. Path length over a
  window rather than speed per step, because the recorded positions come from the ticks as
  received, and two ticks can carry the same odometry (0 m/s, then twice the speed).
* A **stall** is a stretch of at least ``stall_duration`` seconds over which the distance to
  the goal shrinks by less than ``min_progress`` while the goal is more than
  ``min_goal_distance`` away throughout: no progress, whether standing or dithering.

Measured from an episode's ``position_trace`` and ``distance_trace``
(:class:`~.results.EpisodeResult`). No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, List, Sequence, Tuple

import numpy as np

__all__ = ['StandOffRule', 'stand_offs', 'stalls', 'stand_off_summary']


@dataclass(frozen=True)
class StandOffRule:
    """What counts as a stand-off and as a stall (see the module docstring)."""

    min_duration: float = 2.0       # s
    max_speed: float = 0.05         # m/s, mean over the stretch
    min_goal_distance: float = 0.3  # m (twice the success tolerance)
    stall_duration: float = 5.0     # s
    min_progress: float = 0.1       # m

    def describe(self) -> str:
        return (f'stand-off: >= {self.min_duration:g} s travelling < '
                f'{self.max_speed * self.min_duration:g} m (mean < {self.max_speed:g} m/s) '
                f'with the goal > {self.min_goal_distance:g} m away; stall: >= '
                f'{self.stall_duration:g} s gaining < {self.min_progress:g} m on the goal '
                f'with the goal > {self.min_goal_distance:g} m away')


def _runs(flags: np.ndarray, window: int) -> List[Tuple[int, int]]:
    """``[(first, steps)]`` of the unions of the windows ``[i, i + window]`` flagged."""
    covered = np.zeros(len(flags) + window + 1, dtype=np.int64)
    for i in np.flatnonzero(flags):
        covered[i] += 1
        covered[i + window + 1] -= 1
    inside = np.cumsum(covered)[:len(flags) + window] > 0
    runs, start = [], None
    for t, on in enumerate(np.append(inside, False)):
        if on and start is None:
            start = t
        elif not on and start is not None:
            runs.append((start + 1, t - start))   # steps are 1-based
            start = None
    return runs


def _check(positions: Any, distances: Any, dt: float) -> Tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    dist = np.asarray(distances, dtype=np.float64).reshape(-1)
    if len(xy) != len(dist) or not dt > 0:
        raise ValueError(f'{len(xy)} positions and {len(dist)} distances, dt {dt}')
    return xy, dist


def _far(dist: np.ndarray, window: int, limit: float) -> np.ndarray:
    """[T - window] whether the goal is farther than ``limit`` at every step of window i."""
    far = (dist > limit).astype(np.int64)
    inside = np.concatenate([[0], np.cumsum(far)])
    return (inside[window + 1:] - inside[:-window - 1]) == window + 1


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
    xy, dist = _check(positions, distances, dt)
    window = int(math.ceil(rule.min_duration / dt - 1e-9))
    if len(xy) <= window:
        return []
    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
    path = travelled[window:] - travelled[:-window]                     # [T - window]
    still = (path < rule.max_speed * rule.min_duration) & _far(dist, window,
                                                               rule.min_goal_distance)
    return _runs(still, window)


def stalls(distances: Any, dt: float, rule: StandOffRule = StandOffRule()
           ) -> List[Tuple[int, int]]:
    """``[(first_step, steps), ...]`` of the stalls of one episode (``distances [T]``)."""
    _, dist = _check(np.zeros((len(np.reshape(distances, -1)), 2)), distances, dt)
    window = int(math.ceil(rule.stall_duration / dt - 1e-9))
    if len(dist) <= window:
        return []
    gained = dist[:-window] - dist[window:]
    return _runs((gained < rule.min_progress) & _far(dist, window, rule.min_goal_distance),
                 window)


def stand_off_summary(episodes: Sequence[dict], dt: float,
                      rule: StandOffRule = StandOffRule()) -> dict:
    """Per condition: episodes with a stand-off and with a stall, their seeds, and the
    seconds they lasted in all.

    ``episodes``: the ``episodes`` of a plan-eval results file (with ``position_trace``).

    Raises:
        ValueError: An episode without a position trace (a run before it was recorded).
    """
    seeds, seconds, stalled, stall_seconds = [], 0.0, [], 0.0
    for e in episodes:
        if len(e.get('position_trace') or []) != len(e['distance_trace']):
            raise ValueError(f'episode seed {e["seed"]} has no position trace to measure')
        runs = stand_offs(e['position_trace'], e['distance_trace'], dt, rule)
        if runs:
            seeds.append(int(e['seed']))
            seconds += sum(n for _, n in runs) * dt
        runs = stalls(e['distance_trace'], dt, rule)
        if runs:
            stalled.append(int(e['seed']))
            stall_seconds += sum(n for _, n in runs) * dt
    return {'rule': rule.describe(), 'episodes_with_stand_off': len(seeds),
            'seeds': seeds, 'stand_off_seconds': round(seconds, 1),
            'episodes_with_stall': len(stalled), 'stall_seeds': stalled,
            'stall_seconds': round(stall_seconds, 1)}
