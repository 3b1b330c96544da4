"""Quality per unit of compute: success rate against the planner's samples per iteration,
gathered from ``jepa-world-model offline-reach`` reports (docs/planner_quality.md).

Each report (one run, or ``{"points": [...]}`` from ``--num-samples 64 128 ...``) is one
point, or a batch of seeds of one: a condition (its command line without
``--num-samples``, ``--first-seed`` and ``--episodes``) at one sample count.
:func:`collect_reports` groups the points by condition, sorts them by samples and marks the
*knee* of each curve (:func:`knee`); :func:`plot_quality_vs_samples` draws the table.
No ROS here; matplotlib only when plotting.
"""

from __future__ import annotations

from datetime import datetime, timezone
import json
from pathlib import Path
import re
from typing import Any, Dict, Iterable, List, Sequence

from .conditions import ExperimentError
from .offline_reach.summary import summarise_episodes
from .plots import save_figure

__all__ = ['SHIPPED_SAMPLES', 'TIMING_NOTE', 'read_points', 'knee',
           'collect_reports', 'plot_quality_vs_samples']

#: What the shipped configurations plan with: config/ros/planner.yaml (the arm) and
#: plan-eval's base conditions (experiments/conditions.py; no base YAML ships).
SHIPPED_SAMPLES = {'arm': 64, 'mobile_base': 64}
#: Why success and plan time are read differently.
TIMING_NOTE = ('success does not depend on the CPU: there is no plan deadline and the '
               'simulator waits for each plan; mean_plan_ms is wall time measured on the '
               'machine that ran the reports, with one torch thread')
#: What a condition's command may differ in between its points and their seed batches.
_POINT_FLAGS = re.compile(r' --(num-samples|first-seed|episodes) \d+')
_LABELS = {'joint_goal': 'arm, joint goals', 'joint_units': 'arm, image goals',
           'latent_l1': 'arm, image goals (pooled latent L1)'}


def read_points(paths: Iterable[Path]) -> List[Dict[str, Any]]:
    """Every run report in the JSON files ``paths`` (a ``points`` list is unpacked).

    Raises:
        ExperimentError: a file that cannot be read, is not JSON, or holds a report without
            what a point needs (written by an older offline-reach).
    """
    reports: List[Dict[str, Any]] = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding='utf-8'))
        except (OSError, ValueError) as exc:
            raise ExperimentError(f'{path}: cannot read the report ({exc})') from exc
        for report in data.get('points', [data]) if isinstance(data, dict) else [None]:
            needed = ('command', 'robot', 'date', 'num_samples', 'num_elites', 'per_episode')
            missing = ([k for k in needed if k not in report] if isinstance(report, dict)
                       else ['a report'])
            if missing:
                raise ExperimentError(f'{path}: not an offline-reach report (no '
                                      f'{", ".join(missing)})')
            reports.append(report)
    return reports


def knee(points: Sequence[Dict[str, Any]]) -> int:
    """The fewest ``num_samples`` among ``points`` that do as well as the best point within
    the noise of their episodes: whose ``wilson95`` interval reaches the best
    ``success_rate``. More samples than that buy no success these episodes can show.

    Raises:
        ValueError: no points.
    """
    if not points:
        raise ValueError('no points to find a knee in')
    best = max(p['success_rate'] for p in points)
    return min(p['num_samples'] for p in points if p['wilson95'][1] >= best)


def _label(report: Dict[str, Any]) -> str:
    if report['robot'] == 'arm':
        return _LABELS.get(report.get('objective'), f'arm, {report.get("objective")}')
    return f'base, pose goals (risk term: {report.get("risk")})'


def _add_batch(point: Dict[str, Any], report: Dict[str, Any], condition: str) -> None:
    """Add one report's episodes to the point of its sample count.

    Raises:
        ExperimentError: a seed that point already has.
    """
    seeds = {e['seed'] for e in point['per_episode']}
    again = sorted(seeds & {e['seed'] for e in report['per_episode']})
    if again:
        raise ExperimentError(f'"{condition}" at {report["num_samples"]} samples: seeds '
                              f'{again} are in two reports')
    point['commands'].append(report['command'])
    point['dates'].append(report['date'])
    point['per_episode'].extend(report['per_episode'])


