"""Predictions as markers and stamped figures (issue #15 item 7): the converters on their own.

* ``prediction_markers``: for any horizon, joint count and values, every marker carries the
  input stamp and frame, a positive lifetime, a namespace of ``NAMESPACES`` and an id that is
  unique within it and the same from frame to frame; the points are the predictions.
* ``planar_chain_points`` against MuJoCo: with the simulated arm's link lengths, the end
  effector it computes is the arm's ``ee`` site for random joint angles.
* ``delete_all_markers`` and the stamped figures (``Vector3Stamped`` field mapping).
"""

import math

from hypothesis import given
from hypothesis import strategies as st
import numpy as np
import pytest

try:
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker

    from jepa_world_model.ros.common.joint_state_conversion import seconds_to_stamp
    from jepa_world_model.ros.common.prediction_markers import (delete_all_markers, NAMESPACES,
                                                                planar_chain_points,
                                                                prediction_markers)
    from jepa_world_model.ros.common.stamped_figures import (plan_figures_msg,
                                                             surprise_stamped_msg)
except ImportError:   # marked ros: conftest skips (or with JWM_REQUIRE_ROS=1 fails) them
    pass

pytestmark = pytest.mark.ros

#: Link lengths of jepa_world_model/sim/assets/arm.xml: link1 0.30, link2 0.25, tip site 0.16.
ARM_LINKS = (0.30, 0.25, 0.16)
finite = st.floats(-50.0, 50.0, allow_nan=False)


@st.composite
def predictions(draw):
    """``(names, positions [H, J] or None, velocities [H, J] or None, poses [H+1, 3] or None,
    links)``: any horizon and joint count, any subset of outputs."""
    horizon, joints = draw(st.integers(1, 12)), draw(st.integers(1, 6))
    names = [f'j{i}' for i in range(joints)]

    def table(rows):
        return np.array(draw(st.lists(st.lists(finite, min_size=rows[1], max_size=rows[1]),
                                      min_size=rows[0], max_size=rows[0])))

    positions = table((horizon, joints)) if draw(st.booleans()) else None
    velocities = table((horizon, joints)) if draw(st.booleans()) else None
    poses = table((horizon + 1, 3)) if draw(st.booleans()) else None
    links = draw(st.lists(st.floats(0.01, 2.0), max_size=joints))
    return names, positions, velocities, poses, links


@given(predictions(), st.floats(0.0, 2e9), st.sampled_from(['camera_optical', 'odom']),
       st.floats(0.01, 10.0))
def test_markers_carry_the_input_header_and_stable_ids(pred, stamp, frame, lifetime):
    names, positions, velocities, poses, links = pred
    header = Header(stamp=seconds_to_stamp(stamp), frame_id=frame)
    markers = prediction_markers(header, names, positions, velocities, poses, 0.1, lifetime,
                                 links).markers
    keys = [(m.ns, m.id) for m in markers]
    assert len(set(keys)) == len(keys), 'two markers share a namespace and id'
    for m in markers:
        assert m.header.stamp == header.stamp and m.header.frame_id == frame
        assert m.ns in NAMESPACES and m.action == Marker.ADD
        assert m.lifetime.sec + m.lifetime.nanosec * 1e-9 == pytest.approx(lifetime, abs=1e-6)
        assert all(math.isfinite(v) for p in m.points for v in (p.x, p.y, p.z))
    by_ns = {ns: [m for m in markers if m.ns == ns] for ns in NAMESPACES}
    values = positions if positions is not None else velocities
    assert len(by_ns['predicted_joints']) == (len(names) if values is not None else 0)
    for j, text in enumerate(by_ns['predicted_joints']):
        assert text.id == j and text.text.startswith(f'{names[j]}: {values[0, j]:+.3f} -> '
                                                     f'{values[-1, j]:+.3f}')
    if poses is None:
        assert not by_ns['predicted_path']
    else:
        line, arrow = by_ns['predicted_path']
        assert [(p.x, p.y) for p in line.points] == [tuple(xy) for xy in poses[:, :2]]
        assert (arrow.pose.position.x, arrow.pose.position.y) == tuple(poses[-1, :2])
        yaw = 2 * math.atan2(arrow.pose.orientation.z, arrow.pose.orientation.w)
        assert math.remainder(yaw - poses[-1, 2], 2 * math.pi) == pytest.approx(0, abs=1e-6)
    with_arm = positions is not None and len(links) > 0
    assert len(by_ns['predicted_end_effector']) == (2 if with_arm else 0)
    assert len(by_ns['predicted_arm']) == (1 if with_arm else 0)
    if with_arm:
        ee_path, tip = by_ns['predicted_end_effector']
        reach = sum(links) + 1e-9
        assert len(ee_path.points) == positions.shape[0]
        assert all(math.hypot(p.x, p.y) <= reach for p in ee_path.points)
        assert (tip.pose.position.x, tip.pose.position.y) == (ee_path.points[-1].x,
                                                              ee_path.points[-1].y)
        assert len(by_ns['predicted_arm'][0].points) == len(links) + 1


