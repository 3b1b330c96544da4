"""Maps and goals in ``map`` under a rotated ``map -> odom`` (what AMCL publishes), and
placing them again when localisation corrects that transform (issue #15 item 10)."""

import math

import numpy as np
import pytest
import torch

from jepa_world_model.core.planning.frames import Planar
from jepa_world_model.core.planning.goals import GoalError, joint_state_goal, pose_goal
from jepa_world_model.core.planning.navigation import NavigationField
from jepa_world_model.core.planning.relocation import (map_corners, PlacedPose,
                                                       placement_moved, replaced_goal,
                                                       replaced_map, RELOCATE_DISTANCE_M)
from jepa_world_model.core.planning.static_map import navigation_for, StaticMap
from jepa_world_model.core.planning.settings import ControllerSettings

try:
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import OccupancyGrid

    from jepa_world_model.ros.common.rejects import InputError
    from jepa_world_model.ros.planner.goals import placed_pose_goal_from_msg
    from jepa_world_model.ros.planner.map_input import map_from_msg
    from jepa_world_model.ros.planner.placements import Placements
except ImportError:   # the ros mark skips these tests (conftest.py)
    pass

#: odom <- map as AMCL might leave it: turned 90 degrees and shifted.
TURNED = Planar(1.0, -2.0, math.pi / 2)
SETTINGS = ControllerSettings(use_map=True, map_inflation=0.0, map_occupied_threshold=50)


def pillar_grid():
    """A 4 m x 3 m map (0.1 m cells, origin (-1, -0.5) in map) with one occupied cell whose
    centre is (2.05, 0.55) in map."""
    cells = np.zeros((30, 40), dtype=np.int8)
    cells[10, 30] = 100
    return cells, (-1.0, -0.5), np.array([2.05, 0.55])


def field_at(placement, goal_map=(0.0, 0.0)):
    cells, origin, _ = pillar_grid()
    goal = placement.apply(np.array([goal_map]))[0]
    return NavigationField(cells >= 50, 0.1, origin, goal, inflation=0.0,
                           placement=placement)


def test_an_obstacle_in_a_rotated_map_lands_where_the_transform_puts_it():
    field = field_at(TURNED)
    _, _, pillar_map = pillar_grid()
    pillar_odom = TURNED.apply(pillar_map[None])[0]
    # (2.05, 0.55) in map is (1 - 0.55, -2 + 2.05) = (0.45, 0.05) in odom.
    np.testing.assert_allclose(pillar_odom, [0.45, 0.05], atol=1e-12)
    read = field.static_range(torch.tensor(np.array([pillar_odom, pillar_map])))
    assert float(read[0]) == pytest.approx(0.0, abs=1e-9)   # inside the occupied cell
    assert float(read[1]) > 1.0       # where the pillar would be had the map not turned
    # One cell (0.1 m) beside the pillar along odom's x is map's y: free, 0.05 m from the edge.
    beside = field.static_range(torch.tensor([[0.35, 0.05]], dtype=torch.float64))
    assert float(beside[0]) == pytest.approx(0.05, abs=1e-9)
    assert field.cell(pillar_odom) == (10, 30)


def test_a_rotated_field_reads_as_the_unrotated_one_at_the_same_map_points():
    rotated, plain = field_at(TURNED), field_at(Planar())
    points_map = np.random.default_rng(0).uniform([-0.9, -0.4], [2.9, 2.4], (200, 2))
    points_odom = TURNED.apply(points_map)
    for name in ('distance', 'static_range'):
        a = getattr(rotated, name)(torch.tensor(points_odom))
        b = getattr(plain, name)(torch.tensor(points_map))
        torch.testing.assert_close(a, b, atol=1e-9, rtol=0)
    # The goal is given and checked in the planner's frame; outside the grid is refused.
    np.testing.assert_allclose(rotated.goal_xy, TURNED.apply(np.zeros((1, 2)))[0])
    with pytest.raises(ValueError, match='outside the map'):
        NavigationField(np.zeros((3, 3), bool), 0.1, (0.0, 0.0), (0.15, 0.15), 0.0,
                        placement=Planar(0.0, 0.0, math.pi))


