"""One message must not take a node down (issue #11 items 8, 9, 10, 12), in process: the
intake of ``world_model_node`` (:class:`FramePipeline`, with a real tiny model) and of
``planner_node`` (:class:`PlannerInputs`), driven by hand-made messages and a hand-set node
clock, no DDS.

* absurd but finite values (1e30 joints, a 1e300 command) are refused under their own
  reason, and a frame whose outputs are not finite is dropped, never published;
* an image bomb is refused before decoding (``image_too_large``);
* a state message stamped ahead of the node clock is refused and does not block the valid
  ones after it;
* a scan that sees nothing stops the obstacle term instead of reading as free space.
"""

import dataclasses
import threading
import time

import numpy as np
import pytest

from jepa_world_model.core.runtime.inference import WorldModelRuntime
from jepa_world_model.core.runtime.streams import Counters
from tiny_models import JOINTS, save_tiny

try:
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import CompressedImage, JointState, LaserScan

    from jepa_world_model.ros.common import image_conversion
    from jepa_world_model.ros.world_model.action_sources import ActionSource
    from jepa_world_model.ros.world_model.frame_pipeline import FramePipeline
    from jepa_world_model.ros.common.image_conversion import (rgb_to_compressed_msg,
                                                              rgb_to_image_msg)
    from jepa_world_model.ros.common.joint_state_conversion import seconds_to_stamp
    from jepa_world_model.ros.common.rejects import InputError
    from jepa_world_model.ros.world_model.parameters import NodeSettings
    from jepa_world_model.ros.planner.inputs import PlannerInputs
    from jepa_world_model.ros.planner.parameters import PlannerSettings
except ImportError:   # the tests need these; they are marked ros and skipped by conftest
    pass

pytestmark = pytest.mark.ros

NOW = 1000.0


@pytest.fixture(scope='module')
def runtime(tmp_path_factory):
    """The shared tiny model (joints joint_a, joint_b; 2-D action) with a pose probe."""
    path = save_tiny(tmp_path_factory.mktemp('limits') / 'tiny.safetensors', pose_probe=True)
    return WorldModelRuntime.from_path(path)


def joint_state(t, positions=(0.1, -0.2), velocities=(0.0, 0.0)):
    msg = JointState()
    msg.header.stamp = seconds_to_stamp(t)
    msg.name = list(JOINTS)
    msg.position, msg.velocity = [float(v) for v in positions], [float(v) for v in velocities]
    return msg


def image(t, size=32):
    rgb = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    msg = rgb_to_image_msg(rgb, 'rgb8')
    msg.header.stamp = seconds_to_stamp(t)
    return msg


def odometry(t, x=1.0, y=2.0):
    msg = Odometry()
    msg.header.stamp = seconds_to_stamp(t)
    msg.pose.pose.position.x, msg.pose.pose.position.y = float(x), float(y)
    msg.pose.pose.orientation.w = 1.0
    return msg


def scan(t, beams, value=2.0):
    """A 360-degree LaserScan of ``beams`` equal ranges ``value`` [m] stamped ``t``."""
    msg = LaserScan()
    msg.header.stamp = seconds_to_stamp(t)
    msg.angle_min, msg.angle_increment = -np.pi, 2 * np.pi / beams
    msg.range_min, msg.range_max = 0.1, 10.0
    msg.ranges = [value] * beams
    return msg


class Clock:
    """The node clock, set by hand."""

    def __init__(self, t=NOW):
        self.t = t

    def __call__(self):
        return self.t


def make_pipeline(runtime, **settings):
    """A FramePipeline on twist commands (linear.x, angular.z) at node time NOW."""
    s = NodeSettings(action_fields=('linear.x', 'angular.z'), stale_timeout=1.0,
                     **settings)
    action = ActionSource.create('twist', runtime.action_dim, s.action_fields, (),
                                 runtime.joint_names, 'positions', s.action_scale,
                                 s.action_timeout)
    runtime.reset()
    return FramePipeline(runtime, action, s, Counters(), lambda text: None, Clock(),
                         threading.Lock())


def rejections(counters):
    """Counters other than the pipeline's own events."""
    return {k: v for k, v in counters.snapshot().items()
            if k not in ('images_received', 'predictions')}


