"""What the tabletop demo adds to the common analysis: predicted object motion and the grip.

From the recording (frames, joint states, the driver's commands and the simulator's
``/ground_truth`` poses) one :class:`~jepa_world_model.core.training.data.Episode` is built,
the same kind the tabletop experiments read from bags. Then, with the model the node ran:

* **object motion** (issue #13 items 2 and 6): from every frame, the model's latents rolled
  out under the commands that were then sent, and the shipped consequence read-out
  (``*_consequence.safetensors``, experiments/consequence_readout.py) maps them to each
  object's displacement over the next H steps; drawn from the true position at t, as in
  ``diagnose tabletop-objects --gif``, and scored against no-change on the frames where an
  object moved;
* **the grip** (item 3): at every grasp the driver made, the shipped grip head
  (``*_grip.safetensors``) reads the latent the model predicts for the judged frame under
  the commanded close and lift (blind commands: the same whether the cube holds), next to
  what happened, with the held-out AUC its file records (docs/tabletop.md): shown as what
  it is.

The ground-truth poses are evaluation labels: they anchor and score the drawing, they never
enter the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from ...core.training.data import Episode
from ...experiments.consequence_readout import consequence_features
from ...experiments.latent_rollouts import encoded_latents, predicted_latents
from ...experiments.tabletop_data import find_grasps, MOVE_M, OBJECTS, positions_of
from ..analysis import Recording, stamps_from_source_times

__all__ = ['episode_from_recording', 'object_motion', 'grip_predictions', 'STAMP_TOL_S']

#: Frames, joint states and poses of one simulator step carry the same stamp.
STAMP_TOL_S = 1e-4


def _match(stamps: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index into ``stamps`` (sorted) of each ``wanted`` stamp, -1 where none is within
    ``STAMP_TOL_S``."""
    if len(stamps) == 0:
        return np.full(len(wanted), -1)
    i = np.clip(np.searchsorted(stamps, wanted), 1, len(stamps) - 1)
    i = np.where(np.abs(stamps[i - 1] - wanted) < np.abs(stamps[i] - wanted), i - 1, i)
    return np.where(np.abs(stamps[i] - wanted) <= STAMP_TOL_S, i, -1)


def episode_from_recording(rec: Recording, poses: Dict[str, Tuple[np.ndarray, np.ndarray]],
                           match_s: float) -> Tuple[Episode, np.ndarray]:
    """(episode, frame stamps [T]): the frames that have a joint state and every object's
    pose of the same stamp, their longest run without a missing step, with the command the
    driver sent in answer to each (zero where none was recorded). ``poses``: object name ->
    (stamps [P], xyz [P, 3]); ``match_s``: how long after a joint state its command may be
    sent.

    Raises:
        ValueError: no frames or no commands recorded, or fewer than two complete frames.
    """
    if rec.images is None or len(rec.image_t) == 0:
        raise ValueError('the recording has no camera frames')
    if rec.commands.size == 0:
        raise ValueError('no driver commands were recorded')
    t = rec.image_t
    rows = {'joint': _match(rec.joint_t, t)}
    for name in OBJECTS:
        stamps, _ = poses.get(name, (np.zeros(0), np.zeros((0, 3))))
        rows[name] = _match(np.asarray(stamps), t)
    complete = np.all([r >= 0 for r in rows.values()], axis=0)
    # The longest run of consecutive complete frames: rollouts must not bridge a gap.
    step = np.median(np.diff(t)) if len(t) > 1 else 0.0
    gap = np.concatenate([[True], np.abs(np.diff(t) - step) > 0.5 * step])
    best, start = (0, 0), None
    for i in range(len(t) + 1):
        if start is not None and (i == len(t) or not complete[i] or gap[i]):
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
        if i < len(t) and complete[i] and start is None:
            start = i
    keep = np.arange(*best)
    if len(keep) < 2:
        raise ValueError('fewer than two frames with a joint state and every object pose')
    q, dq = rec.q[rows['joint'][keep]], rec.dq[rows['joint'][keep]]
    dq = np.where(np.isfinite(dq), dq, 0.0)
    actions = np.zeros((len(keep), rec.commands.shape[1]))
    answered = stamps_from_source_times(rec.command_src, rec.joint_src, rec.joint_t, match_s)
    frame = _match(t[keep], answered)
    for k in np.flatnonzero(frame >= 0):
        actions[frame[k]] = rec.commands[k]
    extras = {f'{name}_xyz': np.asarray(poses[name][1])[rows[name][keep]] for name in OBJECTS}
    episode = Episode(images=np.ascontiguousarray(rec.images[keep]),
                      s=np.concatenate([q, dq], axis=1).astype(np.float32),
                      a=actions.astype(np.float32), extras=extras)
    return episode, t[keep]


