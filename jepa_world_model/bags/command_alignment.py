"""Which recorded command labels each frame: ``a[t]``, the action in force between frame t
and t + 1 (``data.bag.action_alignment``; docs/datasets.md, "Alignment rules", rule 6).

The rule itself (``at_or_before``, or ``after_frame``: the first command stamped in
(t, t + ``window``], else the one held from before) lives in core/runtime/action_alignment.py,
which world_model_node applies live too. This module applies it to one episode of a bag:
a command is held only within the episode (one stamped before the episode's first frame
belongs to the run before the gap), and a command older than ``command_timeout_s`` (> 0) at
the lookup time (t, or t + window) counts as zero. Pure numpy; stamps are int64 ns, sorted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.model.joint_angles import JointAngleCoding
from ..core.runtime.action_alignment import (ALIGNMENTS, ActionAlignment, AlignmentError,
                                             command_age_ok, paired_command_indices)
from .errors import BagDatasetError

__all__ = ['ALIGNMENTS', 'frame_actions', 'command_reference_times']


def _alignment(rule: str, window_s: float, frame_t: np.ndarray) -> ActionAlignment:
    """The rule object, checked against the median frame period (BagDatasetError if not)."""
    try:
        alignment = ActionAlignment(rule, float(window_s) if rule == 'after_frame' else 0.0)
        if len(frame_t) > 1:
            alignment.check_period(float(np.median(np.diff(frame_t))) / 1e9)
    except AlignmentError as exc:
        raise BagDatasetError(str(exc)) from None
    return alignment


def command_reference_times(frame_t: np.ndarray, alignment: str,
                            window_s: float) -> np.ndarray:
    """The end of each frame's command search: t or t + window. [T] int64 ns.

    Raises:
        BagDatasetError: An unknown alignment, or an ``after_frame`` window that is not
            shorter than the median frame period (it would reach the next frame's command).
    """
    return _alignment(alignment, window_s, frame_t).lookup_times(frame_t, 1e9)


def frame_actions(frame_t: np.ndarray, q: np.ndarray, cmd_t: np.ndarray, cmds: np.ndarray,
                  width: int, cfg: Any, report: Any) -> np.ndarray:
    """``a[t]`` for the frames of one episode.

    Args:
        frame_t: [T] frame stamps (ns, sorted).
        q: [T, J] joint positions paired with the frames (``joint_state_delta``).
        cmd_t: [C] command stamps (ns, sorted, unique); cmds: [C, width] their values.
        width: Action size A.
        cfg: The reader settings (``BagDatasetConfig``: ``action_source``,
            ``action_alignment``, ``action_alignment_window_s``, ``command_timeout_s``).
        report: The ``ReadReport``; frames left without a command are counted in
            ``frames_without_command``.

    Returns:
        [T, A] float64 actions; zero before the episode's first command and after a timeout.
    """
    a = np.zeros((len(frame_t), width))
    if cfg.action_source == 'joint_state_delta':
        # A continuous joint reported wrapped jumps by 2 pi at +-pi: its step is the short way.
        a[:-1] = JointAngleCoding.of(cfg.joint_names, cfg.continuous_joints).difference(
            q[1:], q[:-1]) if cfg.continuous_joints else np.diff(q, axis=0)
        return a
    rule = _alignment(cfg.action_alignment, cfg.action_alignment_window_s, frame_t)
    ref_t = rule.lookup_times(frame_t, 1e9)
    k, _ = paired_command_indices(frame_t, cmd_t, rule, 1e9)
    valid = k >= 0
    if len(cmd_t) and len(frame_t):
        # Held only within the episode: a command stamped before its first frame belongs to
        # the run before the gap (e.g. the command computed from the previous episode's last
        # frame, stamped a few ms after it), so it never labels this episode's frames.
        valid &= cmd_t[np.maximum(k, 0)] >= frame_t[0]
    timeout_ns = int(cfg.command_timeout_s * 1e9) if cfg.command_timeout_s > 0 else None
    valid &= command_age_ok(ref_t, cmd_t, k, timeout_ns)
    a[valid] = cmds[k[valid]]
    report.frames_without_command += int(np.sum(~valid))
    return a
