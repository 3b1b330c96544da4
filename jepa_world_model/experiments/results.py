"""Episode records of the closed-loop experiment and their per-condition summaries.

An :class:`EpisodeResult` holds what one episode measured; :func:`summarise` turns a
condition's episodes into the figures of its JSON file (success rate with a Wilson 95 %
interval, steps to success, distances, collisions, planner statuses, timing) and
:func:`success_curve` gives the success rate for every smaller step budget (an episode that
succeeded at step k counts for every budget >= k). No ROS here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
import json
import math
from pathlib import Path
import subprocess
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..json_values import json_safe

__all__ = ['EpisodeResult', 'wilson_interval', 'stats', 'summarise', 'success_curve',
           'success_by_distance', 'write_json', 'read_results']


@dataclass
class EpisodeResult:
    """What one episode measured.

    Attributes:
        episode: Index within the condition (0-based).
        seed: Simulator episode seed.
        success: Goal reached within the budget (for the base: with no collision before).
        steps_to_success: Control steps (sim ticks) from the goal to success, or None.
        steps: Control steps the episode ran.
        start_distance: Distance to the goal at the start [m].
        final_distance: Distance at the last step [m].
        min_distance: Smallest distance during the episode [m].
        reached_step: First step within tolerance (also when it collided before), or None.
        collision_steps: Steps whose ``~/collision`` flag was set.
        contact_steps: Steps whose ``~/contact`` flag was set.
        statuses: Planner ``~/status`` values received during the episode, counted.
        response_ms: Planner conditions: wall ms from each ``/clock`` tick to the command
            that followed it, as this process received them.
        plan_ms: In-process planners (pixel): wall ms of each plan.
        distance_trace: Distance to the goal at every step [m].
        position_trace: The base's odometry position (x, y) at every step [m] (empty for
            the arm); stand-offs are measured from it (:mod:`.stand_offs`).
        goal: The goal (joint positions or position) and other task facts.
    """

    episode: int
    seed: int
    success: bool
    steps_to_success: Optional[int]
    steps: int
    start_distance: float
    final_distance: float
    min_distance: float
    reached_step: Optional[int] = None
    collision_steps: int = 0
    contact_steps: int = 0
    statuses: Dict[str, int] = field(default_factory=dict)
    response_ms: List[float] = field(default_factory=list)
    plan_ms: List[float] = field(default_factory=list)
    distance_trace: List[float] = field(default_factory=list)
    position_trace: List[List[float]] = field(default_factory=list)
    goal: Dict[str, Any] = field(default_factory=dict)


def git_commit() -> str:
    """The working tree's HEAD commit (40 hex digits), or '' outside a git checkout: the
    ``commit`` every docs/results JSON records."""
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ''


def wilson_interval(successes: int, n: int, z: float = 1.96) -> List[float]:
    """Wilson score interval [low, high] of a binomial proportion (z=1.96: 95 %)."""
    if n <= 0:
        return [float('nan'), float('nan')]
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [max(0.0, centre - half), min(1.0, centre + half)]


def stats(values: Sequence[float]) -> Dict[str, float]:
    """count, mean, p50, p90, p99, min, max of ``values`` (NaN when empty)."""
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if arr.size == 0:
        nan = float('nan')
        return {'count': 0, 'mean': nan, 'p50': nan, 'p90': nan, 'p99': nan, 'min': nan,
                'max': nan}
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {'count': int(arr.size), 'mean': float(arr.mean()), 'p50': float(p50),
            'p90': float(p90), 'p99': float(p99), 'min': float(arr.min()),
            'max': float(arr.max())}


def success_curve(episodes: Sequence[EpisodeResult], budget: int) -> List[float]:
    """Success rate for each budget 1..``budget`` steps ([budget] values)."""
    if not episodes:
        return [float('nan')] * budget
    steps = np.array([e.steps_to_success if e.success else budget + 1 for e in episodes])
    return [float(np.mean(steps <= b)) for b in range(1, budget + 1)]


def success_by_distance(episodes: Sequence[EpisodeResult], edges: Sequence[float]
                        ) -> List[Dict[str, Any]]:
    """Success by start distance: one ``{from_m, to_m, episodes, successes}`` per bin
    ``[edges[i], edges[i + 1])``."""
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = [e for e in episodes if low <= e.start_distance < high]
        rows.append({'from_m': low, 'to_m': high, 'episodes': len(inside),
                     'successes': sum(e.success for e in inside)})
    return rows


def summarise(episodes: Sequence[EpisodeResult], budget: int,
              distance_edges: Sequence[float] = (0.0, math.inf)) -> Dict[str, Any]:
    """The per-condition figures (see the module docstring); ``distance_edges`` bins the
    success rate by start distance."""
    n = len(episodes)
    wins = sum(e.success for e in episodes)
    statuses: Counter = Counter()
    for e in episodes:
        statuses.update(e.statuses)
    planned = sum(v for k, v in statuses.items() if k in ('planning', 'goal_reached'))
    overruns = statuses.get('overrun', 0)
    return {
        'episodes': n, 'successes': wins,
        'success_rate': wins / n if n else float('nan'),
        'success_rate_wilson95': wilson_interval(wins, n),
        'steps_to_success': stats([e.steps_to_success for e in episodes if e.success]),
        'start_distance': stats([e.start_distance for e in episodes]),
        'final_distance': stats([e.final_distance for e in episodes]),
        'min_distance': stats([e.min_distance for e in episodes]),
        'reached_ever': sum(e.reached_step is not None for e in episodes),
        'collision_episodes': sum(e.collision_steps > 0 for e in episodes),
        'collision_steps': int(sum(e.collision_steps for e in episodes)),
        'contact_episodes': sum(e.contact_steps > 0 for e in episodes),
        'statuses': dict(sorted(statuses.items())),
        'overrun_fraction': overruns / (planned + overruns) if planned + overruns else None,
        'response_ms': stats([v for e in episodes for v in e.response_ms]),
        'plan_ms': stats([v for e in episodes for v in e.plan_ms]),
        'success_vs_budget': success_curve(episodes, budget),
        'success_by_start_distance': success_by_distance(episodes, distance_edges),
    }


def write_json(path: Path, report: Dict[str, Any], episodes: Sequence[EpisodeResult]) -> Path:
    """Write ``report`` plus the episodes (NaN/inf as null) to ``path``."""
    data = dict(report, episodes=[asdict(e) for e in episodes])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(data), indent=1))
    return path


def read_results(out_dir: Path, robot: Optional[str] = None) -> List[Dict[str, Any]]:
    """Every ``results_*.json`` in ``out_dir`` (of ``robot`` if given), sorted by label."""
    found = []
    for path in sorted(Path(out_dir).glob('results_*.json')):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if robot is None or data.get('robot') == robot:
            found.append(data)
    return sorted(found, key=lambda d: d.get('label', ''))
