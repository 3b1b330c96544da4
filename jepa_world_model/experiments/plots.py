"""Figures of the closed-loop experiment, drawn from the per-condition JSON files.

* ``success_vs_budget.png``: success rate against the step budget, one line per condition.
* ``planning_time.png``: distribution of the per-step planning time of each condition that
  has one (planner_node: ``/clock`` tick to command as received by the supervisor; pixel
  planner: its own compute time).
* ``distance_over_time.png``: median (and quartiles) of the distance to the goal by step.

matplotlib with the Agg backend; no ROS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

__all__ = ['plot_all', 'new_figure', 'finish_figure']


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def new_figure():
    """``(fig, ax)``: one 640x400 px axes, the size of every experiment figure."""
    return _pyplot().subplots(figsize=(6.4, 4.0), dpi=100)


def save_figure(fig: Any, path: Path) -> Path:
    """Tight layout; write ``path`` (creating its folder), close the figure, return the path."""
    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    _pyplot().close(fig)
    return path


def finish_figure(fig: Any, ax: Any, path: Path, legend_loc: str = 'best') -> Path:
    """Grid, small legend; :func:`save_figure`."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc=legend_loc)
    return save_figure(fig, path)


def _seconds_axis(ax, dt: float) -> None:
    top = ax.secondary_xaxis('top', functions=(lambda s: s * dt, lambda t: t / dt))
    top.set_xlabel('simulated seconds')


def plot_success_vs_budget(results: Sequence[Dict[str, Any]], path: Path) -> Path:
    """Success rate against the step budget; ``results`` as read by ``read_results``."""
    fig, ax = new_figure()
    for data in results:
        curve = data['summary']['success_vs_budget']
        steps = np.arange(1, len(curve) + 1)
        ax.step(steps, np.asarray(curve, dtype=float) * 100, where='post',
                label=f'{data["label"]} (n={data["summary"]["episodes"]})')
    dt = results[0]['settings']['control_period_s'] if results else 0.1
    ax.set_xlabel('step budget (control steps)')
    ax.set_ylabel('success rate [%]')
    ax.set_ylim(-2, 102)
    ax.axhline(90, color='grey', lw=0.8, ls=':')
    _seconds_axis(ax, dt)
    return finish_figure(fig, ax, path, legend_loc='upper left')


def _timings(data: Dict[str, Any]) -> List[float]:
    values = [v for e in data['episodes'] for v in (e['plan_ms'] or e['response_ms'])]
    return [v for v in values if v is not None]


def plot_planning_time(results: Sequence[Dict[str, Any]], path: Path) -> Path:
    """Histograms (log x) of the per-step planning time of each condition with timings."""
    fig, ax = new_figure()
    timed = [(d['label'], np.asarray(_timings(d))) for d in results]
    timed = [(label, t[t > 0]) for label, t in timed if len(t)]
    if timed:
        # The range of the bulk: a stop command right after a tick is not a plan.
        low = max(1.0, min(np.percentile(t, 0.5) for _, t in timed))
        high = max(t.max() for _, t in timed)
        bins = np.geomspace(low, high * 1.01, 40)
        for label, t in timed:
            ax.hist(t, bins=bins, histtype='step', lw=1.4, density=False,
                    label=f'{label}: p50 {np.median(t):.0f} ms, p99 '
                          f'{np.percentile(t, 99):.0f} ms')
        ax.set_xscale('log')
    ax.axvline(100, color='grey', lw=0.8, ls=':')
    ax.set_xlabel('per-step planning time [ms] (dotted: the 100 ms control period)')
    ax.set_title('planner_node: /clock tick to its command, as received; pixel: compute',
                 fontsize=8)
    ax.set_ylabel('plans')
    return finish_figure(fig, ax, path)


def plot_distance_over_time(results: Sequence[Dict[str, Any]], path: Path) -> Path:
    """Median and inter-quartile band of the distance to the goal by step (a finished
    episode keeps its last distance)."""
    fig, ax = new_figure()
    tolerance = None
    for data in results:
        traces = [e['distance_trace'] for e in data['episodes'] if e['distance_trace']]
        if not traces:
            continue
        length = max(len(t) for t in traces)
        padded = np.array([t + [t[-1]] * (length - len(t)) for t in traces], dtype=float)
        q25, q50, q75 = np.nanpercentile(padded, [25, 50, 75], axis=0)
        steps = np.arange(1, length + 1)
        line, = ax.plot(steps, q50, label=data['label'])
        ax.fill_between(steps, q25, q75, color=line.get_color(), alpha=0.12)
        tolerance = data['settings']['success_tolerance_m']
    if tolerance is not None:
        ax.axhline(tolerance, color='grey', lw=0.8, ls=':')
    ax.set_xlabel('control step (dotted: success tolerance)')
    ax.set_ylabel('distance to goal [m]')
    ax.set_ylim(bottom=0)
    return finish_figure(fig, ax, path)


def plot_all(results: Sequence[Dict[str, Any]], out_dir: Path, prefix: str = ''
             ) -> Dict[str, str]:
    """All three figures into ``out_dir``; {name: path}."""
    out_dir = Path(out_dir)
    if not results:
        return {}
    return {
        'success_vs_budget': str(plot_success_vs_budget(
            results, out_dir / f'{prefix}success_vs_budget.png')),
        'planning_time': str(plot_planning_time(results, out_dir / f'{prefix}planning_time.png')),
        'distance_over_time': str(plot_distance_over_time(
            results, out_dir / f'{prefix}distance_over_time.png')),
    }
