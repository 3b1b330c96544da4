"""Displacement errors of agent predictions, with intervals over episodes (pure numpy).

ADE at ``T`` s: the mean over samples of the displacement error averaged over the horizon
times up to ``T`` (0.5 and 1.0 s for 1 s; 0.5, 1.0, 1.5 and 2.0 s for 2 s); FDE at ``T``:
the error at ``T``. Samples of one episode are strongly correlated (10 per second per
person), so intervals come from a bootstrap over episodes (:func:`episode_bootstrap`), and
differences between methods are paired (same resampled episodes for both).
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from .results import wilson_interval

__all__ = ['errors', 'episode_bootstrap', 'error_table', 'coverage_table', 'BOOTSTRAP']

BOOTSTRAP = 2000


def errors(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``[N, H]`` Euclidean error of ``predicted`` against ``truth`` (both ``[N, H, 2]``)."""
    return np.linalg.norm(np.asarray(predicted) - np.asarray(truth), axis=-1)


def episode_bootstrap(values: np.ndarray, episode: np.ndarray, seed: int = 0,
                      resamples: int = BOOTSTRAP) -> List[float]:
    """95 % percentile interval of the mean of ``values [N]`` when whole episodes are
    resampled with replacement (``episode [N]``: each sample's episode)."""
    ids, inverse = np.unique(episode, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(ids))
    counts = np.bincount(inverse, minlength=len(ids)).astype(float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(ids), size=(resamples, len(ids)))
    means = sums[picks].sum(1) / np.maximum(counts[picks].sum(1), 1.0)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def _metric(err: np.ndarray, horizons: Sequence[float], upto: float, final: bool
            ) -> np.ndarray:
    """Per-sample ADE (mean up to ``upto``) or FDE (at ``upto``) from ``err [N, H]``."""
    h = np.asarray(horizons)
    if final:
        return err[:, int(np.argmin(np.abs(h - upto)))]
    return err[:, h <= upto + 1e-9].mean(1)


def error_table(errs: Dict[str, np.ndarray], episode: np.ndarray, horizons: Sequence[float],
                reference: str) -> Dict[str, Dict[str, object]]:
    """ADE/FDE at 1 and 2 s of each method (``errs``: name -> ``[N, H]``): mean, 95 %
    episode-bootstrap interval, and the paired difference to ``reference`` with its
    interval (negative: better than the reference)."""
    table: Dict[str, Dict[str, object]] = {}
    for name, err in errs.items():
        row: Dict[str, object] = {}
        for label, upto, final in (('ade_1s', 1.0, False), ('fde_1s', 1.0, True),
                                   ('ade_2s', 2.0, False), ('fde_2s', 2.0, True)):
            value = _metric(err, horizons, upto, final)
            row[label] = round(float(value.mean()), 4)
            row[label + '_ci95'] = [round(v, 4) for v in episode_bootstrap(value, episode)]
            if name != reference:
                diff = value - _metric(errs[reference], horizons, upto, final)
                row[label + '_minus_' + reference] = round(float(diff.mean()), 4)
                row[label + '_minus_' + reference + '_ci95'] = [
                    round(v, 4) for v in episode_bootstrap(diff, episode)]
        table[name] = row
    return table


def coverage_table(err: np.ndarray, radius: np.ndarray, episode: np.ndarray,
                   horizons: Sequence[float], coverage: float) -> Dict[str, object]:
    """Share of true positions inside the stated ``coverage`` circle (``radius [N, H]``) at
    each horizon: count, Wilson interval (as if samples were independent) and the
    episode-bootstrap interval (honest for correlated samples), and the mean radius."""
    out: Dict[str, object] = {'stated': coverage}
    for j, h in enumerate(horizons):
        inside = err[:, j] <= radius[:, j]
        out[f'{h:g}s'] = {
            'inside': int(inside.sum()), 'samples': int(len(inside)),
            'coverage': round(float(inside.mean()), 4),
            'wilson_ci95': [round(v, 4) for v in wilson_interval(int(inside.sum()),
                                                                 len(inside))],
            'episode_bootstrap_ci95': [round(v, 4) for v in
                                       episode_bootstrap(inside.astype(float), episode)],
            'mean_radius_m': round(float(radius[:, j].mean()), 4)}
    return out
