"""The tabletop demo's animation: the clip around the first grasp and the grip prediction
written onto its frames (its plots are in :mod:`~jepa_world_model.demo.plots`)."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import cv2
import numpy as np

__all__ = ['clip_rows', 'caption_grip', 'GRIP_SHOWN_AFTER']

#: Frames after the judged frame for which the outcome stays written on the animation.
GRIP_SHOWN_AFTER = 10
_HELD_RGB, _SLIPPED_RGB, _ASK_RGB = (40, 170, 40), (210, 40, 40), (20, 20, 20)


def clip_rows(starts: np.ndarray, grasps: Sequence[Dict[str, Any]], length: int,
              busiest: np.ndarray) -> np.ndarray:
    """Rows of ``starts`` [K] for the animation: ``length`` of them from 20 frames before
    the first grasp's close (so the clip shows its approach, the prediction and the
    outcome), else ``busiest`` (the window with the most contact starts)."""
    if not grasps or len(starts) == 0:
        return busiest
    length = min(length, len(starts))
    first = int(np.searchsorted(starts, grasps[0]['close_frame'] - 20))
    first = max(0, min(first, len(starts) - length))
    return np.arange(first, first + length)


def caption_grip(frames: List[np.ndarray], frame_index: np.ndarray,
                 grasps: Sequence[Dict[str, Any]]) -> List[np.ndarray]:
    """Write each grasp's prediction on the frames from its close to ``GRIP_SHOWN_AFTER``
    after its judged frame, and from the judged frame on, what happened. ``frame_index``
    [F]: the episode frame each of ``frames`` shows."""
    out = []
    for img, t in zip(frames, frame_index):
        img = img.copy()
        for g in grasps:
            if not g['close_frame'] <= t <= g['judged_frame'] + GRIP_SHOWN_AFTER:
                continue
            y = img.shape[0] - 24
            cv2.putText(img, f'grip: p(held) {g["p_held"]:.2f}', (6, y),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, _ASK_RGB, 1, cv2.LINE_AA)
            if t >= g['judged_frame']:
                held = bool(g['held'])
                cv2.putText(img, 'held' if held else 'slipped', (6, y + 16),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                            _HELD_RGB if held else _SLIPPED_RGB, 1, cv2.LINE_AA)
        out.append(img)
    return out