def finite(result):
    return all(np.isfinite(np.asarray(getattr(result, f), dtype=np.float64)).all()
               for f in ('z', 'z_obs', 'positions', 'velocities', 'poses')
               if getattr(result, f) is not None)


# -- world_model_node: FramePipeline ----------------------------------------------------------

def test_absurd_joints_and_commands_are_refused_and_outputs_stay_finite(runtime):
    """1e30 joint positions or velocities: joint_state_out_of_range, not in the history;
    1e30 and 1e300 commands: action_invalid, the previous command stays; the frame after
    them predicts from the valid inputs, all finite."""
    p = make_pipeline(runtime)
    p.on_joint_state(joint_state(NOW - 0.02, positions=(1e30, 0.0)))
    p.on_joint_state(joint_state(NOW - 0.02, velocities=(0.0, -1e30)))
    assert rejections(p.counters) == {'joint_state_out_of_range': 2}
    assert len(p.states.sync.joints) == 0
    p.on_joint_state(joint_state(NOW - 0.01))
    good, huge, overflow = Twist(), Twist(), Twist()
    good.linear.x = 0.3
    huge.linear.x, overflow.angular.z = 1e30, 1e300
    for msg in (good, huge, overflow):
        p.on_action(msg)
    assert p.counters.get('action_invalid') == 2
    np.testing.assert_allclose(p.action.current(NOW), [0.3, 0.0])
    out = p.process(image(NOW), time.monotonic())
    assert out is not None and finite(out[1])
    assert 'inference_error' not in p.counters.snapshot()


def test_non_finite_outputs_are_dropped_and_the_model_history_reset(runtime, monkeypatch):
    """Whatever the inputs, a result holding NaN never leaves process(): it is counted as
    prediction_nonfinite and the runtime forgets it (later surprises would be NaN too)."""
    p = make_pipeline(runtime)
    step = runtime.step

    def nan_step(*args, **kwargs):
        result = step(*args, **kwargs)
        return dataclasses.replace(result, positions=np.full_like(result.positions, np.nan))

    monkeypatch.setattr(runtime, 'step', nan_step)
    resets = []
    monkeypatch.setattr(runtime, 'reset', lambda: resets.append(True))
    p.on_joint_state(joint_state(NOW - 0.01))
    assert p.process(image(NOW), time.monotonic()) is None
    assert p.counters.get('prediction_nonfinite') == 1 and resets and p.last_result is None


def test_compressed_image_bomb_is_refused_before_decoding(runtime, monkeypatch):
    """A PNG declaring 12000 x 12000 pixels: image_too_large within milliseconds, never
    decoded (it used to cost +820 MB and 3 s, then read as stale inputs)."""
    p = make_pipeline(runtime, image_transport='compressed')
    bomb = bytearray(rgb_to_compressed_msg(np.zeros((8, 8, 3), np.uint8), 'png').data)
    bomb[16:24] = (12000).to_bytes(4, 'big') * 2      # IHDR width and height
    msg = CompressedImage(format='png', data=bytes(bomb))
    msg.header.stamp = seconds_to_stamp(NOW)

    def imdecode(*args, **kwargs):
        raise AssertionError('the bomb reached cv2.imdecode')

    monkeypatch.setattr(image_conversion.cv2, 'imdecode', imdecode)
    p.on_joint_state(joint_state(NOW - 0.01))
    start = time.perf_counter()
    assert p.process(msg, time.monotonic()) is None
    assert time.perf_counter() - start < 0.5
    assert rejections(p.counters) == {'image_too_large': 1}


def test_raw_images_above_max_image_pixels_are_refused(runtime):
    p = make_pipeline(runtime, max_image_pixels=32 * 32 - 1)
    p.on_joint_state(joint_state(NOW - 0.01))
    assert p.process(image(NOW), time.monotonic()) is None
    assert rejections(p.counters) == {'image_too_large': 1}


