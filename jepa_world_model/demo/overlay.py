"""What both robots' demo animations draw with: OpenCV into numpy arrays (no rclpy, no GUI).

Each frame has two panels: the camera image, upscaled, with paths drawn on it
(:func:`camera_panel`), and time traces around "now" (:func:`side_panel`: stacked
:func:`trace_panel` rows, the last one ``~/surprise`` (:func:`surprise_row`) with
collisions shaded red, and a one-line legend). What each robot draws into them is in
``arm/overlay.py`` and ``base/overlay.py``.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from .analysis import flags_at, interpolate_at, Recording

__all__ = ['COLORS', 'LEGEND_H', 'pixel_points', 'put_text', 'camera_panel', 'trace_panel',
           'flag_spans', 'Clip', 'clip_of', 'matched_index', 'measured_series',
           'surprise_row', 'side_panel']

COLORS = {'pred': (0, 230, 255), 'actual': (255, 255, 255), 'future': (130, 130, 130),
          'cv': (250, 210, 40), 'collision': (255, 50, 50), 'text': (235, 235, 235),
          'grid': (70, 70, 70), 'bg': (25, 25, 30), 'surprise': (255, 140, 60)}
_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Height [px] of the legend line under the traces.
LEGEND_H = 18


def pixel_points(px: np.ndarray) -> np.ndarray:
    """Finite rows of [N, 2] float pixels as int32 for cv2 (fixed-point free)."""
    px = np.asarray(px, float).reshape(-1, 2)
    return np.round(px[np.all(np.isfinite(px), axis=1)]).astype(np.int32)


def put_text(img: np.ndarray, text: str, org: Tuple[int, int], color=COLORS['text'],
             size: float = 0.4) -> None:
    """Draw one line of ``text`` into ``img`` [h, w, 3] at pixel ``org`` (its baseline)."""
    cv2.putText(img, text, org, _FONT, size, color, 1, cv2.LINE_AA)


def camera_panel(image: np.ndarray, scale: int, pred_path: Optional[np.ndarray] = None,
                 actual_path: Optional[np.ndarray] = None,
                 pred_skeleton: Optional[np.ndarray] = None, lines: Sequence[str] = (),
                 alert: str = '') -> np.ndarray:
    """The camera frame upscaled ``scale`` times with paths drawn on it.

    Args:
        image: [h, w, 3] uint8 RGB frame.
        scale: Integer upscale (nearest neighbour keeps the model's real resolution visible).
        pred_path, actual_path: [N, 2] pixels in the upscaled frame (NaN rows skipped).
        pred_skeleton: [P, 2] pixels of a predicted arm pose (joint1 ... tip).
        lines: Text lines for the top-left corner.
        alert: Red text at the bottom (e.g. ``COLLISION``); empty for none.
    """
    big = cv2.resize(np.ascontiguousarray(image), None, fx=scale, fy=scale,
                     interpolation=cv2.INTER_NEAREST)
    if pred_skeleton is not None:
        pts = pixel_points(pred_skeleton)
        if len(pts) > 1:
            cv2.polylines(big, [pts], False, COLORS['pred'], 1, cv2.LINE_AA)
    if actual_path is not None:
        pts = pixel_points(actual_path)
        if len(pts) > 1:
            cv2.polylines(big, [pts], False, COLORS['actual'], 2, cv2.LINE_AA)
    if pred_path is not None:
        pts = pixel_points(pred_path)
        if len(pts) > 1:
            cv2.polylines(big, [pts], False, COLORS['pred'], 1, cv2.LINE_AA)
        for x, y in pts:
            cv2.circle(big, (int(x), int(y)), 3, COLORS['pred'], -1, cv2.LINE_AA)
    for i, line in enumerate(lines):
        put_text(big, line, (6, 16 + 15 * i), (20, 20, 20), 0.45)
    if alert:
        put_text(big, alert, (6, big.shape[0] - 10), COLORS['collision'], 0.6)
    return big


def _y(values: np.ndarray, y_range: Tuple[float, float], top: int, height: int) -> np.ndarray:
    lo, hi = y_range
    frac = (np.asarray(values, float) - lo) / max(hi - lo, 1e-9)
    return top + (1.0 - np.clip(frac, -0.05, 1.05)) * (height - 1)


def trace_panel(width: int, height: int, t_range: Tuple[float, float], t_now: float,
                rows: List[Dict], pad: int = 4) -> np.ndarray:
    """Stacked time-series plots sharing one time axis, with a "now" line.

    Args:
        width, height: Panel size [px].
        t_range: (start, end) of the time axis [s].
        t_now: Where the vertical "now" line is drawn.
        rows: One dict per plot: ``label``, ``y_range`` (lo, hi), ``series`` (list of
            ``(t, y, color, thickness)``), optional ``spans`` (list of ``(t0, t1, color)``
            shaded intervals) and ``hline`` (a y value drawn as a grid line).
        pad: Pixels between rows.
    """
    panel = np.empty((height, width, 3), np.uint8)
    panel[:] = COLORS['bg']
    row_h = (height - pad * (len(rows) + 1)) // max(len(rows), 1)
    t0, t1 = t_range

    def x_of(t):
        return (np.asarray(t, float) - t0) / max(t1 - t0, 1e-9) * (width - 1)

    for i, row in enumerate(rows):
        top = pad + i * (row_h + pad)
        cv2.rectangle(panel, (0, top), (width - 1, top + row_h - 1), COLORS['grid'], 1)
        for s0, s1, color in row.get('spans', ()):
            xa, xb = int(max(0, x_of(s0))), int(min(width - 1, x_of(s1)))
            if xb >= xa:
                cv2.rectangle(panel, (xa, top + 1), (xb, top + row_h - 2), color, -1)
        if row.get('hline') is not None:
            yh = int(_y([row['hline']], row['y_range'], top, row_h)[0])
            cv2.line(panel, (0, yh), (width - 1, yh), COLORS['grid'], 1)
        for t, y, color, thickness in row['series']:
            t, y = np.asarray(t, float), np.asarray(y, float)
            keep = np.isfinite(t) & np.isfinite(y) & (t >= t0) & (t <= t1)
            if keep.sum() < 2:
                continue
            pts = np.stack([x_of(t[keep]), _y(y[keep], row['y_range'], top, row_h)], axis=1)
            cv2.polylines(panel, [pixel_points(pts)], False, color, thickness, cv2.LINE_AA)
        put_text(panel, row['label'], (4, top + 12), COLORS['text'], 0.38)
    xn = int(x_of(t_now))
    cv2.line(panel, (xn, 0), (xn, height - 1), COLORS['text'], 1)
    return panel


def flag_spans(t: np.ndarray, flags: np.ndarray, dt: float) -> List[Tuple[float, float]]:
    """Intervals where ``flags`` is true, each sample covering ``dt`` after its stamp."""
    out: List[Tuple[float, float]] = []
    for stamp, flag in zip(np.asarray(t, float), np.asarray(flags, bool)):
        if not flag:
            continue
        if out and stamp - out[-1][1] <= 1e-6 + dt * 0.5:
            out[-1] = (out[-1][0], stamp + dt)
        else:
            out.append((stamp, stamp + dt))
    return out


class Clip(NamedTuple):
    """What every frame of an animation clip shows, whatever the robot (F frames)."""

    frame_t: np.ndarray       # [F] frame stamps [s]
    images: np.ndarray        # [F, h, w, 3] uint8 RGB
    collision: np.ndarray     # [F] bool, the collision flag at each frame
    surprise: np.ndarray      # [F] ~/surprise at each frame
    surprise_ok: np.ndarray   # [F] bool, whether there is one
    surprise_top: float       # upper end of the surprise axis
    hit_spans: List[Tuple]    # (t0, t1, colour) of each collision, to shade the traces

    def status(self, i: int, first: Sequence[str] = ()) -> List[str]:
        """Text lines for frame ``i``'s camera panel: ``first``, the time, the surprise."""
        lines = list(first) + [f't = {self.frame_t[i]:6.1f} s']
        if self.surprise_ok[i]:
            lines.append(f'surprise {self.surprise[i]:.2f}')
        return lines


def clip_of(rec: Recording, clip: slice, dt: float) -> Clip:
    """The :class:`Clip` of frames ``rec.images[clip]``; flags and surprise are taken at the
    frame stamps within ``dt / 2`` (model step period ``dt`` [s])."""
    frame_t = np.asarray(rec.image_t, float)[clip]
    gap = 0.5 * dt
    surprise, surprise_ok = interpolate_at(rec.surprise_t, rec.surprise, frame_t, gap)
    finite = rec.surprise[np.isfinite(rec.surprise)]
    top = max(3.0, float(np.percentile(finite, 99)) * 1.1) if finite.size else 3.0
    spans = [(a, b, (90, 25, 25)) for a, b in flag_spans(rec.flag_t, rec.collision, dt)]
    return Clip(frame_t, rec.images[clip], flags_at(rec.flag_t, rec.collision, frame_t, gap),
                surprise, surprise_ok, top, spans)


def matched_index(stamps: np.ndarray, frame_t: np.ndarray, gap: float) -> np.ndarray:
    """[F] index into ``stamps`` [N] (sorted, [s]) of the message each frame at ``frame_t``
    [F] shows: the first stamped at or after the frame (the last one after the final
    stamp), when it lies within ``gap`` [s] of the frame; -1 where none does."""
    stamps, frame_t = np.asarray(stamps, float), np.asarray(frame_t, float)
    if len(stamps) == 0:
        return np.full(len(frame_t), -1)
    idx = np.clip(np.searchsorted(stamps, frame_t), 0, len(stamps) - 1)
    return np.where(np.abs(stamps[idx] - frame_t) <= gap, idx, -1)


def measured_series(t: np.ndarray, y: np.ndarray, t_range: Tuple[float, float],
                    t_now: float) -> List[Tuple]:
    """The :func:`trace_panel` series of a measured signal ``y`` [N] at ``t`` [N] within
    ``t_range``: up to ``t_now`` (what has happened, white) and after it (grey)."""
    past = (t >= t_range[0]) & (t <= t_now)
    ahead = (t >= t_now) & (t <= t_range[1])
    return [(t[past], y[past], COLORS['actual'], 2), (t[ahead], y[ahead], COLORS['future'], 1)]


def surprise_row(rec: Recording, clip: Clip, t_range: Tuple[float, float],
                 t_now: float) -> Dict:
    """The :func:`trace_panel` row of ``~/surprise`` up to ``t_now`` (collisions so far
    shaded)."""
    seen = (rec.surprise_t >= t_range[0]) & (rec.surprise_t <= t_now)
    return {'label': 'surprise', 'y_range': (0.0, clip.surprise_top), 'hline': 1.0,
            'series': [(rec.surprise_t[seen], rec.surprise[seen], COLORS['surprise'], 2)],
            'spans': [s for s in clip.hit_spans if s[0] <= t_now]}


def side_panel(width: int, height: int, t_range: Tuple[float, float], t_now: float,
               rows: List[Dict], legend: str) -> np.ndarray:
    """[height, width, 3] uint8: :func:`trace_panel` of ``rows`` above a one-line
    ``legend``."""
    traces = trace_panel(width, height - LEGEND_H, t_range, t_now, rows)
    strip = np.empty((LEGEND_H, width, 3), np.uint8)
    strip[:] = COLORS['bg']
    put_text(strip, legend, (4, 12), COLORS['text'], 0.33)
    return np.concatenate([traces, strip], axis=0)