def object_motion(model: Any, episode: Episode, readout: Any, info: Dict[str, Any],
                  source: str, z: Optional[np.ndarray] = None
                  ) -> Tuple[Dict[str, Any], np.ndarray, np.ndarray]:
    """(summary, starts [K], displacements [K, H, 3 * objects]): the consequence read-out
    (``load_readout``'s pair ``readout``, ``info``, read from ``source``) on the model's
    rollouts from every frame with H frames after it; ``z`` [T, Z]: the episode's encoded
    latents when already computed. The summary gives, per object and h, the mean error [cm]
    of the prediction (true p_t plus the predicted displacement) and of no-change over the
    starts where the object moved more than ``MOVE_M`` within H, and over all starts."""
    horizon = int(info.get('horizon', 8))
    if len(episode) <= horizon + 1:
        raise ValueError(f'{len(episode)} frames: too short for {horizon}-step rollouts')
    z = encoded_latents(model, [episode])[0] if z is None else z
    starts = np.arange(0, len(episode) - horizon)
    z_pred = predicted_latents(model, episode, z, horizon, starts)
    features = consequence_features('predicted', z, z_pred, episode.a, starts,
                                    model.cfg.image_latent_dim)
    displacement = readout(features)                                    # [K, H, 3 * O]
    p = positions_of(episode)
    future = p[starts[:, None] + np.arange(1, horizon + 1)[None, :]]   # [K, H, 3 * O]
    summary: Dict[str, Any] = {'horizon': horizon, 'starts': int(len(starts)),
                               'readout': source, 'readout_info': info}
    for j, name in enumerate(OBJECTS):
        cols = slice(3 * j, 3 * j + 3)
        now = p[starts][:, None, cols]
        model_err = np.linalg.norm(now + displacement[..., cols] - future[..., cols], axis=-1)
        still_err = np.linalg.norm(now - future[..., cols], axis=-1)
        moved = still_err.max(axis=1) > MOVE_M
        summary[name] = {
            'moving_starts': int(moved.sum()),
            'moving': {'model_cm': _mean_cm(model_err[moved]),
                       'no_change_cm': _mean_cm(still_err[moved])},
            'all': {'model_cm': _mean_cm(model_err), 'no_change_cm': _mean_cm(still_err)}}
    return summary, starts, displacement


def _mean_cm(err: np.ndarray) -> Optional[List[float]]:
    """Mean over starts per h, in cm; None without any start."""
    return [round(float(v) * 100, 2) for v in err.mean(axis=0)] if len(err) else None


@torch.no_grad()
def grip_predictions(model: Any, episode: Episode, head_path: Path,
                     z: Optional[np.ndarray] = None) -> Dict[str, Any]:
    """Every grasp the driver made: the grip head's p(held) on the latent the model predicts
    for the judged frame from the close frame under the commands sent, and the outcome;
    ``z`` [T, Z]: the episode's encoded latents when already computed."""
    from ...core.model.grip_head import load_grip_head
    head, info = load_grip_head(head_path)
    z = encoded_latents(model, [episode])[0] if z is None else z
    grasps = []
    for event in find_grasps([episode]):
        z_pred = predicted_latents(model, episode, z, event.judged - event.close,
                                   np.array([event.close]))
        p_held = float(head(torch.from_numpy(z_pred[0, -1]).float()))
        grasps.append({'close_frame': event.close, 'judged_frame': event.judged,
                       'p_held': round(p_held, 3), 'held': event.held})
    auc = info.get('held_out_auc')
    note = (f'held-out AUC of this head {float(auc):.2f} (docs/tabletop.md)'
            if isinstance(auc, (int, float)) else
            'the head file does not say how well it separates held-out grasps')
    return {'head': str(head_path), 'head_info': info, 'grasps': grasps, 'note': note}