def test_a_field_is_replaced_not_rebuilt_when_goal_and_map_move_together():
    cells, origin, _ = pillar_grid()
    before = StaticMap(cells, 0.1, origin, 'map', Planar())
    goal_map = (2.5, 1.5)
    field = navigation_for(pose_goal(*goal_map), before, SETTINGS)
    after = replaced_map(before, TURNED)
    goal = pose_goal(*TURNED.apply(np.array([goal_map]))[0])
    moved = navigation_for(goal, after, SETTINGS, (before, field))
    assert moved is not field and moved.distance_grid is field.distance_grid
    assert moved.placement == TURNED
    # A goal that stays in odom while the map turns sits elsewhere on the grid: rebuilt.
    in_odom = navigation_for(pose_goal(0.5, 0.5), before, SETTINGS)
    rebuilt = navigation_for(pose_goal(0.5, 0.5), after, SETTINGS, (before, in_odom))
    assert rebuilt.distance_grid is not in_odom.distance_grid
    assert rebuilt.cell((0.52, 0.53)) == (9, 35) and in_odom.cell((0.52, 0.53)) == (10, 15)
    # Another grid (a new map message) is never taken for the old one.
    other = StaticMap(cells.copy(), 0.1, origin, 'map', TURNED)
    assert navigation_for(goal, other, SETTINGS, (before, field)).distance_grid \
        is not field.distance_grid


def test_placements_move_beyond_the_threshold_only():
    cells, origin, _ = pillar_grid()
    static = StaticMap(cells, 0.1, origin, 'map')
    corners = map_corners(static)
    np.testing.assert_allclose(corners, [[-1, -0.5], [3, -0.5], [-1, 2.5], [3, 2.5]])
    small = Planar(0.5 * RELOCATE_DISTANCE_M, 0.0, 0.0)
    assert not placement_moved(Planar(), small, corners)
    assert placement_moved(Planar(), Planar(2 * RELOCATE_DISTANCE_M, 0.0, 0.0), corners)
    # A small turn moves the far corners (3.9 m from the origin) by more than the threshold.
    assert placement_moved(Planar(), Planar(0.0, 0.0, 0.01), corners)
    placed = PlacedPose('map', (2.0, 0.0, 0.5), Planar())
    goal = replaced_goal(pose_goal(2.0, 0.0, 0.5), placed, TURNED)
    np.testing.assert_allclose(goal.target.numpy(), [1.0, 0.0, 0.5 + math.pi / 2], atol=1e-6)
    free_heading = replaced_goal(pose_goal(2.0, 0.0, None, 0.0), placed, TURNED)
    assert free_heading.yaw_weight == 0.0 and float(free_heading.target[2]) == 0.0


# -- planner_node's side: messages and TF ------------------------------------------------------

class FakeFrames:
    """A FrameSource with a settable odom <- map."""

    def __init__(self, into):
        self.transform = into

    def scan_mount(self, base_frame, scan_frame):
        return Planar()

    def into(self, target_frame, source_frame):
        return Planar() if source_frame == target_frame else self.transform


class RecordingController:
    """The controller calls Placements makes, recorded."""

    def __init__(self, goal):
        self.goal, self.calls = goal, []

    def relocate(self, goal, static_map):
        self.calls.append(('relocate', goal, static_map))
        self.goal = goal

    def set_map(self, static_map):
        self.calls.append(('set_map', static_map))


def grid_msg(frame='map'):
    cells, origin, _ = pillar_grid()
    msg = OccupancyGrid()
    msg.header.frame_id = frame
    msg.info.height, msg.info.width = cells.shape
    msg.info.resolution = 0.1
    msg.info.origin.position.x, msg.info.origin.position.y = origin
    msg.info.origin.orientation.w = 1.0
    msg.data = cells.reshape(-1).tolist()
    return msg


def goal_msg(x, y, yaw, frame='map'):
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.pose.position.x, msg.pose.position.y = x, y
    msg.pose.orientation.z, msg.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    return msg


@pytest.mark.ros
def test_a_map_under_a_rotated_map_to_odom_is_accepted_with_its_placement():
    static = map_from_msg(grid_msg(), 'odom', FakeFrames(TURNED))
    assert static.frame_id == 'map' and static.placement == TURNED
    assert static.origin == (-1.0, -0.5)
    field = navigation_for(pose_goal(0.45, 0.5), static, SETTINGS)
    assert float(field.static_range(torch.tensor([0.45, 0.05], dtype=torch.float64))) \
        == pytest.approx(0.0, abs=1e-9)
    # A rotated grid origin (info.origin.orientation) is still refused, with the reason.
    msg = grid_msg()
    msg.info.origin.orientation.z, msg.info.origin.orientation.w = 0.6, 0.8
    with pytest.raises(InputError, match='rotated map origins'):
        map_from_msg(msg, 'odom', FakeFrames(TURNED))


