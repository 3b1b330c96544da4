"""Earlier predictions, kept to score later frames against: the surprise's reference.

Which earlier prediction a frame is compared with: every frame is remembered with its
latent ``z``, its rollout and the action applied just before it arrived. A new frame at stamp
``t`` is compared with the remembered frame ``p`` and step count ``k`` whose target time
``stamp_p + k * step_period`` is closest to ``t``, within half a step. So the surprise is a
proper k-step prediction error whatever the camera rate (30 Hz camera, 0.1 s model step:
the frame three back, k = 1). Without stamps (``stamp`` or ``step_period`` None) the previous
frame's one-step prediction is used.

Which actions that prediction uses: a driver that reacts to frames publishes the command for
frame ``p`` a few milliseconds *after* frame ``p`` arrived, so the rollout made at ``p``
usually holds the previous command. When the caller passes ``a_applied`` (the command in
effect when a frame arrived, i.e. what the robot did since the frame before), the k-step
prediction is recomputed from ``z_p`` with the actions that were really applied: step ``j``
uses ``a_applied`` of the frame that closed it. Without ``a_applied`` the stored rollout is
used.

Tensor names: ``z`` latent [Z], ``a`` action [A]; every tensor stays on the runtime's device.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

__all__ = ['PredictionHistory', 'Remembered', 'RolloutFn']

#: ``rollout(z [1, Z], a [1, k, A]) -> [1, k, Z]``: the runtime backend's rollout.
RolloutFn = Callable[[Tensor, Tensor], Tensor]


@dataclass
class Remembered:
    """A processed frame, kept to score later frames against (tensors on the device)."""

    key: float                    # stamp (s), or frame index without stamps
    z: Tensor                     # [Z] online latent, the start of its rollout
    rollout: Tensor               # [H, Z] predicted latents for steps 1..H
    a_applied: Optional[Tensor]   # [A] action in effect when the frame arrived


class PredictionHistory:
    """The frames a runtime processed lately, with their rollouts (at most ``maxlen``)."""

    def __init__(self, maxlen: int = 512) -> None:
        self._entries: Deque[Remembered] = deque(maxlen=maxlen)
        self._frame_index = 0

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, stamp: Optional[float], step_period: Optional[float]) -> float:
        """History key of a new frame: its stamp when stamps are used, else a frame index."""
        self._frame_index += 1
        if stamp is not None and step_period:
            return float(stamp)
        return float(self._frame_index)

    def error(self, z_obs: Tensor, key: float, step_period: Optional[float],
              applied: Optional[Tensor], rollout: RolloutFn
              ) -> Tuple[Optional[np.ndarray], int]:
        """``|prediction - z_obs|`` [Z] for the best-matching earlier prediction of the frame
        at ``key``, and its k; ``(None, 0)`` when nothing matches. With ``applied`` the
        prediction is re-rolled with ``rollout`` under the actions really applied."""
        if not self._entries:
            return None, 0
        period = step_period if step_period else 1.0
        best: Optional[Tuple[float, int, Remembered]] = None
        for past in reversed(self._entries):
            if past.key >= key:
                continue
            k = int(round((key - past.key) / period))
            if k < 1 or k > past.rollout.shape[0]:
                continue
            # Timing errors within 0.1 % of a step tie (stamps are floats); then the most
            # recent frame (smallest k) wins, its prediction being the most informed.
            err = round(abs(past.key + k * period - key) / period, 3)
            if err <= 0.5 and (best is None or (err, k) < (best[0], best[1])):
                best = (err, k, past)
        if best is None:
            return None, 0
        _, k, past = best
        if applied is None:
            z_pred = past.rollout[k - 1]
        else:
            a_seq = self._applied_actions(past.key, k, period, applied)       # [k, A]
            z_pred = rollout(past.z.unsqueeze(0), a_seq.unsqueeze(0))[0, -1]
        return (z_pred - z_obs).abs().float().cpu().numpy(), k

    def _applied_actions(self, start: float, k: int, period: float, last: Tensor) -> Tensor:
        """[k, A] actions applied over the k steps after ``start``: step j uses
        ``a_applied`` of the remembered frame closest to ``start + j * period`` (within half
        a step); the final step, and any step without such a frame, uses ``last``."""
        actions = [last] * k
        for j in range(1, k):
            target = start + j * period
            for past in self._entries:
                if past.a_applied is not None and abs(past.key - target) <= 0.5 * period:
                    actions[j - 1] = past.a_applied
                    break
        return torch.stack(actions)

    def remember(self, entry: Remembered, step_period: Optional[float]) -> None:
        """Keep ``entry``; drop the entries that can never match a later frame."""
        self._entries.append(entry)
        period = step_period if step_period else 1.0
        # Entries whose whole rollout lies in the past can never match again.
        while self._entries and (self._entries[0].key + self._entries[0].rollout.shape[0]
                                 * period + 0.5 * period < entry.key):
            self._entries.popleft()

    def clear(self) -> None:
        """Forget every prediction and restart the frame index."""
        self._entries.clear()
        self._frame_index = 0
