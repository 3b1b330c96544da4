"""planner_node's static map (``ros/planner/map_input.py``): OccupancyGrid checks, and the field a
pose goal gets on it (``core/planning/static_map.py``), without a ROS graph (message classes
only, so marked ``ros``)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from jepa_world_model.core.planning.goals import joint_state_goal, pose_goal
from jepa_world_model.core.planning.static_map import MapGoalError, navigation_for

try:
    from nav_msgs.msg import OccupancyGrid

    from jepa_world_model.ros.common.rejects import InputError
    from jepa_world_model.ros.planner.map_input import map_from_msg, MAX_CELLS
except ImportError:   # the tests need these; they are marked ros and skipped by conftest
    pass

pytestmark = pytest.mark.ros
SETTINGS = SimpleNamespace(use_map=True, map_inflation=0.0, map_occupied_threshold=50,
                           people_cost_to_go_every=0)


def grid_msg(cells, resolution=0.5, origin=(-1.0, -1.0), frame='odom'):
    """An OccupancyGrid of int ``cells`` [H, W] (row = y)."""
    msg = OccupancyGrid()
    msg.header.frame_id = frame
    msg.info.resolution = resolution
    msg.info.height, msg.info.width = cells.shape
    msg.info.origin.position.x, msg.info.origin.position.y = origin
    msg.info.origin.orientation.w = 1.0
    msg.data = np.asarray(cells, dtype=np.int8).reshape(-1).tolist()
    return msg


def test_a_valid_map_keeps_its_layout():
    """Rows are y and columns x, as in nav_msgs; the origin and frame come through."""
    cells = np.zeros((4, 6), dtype=np.int8)
    cells[3, 0] = 100          # the top-left corner: y = +1, x = -1
    got = map_from_msg(grid_msg(cells), 'odom')
    assert got.occupancy.shape == (4, 6) and got.occupancy[3, 0] == 100
    assert got.origin == (-1.0, -1.0) and got.resolution == 0.5 and got.frame_id == 'odom'


@pytest.mark.parametrize('change, reason', [
    (lambda m: setattr(m.header, 'frame_id', 'map'), 'map_wrong_frame'),
    (lambda m: setattr(m.info, 'resolution', 0.0), 'map_invalid'),
    (lambda m: setattr(m, 'data', [0] * 5), 'map_invalid'),
    (lambda m: setattr(m.info.origin.orientation, 'z', math.sin(0.3)), 'map_invalid'),
    (lambda m: setattr(m.info.origin.position, 'x', math.nan), 'map_invalid'),
    (lambda m: setattr(m.info, 'width', 1), 'map_invalid'),
])
def test_bad_maps_are_rejected_with_a_reason(change, reason):
    """Each malformed map raises InputError with the counter the node increments."""
    msg = grid_msg(np.zeros((4, 4)))
    change(msg)
    with pytest.raises(InputError) as err:
        map_from_msg(msg, 'odom')
    assert err.value.reason == reason


def test_a_huge_map_is_refused():
    """The Dijkstra pass runs in a callback: maps above MAX_CELLS are refused."""
    side = int(math.isqrt(MAX_CELLS)) + 1
    msg = grid_msg(np.zeros((2, 2)))
    msg.info.width = msg.info.height = side
    with pytest.raises(InputError, match='cells'):
        map_from_msg(msg, 'odom')


def test_pose_goals_get_a_field_and_other_goals_none():
    """A pose goal on the map gets the path length (around a wall); other goals, no map or
    use_map off give None; a goal off the map is refused."""
    cells = np.zeros((8, 8), dtype=np.int8)
    cells[:6, 4] = 100                                   # wall at x in [1, 1.5), y < 2
    static = map_from_msg(grid_msg(cells), 'odom')
    goal = pose_goal(2.5, -0.5)
    field = navigation_for(goal, static, SETTINGS)
    behind = float(field.distance(torch.tensor([-0.5, -0.5])))
    assert behind > 3.0 * 0.9 + 2.0, 'the path must go around the wall'
    assert navigation_for(joint_state_goal([0.1, 0.2]), static, SETTINGS) is None
    assert navigation_for(goal, None, SETTINGS) is None
    off = SimpleNamespace(**dict(vars(SETTINGS), use_map=False))
    assert navigation_for(goal, static, off) is None
    with pytest.raises(MapGoalError) as err:
        navigation_for(pose_goal(9.0, 0.0), static, SETTINGS)
    assert err.value.reason == 'map_goal_outside'
