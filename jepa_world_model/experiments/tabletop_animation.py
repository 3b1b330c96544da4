"""Issue #13 items 2 and 6: what the model predicts an action does to the objects, drawn.

Over the camera frames of one held-out episode, for the block and the cube: where each will
be over the next H steps (white: the recorded truth) and where the consequence read-out
(experiments/consequence_readout.py) puts it from the model's predicted latents (cyan: the
true position at t plus the predicted displacement), both projected into the camera with
the simulator's own camera model (``SimRobot.project``). Written as a GIF by
``diagnose tabletop-objects --gif``.
"""

from __future__ import annotations

from typing import Callable, List, Sequence, Tuple

import cv2
import numpy as np

from ..core.training.data import Episode
from ..demo.overlay import camera_panel, COLORS, pixel_points
from .tabletop_data import OBJECTS, positions_of
from .tabletop_objects import MOVE_M, REST_M

__all__ = ['busiest_window', 'consequence_frames']


def busiest_window(episode: Episode, starts: np.ndarray, horizon: int, length: int
                   ) -> Tuple[np.ndarray, int]:
    """(rows, count): the ``length`` consecutive entries of ``starts`` [K] holding the most
    contact starts (an object at rest at t that moves more than ``MOVE_M`` within
    ``horizon``), and how many they hold; the earliest such window."""
    p = positions_of(episode)
    hits = np.zeros(len(starts))
    for j in range(len(OBJECTS)):
        obj = p[:, 3 * j:3 * j + 3]
        future = obj[starts[:, None] + np.arange(1, horizon + 1)[None, :]]
        moved = np.linalg.norm(future - obj[starts][:, None], axis=-1).max(axis=1) > MOVE_M
        rest = np.linalg.norm(obj[starts] - obj[starts - 1], axis=-1) < REST_M
        hits += moved & rest
    length = min(length, len(starts))
    counts = np.convolve(hits, np.ones(length), mode='valid')
    first = int(np.argmax(counts))
    return np.arange(first, first + length), int(round(counts[first]))


def consequence_frames(episode: Episode, project: Callable[[np.ndarray], np.ndarray],
                       starts: np.ndarray, displacement: np.ndarray, rows: Sequence[int],
                       scale: int = 4, step_s: float = 0.1) -> List[np.ndarray]:
    """One frame per entry of ``rows`` (indices into ``starts`` [K]): the camera image at
    ``starts[row]`` upscaled ``scale`` times, with every object's true path over the next H
    steps and its predicted one (``displacement`` [K, H, 3 * len(OBJECTS)] added to the true
    position at t); ``project``: world points [..., 3] -> pixels [..., 2] of the frame."""
    p = positions_of(episode)
    horizon = displacement.shape[1]
    frames = []
    for row in rows:
        t = int(starts[row])
        big = None
        for j, name in enumerate(OBJECTS):
            now = p[t, 3 * j:3 * j + 3]
            truth = p[t:t + horizon + 1, 3 * j:3 * j + 3]
            guess = np.vstack([now, now + displacement[row, :, 3 * j:3 * j + 3]])
            lines = ([f't = {t * step_s:4.1f} s', f'next {horizon * step_s:.1f} s:',
                      'white: true path', 'cyan: predicted'] if big is None else ())
            big = camera_panel(episode.images[t] if big is None else big,
                               scale if big is None else 1,
                               pred_path=project(guess) * scale,
                               actual_path=project(truth) * scale, lines=lines)
            centre = pixel_points(project(now) * scale)
            if len(centre):
                x, y = centre[0]
                cv2.putText(big, name, (int(x) + 6, int(y) - 6), cv2.FONT_HERSHEY_SIMPLEX,
                            0.35, COLORS['actual'], 1, cv2.LINE_AA)
        frames.append(big)
    return frames
