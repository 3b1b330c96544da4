"""Time alignment of recorded streams: split at gaps, resample to a rate, nearest sample.

Stamps are int64 nanoseconds, sorted. Pure numpy; the bag reader pairs frames, joint states,
commands and labels with these.
"""

from typing import List

import numpy as np

__all__ = ['split_at_gaps', 'resample_to_rate', 'nearest_index']


def split_at_gaps(t: np.ndarray, max_gap_ns: int) -> List[np.ndarray]:
    """Positions into ``t`` (sorted) as runs without a gap larger than ``max_gap_ns``."""
    cuts = np.flatnonzero(np.diff(t) > max_gap_ns) + 1
    return np.split(np.arange(len(t)), cuts)


def resample_to_rate(t: np.ndarray, rate: float) -> np.ndarray:
    """Positions of the frames nearest a ``rate`` Hz grid (each used once, within half a
    period of its grid time); all positions when ``rate`` is 0."""
    if rate <= 0 or len(t) == 0:
        return np.arange(len(t))
    period = 1e9 / rate
    rel = t - t[0]          # small ints: float64 holds them exactly, epoch ns it would not
    grid = np.arange(int(rel[-1] // period) + 1) * period
    pick = nearest_index(rel, grid)
    ok = np.abs(rel[pick] - grid) <= period / 2
    return np.unique(pick[ok])


def nearest_index(t: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of the element of sorted ``t`` nearest each query (ties: the earlier one)."""
    hi = np.clip(np.searchsorted(t, query), 0, len(t) - 1)
    lo = np.clip(hi - 1, 0, len(t) - 1)
    return np.where(np.abs(t[hi] - query) < np.abs(t[lo] - query), hi, lo)