def test_a_future_joint_state_or_image_does_not_block_the_valid_ones(runtime):
    """A joint state stamped 0.9 s ahead is refused (joint_state_stamp_in_future) and the
    next valid one is accepted; an image 0.4 s ahead (within stale_timeout) is refused
    too, so the next current image is not out of order."""
    p = make_pipeline(runtime)
    p.on_joint_state(joint_state(NOW + 0.9))
    p.on_joint_state(joint_state(NOW - 0.01))
    assert rejections(p.counters) == {'joint_state_stamp_in_future': 1}
    assert p.states.sync.joints.latest_stamp == pytest.approx(NOW - 0.01)
    assert p.process(image(NOW + 0.4), time.monotonic()) is None
    assert p.process(image(NOW), time.monotonic() + 1.0) is not None
    assert rejections(p.counters) == {'joint_state_stamp_in_future': 1,
                                      'image_stamp_in_future': 1}


# -- planner_node: PlannerInputs --------------------------------------------------------------

def make_inputs(joints=tuple(JOINTS), **settings):
    rejected = []
    s = PlannerSettings(**settings)
    inputs = PlannerInputs(joints, True, lambda: s, Counters(),
                           lambda reason, text: rejected.append(reason), Clock())
    return inputs, rejected


def test_planner_refuses_future_and_absurd_joint_states_and_odometry():
    inputs, rejected = make_inputs()
    inputs.on_joint_state(joint_state(NOW + 0.9))
    inputs.on_joint_state(joint_state(NOW - 0.01, positions=(0.0, 1e30)))
    inputs.on_joint_state(joint_state(NOW - 0.01))
    inputs.on_odometry(odometry(NOW + 0.9))
    inputs.on_odometry(odometry(NOW - 0.01, x=-1e30))
    inputs.on_odometry(odometry(NOW - 0.01))
    assert rejected == ['joint_state_stamp_in_future', 'joint_state_out_of_range',
                        'odom_stamp_in_future', 'odom_out_of_range']
    assert inputs.states.sync.joints.latest_stamp == pytest.approx(NOW - 0.01)
    assert inputs.states.sync.odom.latest_stamp == pytest.approx(NOW - 0.01)
    np.testing.assert_allclose(inputs.newest_q(), [0.1, -0.2])


def test_planner_refuses_images_above_max_image_pixels(runtime):
    inputs, _ = make_inputs(max_image_pixels=32 * 32 - 1)
    inputs.on_image(image(NOW))
    inputs.on_joint_state(joint_state(NOW - 0.01))
    with pytest.raises(InputError) as info:
        inputs.observe(runtime, require_new=True)
    assert info.value.reason == 'image_too_large'


def test_a_scan_that_sees_nothing_stops_the_obstacle_term(runtime):
    """A good scan, then an all-NaN one: the good one is dropped (no information is not
    free space) and observe() stops on scan_stale; a long scan is pooled on the way in."""
    inputs, rejected = make_inputs(obstacle_weight=1.0, max_scan_beams=100)
    inputs.on_image(image(NOW))
    inputs.on_joint_state(joint_state(NOW - 0.01))
    msg = scan(NOW, 1000)
    inputs.on_scan(msg)
    assert inputs.scan is not None and inputs.scan.ranges.size == 100
    assert inputs.observe(runtime, require_new=True).observation.scan is inputs.scan
    msg.ranges = [float('nan')] * 1000
    inputs.on_scan(msg)
    assert rejected == ['scan_no_information'] and inputs.scan is None
    with pytest.raises(InputError) as info:
        inputs.observe(runtime, require_new=False)
    assert info.value.reason == 'scan_stale'


def test_the_people_cost_to_go_takes_a_fresh_scan_but_does_not_need_one(runtime):
    """people_cost_to_go_every alone (no obstacle or agent term): a scan within
    stale_timeout of the image goes with the observation; none, or a stale one, is no error
    (the map's last cost-to-go stays), unlike the obstacle term's scan_stale."""
    inputs, rejected = make_inputs(people_cost_to_go_every=2)
    inputs.on_image(image(NOW))
    inputs.on_joint_state(joint_state(NOW - 0.01))
    assert inputs.observe(runtime, require_new=True).observation.scan is None
    msg = scan(NOW, 360)
    inputs.on_scan(msg)
    assert inputs.observe(runtime, require_new=False).observation.scan is inputs.scan
    msg.header.stamp = seconds_to_stamp(NOW - 100.0)
    inputs.on_scan(msg)
    assert inputs.scan is not None and inputs.observe(
        runtime, require_new=False).observation.scan is None
    assert rejected == []
