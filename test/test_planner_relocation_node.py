"""planner_node places a goal and a map given in ``map`` again when ``map -> odom`` moves
(docs/planner.md, Frames). TF is a settable stand-in for the node's tf2 frames (no tf2_ros
wheel here); the goal and map go through the node's own callbacks and the plan timer does
the rest."""

import math

import numpy as np
import pytest
import torch

try:
    from ros_feeders import graph_fixture, one_thread  # noqa: F401
    from ros_feeders import save_tiny
    from ros_graph import wait_for
    from test_planner_node import close_node, make_node
    from test_rotated_maps import FakeFrames, goal_msg, grid_msg
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import IN_PROCESS_NODE_MARKS
from jepa_world_model.core.planning.frames import Planar

pytestmark = IN_PROCESS_NODE_MARKS

TURNED = Planar(1.0, -2.0, math.pi / 2)


@pytest.fixture(scope='module')
def base_ckpt(tmp_path_factory):
    """A mobile-base-like model: wheel velocities and the odometry pose in s."""
    return save_tiny(tmp_path_factory, 'relocate', 'base', 3,
                     joint_names=['wheel_left', 'wheel_right'], use_joint_position=False,
                     pose_in_state=True)


def test_a_localisation_correction_places_goal_and_map_again(graph, base_ckpt):
    node = make_node(graph, base_ckpt, '/relocate', output='cmd_vel', map_inflation=0.0,
                     action_fields=['linear.x', 'angular.z'], command_min=[-0.3],
                     command_max=[0.3])
    try:
        frames = FakeFrames(TURNED)
        assert node._lock.acquire(timeout=2.0)
        node._tf_frames = frames   # what make_frames returns where tf2_ros imports
        node._lock.release()
        node._on_map(grid_msg('map'))
        node._on_goal_pose(goal_msg(2.5, 1.5, 0.0, 'map'))
        assert node.counters.get('maps') == 1 and node.counters.get('goals') == 1
        goal = node.controller.goal
        np.testing.assert_allclose(goal.target[:2].numpy(), TURNED.apply(
            np.array([[2.5, 1.5]]))[0], atol=1e-6)
        field = node.controller.navigation
        assert field is not None and node.static_map.placement == TURNED
        # The plan timer asks TF again; nothing moved, nothing is placed again.
        assert not wait_for(lambda: node.counters.get('relocations') > 0, timeout=0.5)
        # The same goal re-published after a sub-threshold drift: a repeat.
        frames.transform = Planar(TURNED.x + 0.005, TURNED.y, TURNED.yaw)
        node._on_goal_pose(goal_msg(2.5, 1.5, 0.0, 'map'))
        assert node.counters.get('goals_repeated') == 1 and node.controller.goal is goal
        # AMCL corrects map -> odom by 0.3 m and 0.1 rad.
        corrected = Planar(1.3, -2.0, math.pi / 2 + 0.1)
        frames.transform = corrected
        assert wait_for(lambda: node.counters.get('relocations') == 1), \
            node.counters.snapshot()
        assert node._lock.acquire(timeout=2.0)
        try:
            moved_goal, static = node.controller.goal, node.static_map
            moved_field = node.controller.navigation
        finally:
            node._lock.release()
        np.testing.assert_allclose(moved_goal.target[:2].numpy(), corrected.apply(
            np.array([[2.5, 1.5]]))[0], atol=1e-6)
        assert static.placement == corrected and node.controller.static_map is static
        # Goal and map moved together: the cost-to-go was re-placed, not rebuilt.
        assert moved_field.distance_grid is field.distance_grid
        pillar = corrected.apply(np.array([[2.05, 0.55]]))[0]
        assert float(moved_field.static_range(torch.tensor(pillar))) == pytest.approx(
            0.0, abs=1e-6)
        assert node.counters.get('goals') == 1   # not a new goal
    finally:
        close_node(graph, node)