def _finish(point: Dict[str, Any]) -> Dict[str, Any]:
    """The point's figures over all its batches' episodes (by seed)."""
    episodes = sorted(point.pop('per_episode'), key=lambda e: e['seed'])
    point['seeds'] = [e['seed'] for e in episodes]
    point['failed_seeds'] = [e['seed'] for e in episodes if not e['success']]
    point.update(summarise_episodes(episodes))
    if 'first_collision_step' in episodes[0]:
        point['collision_episodes'] = sum(e['first_collision_step'] is not None
                                          for e in episodes)
    return point


def collect_reports(paths: Sequence[Path], note: str = TIMING_NOTE) -> Dict[str, Any]:
    """The quality-per-compute table of the reports in ``paths``: per condition (first
    seen first), its points by samples, its knee and the shipped sample count. Reports of
    one condition and sample count with other seeds (``--first-seed``) are one point.

    Raises:
        ExperimentError: as :func:`read_points`, or one seed in two reports of a point.
    """
    conditions: Dict[str, Dict[str, Any]] = {}
    for report in read_points(paths):
        command = _POINT_FLAGS.sub('', report['command'])
        entry = conditions.setdefault(command, {
            'label': _label(report), 'robot': report['robot'], 'command': command,
            'model': report.get('model'),
            'shipped_num_samples': SHIPPED_SAMPLES.get(report['robot']), 'points': {}})
        point = entry['points'].setdefault(report['num_samples'], {
            'num_samples': report['num_samples'], 'num_elites': report['num_elites'],
            'commands': [], 'dates': [], 'per_episode': []})
        _add_batch(point, report, command)
    for entry in conditions.values():
        entry['points'] = [_finish(entry['points'][n]) for n in sorted(entry['points'])]
        entry['knee_num_samples'] = knee(entry['points'])
    return {'what': 'success rate against CEM samples per iteration, offline-reach '
                    '(planner_node\'s PlanningController in process, no ROS, no plan '
                    'deadline)',
            'collected': datetime.now(timezone.utc).isoformat(timespec='seconds'),
            'knee_rule': 'the fewest samples whose Wilson 95 % interval reaches the best '
                         'success rate of its curve (no more success the episodes can show)',
            'note': note, 'conditions': list(conditions.values())}


def _episodes_label(points: Sequence[Dict[str, Any]]) -> str:
    counts = sorted({p['episodes'] for p in points})
    return f'n={counts[0]}' if len(counts) == 1 else f'n={counts[0]}-{counts[-1]}'


def plot_quality_vs_samples(summary: Dict[str, Any], path: Path) -> Path:
    """Two panels against samples (log axis): success rate with its Wilson 95 % interval,
    and the mean measured plan time; one line per condition, the knee circled."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator
    fig, (quality, cost) = plt.subplots(1, 2, figsize=(9.6, 4.0), dpi=100)
    samples, lowest = set(), 100.0
    for entry in summary['conditions']:
        points = entry['points']
        n = [p['num_samples'] for p in points]
        samples.update(n)
        rate = [100 * p['success_rate'] for p in points]
        low = [r - 100 * p['wilson95'][0] for r, p in zip(rate, points)]
        high = [100 * p['wilson95'][1] - r for r, p in zip(rate, points)]
        lowest = min(lowest, min(r - d for r, d in zip(rate, low)))
        line = quality.errorbar(n, rate, yerr=[low, high], marker='o', capsize=3,
                                label=f'{entry["label"]} ({_episodes_label(points)})')
        color = line[0].get_color()
        at_knee = [p for p in points if p['num_samples'] == entry['knee_num_samples']][0]
        quality.plot([at_knee['num_samples']], [100 * at_knee['success_rate']], 'o',
                     ms=13, mfc='none', color=color)
        cost.plot(n, [p['mean_plan_ms'] for p in points], marker='o', color=color,
                  label=entry['label'])
    quality.set_ylabel('success rate [%] (Wilson 95 %; ring: knee)')
    # Zoomed to the intervals (at most to 50 %) so that differences of an episode show.
    quality.set_ylim(min(50.0, 10 * (lowest // 10)) - 2, 102)
    cost.set_ylabel('mean plan time [ms], as measured')
    cost.set_ylim(bottom=0)
    ticks = sorted(samples)
    for ax in (quality, cost):
        ax.set_xscale('log', base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel('CEM samples per iteration')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc='best')
    return save_figure(fig, path)
