"""Summary of the data-efficiency runs: means with seed-bootstrap intervals, the data
multiple, and the figure (issue #13 item 5; the runs come from data_efficiency.py).

The data multiple asks, per metric, at which fraction of the training data one objective
reaches what the other reaches on all of it. Between the measured fractions the mean curve is
interpolated linearly in log2(fraction); a curve already there at the smallest fraction gives
that fraction (an upper bound: smaller ones were not measured); one that never gets there
gives None ("never within the range"). The 6x claim says the JEPA objective needs 1/6 of the
pixel objective's data: ``jepa_fraction_for_pixel_full`` <= 1/6 (measurable down to 1/8).
Intervals: 2.5 and 97.5 percentiles over bootstrap resamples of the seeds of every condition.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .plots import save_figure

__all__ = ['METRICS', 'metric_value', 'matching_fraction', 'summarise', 'timing', 'plot']

#: name -> (path into a run's metrics, higher is better; None: no "better", no multiple).
METRICS: Dict[str, Tuple[Tuple[str, ...], Optional[bool]]] = {
    'block_error_h4_cm': (('object_error_h4_cm', 'block', 'predicted_cm'), False),
    'cube_error_h4_cm': (('object_error_h4_cm', 'cube', 'predicted_cm'), False),
    'block_error_h4_fit_on_predicted_cm': (
        ('object_error_h4_cm', 'block', 'predicted_fit_on_predicted_cm'), False),
    'cube_error_h4_fit_on_predicted_cm': (
        ('object_error_h4_cm', 'cube', 'predicted_fit_on_predicted_cm'), False),
    'block_consequence_h4_cm': (('object_error_h4_cm', 'block', 'consequence_cm'), False),
    'cube_consequence_h4_cm': (('object_error_h4_cm', 'cube', 'consequence_cm'), False),
    'block_consequence_h4_contact_start_cm': (
        ('object_error_h4_cm', 'block', 'consequence_contact_start_cm'), False),
    'cube_consequence_h4_contact_start_cm': (
        ('object_error_h4_cm', 'cube', 'consequence_contact_start_cm'), False),
    'grip_auc_predicted_plan': (('grip_auc', 'predicted_plan', 'auc'), True),
    'grip_auc_encoded_close': (('grip_auc', 'encoded_close', 'auc'), True),
    'block_r2_encoded': (('readout_r2_encoded_xy', 'block'), True),
    'cube_r2_encoded': (('readout_r2_encoded_xy', 'cube'), True),
    # JEPA "should ignore" the distractor, so neither direction is better.
    'distractor_r2_encoded': (('readout_r2_encoded_xy', 'distractor'), None),
}
BOOTSTRAP_SAMPLES = 2000


def metric_value(run: Dict[str, object], name: str) -> float:
    """One metric of one run (``METRICS``)."""
    value: object = run
    for key in METRICS[name][0]:
        value = value[key]   # type: ignore[index]
    return float(value)      # type: ignore[arg-type]


def matching_fraction(fractions: Sequence[float], values: Sequence[float], reference: float,
                      higher_is_better: bool) -> Optional[float]:
    """The smallest fraction at which the curve ``values`` (at ascending ``fractions``)
    reaches ``reference``, interpolated in log2(fraction); None if it never does."""
    sign = 1.0 if higher_is_better else -1.0
    gap = [sign * (v - reference) for v in values]    # >= 0: reached
    if gap[0] >= 0:
        return float(fractions[0])
    for i in range(1, len(gap)):
        if gap[i] >= 0:
            lo, hi = math.log2(fractions[i - 1]), math.log2(fractions[i])
            t = -gap[i - 1] / (gap[i] - gap[i - 1])
            return float(2 ** (lo + t * (hi - lo)))
    return None


def _by_condition(runs: Sequence[Dict[str, object]], name: str
                  ) -> Dict[Tuple[str, float], List[float]]:
    out: Dict[Tuple[str, float], List[float]] = {}
    for run in runs:
        out.setdefault((str(run['objective']), float(run['fraction'])), []).append(
            metric_value(run, name))
    return out


def _interval(values: Sequence[float]) -> List[float]:
    return [round(float(np.percentile(values, 2.5)), 4),
            round(float(np.percentile(values, 97.5)), 4)]


def _multiple(per: Dict[Tuple[str, float], List[float]], fractions: Sequence[float],
              higher: bool, mean: Callable[[Sequence[float]], float]
              ) -> Dict[str, Optional[float]]:
    """Both directions of the data multiple from the condition means ``mean``."""
    curve = {o: [mean(per[(o, f)]) for f in fractions] for o in ('jepa', 'pixel')}
    return {'pixel_fraction_for_jepa_full': matching_fraction(
                fractions, curve['pixel'], curve['jepa'][-1], higher),
            'jepa_fraction_for_pixel_full': matching_fraction(
                fractions, curve['jepa'], curve['pixel'][-1], higher)}


def summarise(runs: Sequence[Dict[str, object]], objectives: Sequence[str],
              fractions: Sequence[float], seed: int = 0) -> Dict[str, object]:
    """Per metric: per objective and fraction the seeds' values, mean and bootstrap
    interval; with both objectives at every fraction, the data multiple (module notes)."""
    fractions = sorted(float(f) for f in fractions)
    rng = np.random.default_rng(seed)
    out: Dict[str, object] = {}
    for name, (_, higher) in METRICS.items():
        per = _by_condition(runs, name)
        entry: Dict[str, object] = {'higher_is_better': higher, 'conditions': {}}
        for (objective, fraction), values in sorted(per.items()):
            boot = [np.mean(rng.choice(values, len(values))) for _ in range(BOOTSTRAP_SAMPLES)]
            entry['conditions'][f'{objective}_f{fraction:g}'] = {
                'objective': objective, 'fraction': fraction, 'seeds': len(values),
                'values': [round(v, 4) for v in values],
                'mean': round(float(np.mean(values)), 4), 'ci95_seed_bootstrap': _interval(boot)}
        complete = all((o, f) in per for o in ('jepa', 'pixel') for f in fractions)
        if higher is not None and complete and set(objectives) >= {'jepa', 'pixel'}:
            point = _multiple(per, fractions, higher, lambda v: float(np.mean(v)))
            samples = [_multiple({k: list(rng.choice(v, len(v))) for k, v in per.items()},
                                 fractions, higher, lambda v: float(np.mean(v)))
                       for _ in range(BOOTSTRAP_SAMPLES)]
            multiple: Dict[str, object] = {}
            for key, value in point.items():
                found = [s[key] for s in samples if s[key] is not None]
                multiple[key] = {
                    'fraction': None if value is None else round(value, 4),
                    'data_multiple': None if value is None else round(1 / value, 2),
                    'ci95_fraction_seed_bootstrap': _interval(found) if found else None,
                    'bootstrap_share_never': round(1 - len(found) / len(samples), 3)}
            entry['data_multiple'] = multiple
        out[name] = entry
    return out


def timing(runs: Sequence[Dict[str, object]]) -> Dict[str, object]:
    """Wall seconds per training step, per objective (mean, min, max over its runs), and
    the pixel objective's mean over the JEPA's: how equal the compute per step was."""
    out: Dict[str, object] = {}
    for objective in sorted({str(r['objective']) for r in runs}):
        steps = [float(r['s_per_step']) for r in runs if r['objective'] == objective]
        out[objective] = {'s_per_step_mean': round(float(np.mean(steps)), 4),
                          'min': round(min(steps), 4), 'max': round(max(steps), 4),
                          'runs': len(steps)}
    if {'jepa', 'pixel'} <= set(out):
        out['pixel_over_jepa'] = round(out['pixel']['s_per_step_mean']
                                       / out['jepa']['s_per_step_mean'], 3)
    return out


def plot(report: Dict[str, object], path: Path) -> Path:
    """One panel per metric: mean over seeds (markers: each seed) against the fraction."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = [('block_consequence_h4_contact_start_cm',
               'block [cm], consequence h=4\n(contact start)'),
              ('cube_consequence_h4_contact_start_cm',
               'cube [cm], consequence h=4\n(contact start)'),
              ('grip_auc_predicted_plan', 'grip-hold AUC\n(predicted latent, nominal plan)'),
              ('block_error_h4_fit_on_predicted_cm',
               'block [cm], predicted h=4\n(read-out fit on predicted)'),
              ('cube_error_h4_fit_on_predicted_cm',
               'cube [cm], predicted h=4\n(read-out fit on predicted)'),
              ('distractor_r2_encoded', 'distractor x, y read-out R²\n(encoded latent)')]
    fig, grid = plt.subplots(2, 3, figsize=(10, 6.4), dpi=100)
    summary = report['summary']
    axes = grid.ravel()
    for ax, (name, title) in zip(axes, panels):
        for objective, colour in (('jepa', 'tab:blue'), ('pixel', 'tab:orange')):
            conds = [c for c in summary[name]['conditions'].values()
                     if c['objective'] == objective]
            conds.sort(key=lambda c: c['fraction'])
            if not conds:
                continue
            f = [c['fraction'] for c in conds]
            ax.plot(f, [c['mean'] for c in conds], 'o-', color=colour, label=objective)
            low = [c['ci95_seed_bootstrap'][0] for c in conds]
            high = [c['ci95_seed_bootstrap'][1] for c in conds]
            ax.fill_between(f, low, high, color=colour, alpha=0.2)
            for c in conds:
                ax.plot([c['fraction']] * len(c['values']), c['values'], '.', color=colour,
                        markersize=3)
        obj = name.split('_')[0]
        if 'consequence' in name and report.get('runs'):
            # The same frames' no-change error (true start position; identical in every run).
            no_change = report['runs'][0]['object_error_h4_cm'][obj].get(
                'no_change_contact_start_cm')
            if no_change is not None:
                ax.axhline(no_change, color='k', linestyle='--', linewidth=1,
                           label='no-change')
        ax.set_xscale('log', base=2)
        ticks = sorted(report['fractions'])
        ax.set_xticks(ticks)
        ax.set_xticklabels([f'{100 * f:g} %' for f in ticks], fontsize=7)
        ax.set_xlabel('fraction of the training episodes', fontsize=8)
        ax.set_title(title, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return save_figure(fig, path)
