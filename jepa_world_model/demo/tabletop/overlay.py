"""The tabletop demo's pictures: the grip prediction written onto the animation's frames,
and ``object_motion.png`` / ``grip.png`` (matplotlib, Agg: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import cv2
import numpy as np

from ...experiments.tabletop_data import OBJECTS

__all__ = ['clip_rows', 'caption_grip', 'plot_object_motion', 'plot_grip', 'GRIP_SHOWN_AFTER']

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


def _figure():
    import matplotlib
    matplotlib.use('Agg')   # before pyplot: headless machines have no display
    import matplotlib.pyplot as plt
    return plt


def plot_object_motion(motion: Dict[str, Any], path: Path) -> Path:
    """Per object: mean error [cm] by horizon of the predicted position (true p_t plus the
    read-out's displacement) and of no-change, on the frames where the object moved."""
    plt = _figure()
    fig, axes = plt.subplots(1, len(OBJECTS), figsize=(5 * len(OBJECTS), 3.6), squeeze=False)
    h = np.arange(1, motion['horizon'] + 1)
    for ax, name in zip(axes[0], OBJECTS):
        moving = motion[name]['moving']
        if moving['model_cm'] is not None:
            ax.plot(h, moving['model_cm'], 'o-', label='world model (consequence read-out)')
            ax.plot(h, moving['no_change_cm'], '^:', label='no change')
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, 'never moved', ha='center', transform=ax.transAxes)
        ax.set_title(f'{name}: {motion[name]["moving_starts"]} frames it moved')
        ax.set_xlabel('horizon [steps of 0.1 s]')
        ax.set_ylabel('position error [cm]')
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_grip(grip: Dict[str, Any], path: Path) -> Path:
    """p(held) of each grasp, coloured by what happened, with the 0.5 line."""
    plt = _figure()
    grasps = grip['grasps']
    fig, ax = plt.subplots(figsize=(6, 3.4))
    x = np.arange(len(grasps))
    colours = ['tab:green' if g['held'] else 'tab:red' for g in grasps]
    ax.bar(x, [g['p_held'] for g in grasps], color=colours)
    ax.axhline(0.5, color='grey', lw=1, ls='--')
    ax.set_xticks(x, [str(g['close_frame']) for g in grasps])
    ax.set_xlabel('grasp (close frame); green held, red slipped')
    ax.set_ylabel('predicted p(held)')
    ax.set_ylim(0, 1)
    ax.set_title(grip['note'], fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
