"""Figures of an ``evaluate`` report (``jepa-world-model evaluate --plots DIR``).

* ``prediction_error.png``: prediction error against the horizon, one panel per measure the
  report has (latent L1; joint error through the probe; base position error), the model's
  rollout next to the "nothing changes" (copy) and constant-velocity baselines.
* ``surprise_<flag>.png``: histograms of the surprise at the frames where ``flag`` (collision,
  contact) turns on and in free motion (no flag within 2 frames), on shared bins.
* ``plots.json``: the numbers every figure is drawn from (series per horizon, bin edges and
  counts), so a figure can be checked or redrawn without the model.

matplotlib with the Agg backend (no display); no ROS, no model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..core.atomic_files import atomic_write_text

__all__ = ['MEASURES', 'prediction_series', 'surprise_histogram', 'write_plots']

#: Measures of a prediction report: (key suffix, axis label).
MEASURES = (('latent_l1', 'latent L1 error'),
            ('joint_abs_error', 'joint error (probe; rad or m)'),
            ('position_error', 'base position error (m)'))
#: Predictors and the report keys they may have (``evaluate --bag`` writes ``copy_*``, the
#: generated-scene report ``copy_baseline_*``).
_PREDICTORS = (('model', ('model_',)), ('copy', ('copy_', 'copy_baseline_')),
               ('constant velocity', ('const_vel_', 'const_vel_baseline_')))
_HISTOGRAM_BINS = 30


def prediction_series(prediction: Mapping[str, Any]) -> Dict[str, Dict[str, List[float]]]:
    """``{measure: {predictor: [error per horizon]}}`` of the measures the report has.

    Args:
        prediction: A report's ``prediction`` (``horizons`` and ``<predictor>_<measure>``).

    Raises:
        ValueError: No ``horizons``, or a series whose length is not the horizons'.
    """
    horizons = prediction.get('horizons')
    if not horizons:
        raise ValueError('the prediction report has no horizons')
    out: Dict[str, Dict[str, List[float]]] = {}
    for measure, _ in MEASURES:
        series = {}
        for name, prefixes in _PREDICTORS:
            key = next((p + measure for p in prefixes if p + measure in prediction), None)
            if key is None:
                continue
            values = [float(v) for v in prediction[key]]
            if len(values) != len(horizons):
                raise ValueError(f'{key} has {len(values)} values for {len(horizons)} '
                                 'horizons')
            series[name] = values
        if 'model' in series:
            out[measure] = series
    return out


def surprise_histogram(onset: np.ndarray, free: np.ndarray,
                       bins: int = _HISTOGRAM_BINS) -> Dict[str, Any]:
    """Counts of ``onset`` [E] and ``free`` [F] surprise values on shared bins.

    The bins span both sets, from 0 to their largest finite value (NaN and inf are left
    out and counted under ``dropped``).
    """
    on = np.asarray(onset, dtype=np.float64)
    off = np.asarray(free, dtype=np.float64)
    finite_on, finite_off = on[np.isfinite(on)], off[np.isfinite(off)]
    top = max([1e-9, *finite_on, *finite_off])
    edges = np.linspace(0.0, top, bins + 1)
    return {'bin_edges': edges.tolist(),
            'onset_counts': np.histogram(finite_on, edges)[0].tolist(),
            'free_counts': np.histogram(finite_off, edges)[0].tolist(),
            'dropped': int(on.size - finite_on.size + off.size - finite_off.size)}


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _prediction_figure(plt: Any, horizons: List[int],
                       series: Dict[str, Dict[str, List[float]]], path: Path) -> None:
    labels = dict(MEASURES)
    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.6), dpi=100,
                             squeeze=False)
    for ax, (measure, lines) in zip(axes[0], series.items()):
        for name, values in lines.items():
            ax.plot(horizons, values, marker='o', label=name,
                    linestyle='-' if name == 'model' else '--')
        ax.set_xlabel('horizon (model steps)')
        ax.set_ylabel(labels[measure])
        ax.set_xticks(horizons)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle('prediction error: model vs baselines', fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _surprise_figure(plt: Any, flag: str, histogram: Dict[str, Any], path: Path) -> None:
    edges = np.asarray(histogram['bin_edges'])
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for key, label in (('free_counts', 'free motion'), ('onset_counts', f'{flag} onset')):
        counts = np.asarray(histogram[key], dtype=np.float64)
        # Densities: a few hundred free frames against a handful of events.
        density = counts / max(counts.sum(), 1.0)
        ax.stairs(density, edges, label=f'{label} (n = {int(counts.sum())})', fill=True,
                  alpha=0.5)
    ax.set_xlabel('surprise (one-step error / median)')
    ax.set_ylabel('fraction of frames')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_plots(report: Mapping[str, Any],
                samples: Optional[Mapping[str, Tuple[np.ndarray, np.ndarray]]],
                out_dir: Path) -> Dict[str, Any]:
    """Write the figures of ``report`` and ``plots.json`` into ``out_dir`` (created).

    Args:
        report: An ``evaluate`` report (its ``prediction``; ``surprise`` summaries).
        samples: ``{flag: (onset [E], free [F])}`` surprise values
            (:func:`~.evaluate.evaluate_on_bags`'s ``samples``), or None.
        out_dir: Directory of the figures.

    Returns:
        What ``plots.json`` holds: ``files`` (names written), ``prediction``
        (``horizons`` and :func:`prediction_series`), ``surprise`` (flag -> histogram).

    Raises:
        ValueError: The report has no usable prediction series.
        OSError: ``out_dir`` cannot be written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prediction = report.get('prediction') or {}
    series = prediction_series(prediction)
    if not series:
        raise ValueError('the prediction report has no model error series to plot')
    plt = _pyplot()
    horizons = [int(h) for h in prediction['horizons']]
    files = ['prediction_error.png']
    _prediction_figure(plt, horizons, series, out_dir / files[0])
    histograms = {}
    for flag, (onset, free) in sorted((samples or {}).items()):
        if len(onset) == 0 or len(free) == 0:
            continue   # nothing to compare
        histograms[flag] = surprise_histogram(onset, free)
        files.append(f'surprise_{flag}.png')
        _surprise_figure(plt, flag, histograms[flag], out_dir / files[-1])
    numbers = {'files': files + ['plots.json'],
               'prediction': {'horizons': horizons, **series},
               'surprise': histograms}
    atomic_write_text(out_dir / 'plots.json', json.dumps(numbers, indent=2) + '\n')
    return numbers
