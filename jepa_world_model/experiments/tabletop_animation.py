"""Issue #13 items 2 and 6: what the model predicts an action does to the objects, drawn.

Over the camera frames of one held-out episode, for the block and the cube: where each will
be over the next H steps (white: the recorded truth) and where the consequence read-out
(experiments/consequence_readout.py) puts it from the model's predicted latents (cyan: the
true position at t plus the predicted displacement), both projected into the camera with
the simulator's own camera model (``SimRobot.project``). Written as a GIF by
``diagnose tabletop-objects --gif``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Sequence, Tuple

import cv2
import numpy as np

from ..core.training.data import Episode
from .tabletop_data import MOVE_M, OBJECTS, positions_of, REST_M

__all__ = ['TRUE_RGB', 'PREDICTED_RGB', 'busiest_window', 'consequence_frames', 'write_gif']

#: Colours of the true and the predicted paths (RGB).
TRUE_RGB = (255, 255, 255)
PREDICTED_RGB = (0, 230, 255)


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


def _pixels(px: np.ndarray) -> np.ndarray:
    """Finite rows of [N, 2] float pixels, rounded to int32 for cv2."""
    px = np.asarray(px, float).reshape(-1, 2)
    return np.round(px[np.all(np.isfinite(px), axis=1)]).astype(np.int32)


def _text(img: np.ndarray, text: str, org, colour, size: float = 0.45) -> None:
    cv2.putText(img, text, (int(org[0]), int(org[1])), cv2.FONT_HERSHEY_SIMPLEX, size, colour,
                1, cv2.LINE_AA)


def consequence_frames(episode: Episode, project: Callable[[np.ndarray], np.ndarray],
                       starts: np.ndarray, displacement: np.ndarray, rows: Sequence[int],
                       scale: int = 4, step_s: float = 0.1) -> List[np.ndarray]:
    """One frame per entry of ``rows`` (indices into ``starts`` [K]): the camera image at
    ``starts[row]`` upscaled ``scale`` times (nearest neighbour: the model's resolution
    stays visible), with every object's true path over the next H steps (``TRUE_RGB``) and
    its predicted one (``PREDICTED_RGB``: ``displacement`` [K, H, 3 * len(OBJECTS)] added to
    the true position at t); ``project``: world points [..., 3] -> pixels [..., 2]."""
    p = positions_of(episode)
    horizon = displacement.shape[1]
    frames = []
    for row in rows:
        t = int(starts[row])
        big = cv2.resize(np.ascontiguousarray(episode.images[t]), None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_NEAREST)
        for j, name in enumerate(OBJECTS):
            now = p[t, 3 * j:3 * j + 3]
            truth = _pixels(project(p[t:t + horizon + 1, 3 * j:3 * j + 3]) * scale)
            guess = _pixels(project(now + displacement[row, :, 3 * j:3 * j + 3]) * scale)
            if len(truth) > 1:
                cv2.polylines(big, [truth], False, TRUE_RGB, 2, cv2.LINE_AA)
            if len(guess):
                start = truth[:1] if len(truth) else guess[:1]
                cv2.polylines(big, [np.vstack([start, guess])], False, PREDICTED_RGB, 1,
                              cv2.LINE_AA)
                for x, y in guess:
                    cv2.circle(big, (int(x), int(y)), 3, PREDICTED_RGB, -1, cv2.LINE_AA)
            if len(truth):
                _text(big, name, truth[0] + (6, -6), TRUE_RGB, 0.35)
        for i, line in enumerate((f't = {t * step_s:4.1f} s', f'next {horizon * step_s:.1f} s:',
                                  'white: true path', 'cyan: predicted')):
            _text(big, line, (6, 16 + 15 * i), (20, 20, 20))
        frames.append(big)
    return frames


def write_gif(frames: Sequence[np.ndarray], path: Path, fps: float) -> Path:
    """Write RGB frames [H, W, 3] as a looping GIF at ``fps`` frames per second."""
    import imageio.v3 as iio   # imported here: only the animation needs it
    if not len(frames):
        raise ValueError('no frames to write')
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.stack(frames), duration=1000.0 / fps, loop=0)
    return path
