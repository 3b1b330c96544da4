"""Frames of the demo animation, drawn with OpenCV into numpy arrays (no rclpy, no GUI).

Each frame has two panels:

* the camera image, upscaled, with the model's predicted end-effector path for the next
  H steps (cyan dots; the predicted arm pose at t+H as a thin cyan skeleton) and the
  path the end-effector actually took (white), both from forward kinematics of joint
  angles projected with the camera intrinsics;
* time traces around "now": each joint's measured angle (white up to now, grey after),
  the model's predicted trajectory from this frame (cyan) and the constant-velocity
  extrapolation (yellow), then ``~/surprise`` with collisions marked in red.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .analysis import flags_at, interpolate_at, Recording

__all__ = ['COLORS', 'camera_panel', 'trace_panel', 'animation_frames']

COLORS = {'pred': (0, 230, 255), 'actual': (255, 255, 255), 'future': (130, 130, 130),
          'cv': (250, 210, 40), 'collision': (255, 50, 50), 'text': (235, 235, 235),
          'grid': (70, 70, 70), 'bg': (25, 25, 30), 'surprise': (255, 140, 60)}
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_LEGEND_H = 18


def _points(px: np.ndarray) -> np.ndarray:
    """Finite rows of [N, 2] float pixels as int32 for cv2 (fixed-point free)."""
    px = np.asarray(px, float).reshape(-1, 2)
    return np.round(px[np.all(np.isfinite(px), axis=1)]).astype(np.int32)


def _text(img: np.ndarray, text: str, org: Tuple[int, int], color=COLORS['text'],
          size: float = 0.4) -> None:
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
        pts = _points(pred_skeleton)
        if len(pts) > 1:
            cv2.polylines(big, [pts], False, COLORS['pred'], 1, cv2.LINE_AA)
    if actual_path is not None:
        pts = _points(actual_path)
        if len(pts) > 1:
            cv2.polylines(big, [pts], False, COLORS['actual'], 2, cv2.LINE_AA)
    if pred_path is not None:
        pts = _points(pred_path)
        if len(pts) > 1:
            cv2.polylines(big, [pts], False, COLORS['pred'], 1, cv2.LINE_AA)
        for x, y in pts:
            cv2.circle(big, (int(x), int(y)), 3, COLORS['pred'], -1, cv2.LINE_AA)
    for i, line in enumerate(lines):
        _text(big, line, (6, 16 + 15 * i), (20, 20, 20), 0.45)
    if alert:
        _text(big, alert, (6, big.shape[0] - 10), COLORS['collision'], 0.6)
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
            cv2.polylines(panel, [_points(pts)], False, color, thickness, cv2.LINE_AA)
        _text(panel, row['label'], (4, top + 12), COLORS['text'], 0.38)
    xn = int(x_of(t_now))
    cv2.line(panel, (xn, 0), (xn, height - 1), COLORS['text'], 1)
    return panel


def _spans(t: np.ndarray, flags: np.ndarray, dt: float) -> List[Tuple[float, float]]:
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


def animation_frames(rec: Recording, kin, clip: slice, dt: float, scale: int = 4,
                     past_s: float = 4.0, panel_width: int = 320) -> List[np.ndarray]:
    """Frames ``rec.images[clip]`` with predictions overlaid (see the module docstring).

    Args:
        rec: The recording (images, joint states, predictions, surprise, flags).
        kin: :class:`~.kinematics.ArmKinematics` for forward kinematics and projection.
        clip: Which frames.
        dt: Model step period [s] (the prediction/measurement matching tolerance is dt/2).
        scale: Camera upscale factor.
        past_s: Seconds of history in the traces.
        panel_width: Width of the trace panel [px].
    """
    frame_t = np.asarray(rec.image_t, float)[clip]
    images = rec.images[clip]
    if len(frame_t) == 0:
        return []
    gap = 0.5 * dt
    horizon = np.asarray(rec.pred_dt, float)
    q_now, _ = interpolate_at(rec.joint_t, rec.q, frame_t, gap)
    dq_now, _ = interpolate_at(rec.joint_t, rec.dq, frame_t, gap)
    pred_idx = np.clip(np.searchsorted(rec.pred_t, frame_t), 0, max(len(rec.pred_t) - 1, 0))
    collision = flags_at(rec.flag_t, rec.collision, frame_t, gap)
    surprise_now, surprise_ok = interpolate_at(rec.surprise_t, rec.surprise, frame_t, gap)
    finite = rec.surprise[np.isfinite(rec.surprise)]
    s_top = max(3.0, float(np.percentile(finite, 99)) * 1.1) if finite.size else 3.0
    hit_spans = [(a, b, (90, 25, 25)) for a, b in _spans(rec.flag_t, rec.collision, dt)]
    t_end = frame_t[-1] + horizon[-1] if len(horizon) else frame_t[-1]
    window = (rec.joint_t >= frame_t[0] - past_s) & (rec.joint_t <= t_end)
    q_lo = np.nanmin(rec.q[window], axis=0) - 0.15 if window.any() else -np.pi * np.ones(3)
    q_hi = np.nanmax(rec.q[window], axis=0) + 0.15 if window.any() else np.pi * np.ones(3)
    height = int(images.shape[1]) * scale
    frames = []
    for i, t in enumerate(frame_t):
        pred = None
        if len(rec.pred_t) and abs(rec.pred_t[pred_idx[i]] - t) <= gap:
            pred = rec.pred_q[pred_idx[i]]
        future, _ = interpolate_at(rec.joint_t, rec.q, t + horizon, gap)
        actual_px = kin.project(kin.end_effector(np.vstack([q_now[i:i + 1], future])), scale)
        pred_px = skeleton_px = None
        if pred is not None:
            pred_px = kin.project(kin.end_effector(np.vstack([q_now[i:i + 1], pred])), scale)
            skeleton_px = kin.project(kin.skeleton(pred[-1:])[0], scale)
        lines = [f't = {t:6.1f} s']
        if surprise_ok[i]:
            lines.append(f'surprise {surprise_now[i]:.2f}')
        cam = camera_panel(images[i], scale, pred_px, actual_px, skeleton_px, lines,
                           'COLLISION' if collision[i] else '')
        rows = []
        t_range = (t - past_s, t + 1.2 * (horizon[-1] if len(horizon) else 1.0))
        past = (rec.joint_t >= t_range[0]) & (rec.joint_t <= t)
        ahead = (rec.joint_t >= t) & (rec.joint_t <= t_range[1])
        for j, name in enumerate(rec.joint_names):
            series = [(rec.joint_t[past], rec.q[past, j], COLORS['actual'], 2),
                      (rec.joint_t[ahead], rec.q[ahead, j], COLORS['future'], 1),
                      (np.r_[t, t + horizon], np.r_[q_now[i, j], q_now[i, j] +
                                                    horizon * dq_now[i, j]], COLORS['cv'], 1)]
            if pred is not None:
                series.append((np.r_[t, t + horizon], np.r_[q_now[i, j], pred[:, j]],
                               COLORS['pred'], 2))
            rows.append({'label': f'{name} [rad]', 'y_range': (q_lo[j], q_hi[j]),
                         'series': series, 'spans': hit_spans})
        seen = (rec.surprise_t >= t_range[0]) & (rec.surprise_t <= t)
        rows.append({'label': 'surprise', 'y_range': (0.0, s_top), 'hline': 1.0,
                     'series': [(rec.surprise_t[seen], rec.surprise[seen],
                                 COLORS['surprise'], 2)],
                     'spans': [s for s in hit_spans if s[0] <= t]})
        side = trace_panel(panel_width, height - _LEGEND_H, t_range, t, rows)
        legend = np.empty((_LEGEND_H, panel_width, 3), np.uint8)
        legend[:] = COLORS['bg']
        _text(legend, 'cyan: model   yellow: const-vel   white/grey: actual', (4, 12),
              COLORS['text'], 0.33)
        side = np.concatenate([side, legend], axis=0)
        frames.append(np.concatenate([cam, side], axis=1))
    return frames
