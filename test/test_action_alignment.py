"""``data.bag.action_alignment`` (issue #15 item 3): which recorded command labels each
frame, its settings checks, and the recommendation ``inspect`` makes from measured delays."""

import numpy as np
import pytest

from jepa_world_model.bags.command_alignment import command_reference_times, frame_actions
from jepa_world_model.bags.command_timing import command_delays, recommend_alignment
from jepa_world_model.bags.errors import BagDatasetError
from jepa_world_model.bags.reader import BagDatasetConfig, ReadReport
from jepa_world_model.core.config import BagConfig, ConfigError, from_dict

MS = 1_000_000
FRAMES = np.arange(6, dtype=np.int64) * 100 * MS            # 10 Hz


def actions(cmd_offsets_ms, alignment='at_or_before', window_s=0.0, timeout_s=0.0):
    """a[t] for FRAMES with command k (value k + 1) at frame k + offset."""
    cmd_t = FRAMES + np.asarray(cmd_offsets_ms, dtype=np.int64) * MS
    cmds = np.arange(1, len(cmd_t) + 1, dtype=np.float64)[:, None]
    cfg = BagDatasetConfig(action_alignment=alignment, action_alignment_window_s=window_s,
                           command_timeout_s=timeout_s)
    report = ReadReport()
    a = frame_actions(FRAMES, np.zeros((6, 1)), cmd_t, cmds, 1, cfg, report)
    return a[:, 0], report.frames_without_command


def test_after_frame_gives_each_frame_the_command_that_follows_it():
    late = [4, 5, 3, 4, 6, 4]                                # ms after each frame
    assert actions(late, 'after_frame', 0.01)[0].tolist() == [1, 2, 3, 4, 5, 6]
    # The same commands under at_or_before: each frame gets the step before's (0 at first).
    assert actions(late)[0].tolist() == [0, 1, 2, 3, 4, 5]
    # A command later than the window is not this frame's: the previous one is held.
    a, missing = actions([4, 5, 30, 4, 6, 4], 'after_frame', 0.01)
    assert a.tolist() == [1, 2, 2, 4, 5, 6] and missing == 0


def test_after_frame_with_commands_stamped_with_their_frames_is_unchanged():
    assert actions([0] * 6, 'after_frame', 0.01)[0].tolist() == [1, 2, 3, 4, 5, 6]
    assert actions([0] * 6)[0].tolist() == [1, 2, 3, 4, 5, 6]


def test_timeout_is_measured_from_the_lookup_time():
    # Commands only for frames 0 and 1; a 0.15 s timeout zeroes frames 3.. (looked up at
    # frame + 10 ms: 0.31 - 0.105 > 0.15).
    cmd_t = FRAMES[:2] + 5 * MS
    cfg = BagDatasetConfig(action_alignment='after_frame', action_alignment_window_s=0.01,
                           command_timeout_s=0.15)
    report = ReadReport()
    a = frame_actions(FRAMES, np.zeros((6, 1)), cmd_t, np.array([[1.0], [2.0]]), 1, cfg,
                      report)
    assert a[:, 0].tolist() == [1, 2, 2, 0, 0, 0] and report.frames_without_command == 3


def test_a_window_of_a_frame_period_or_more_is_refused():
    with pytest.raises(BagDatasetError, match='not shorter than the frame period'):
        command_reference_times(FRAMES, 'after_frame', 0.1)
    assert command_reference_times(FRAMES, 'after_frame', 0.099)[0] == 99 * MS
    assert command_reference_times(FRAMES, 'at_or_before', 0.0) is FRAMES


@pytest.mark.parametrize('settings, message', [
    ({'action_alignment': 'before'}, 'unknown action_alignment'),
    ({'action_alignment': 'after_frame'}, 'needs action_alignment_window_s > 0'),
    ({'action_alignment_window_s': 0.01}, 'applies to action_alignment: after_frame only'),
    ({'action_alignment': 'after_frame', 'action_alignment_window_s': -0.01}, '>= 0'),
    ({'action_alignment': 'after_frame', 'action_alignment_window_s': float('nan')},
     'finite'),
])
def test_bad_alignment_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(BagConfig, settings, 'data.bag')


def test_default_is_at_or_before():
    assert BagConfig().action_alignment == 'at_or_before'
    assert BagConfig().action_alignment_window_s == 0


def test_delays_are_measured_to_the_preceding_frame_within_a_period():
    cmd_t = np.array([4, 104, 250, 303, 900]) * MS        # 900: after a pause, no frame
    frames = np.array([0, 100, 200, 300, 500]) * MS
    assert (command_delays(frames, cmd_t, 0.1) / MS).tolist() == [4, 4, 50, 3]
    assert command_delays(frames, np.zeros(0, dtype=np.int64), 0.1).size == 0


def test_recommendation_follows_the_measured_delay():
    assert recommend_alignment(np.zeros(50), 0.1)['action_alignment'] == 'at_or_before'
    late = recommend_alignment(np.full(50, 0.004), 0.1)
    assert late['action_alignment'] == 'after_frame'
    assert late['action_alignment_window_s'] == pytest.approx(0.008)
    # Delays spread over the period: an independent command stream, not tied to frames.
    spread = recommend_alignment(np.linspace(0.0, 0.099, 50), 0.1)
    assert spread['action_alignment'] == 'at_or_before' and 'not tied' in spread['reason']
    # A controller with 30 ms of inference at 10 Hz still publishes after its frame.
    slow = recommend_alignment(np.random.default_rng(0).normal(0.03, 0.003, 50), 0.1)
    assert slow['action_alignment'] == 'after_frame'
    assert 0.04 < slow['action_alignment_window_s'] <= 0.075
    assert recommend_alignment(np.zeros(0), 0.1)['action_alignment'] == 'at_or_before'
