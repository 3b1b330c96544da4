"""Surprise: robust running normalisation of latent prediction errors.

Each latent dimension's error is divided by
its median over the last ``window`` frames, the per-dimension ratios are averaged, and the
result is divided by its own running median, so 1.0 means "as predictable as usual" and a
threshold of 3-5 flags collisions, slips, pushes and failed grasps. Medians ignore up to half
the window being anomalous, so a short event does not raise the baseline; an anomaly that
lasts longer than half the window becomes the new normal, which is intended (the scene has
changed). The per-dimension step keeps inherently unpredictable dimensions (an object that
moves on its own) from drowning the robot's. ``surprise_raw`` stays the plain L1 error, and a
fixed scale (e.g. the median L1 error on validation data) can replace the running statistics.
"""

from collections import deque
from typing import Deque, Optional

import numpy as np

__all__ = ['SurpriseNormalizer']


class SurpriseNormalizer:
    """Running robust normalisation of per-dimension prediction errors.

    ``update(err)`` takes the absolute error per latent dimension ``|z_pred - z_obs|`` [Z] and
    returns ``mean_d(err_d / s_d) / c``, where ``s_d`` is the median error of dimension ``d``
    over the last ``window`` frames and ``c`` the median of that same score over the window,
    so a typical frame scores 1.0. Dividing per dimension first matters: some latent
    dimensions are always hard to predict (an object moving on its own, sensor noise) and
    would otherwise drown the dimensions that track the robot, which are normally predicted
    well and jump when something unexpected happens to it. ``s_d`` is floored at 1 % of the
    median ``s_d``, so no dimension weighs more than a hundred typical ones.

    Each frame is scored against the statistics *before* it joins the window, so an anomaly
    never dampens itself. The statistics are refreshed every ``refresh`` frames (cheap).

    Args:
        window: Number of recent frames the statistics cover.
        min_samples: Frames needed before values are reported (calibration).
        fixed_scale: If > 0, no running statistics: ``mean_d(err_d) / fixed_scale``, i.e. the
            plain L1 error in units of e.g. the median validation error.
        refresh: Frames between statistics updates.
    """

    def __init__(self, window: int = 300, min_samples: int = 30, fixed_scale: float = 0.0,
                 refresh: int = 10) -> None:
        if window < 1 or min_samples < 1 or refresh < 1:
            raise ValueError('window, min_samples and refresh must be >= 1')
        if fixed_scale < 0:
            raise ValueError('fixed_scale must be >= 0')
        self.min_samples = min(int(min_samples), int(window))
        self.fixed_scale = float(fixed_scale)
        self.refresh = int(refresh)
        self._errors: Deque[np.ndarray] = deque(maxlen=int(window))
        self._dim_scale: Optional[np.ndarray] = None
        self._score_scale = float('nan')
        self._since_refresh = 0

    @property
    def calibrated(self) -> bool:
        """True once normalised values are reported."""
        return self.fixed_scale > 0 or len(self._errors) >= self.min_samples

    @property
    def scale(self) -> float:
        """Current overall divisor ``c`` (``fixed_scale`` if set; NaN while calibrating)."""
        if self.fixed_scale > 0:
            return self.fixed_scale
        return self._score_scale if self._dim_scale is not None else float('nan')

    def _refresh(self) -> None:
        errors = np.stack(self._errors)                               # [W, Z]
        dim = np.median(errors, axis=0)
        floor = max(0.01 * float(np.median(dim)), 1e-9)
        self._dim_scale = np.maximum(dim, floor)
        self._score_scale = max(float(np.median((errors / self._dim_scale).mean(axis=1))),
                                1e-9)
        self._since_refresh = 0

    def update(self, err: np.ndarray) -> Optional[float]:
        """Score one frame's error vector [Z], then add it to the window.

        Returns:
            The normalised surprise, or None while calibrating.
        """
        err = np.abs(np.asarray(err, dtype=np.float64).reshape(-1))
        if self.fixed_scale > 0:
            out: Optional[float] = float(err.mean()) / self.fixed_scale
        elif len(self._errors) >= self.min_samples:
            if self._dim_scale is None or self._since_refresh >= self.refresh \
                    or self._dim_scale.shape != err.shape:
                self._refresh()
            out = float((err / self._dim_scale).mean()) / self._score_scale
        else:
            out = None
        self._errors.append(err)
        self._since_refresh += 1
        return out

    def reconfigure(self, window: int, min_samples: int, fixed_scale: float) -> None:
        """Change the settings, keeping the most recent ``window`` frames.

        Raises:
            ValueError: Invalid settings (nothing is changed then).
        """
        if window < 1 or min_samples < 1 or fixed_scale < 0:
            raise ValueError('need window >= 1, min_samples >= 1 and fixed_scale >= 0')
        self._errors = deque(self._errors, maxlen=int(window))
        self.min_samples = min(int(min_samples), int(window))
        self.fixed_scale = float(fixed_scale)
        self._dim_scale = None

    def reset(self) -> None:
        """Forget the window (calibration starts again)."""
        self._errors.clear()
        self._dim_scale = None
        self._score_scale = float('nan')
