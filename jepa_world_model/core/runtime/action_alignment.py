"""Which command labels frame t: ``a[t]``, the action in force between frame t and t + 1.

One rule for training from bags (bags/command_alignment.py) and for the live nodes
(ros/world_model/frame_pipeline.py), set by ``data.bag.action_alignment`` in training and
read from the checkpoint by world_model_node (docs/datasets.md, "Alignment rules", rule 6):

* ``at_or_before``: the latest command stamped at or before frame t. Right for a recorder
  that stamps each command with the frame it was computed from (the package's own recorder).
* ``after_frame``: the first command stamped in (t, t + ``window``]; when none is stamped
  there, the latest one at or before t (the command held from before: the robot kept doing
  it). A robot publishes the command computed from frame t a few ms after the frame and
  ``ros2 bag record`` stamps it so; ``at_or_before`` would give every frame the previous
  step's command. The window must be shorter than the frame period, or frame t would take
  frame t + 1's command.

Stamps are in any one unit (int64 ns in bags, float seconds live), sorted ascending; the
window is in the same unit. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Optional, Tuple

import numpy as np

__all__ = ['ALIGNMENTS', 'AlignmentError', 'ActionAlignment', 'paired_command_indices',
           'command_age_ok']

ALIGNMENTS = ('at_or_before', 'after_frame')


class AlignmentError(ValueError):
    """An unknown alignment rule or a window that does not fit it or the frame period."""


@dataclass(frozen=True)
class ActionAlignment:
    """The rule and its window (seconds; 0 for ``at_or_before``).

    Raises:
        AlignmentError: An unknown rule, a non-finite or negative window, a window with
            ``at_or_before`` or ``after_frame`` without one.
    """

    rule: str = 'at_or_before'
    window_s: float = 0.0

    def __post_init__(self) -> None:
        if self.rule not in ALIGNMENTS:
            raise AlignmentError(f'unknown action_alignment {self.rule!r}; use one of '
                                 f'{list(ALIGNMENTS)}')
        if not (math.isfinite(self.window_s) and self.window_s >= 0):
            raise AlignmentError(f'action_alignment_window_s must be finite and >= 0, got '
                                 f'{self.window_s}')
        if self.rule == 'after_frame' and self.window_s <= 0:
            raise AlignmentError('action_alignment after_frame needs action_alignment_window_s '
                                 '> 0 (how long after a frame its command may be stamped)')
        if self.rule == 'at_or_before' and self.window_s != 0:
            raise AlignmentError('action_alignment_window_s applies to after_frame only')

    @classmethod
    def of_training(cls, config: Any) -> 'ActionAlignment':
        """The rule a model was trained with: ``config.data.bag`` of its ExperimentConfig
        for a bag-trained model, ``at_or_before`` for anything else (the simulator's
        episodes label each frame with the command computed from it)."""
        data = getattr(config, 'data', None)
        if getattr(data, 'source', None) != 'rosbag':
            return cls()
        bag = data.bag
        return cls(bag.action_alignment, float(bag.action_alignment_window_s))

    def overridden(self, rule: str = '', window_s: float = 0.0) -> 'ActionAlignment':
        """This (trained) rule with a node's overrides: ``rule`` '' keeps the rule,
        ``window_s`` 0 keeps the window (for ``after_frame``).

        Raises:
            AlignmentError: E.g. ``after_frame`` over an ``at_or_before`` model without a
                window, or a window with ``at_or_before``.
        """
        rule = rule or self.rule
        if window_s <= 0:
            window_s = self.window_s if rule == 'after_frame' else 0.0
        return ActionAlignment(rule, float(window_s))

    @property
    def waits(self) -> bool:
        """Whether a frame's command may arrive after the frame (``after_frame``)."""
        return self.rule == 'after_frame'

    def check_period(self, period_s: float) -> None:
        """Raise :class:`AlignmentError` if the window is not shorter than ``period_s``."""
        if self.waits and period_s > 0 and self.window_s >= period_s:
            raise AlignmentError(
                f'action_alignment_window_s {self.window_s} s is not shorter than the frame '
                f'period {period_s:.4f} s: frame t would take the command of frame t + 1; use '
                f'a window just above the measured command delay (jepa-world-model inspect)')

    def lookup_times(self, frame_t: np.ndarray, unit_per_s: float = 1.0) -> np.ndarray:
        """Each frame's end of the search: t (at_or_before) or t + window. [T], frame_t's
        dtype (``unit_per_s``: 1 for seconds, 1e9 for ns)."""
        frame_t = np.asarray(frame_t)
        if not self.waits:
            return frame_t
        window = self.window_s * unit_per_s
        if np.issubdtype(frame_t.dtype, np.integer):
            window = int(round(window))
        return frame_t + window

    def decided(self, frame_stamp: float, now: float, command_t: np.ndarray) -> bool:
        """Whether frame ``frame_stamp``'s command is known at ``now`` (seconds): always for
        ``at_or_before``; for ``after_frame`` once a command is stamped in the window or the
        window is over. ``command_t``: [C] sorted command stamps (s)."""
        if not self.waits or now >= frame_stamp + self.window_s:
            return True
        first = int(np.searchsorted(command_t, frame_stamp, side='right'))
        return first < len(command_t) and command_t[first] <= frame_stamp + self.window_s


def paired_command_indices(frame_t: np.ndarray, command_t: np.ndarray,
                           alignment: ActionAlignment, unit_per_s: float = 1.0
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """The command each frame takes under ``alignment``.

    Args:
        frame_t: [T] frame stamps, sorted.
        command_t: [C] command stamps, sorted, same unit.
        alignment: The rule.
        unit_per_s: Stamp units per second (1e9 for int64 ns).

    Returns:
        ``(index, in_window)``: [T] int64 index into ``command_t`` (-1: no command at or
        before the lookup), and [T] bool, True where ``after_frame`` found a command in
        (t, t + window] (False for ``at_or_before`` and for the held-command fallback).
    """
    frame_t, command_t = np.asarray(frame_t), np.asarray(command_t)
    latest = np.searchsorted(command_t, frame_t, side='right') - 1     # at or before t
    if not alignment.waits:
        return latest.astype(np.int64), np.zeros(len(frame_t), dtype=bool)
    first = latest + 1                                                 # first after t
    ends = alignment.lookup_times(frame_t, unit_per_s)
    in_window = np.zeros(len(frame_t), dtype=bool)
    if len(command_t):
        in_window = (first < len(command_t)) & (
            command_t[np.minimum(first, len(command_t) - 1)] <= ends)
    return np.where(in_window, first, latest).astype(np.int64), in_window


def command_age_ok(lookup_t: np.ndarray, command_t: np.ndarray, index: np.ndarray,
                   timeout: Optional[float]) -> np.ndarray:
    """[T] bool: the paired command is no older than ``timeout`` at the lookup time
    (``timeout`` None or <= 0: always; same unit as the stamps)."""
    if timeout is None or timeout <= 0 or len(command_t) == 0:
        return np.ones(len(index), dtype=bool)
    return lookup_t - command_t[np.maximum(index, 0)] <= timeout
