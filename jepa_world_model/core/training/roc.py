"""ROC AUC of a binary classifier's scores, and its bootstrap interval over clusters.

The AUC is the probability that a random positive scores above a random negative (ties count
half): the Mann-Whitney U statistic divided by n_pos * n_neg. Samples from one recording
episode share its hidden physics (a tabletop episode has one cube), so the interval resamples
whole clusters (episodes), not single samples, which would understate the spread.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ['roc_auc', 'bootstrap_auc_interval']


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """AUC of ``scores`` [N] for binary ``labels`` [N] (higher score = more positive).

    Raises:
        ValueError: shapes differ, a score is not finite, or one class is absent.
    """
    s = np.asarray(scores, dtype=float).reshape(-1)
    y = np.asarray(labels, dtype=bool).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f'{s.size} scores for {y.size} labels')
    if not np.all(np.isfinite(s)):
        raise ValueError('scores must be finite')
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f'AUC needs both classes (got {n_pos} positive, {n_neg} negative)')
    # Average ranks (1-based) handle ties: a tie between a positive and a negative counts 1/2.
    order = np.argsort(s, kind='mergesort')
    ranks = np.empty(s.size, dtype=float)
    sorted_s = s[order]
    start = 0
    while start < s.size:
        end = start
        while end + 1 < s.size and sorted_s[end + 1] == sorted_s[start]:
            end += 1
        ranks[order[start:end + 1]] = 0.5 * (start + end) + 1.0
        start = end + 1
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def bootstrap_auc_interval(scores: Sequence[float], labels: Sequence[bool],
                           clusters: Optional[Sequence[int]] = None, samples: int = 2000,
                           level: float = 0.95, seed: int = 0) -> Tuple[float, float]:
    """Percentile bootstrap interval of :func:`roc_auc`, resampling ``clusters`` [N] (ids;
    None: every sample its own) with replacement. Resamples with one class only are skipped
    (and counted out of ``samples``). -> (low, high)."""
    s = np.asarray(scores, dtype=float).reshape(-1)
    y = np.asarray(labels, dtype=bool).reshape(-1)
    ids = np.arange(s.size) if clusters is None else np.asarray(clusters).reshape(-1)
    if ids.shape != s.shape:
        raise ValueError(f'{ids.size} cluster ids for {s.size} scores')
    groups = [np.flatnonzero(ids == c) for c in np.unique(ids)]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        pick = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
        if y[pick].all() or not y[pick].any():
            continue
        values.append(roc_auc(s[pick], y[pick]))
    if not values:
        raise ValueError('no bootstrap resample had both classes')
    tail = 50.0 * (1.0 - level)
    return float(np.percentile(values, tail)), float(np.percentile(values, 100.0 - tail))
