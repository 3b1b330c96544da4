"""world_model_node pairs frames and commands by the rule the model was trained with
(issue #15 item 3, live): core/runtime/action_alignment.py, applied by the node's own
objects (:class:`ActionSource`, :class:`FramePipeline` with a real tiny model) on a clock set
by hand or running in real time, no DDS.

A robot publishes the command computed from frame t 5 ms after the frame: ``after_frame``
pairs it with frame t, ``at_or_before`` with frame t + 1 (frame t gets the previous one).
"""

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from jepa_world_model.core.config import BagConfig
from jepa_world_model.core.runtime.action_alignment import (ActionAlignment, AlignmentError,
                                                            paired_command_indices)
from jepa_world_model.core.runtime.inference import WorldModelRuntime
from jepa_world_model.core.runtime.streams import Counters
from tiny_models import save_tiny

try:
    from geometry_msgs.msg import Twist
    from sensor_msgs.msg import JointState

    from jepa_world_model.ros.common.image_conversion import rgb_to_image_msg
    from jepa_world_model.ros.common.joint_state_conversion import seconds_to_stamp
    from jepa_world_model.ros.world_model.action_sources import ActionSource, live_alignment
    from jepa_world_model.ros.world_model.frame_pipeline import FramePipeline
    from jepa_world_model.ros.world_model.parameters import NodeSettings
except ImportError:   # the ROS tests need these; they are marked ros and skipped by conftest
    pass

NOW = 1000.0
FRAMES = NOW + 0.1 * np.arange(5)                  # 10 Hz
DELAY = 0.005                                     # command k: frame k + 5 ms, value k + 1


def twist(x):
    msg = Twist()
    msg.linear.x = float(x)
    return msg


class Clock:
    """The node clock: set by hand, or real time from NOW when ``running``."""

    def __init__(self, running=False):
        self.t, self.running, self.start = NOW, running, time.monotonic()

    def __call__(self):
        return NOW + time.monotonic() - self.start if self.running else self.t


def source(rule, window_s=0.0, timeout=0.5):
    out = ActionSource.create('twist', 2, ['linear.x', 'angular.z'], (), ('a', 'b'),
                              'positions', [1.0], timeout)
    out.alignment = ActionAlignment(rule, window_s)
    return out


@pytest.fixture(scope='module')
def runtime(tmp_path_factory):
    path = save_tiny(tmp_path_factory.mktemp('align') / 'tiny.safetensors')
    return WorldModelRuntime.from_path(path)


def pipeline(runtime, clock, **settings):
    s = NodeSettings(action_fields=('linear.x', 'angular.z'), stale_timeout=5.0, **settings)
    action = ActionSource.create('twist', runtime.action_dim, s.action_fields, (),
                                 runtime.joint_names, 'positions', s.action_scale,
                                 s.action_timeout)
    action.alignment = live_alignment(runtime, s)
    runtime.reset()
    return FramePipeline(runtime, action, s, Counters(), lambda text: None, clock,
                         threading.Lock())


# -- the rule (core, pure) ----------------------------------------------------------------

def test_the_core_rule_pairs_commands_after_frames_with_their_frame():
    cmd_t = FRAMES + DELAY
    k, in_window = paired_command_indices(FRAMES, cmd_t, ActionAlignment('after_frame', 0.02))
    assert k.tolist() == [0, 1, 2, 3, 4] and in_window.all()
    k, in_window = paired_command_indices(FRAMES, cmd_t, ActionAlignment())
    assert k.tolist() == [-1, 0, 1, 2, 3] and not in_window.any()
    # A command later than the window is not the frame's: the one held from before is.
    late = cmd_t.copy()
    late[2] += 0.03
    k, in_window = paired_command_indices(FRAMES, late, ActionAlignment('after_frame', 0.02))
    assert k.tolist() == [0, 1, 1, 3, 4] and in_window.tolist() == [1, 1, 0, 1, 1]


def test_the_decision_waits_only_for_after_frame_and_only_until_the_window_ends():
    rule = ActionAlignment('after_frame', 0.02)
    assert not rule.decided(NOW, NOW + 0.01, np.array([NOW - 0.095]))
    assert rule.decided(NOW, NOW + 0.01, np.array([NOW - 0.095, NOW + 0.005]))
    assert rule.decided(NOW, NOW + 0.02, np.array([NOW - 0.095]))
    assert ActionAlignment().decided(NOW, NOW, np.zeros(0))


@pytest.mark.parametrize('trained, override, expected', [
    (None, ('', 0.0), ('at_or_before', 0.0)),
    (('after_frame', 0.01), ('', 0.0), ('after_frame', 0.01)),
    (('after_frame', 0.01), ('at_or_before', 0.0), ('at_or_before', 0.0)),
    (('after_frame', 0.01), ('', 0.03), ('after_frame', 0.03)),
    (None, ('after_frame', 0.02), ('after_frame', 0.02)),
])
def test_the_node_runs_the_rule_the_checkpoint_was_trained_with(trained, override, expected):
    config = SimpleNamespace(data=SimpleNamespace(source='synthetic', bag=BagConfig()))
    if trained:
        config.data = SimpleNamespace(source='rosbag', bag=BagConfig(
            action_alignment=trained[0], action_alignment_window_s=trained[1]))
    runtime = SimpleNamespace(checkpoint=SimpleNamespace(config=config))
    settings = SimpleNamespace(action_alignment=override[0],
                               action_alignment_window_s=override[1], model_step_period=0.1)
    rule = live_alignment(runtime, settings)
    assert (rule.rule, rule.window_s) == expected


