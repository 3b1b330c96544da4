"""Which goal messages of ``planner_node`` are new goals.

Robots and GUIs re-publish an unchanged goal, often at 10 Hz. Taking each message as a new
goal rebuilt the objective, logged "new ... goal" and dropped the planner's warm start ten
times a second. :class:`GoalLedger` remembers where the goal the planner plans toward came
from, so a message that repeats it is recognised and changes nothing:

* joint-state and pose goals repeat the current goal when they are of the same kind and
  their numbers (target, weights, heading weight) agree within :data:`REPEAT_TOLERANCE`;
* image goals repeat it when the image message's bytes, size and encoding are identical
  (compared by a digest, before the image is encoded, so a repeat costs no ViT pass);
* ``~/capture_goal`` is an explicit request: it always sets a new goal.

When goals of different kinds arrive (say an image goal while a joint goal is planned
toward), the latest one wins; :meth:`GoalLedger.replacement` names the kind it replaces, for
a throttled warning (docs/planner.md, "Goal messages"). ROS-free apart from the message
fields it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import math
from typing import Any, Optional

import torch

from ...core.planning.goals import Goal

__all__ = ['REPEAT_TOLERANCE', 'same_goal', 'image_fingerprint', 'GoalLedger']

#: Largest difference (rad, m or weight units) between two goals' numbers that still counts
#: as the same goal: far below any goal tolerance, above float32 round-trips of a message.
REPEAT_TOLERANCE = 1e-6


def _close(a: Optional[torch.Tensor], b: Optional[torch.Tensor], tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=0.0, atol=tolerance))


def same_goal(a: Optional[Goal], b: Optional[Goal], tolerance: float = REPEAT_TOLERANCE
              ) -> bool:
    """True when ``a`` and ``b`` are the same goal: same kind, and targets [T], weights
    [T] and heading weight within ``tolerance`` of each other."""
    if a is None or b is None or a.kind != b.kind:
        return False
    return (_close(a.target, b.target, tolerance) and _close(a.weights, b.weights, tolerance)
            and math.isclose(a.yaw_weight, b.yaw_weight, rel_tol=0.0, abs_tol=tolerance))


def image_fingerprint(msg: Any, resize_mode: str) -> Optional[bytes]:
    """A digest of what makes an image goal: the pixels (``data``), their layout
    (``height``, ``width``, ``step``, ``encoding``, ``is_bigendian``) and how they are
    resized; the header (stamp, frame) does not count. None when ``data`` is not bytes-like
    (the goal is then built, and refused, as a new one)."""
    digest = hashlib.blake2b(digest_size=16)
    layout = f'{msg.height}x{msg.width}/{msg.step}/{msg.encoding}/{msg.is_bigendian}/' \
             f'{resize_mode}'
    digest.update(layout.encode())
    try:
        digest.update(bytes(msg.data))
    except (TypeError, ValueError):
        return None
    return digest.digest()


@dataclass(frozen=True)
class _Source:
    goal: Goal                     # the goal object the controller was given
    what: str                      # the topic or service it came from
    fingerprint: Optional[bytes]   # image goals: image_fingerprint of the message


class GoalLedger:
    """Where the current goal came from, to recognise repeats and kind changes.

    Args:
        tolerance: :data:`REPEAT_TOLERANCE` unless a caller needs another.
    """

    def __init__(self, tolerance: float = REPEAT_TOLERANCE) -> None:
        self.tolerance = tolerance
        self._source: Optional[_Source] = None

    def _current(self, goal: Optional[Goal]) -> Optional[_Source]:
        # Only while the controller still plans toward the goal recorded here: a cleared
        # goal (deactivate) or a new controller (model reload) forgets the source.
        source = self._source
        return source if source is not None and goal is not None and source.goal is goal \
            else None

    def repeats_image(self, current: Optional[Goal], fingerprint: Optional[bytes]) -> bool:
        """True when ``current`` came from an image message with this fingerprint."""
        source = self._current(current)
        return fingerprint is not None and source is not None \
            and source.fingerprint == fingerprint

    def repeats(self, current: Optional[Goal], goal: Goal) -> bool:
        """True when ``goal`` (joint-state or pose) is the goal ``current`` already is."""
        return goal.kind in ('joint_state', 'pose') and same_goal(current, goal, self.tolerance)

    def replacement(self, current: Optional[Goal], goal: Goal) -> Optional[str]:
        """When ``goal`` replaces a goal of another kind: a description of the replaced
        goal (``'joint_state goal from goal_joint_state'``), else None."""
        if current is None or current.kind == goal.kind:
            return None
        source = self._current(current)
        return f'{current.kind} goal' + (f' from {source.what}' if source else '')

    def accepted(self, goal: Goal, what: str, fingerprint: Optional[bytes] = None) -> None:
        """The controller now plans toward ``goal``, which came from ``what``."""
        self._source = _Source(goal, what, fingerprint)
