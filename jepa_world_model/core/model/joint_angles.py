"""Continuous joints: how their angles enter the state and come back out of every read-out.

A continuous joint (URDF ``type="continuous"``: a wheel, a turntable, a wrist roll) has no
limits; its reported angle grows without bound or wraps at +-pi, and an image shows it only
modulo 2 pi. Regressing the raw angle asks a network for something the image does not hold
(on a shoulder recorded over -15..+20 rad the image head's error was 0.79 rad against 0.15 for
a limited joint). So such a joint enters the state as (cos q, sin q), every read-out is
trained on those two targets, and the angle comes back through ``atan2(sin, cos)`` in
(-pi, pi]. Distances between two angles of such a joint are taken modulo 2 pi
(:meth:`JointAngleCoding.difference`), so a goal at +pi - 0.1 is 0.2 rad from -pi + 0.1.

The coded position vector keeps ``joint_names`` order: one column per limited joint (q), two
per continuous one (cos q, sin q), so its width is J + C for C continuous joints. Works on
numpy arrays and torch tensors alike. Pure numpy/torch, no ROS.
"""

from __future__ import annotations

from typing import Sequence, Tuple, TypeVar

import numpy as np
import torch

__all__ = ['JointAngleCoding', 'wrap_angle']

ArrayT = TypeVar('ArrayT', np.ndarray, torch.Tensor)


def wrap_angle(angle: ArrayT) -> ArrayT:
    """Angles [...] (rad) -> the same angles in (-pi, pi] (``atan2(sin, cos)``)."""
    if isinstance(angle, torch.Tensor):
        return torch.atan2(torch.sin(angle), torch.cos(angle))
    return np.arctan2(np.sin(angle), np.cos(angle))


class JointAngleCoding:
    """Which of J joints are continuous, and the (cos, sin) coding of their positions.

    Args:
        continuous: [J] True for each continuous joint, in joint order.
    """

    def __init__(self, continuous: Sequence[bool]) -> None:
        self.continuous: Tuple[bool, ...] = tuple(bool(c) for c in continuous)
        first, second = [], []
        col = 0
        for periodic in self.continuous:
            first.append(col)                       # q, or cos q
            second.append(col + 1 if periodic else col)   # sin q (a limited joint: q again)
            col += 2 if periodic else 1
        self.width = col                            # J + C
        self._first = np.array(first, dtype=np.int64)
        self._second = np.array(second, dtype=np.int64)
        self._mask = np.array(self.continuous, dtype=bool)

    @classmethod
    def of(cls, joint_names: Sequence[str], continuous_joints: Sequence[str]
           ) -> 'JointAngleCoding':
        """The coding of ``joint_names`` where the joints named in ``continuous_joints`` are
        continuous (names not among ``joint_names`` are the caller's to refuse)."""
        names = set(continuous_joints)
        return cls([name in names for name in joint_names])

    @property
    def num_joints(self) -> int:
        """J."""
        return len(self.continuous)

    @property
    def any_continuous(self) -> bool:
        """True when at least one joint is continuous (otherwise coding is the identity)."""
        return bool(self._mask.any())

    def encode(self, q: ArrayT) -> ArrayT:
        """Joint positions q [..., J] -> coded positions [..., J + C]."""
        self._check(q, self.num_joints, 'joint positions')
        if not self.any_continuous:
            return q
        parts = []
        for j, periodic in enumerate(self.continuous):
            col = q[..., j:j + 1]
            if not periodic:
                parts.append(col)
            elif isinstance(q, torch.Tensor):
                parts += [torch.cos(col), torch.sin(col)]
            else:
                parts += [np.cos(col), np.sin(col)]
        if isinstance(q, torch.Tensor):
            return torch.cat(parts, dim=-1)
        return np.concatenate(parts, axis=-1)

    def decode(self, coded: ArrayT) -> ArrayT:
        """Coded positions [..., J + C] -> joint positions [..., J]; a continuous joint's
        angle is ``atan2(sin, cos)`` in (-pi, pi] (the two values need not be normalised)."""
        self._check(coded, self.width, 'coded joint positions')
        if not self.any_continuous:
            return coded
        if isinstance(coded, torch.Tensor):
            first = coded[..., torch.from_numpy(self._first).to(coded.device)]
            second = coded[..., torch.from_numpy(self._second).to(coded.device)]
            mask = torch.from_numpy(self._mask).to(coded.device)
            return torch.where(mask, torch.atan2(second, first), first)
        first, second = coded[..., self._first], coded[..., self._second]
        return np.where(self._mask, np.arctan2(second, first), first)

    def difference(self, a: ArrayT, b: ArrayT) -> ArrayT:
        """``a - b`` of joint positions [..., J]; for continuous joints the shortest way
        round, in (-pi, pi] (``atan2(sin d, cos d)``)."""
        d = a - b
        if not self.any_continuous:
            return d
        if isinstance(d, torch.Tensor):
            mask = torch.from_numpy(self._mask).to(d.device)
            return torch.where(mask, wrap_angle(d), d)
        return np.where(self._mask, wrap_angle(d), d)

    def _check(self, values, size: int, what: str) -> None:
        if values.shape[-1] != size:
            raise ValueError(f'{what} have {values.shape[-1]} values, expected {size} '
                             f'({self.num_joints} joints, '
                             f'{int(self._mask.sum())} of them continuous)')

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JointAngleCoding) and self.continuous == other.continuous

    def __hash__(self) -> int:
        return hash(self.continuous)

    def __repr__(self) -> str:
        return f'JointAngleCoding({list(self.continuous)})'