@pytest.mark.parametrize('override, step, message', [
    (('after_frame', 0.0), 0.1, 'needs action_alignment_window_s > 0'),
    (('after_frame', 0.1), 0.1, 'not shorter than the frame period'),
    (('at_or_before', 0.01), 0.1, 'applies to after_frame only'),
])
def test_an_override_that_makes_no_valid_rule_is_refused(override, step, message):
    runtime = SimpleNamespace(checkpoint=SimpleNamespace(config=None))
    settings = SimpleNamespace(action_alignment=override[0],
                               action_alignment_window_s=override[1], model_step_period=step)
    with pytest.raises(AlignmentError, match=message):
        live_alignment(runtime, settings)


# -- the node's objects ---------------------------------------------------------------------

@pytest.mark.ros
@pytest.mark.parametrize('rule, window, expected', [
    ('after_frame', 0.02, [1, 2, 3, 4, 5]),
    ('at_or_before', 0.0, [0, 1, 2, 3, 4]),
])
def test_a_command_5ms_after_each_frame_pairs_by_the_rule(rule, window, expected):
    """Commands arrive (node clock) 5 ms after each frame; each frame is looked up once the
    next command has arrived too, so only the rule decides which one it takes."""
    src = source(rule, window)
    got = []
    for k, frame in enumerate(FRAMES):
        src.on_message(twist(k + 1), frame + DELAY)
        if k:
            got.append(src.paired(FRAMES[k - 1])[0][0])
    got.append(src.paired(FRAMES[-1])[0][0])
    assert got == expected


@pytest.mark.ros
def test_a_command_older_than_the_timeout_at_the_lookup_is_zero():
    src = source('after_frame', 0.02, timeout=0.15)
    src.on_message(twist(1.0), FRAMES[0] + DELAY)
    assert src.paired(FRAMES[1])[0][0] == 1.0                   # held 0.115 s at t + window
    assert src.paired(FRAMES[2])[0][0] == 0.0                   # 0.215 s: stopped


@pytest.mark.ros
def test_the_pipeline_uses_the_rule_for_the_rollout_action(runtime):
    clock = Clock()
    p = pipeline(runtime, clock, action_alignment='after_frame',
                 action_alignment_window_s=0.02, action_timeout=1.0)
    for k, frame in enumerate(FRAMES[:2]):
        clock.t = frame + DELAY
        p.on_action(twist(k + 1))
    clock.t = FRAMES[1] + 0.05
    with p.lock:
        assert p.frame_action(FRAMES[0], clock(), p.settings)[0] == 1.0
    assert 'action_late' not in p.counters.snapshot()
    with p.lock:   # frame 2 has no command: frame 1's is held, counted as late
        assert p.frame_action(FRAMES[2], FRAMES[2] + 0.05, p.settings)[0] == 2.0
    assert p.counters.get('action_late') == 1


@pytest.mark.ros
def test_the_worker_waits_for_the_command_at_most_the_window(runtime):
    """A command 50 ms after the frame ends the wait at once; without one the wait ends at
    the window (0.5 s) and the frame is still processed."""
    clock = Clock(running=True)
    p = pipeline(runtime, clock, action_alignment='after_frame',
                 action_alignment_window_s=0.5, model_step_period=1.0, action_timeout=2.0)
    stamp = clock()
    sender = threading.Timer(0.05, p.on_action, args=(twist(0.7),))
    started = time.monotonic()
    sender.start()
    p.await_command(stamp)
    waited = time.monotonic() - started
    sender.join(timeout=5.0)
    assert 0.04 <= waited < 0.4
    with p.lock:
        assert p.frame_action(stamp, clock(), p.settings)[0] == pytest.approx(0.7)

    stamp = clock()
    started = time.monotonic()
    p.await_command(stamp)
    waited = time.monotonic() - started
    assert 0.45 <= waited < 1.5
    with p.lock:
        assert p.frame_action(stamp, clock(), p.settings)[0] == pytest.approx(0.7)
    assert p.counters.get('action_late') == 1
    # An at_or_before pipeline never waits.
    q = pipeline(runtime, clock, action_alignment='at_or_before')
    started = time.monotonic()
    q.await_command(clock())
    assert time.monotonic() - started < 0.05


@pytest.mark.ros
def test_a_frame_is_processed_after_its_command_arrives(runtime):
    clock = Clock(running=True)
    p = pipeline(runtime, clock, action_alignment='after_frame',
                 action_alignment_window_s=0.3, model_step_period=1.0)
    stamp = clock()
    state = JointState()
    state.header.stamp = seconds_to_stamp(stamp)
    state.name, state.position, state.velocity = list(runtime.joint_names), [0.1, 0.2], [0., 0.]
    p.on_joint_state(state)
    msg = rgb_to_image_msg(np.zeros((32, 32, 3), np.uint8), 'rgb8')
    msg.header.stamp = seconds_to_stamp(stamp)
    threading.Timer(0.02, p.on_action, args=(twist(0.4),)).start()
    out = p.process(msg, time.monotonic())
    assert out is not None, p.counters.snapshot()
    assert 'action_late' not in p.counters.snapshot()