def test_ids_are_the_same_from_frame_to_frame():
    """A new array replaces the previous one marker for marker (no pile-up in a viewer)."""
    header = Header(frame_id='odom')
    rng = np.random.default_rng(0)
    first, second = (prediction_markers(header, ['a', 'b', 'c'], rng.normal(size=(5, 3)), None,
                                        rng.normal(size=(6, 3)), 0.1, 0.5, ARM_LINKS)
                     for _ in range(2))
    assert [(m.ns, m.id, m.type) for m in first.markers] == \
        [(m.ns, m.id, m.type) for m in second.markers]


def test_bad_inputs_raise_value_error_with_the_reason():
    header = Header(frame_id='f')
    with pytest.raises(ValueError, match='2 links but only 1 joints'):
        prediction_markers(header, ['a'], np.zeros((3, 1)), None, None, 0.1, 0.5, (0.1, 0.2))
    with pytest.raises(ValueError, match=r'\[H >= 1, 2\]'):
        prediction_markers(header, ['a', 'b'], np.zeros((3, 3)), None, None, 0.1, 0.5)
    with pytest.raises(ValueError, match=r'poses must be \[H \+ 1, 3\]'):
        prediction_markers(header, ['a'], None, None, np.zeros((3, 2)), 0.1, 0.5)
    with pytest.raises(ValueError, match='lifetime'):
        prediction_markers(header, ['a'], np.zeros((3, 1)), None, None, 0.1, 0.0)
    with pytest.raises(ValueError, match=r'angles must be \[H, 3\]'):
        planar_chain_points(np.zeros((2, 2)), ARM_LINKS)


def test_planar_chain_matches_the_simulated_arm():
    """The documented link lengths of the simulated arm put the end effector where MuJoCo
    does (its ``ee`` site, relative to joint1), for random joint angles."""
    mujoco = pytest.importorskip('mujoco')
    from jepa_world_model.sim.robots import ArmSim
    arm = ArmSim(image_size=16)
    try:
        model, data = arm.model, arm.data
        rng = np.random.default_rng(3)
        angles = rng.uniform(arm.joint_limits[:, 0], arm.joint_limits[:, 1], size=(20, 3))
        expected = []
        base = None
        for q in angles:
            data.qpos[arm._qadr] = q
            mujoco.mj_forward(model, data)
            base = data.xpos[model.body('link1').id][:2].copy()
            expected.append(data.site('ee').xpos[:2] - base)
        chain = planar_chain_points(angles, ARM_LINKS)
        np.testing.assert_allclose(chain[:, -1], np.array(expected), atol=1e-9)
    finally:
        arm.close()


def test_delete_all_covers_every_namespace():
    msg = delete_all_markers(Header(frame_id='odom'))
    assert {m.ns for m in msg.markers} == set(NAMESPACES)
    assert all(m.action == Marker.DELETEALL and m.header.frame_id == 'odom'
               for m in msg.markers)


def test_stamped_figures_field_mapping():
    header = Header(stamp=seconds_to_stamp(12.5), frame_id='camera_optical')
    msg = surprise_stamped_msg(header, 2.5, 0.031, 3)
    assert msg.header == header and (msg.vector.x, msg.vector.y, msg.vector.z) == (2.5, 0.031, 3)
    msg = plan_figures_msg(header, None, 0.2, 4.0)
    assert msg.header == header and math.isnan(msg.vector.x)
    assert (msg.vector.y, msg.vector.z) == (0.2, 4.0)
