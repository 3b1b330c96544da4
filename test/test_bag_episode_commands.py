"""Commands are held only within an episode of a bag: with ``command_timeout_s`` at its
default (0, hold), the first frames of an episode never inherit the command in force at the
end of the episode before the gap (issue #15)."""

import numpy as np
import pytest

from jepa_world_model.bags.reader import BagDatasetConfig, read_bag_episodes
from jepa_world_model.bags.writer import BagRecorder
from jepa_world_model.core.training.synthetic import generate_episodes, JOINT_NAMES, SceneSpec

START = 1_700_000_000_000_000_000      # ns
DT = 100_000_000                        # 10 Hz
GAP = 3_000_000_000                     # a 3 s pause (a reset) between the episodes
SIZE = 16


@pytest.fixture(scope='module')
def two_episodes():
    eps = generate_episodes(2, 6, seed=5, spec=SceneSpec(image_size=SIZE))
    # Commands that differ from zero everywhere, so an inherited one is visible.
    for k, ep in enumerate(eps):
        ep.a[:] = np.arange(1, 1 + ep.a.size, dtype=np.float32).reshape(ep.a.shape) * (
            -1 if k else 1)
    return eps


def _write(path, eps, cmd_offset_ns, first_command=0):
    """Both episodes, GAP apart; each command ``cmd_offset_ns`` after its frame, from frame
    ``first_command`` of each episode on."""
    stamp = START
    with BagRecorder(path, joint_names=JOINT_NAMES) as rec:
        for ep in eps:
            for t in range(len(ep)):
                rec.write_image(stamp, ep.images[t])
                rec.write_joint_state(stamp, ep.s[t, :2], ep.s[t, 2:])
                if t >= first_command:
                    rec.write_action(stamp + cmd_offset_ns, ep.a[t])
                stamp += DT
            stamp += GAP


def _read(path):
    cfg = BagDatasetConfig(joint_names=JOINT_NAMES, image_size=SIZE, max_gap_s=1.0)
    assert cfg.command_timeout_s == 0          # the default under test: hold
    return read_bag_episodes([path], cfg)


def test_commands_sent_after_their_frame_do_not_cross_the_gap(tmp_path, two_episodes):
    """`ros2 bag record` of a robot: each command a few ms after its frame. The command
    computed from episode 1's last frame lands in the gap; episode 2's first frame gets
    zero, like episode 1's, instead of that command."""
    _write(tmp_path / 'bag', two_episodes, cmd_offset_ns=5_000_000)
    (first, second), report = _read(tmp_path / 'bag')
    for got, ep in ((first, two_episodes[0]), (second, two_episodes[1])):
        assert not got.a[0].any(), got.a[0]
        assert np.allclose(got.a[1:], ep.a[:-1])
    assert report.frames_without_command == 2


def test_an_episode_without_its_own_command_yet_gets_zero(tmp_path, two_episodes):
    """Commands from frame 2 of each episode on (stamped with their frames): frames 0 and 1
    of episode 2 are zero, not episode 1's last command held through the gap."""
    _write(tmp_path / 'bag', two_episodes, cmd_offset_ns=0, first_command=2)
    (first, second), report = _read(tmp_path / 'bag')
    for got, ep in ((first, two_episodes[0]), (second, two_episodes[1])):
        assert not got.a[:2].any()
        assert np.allclose(got.a[2:], ep.a[2:])
    assert report.frames_without_command == 4


def test_commands_stamped_with_their_frames_are_unchanged(tmp_path, two_episodes):
    """The package's recorder stamps each command with its frame: every frame keeps its
    own command, the first frame of each episode too."""
    _write(tmp_path / 'bag', two_episodes, cmd_offset_ns=0)
    (first, second), report = _read(tmp_path / 'bag')
    assert np.allclose(first.a, two_episodes[0].a) and np.allclose(second.a, two_episodes[1].a)
    assert report.frames_without_command == 0
