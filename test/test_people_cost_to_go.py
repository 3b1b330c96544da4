"""People the scan shows, marked in the map's cost-to-go (core/planning/people_cost_to_go.py;
issue #14 item 3): the field routes around them, returns the map explains are left out, the
field is rebuilt at the set cadence only when the marks change, and the setting reaches the
controller from planner_node's parameter."""

import math

import numpy as np
import pytest
import torch

from jepa_world_model.core.planning.frames import Planar
from jepa_world_model.core.planning.goals import pose_goal
from jepa_world_model.core.planning.navigation import NavigationField
from jepa_world_model.core.planning.observation import Observation, ScanReading
from jepa_world_model.core.planning.people_cost_to_go import PeopleCostToGo
from jepa_world_model.core.planning.settings import ControllerSettings
from jepa_world_model.core.planning.static_map import navigation_for, StaticMap

RES = 0.05
ORIGIN = (-1.0, -1.0)
START, GOAL, PERSON = (-0.7, 0.0), (0.7, 0.0), (0.0, 0.0)
INFLATION = 0.32   # robot radius 0.22 + margin 0.1, the base's map_inflation


def open_room(wall_row=None):
    """A free 2 m x 2 m grid [40, 40] (0.05 m cells), optionally with one wall row."""
    occupied = np.zeros((40, 40), dtype=bool)
    if wall_row is not None:
        occupied[wall_row, :] = True
    return occupied


def person_points(centre=PERSON, radius=0.16, facing=math.pi, n=15):
    """The returns a scanner sees of a round person: the half facing ``facing``. [n, 2]."""
    angles = facing + np.linspace(-math.pi / 2, math.pi / 2, n)
    return np.stack([centre[0] + radius * np.cos(angles),
                     centre[1] + radius * np.sin(angles)], axis=-1)


def layer(occupied=None, every=1):
    occupied = open_room() if occupied is None else occupied
    static = NavigationField(occupied, RES, ORIGIN, GOAL, INFLATION)
    return PeopleCostToGo(static, occupied, INFLATION, every)


def descend(field, start, steps=200):
    """Greedy descent of ``field.distance`` over the 8 neighbours one cell away: the path
    [T, 2] a planner following the cost-to-go would take."""
    moves = torch.tensor([[dx, dy] for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                          if (dx, dy) != (0, 0)], dtype=torch.float64) * RES
    xy = torch.tensor(start, dtype=torch.float64)
    path = [xy]
    for _ in range(steps):
        options = xy + moves
        best = options[int(torch.argmin(field.distance(options)))]
        if float(field.distance(best[None])[0]) >= float(field.distance(xy[None])[0]):
            break
        xy = best
        path.append(xy)
    return torch.stack(path)


def test_a_person_on_the_straight_line_makes_the_path_go_round():
    people = layer()
    assert people.observe(person_points())
    start = torch.tensor([START], dtype=torch.float64)
    straight = float(people.static.distance(start)[0])
    detour = float(people.distance(start)[0])
    assert straight == pytest.approx(1.4, abs=0.05)
    # Round a person whose surface is inflated by 0.32 m: clearly longer, not forbidden.
    assert 1.6 < detour < 3.0
    centre = torch.tensor(PERSON, dtype=torch.float64)
    through = descend(people.static, START)
    around = descend(people, START)
    assert float(torch.linalg.vector_norm(through - centre, dim=-1).min()) < 0.05
    # The robot's centre keeps more than the person's radius plus its own (0.38 m).
    assert float(torch.linalg.vector_norm(around - centre, dim=-1).min()) > 0.38
    assert float(torch.linalg.vector_norm(around[-1] - torch.tensor(GOAL))) < 0.1
    # Right in front of the person the cost-to-go now falls sideways, not straight ahead.
    front = torch.tensor([[-0.45, 0.02], [-0.4, 0.02], [-0.45, 0.07]], dtype=torch.float64)
    d = people.distance(front)
    ahead, side = float(d[1] - d[0]), float(d[2] - d[0])
    assert side < ahead
    # Dear to cross, not forbidden: a person standing on the goal still leaves a way there.
    on_goal = layer()
    on_goal.observe(person_points(centre=GOAL))
    assert math.isfinite(float(on_goal.distance(start)[0]))
    assert float(on_goal.distance(start)[0]) < 10.0
    with pytest.raises(ValueError, match='expensive'):
        NavigationField(open_room(), RES, ORIGIN, GOAL, INFLATION, expensive=np.zeros((3, 3)))
    # The static range, which the clearance term reads, stays the map's.
    torch.testing.assert_close(people.static_range(front), people.static.static_range(front))


def test_returns_the_map_explains_are_not_people():
    occupied = open_room(wall_row=30)              # a wall at y = 0.5 .. 0.55
    people = layer(occupied)
    wall = np.stack([np.linspace(-0.8, 0.8, 30), np.full(30, 0.5)], axis=-1)
    assert len(people.unexplained(wall)) == 0
    assert not people.observe(wall) and people.rebuilds == 0
    assert people.current is people.static
    seen = np.concatenate([wall, person_points()])
    assert len(people.unexplained(seen)) == len(person_points())
    assert people.observe(seen) and not people.marked[30].any()
    # Non-finite points and points off the grid mark nothing.
    assert len(people.unexplained(np.array([[np.nan, 0.0], [np.inf, 1.0]]))) == 0
    assert not people.cells(np.array([[5.0, 5.0]])).any()


