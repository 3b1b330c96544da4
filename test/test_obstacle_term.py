"""The obstacle term: a range scanner's returns as points, scored on predicted positions.

Pure core (no ROS): the LaserScan geometry of ``laser_points``, how the term enters an
objective through ``Objective.at(obstacles=...)``, and a planner on a toy system that goes
around a point it would otherwise drive through.
"""

import math

import pytest
import torch

from jepa_world_model.core.planning.goals import (build_objective, GoalError, joint_state_goal,
                                                  ObjectiveTerms, pose_goal)
from jepa_world_model.core.planning.planner import ActionBounds, LatentPlanner, PlannerConfig
from jepa_world_model.core.planning.scan import laser_points, obstacle_clearance
from tiny_models import pose_model, tiny_model


def test_laser_points_follow_the_scan_geometry_pose_and_mount():
    """Beam i at angle_min + i * increment from the scanner, which sits at ``mount`` on the
    base at ``pose``; non-finite beams and beams outside [range_min, range_max) give none."""
    ranges = [1.0, float('inf'), 0.5, float('nan'), 0.01, 4.0, 2.0]
    pts = laser_points(ranges, -math.pi / 2, math.pi / 2, 0.05, 4.0, (0.0, 0.0, 0.0))
    # Kept: beam 0 at -90 deg (1 m), beam 2 at +90 deg (0.5 m), beam 6 at 5 x 90 = 450 deg.
    torch.testing.assert_close(pts, torch.tensor([[0.0, -1.0], [0.0, 0.5], [0.0, 2.0]]),
                               atol=1e-6, rtol=0)
    # Base at (1, 2) facing +y; scanner 0.1 m ahead of the centre, turned to face backwards.
    pts = laser_points([0.3], 0.0, 0.1, 0.0, 4.0, (1.0, 2.0, math.pi / 2),
                       mount=(0.1, 0.0, math.pi))
    torch.testing.assert_close(pts, torch.tensor([[1.0, 2.1 - 0.3]]), atol=1e-6, rtol=0)
    assert laser_points([5.0, 4.0], 0.0, 0.1, 0.0, 4.0, (0, 0, 0)).shape == (0, 2)


def test_obstacle_term_is_added_by_at_with_the_points():
    """obstacle_weight gives an 'obstacles' term that at(obstacles=) adds: weight x the
    squared shortfall of each predicted position's distance to the nearest point, summed
    over the horizon; fn leaves it out, at() without points raises, no points cost 0."""
    m = pose_model()
    terms = ObjectiveTerms(obstacle_weight=4.0, clearance_min_range=0.5,
                           clearance_margin=0.25)
    objective = build_objective(pose_goal(2.0, 0.0), m, terms)
    assert objective.terms == ('goal', 'obstacles') and objective.needs_obstacles
    assert not objective.needs_scene
    z = torch.zeros(2, 3, m.cfg.latent_dim)
    z[0, :, 0] = torch.tensor([0.8, 0.9, 1.0])     # plan 0 passes the point at (1, 0)
    z[1, :, 1] = 1.0                                # plan 1 keeps 1 m to the side of it
    z[1, :, 0] = torch.tensor([0.8, 0.9, 1.0])
    a = torch.zeros(2, 3, 2)
    points = torch.tensor([[1.0, 0.0]])
    d = torch.tensor([[0.2, 0.1, 0.0], [1.0, 1.0, 1.0]])
    expected = objective.fn(z, a) + 4.0 * (((0.5 - d).clamp(min=0) / 0.25) ** 2).sum(-1)
    torch.testing.assert_close(objective.at(obstacles=points)(z, a), expected)
    assert float(expected[0] - objective.fn(z, a)[0]) > 10.0
    torch.testing.assert_close(objective.at(obstacles=torch.zeros(0, 2))(z, a),
                               objective.fn(z, a))
    with pytest.raises(ValueError, match='obstacle'):
        objective.at()


def test_obstacle_term_needs_a_pose_output_and_a_valid_weight():
    """A model without a pose output skips the term; bad parameters are refused."""
    objective = build_objective(pose_goal(1.0, 0.0), pose_model(),
                                ObjectiveTerms(obstacle_weight=0.0))
    assert not objective.needs_obstacles
    plain = tiny_model()
    built = build_objective(joint_state_goal([0.0] * len(plain.cfg.joint_names)), plain,
                            ObjectiveTerms(obstacle_weight=1.0))
    assert built.skipped == ('obstacles',) and not built.needs_obstacles
    with pytest.raises(GoalError, match='obstacle_weight'):
        build_objective(pose_goal(1.0, 0.0), pose_model(), ObjectiveTerms(obstacle_weight=-1))
    with pytest.raises(ValueError, match='min_range'):
        obstacle_clearance(pose_model(), 0.0, 0.1, 1.0)


def test_planner_goes_around_a_point_it_would_drive_through():
    """A toy base that moves by its action (0.1 s steps, |v| <= 1 m/s per axis): toward a
    goal 1.2 m ahead, the plan without the term passes the point on the straight line;
    with it, no planned position comes within 0.3 m (min range 0.4 m, margin 0.1 m)."""
    m = pose_model()

    def step(z, a):
        nxt = z.clone()
        nxt[..., :2] = z[..., :2] + 0.1 * a
        return nxt

    point = torch.tensor([[0.6, 0.0]])
    nearest = {}
    for name, weight in (('without', 0.0), ('with', 50.0)):
        objective = build_objective(pose_goal(1.2, 0.0), m,
                                    ObjectiveTerms(obstacle_weight=weight,
                                                   clearance_min_range=0.4,
                                                   clearance_margin=0.1))
        fn = objective.at(obstacles=point) if weight else objective.fn
        planner = LatentPlanner(PlannerConfig(horizon=15, num_samples=256, num_iterations=6,
                                              num_elites=16, seed=3), 2,
                                ActionBounds([-1.0, -1.0], [1.0, 1.0]))
        z = torch.zeros(m.cfg.latent_dim)
        positions = []
        for _ in range(15):                       # receding horizon, warm-started
            result = planner.plan(z, step, fn)
            z = step(z[None], result.actions[:1])[0]
            positions.append(z[:2].clone())
        path = torch.stack(positions)
        nearest[name] = float(torch.linalg.vector_norm(path - point, dim=-1).min())
        assert float(torch.linalg.vector_norm(path[-1] - torch.tensor([1.2, 0.0]))) < 0.3
    assert nearest['without'] < 0.15 and nearest['with'] > 0.3, nearest
