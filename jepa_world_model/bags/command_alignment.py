"""Which recorded command labels each frame: ``a[t]``, the action in force between frame t
and t + 1 (``data.bag.action_alignment``; docs/datasets.md, "Alignment rules", rule 6).

* ``at_or_before``: the latest command stamped at or before frame t. Right for recorders that
  stamp each command with the frame it was computed from (the package's own recorder).
* ``after_frame``: the latest command stamped at or before frame t + ``window``. A robot
  publishes the command computed from frame t a few ms after the frame and ``ros2 bag
  record`` stamps it so; ``at_or_before`` would give every frame the previous step's command.
  The window must be shorter than the frame period, or frame t would take frame t + 1's
  command.

Both rules hold a command only within the episode (one stamped before the episode's first
frame belongs to the run before the gap) and treat a command older than
``command_timeout_s`` (> 0) as zero. Pure numpy; stamps are int64 ns, sorted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import BagDatasetError

__all__ = ['ALIGNMENTS', 'frame_actions', 'command_reference_times']

ALIGNMENTS = ('at_or_before', 'after_frame')


def command_reference_times(frame_t: np.ndarray, alignment: str,
                            window_s: float) -> np.ndarray:
    """The time at which each frame's command is looked up. [T] int64 ns.

    Raises:
        BagDatasetError: An unknown alignment, or an ``after_frame`` window that is not
            shorter than the median frame period (it would reach the next frame's command).
    """
    if alignment not in ALIGNMENTS:
        raise BagDatasetError(f'unknown action_alignment {alignment!r}; use one of '
                              f'{list(ALIGNMENTS)}')
    if alignment == 'at_or_before':
        return frame_t
    window_ns = int(round(window_s * 1e9))
    if len(frame_t) > 1:
        period_ns = int(np.median(np.diff(frame_t)))
        if window_ns >= period_ns:
            raise BagDatasetError(
                f'action_alignment_window_s {window_s} s is not shorter than the frame period '
                f'{period_ns / 1e9:.4f} s: frame t would take the command of frame t + 1; use '
                f'a window just above the measured command delay (jepa-world-model inspect)')
    return frame_t + window_ns


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
        a[:-1] = np.diff(q, axis=0)
        return a
    ref_t = command_reference_times(frame_t, cfg.action_alignment,
                                    cfg.action_alignment_window_s)
    k = np.searchsorted(cmd_t, ref_t, side='right') - 1    # latest command at or before
    valid = k >= 0
    if len(cmd_t) and len(frame_t):
        # Held only within the episode: a command stamped before its first frame belongs to
        # the run before the gap (e.g. the command computed from the previous episode's last
        # frame, stamped a few ms after it), so it never labels this episode's frames.
        valid &= cmd_t[np.maximum(k, 0)] >= frame_t[0]
    if cfg.command_timeout_s > 0 and len(cmd_t):
        valid &= ref_t - cmd_t[np.maximum(k, 0)] <= int(cfg.command_timeout_s * 1e9)
    a[valid] = cmds[k[valid]]
    report.frames_without_command += int(np.sum(~valid))
    return a