@pytest.mark.ros
def test_localisation_corrections_place_goal_and_map_again():
    frames = FakeFrames(TURNED)
    static = map_from_msg(grid_msg(), 'odom', frames)
    goal, placed = placed_pose_goal_from_msg(goal_msg(2.0, 0.0, 0.0), True, 'odom', 1.0,
                                             frames=frames)
    assert placed == PlacedPose('map', (2.0, 0.0, 0.0), TURNED)
    log, placements, controller = [], Placements(lambda line: log.append(line)), \
        RecordingController(goal)
    placements.goal_set(goal, placed)
    # No correction, or one below the threshold: nothing moves, nothing is logged.
    frames.transform = Planar(TURNED.x + 0.004, TURNED.y, TURNED.yaw)
    assert placements.update(controller, static, frames, 'odom') == (static, False)
    assert controller.calls == [] and log == []
    # The same goal re-published in map after that drift is the current goal given again.
    again, again_placed = placed_pose_goal_from_msg(goal_msg(2.0, 0.0, 0.0), True, 'odom',
                                                    1.0, frames=frames)
    assert placements.given_again(goal, again, again_placed)
    assert not placements.given_again(goal, *placed_pose_goal_from_msg(
        goal_msg(2.5, 0.0, 0.0), True, 'odom', 1.0, frames=frames))
    # AMCL corrects by 0.3 m and 0.1 rad: goal and map are placed by the new transform.
    corrected = Planar(1.3, -2.0, math.pi / 2 + 0.1)
    frames.transform = corrected
    new_map, moved = placements.update(controller, static, frames, 'odom')
    assert moved and new_map.placement == corrected and new_map.occupancy is static.occupancy
    kind, new_goal, passed_map = controller.calls[-1]
    assert kind == 'relocate' and passed_map is new_map
    np.testing.assert_allclose(new_goal.target.numpy(),
                               list(corrected.apply_pose(2.0, 0.0, 0.0)), atol=1e-6)
    assert placements.placed_goal(new_goal).into == corrected and 'placed goal' in log[-1]
    # A goal given in odom stays; only the map follows map -> odom.
    odom_goal = pose_goal(0.5, 0.5)
    placements.goal_set(odom_goal, None)
    controller.goal = odom_goal
    frames.transform = TURNED
    back, moved = placements.update(controller, new_map, frames, 'odom')
    assert moved and back.placement == TURNED and controller.calls[-1][1] is odom_goal


@pytest.mark.ros
def test_without_tf_nothing_is_placed_again():
    goal = pose_goal(0.0, 0.0)
    controller = RecordingController(goal)
    static = StaticMap(np.zeros((3, 3), np.int8), 0.1, (0.0, 0.0), 'odom')
    assert Placements(print).update(controller, static, None, 'odom') == (static, False)


# -- the controller keeps its warm start -------------------------------------------------------

@pytest.fixture(scope='module')
def base(tmp_path_factory):
    """A mobile-base-like model: wheel velocities and the odometry pose in s."""
    from tiny_models import tiny_base_runtime
    return tiny_base_runtime(tmp_path_factory.mktemp('rotated'))


def test_the_controller_relocates_without_dropping_its_warm_start(base):
    from tiny_models import tiny_base_controller
    controller = tiny_base_controller(base, ControllerSettings(
        max_plan_time=10.0, with_poses=True, use_map=True, map_inflation=0.0))
    cells, origin, _ = pillar_grid()
    static = StaticMap(cells, 0.1, origin, 'map', Planar())
    controller.set_goal(pose_goal(2.5, 1.5), static)
    field = controller.navigation
    controller.planner._prev_mean = torch.ones(3, 2)   # stands for a warm start
    moved_map = replaced_map(static, TURNED)
    goal = pose_goal(*TURNED.apply(np.array([[2.5, 1.5]]))[0])
    controller.relocate(goal, moved_map)
    assert controller.goal is goal and controller.static_map is moved_map
    assert controller.navigation.distance_grid is field.distance_grid
    assert controller.planner._prev_mean is not None
    # A goal off the re-placed map is refused; goal and map stay as they were.
    with pytest.raises(GoalError):
        controller.relocate(pose_goal(40.0, 0.0), moved_map)
    assert controller.goal is goal and controller.navigation.placement == TURNED
    with pytest.raises(GoalError):
        controller.relocate(joint_state_goal([0.1, 0.2]), moved_map)
