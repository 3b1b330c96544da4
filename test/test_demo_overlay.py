"""The demo animation's shared helpers (demo/overlay.py): which message a frame shows, and
the measured traces split at "now". Pure numpy, no ROS."""

import numpy as np

from jepa_world_model.demo.overlay import COLORS, matched_index, measured_series


def test_matched_index_takes_the_next_message_within_the_gap():
    stamps = np.array([0.0, 0.1, 0.2, 0.5])
    frames = np.array([-0.2, 0.0, 0.08, 0.3, 0.45, 0.53, 0.7])
    # 0.08 -> 0.1 (next stamp, within 0.05); 0.3 -> 0.5 is too far; 0.53 lies after the
    # last stamp, which is still within the gap; 0.7 is too far from it.
    np.testing.assert_array_equal(matched_index(stamps, frames, 0.05),
                                  [-1, 0, 1, -1, 3, 3, -1])
    assert matched_index(np.array([]), frames, 0.05).tolist() == [-1] * len(frames)


def test_measured_series_splits_at_now_within_the_range():
    t = np.arange(10) * 1.0
    y = t * 2.0
    past, ahead = measured_series(t, y, (2.0, 7.0), 4.0)
    np.testing.assert_array_equal(past[0], [2, 3, 4])
    np.testing.assert_array_equal(past[1], [4, 6, 8])
    np.testing.assert_array_equal(ahead[0], [4, 5, 6, 7])
    assert past[2:] == (COLORS['actual'], 2) and ahead[2:] == (COLORS['future'], 1)