def test_rebuilds_at_most_every_n_plans_and_only_when_the_marks_change():
    people = layer(every=3)
    person = person_points()
    assert people.observe(person) and people.rebuilds == 1       # the first may rebuild
    assert not people.observe(person)                            # unchanged, too soon
    moved = person_points(centre=(0.0, 0.3))
    assert not people.observe(moved)                             # changed, but 2 plans
    assert people.observe(moved) and people.rebuilds == 2        # the third plan: rebuilt
    for _ in range(5):                                           # unchanged: never again
        assert not people.observe(moved)
    assert not people.observe(None) and people.rebuilds == 2     # no scan: nothing changes
    first = people.current
    assert people.observe(np.zeros((0, 2))) and people.current is people.static   # gone
    assert first is not people.static
    people.observe(person)
    people.reset()
    assert people.current is people.static and not people.marked.any()
    with pytest.raises(ValueError, match='every'):
        layer(every=0)


def test_the_setting_makes_the_map_field_a_people_field():
    cells = np.where(open_room(), 100, 0).astype(np.int8)
    static = StaticMap(cells, RES, ORIGIN, 'odom')
    off = ControllerSettings(map_inflation=INFLATION)
    on = ControllerSettings(map_inflation=INFLATION, people_cost_to_go_every=2)
    assert isinstance(navigation_for(pose_goal(*GOAL), static, off), NavigationField)
    field = navigation_for(pose_goal(*GOAL), static, on)
    assert isinstance(field, PeopleCostToGo)
    # The people's band is the robot's radius: the map's inflation less the obstacle margin.
    assert field.people_band == pytest.approx(INFLATION - on.terms.clearance_margin)
    # Re-placed with its map (a localisation correction): the static part is kept.
    moved = StaticMap(cells, RES, ORIGIN, 'odom', Planar(0.5, 0.0, 0.0))
    again = navigation_for(pose_goal(GOAL[0] + 0.5, GOAL[1]), moved, on, (static, field))
    assert isinstance(again, PeopleCostToGo)
    assert again.static.distance_grid is field.static.distance_grid
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match='people_cost_to_go_every'):
            ControllerSettings(people_cost_to_go_every=bad)


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    """A mobile-base-like model: wheel velocities and the odometry pose in s."""
    from tiny_models import tiny_base_runtime
    return tiny_base_runtime(tmp_path_factory.mktemp('people'))


def test_the_controller_feeds_the_scan_to_the_field(base):
    from jepa_world_model.core.planning.commands import Command
    from tiny_models import tiny_base_controller
    controller = tiny_base_controller(base, ControllerSettings(
        max_plan_time=10.0, map_inflation=INFLATION, people_cost_to_go_every=1))
    cells = np.where(open_room(), 100, 0).astype(np.int8)
    controller.set_goal(pose_goal(*GOAL), StaticMap(cells, RES, ORIGIN, 'odom'))
    field = controller.navigation
    assert isinstance(field, PeopleCostToGo) and field.rebuilds == 0
    # A 360-beam scan from START that sees the person 0.54 m ahead and nothing else.
    beams = np.full(360, np.inf, dtype=np.float32)
    beams[178:183] = 0.54
    scan = ScanReading(0.0, beams, -math.pi, 2 * math.pi / 360, 0.05, 3.5)
    pose = np.array([START[0], START[1], 0.0])
    state = torch.as_tensor(base.make_state(None, np.zeros(2), pose), dtype=torch.float32)
    obs = Observation(torch.zeros(1, 3, base.image_size, base.image_size), state[None],
                      np.zeros(0), pose, scan)
    assert isinstance(controller.act(obs), Command)
    assert field.rebuilds == 1 and field.marked.any()
    at_start = torch.tensor([START], dtype=torch.float64)
    assert float(field.distance(at_start)[0]) > float(field.static.distance(at_start)[0]) + 0.1
    # Without a scan the controller still plans (the term is optional) on the last field.
    assert isinstance(controller.act(obs._replace(scan=None)), Command)
    assert field.rebuilds == 1
    controller.reset()
    assert field.current is field.static


@pytest.mark.ros
def test_planner_node_parameter_reaches_the_controller_settings():
    """planner_node's people_cost_to_go_every (declared once, ros/planner/parameter_table.py)
    becomes ControllerSettings.people_cost_to_go_every; out of range is refused."""
    from jepa_world_model.core.settings_spec import check_value
    from jepa_world_model.ros.planner import parameters as planner_parameters
    facts = planner_parameters.PlannerFacts(action_dim=2, joint_names=('a', 'b'))
    settings = planner_parameters.PlannerSettings(people_cost_to_go_every=4, output='cmd_vel')
    built = planner_parameters.controller_settings(settings, facts, 0.1, False)
    assert built.people_cost_to_go_every == 4
    default = planner_parameters.PlannerSettings(output='cmd_vel')
    assert planner_parameters.controller_settings(
        default, facts, 0.1, False).people_cost_to_go_every == 0
    params = planner_parameters.PARAMS
    assert check_value(params, 'people_cost_to_go_every', 3) is None
    assert check_value(params, 'people_cost_to_go_every', -1) is not None
