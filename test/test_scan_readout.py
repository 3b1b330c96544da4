"""Tests of the range read-out and what uses it: core.scan (sector pooling, clearance cost),
the planner's action_repeat, the clearance and map terms of core.goals.build_objective, and
a short training run showing the model's range read-out learns a scan.

Models are the shared tiny ones (tiny_models.py); expected costs are computed by hand from
values the test controls (probe weights set by hand, positions at cell centres).
"""

import math

import numpy as np
import pytest
import torch

from jepa_world_model.core.config import ExperimentConfig, from_dict
from jepa_world_model.core.training.data import ClipSampler
from jepa_world_model.core.planning.goals import (build_objective, GoalError, joint_state_goal,
                                                  ObjectiveTerms, pose_goal)
from jepa_world_model.core.planning.navigation import NavigationField
from jepa_world_model.core.planning.planner import ActionBounds, LatentPlanner, PlannerConfig
from jepa_world_model.core.model.range_readout import sector_ranges
from jepa_world_model.core.planning.scan import (clearance_cost, point_clearance_cost, scan_points,
                                                 sector_angles)
from jepa_world_model.core.training.synthetic import generate_episodes, SceneSpec
from jepa_world_model.core.training.trainer import Trainer
from tiny_models import pose_model, tiny_model


pytestmark = pytest.mark.usefixtures('one_torch_thread')


# --- sector_ranges ------------------------------------------------------------------------

def test_sector_ranges_takes_the_nearest_return_of_each_contiguous_sector():
    """8 beams into 4 sectors: sector k is the minimum of beams 2k and 2k + 1, over any
    leading batch shape; beyond range_max (and inf, no return) it reads range_max."""
    scan = torch.tensor([[0.9, 0.4, 2.0, 3.0, float('inf'), 5.0, 0.2, 0.25],
                         [1.0, 1.0, 0.1, 9.0, 0.7, 0.6, 4.0, float('inf')]])
    out = sector_ranges(scan, 4, range_max=1.5)
    expected = torch.tensor([[0.4, 1.5, 1.5, 0.2], [1.0, 0.1, 0.6, 1.5]])
    torch.testing.assert_close(out, expected)
    batched = sector_ranges(scan.expand(3, 5, 2, 8), 4, 1.5)
    assert batched.shape == (3, 5, 2, 4)
    torch.testing.assert_close(batched[2, 4], expected)
    ramp = torch.arange(12.0)
    torch.testing.assert_close(sector_ranges(ramp, 3, 100.0), torch.tensor([0.0, 4.0, 8.0]))
    torch.testing.assert_close(sector_ranges(ramp, 12, 5.0), ramp.clamp(max=5.0))
    torch.testing.assert_close(sector_ranges(ramp, 1, 100.0), torch.tensor([0.0]))


def test_sector_ranges_rejects_sectors_that_do_not_divide_the_beams():
    """10 beams cannot make 4 equal sectors, 8 cannot make 3, and 0 sectors is no pooling."""
    for beams, sectors in ((10, 4), (8, 3), (8, 0), (8, 16)):
        with pytest.raises(ValueError, match='cannot be pooled'):
            sector_ranges(torch.ones(2, beams), sectors, 1.0)


# --- clearance_cost -----------------------------------------------------------------------

def nearest_to_cost(nearest, min_range=0.5, margin=0.2, sectors=3):
    """clearance_cost on trajectories whose latent *is* the sector ranges: every sector at 1 m
    except one at ``nearest`` [N] (one step each) -> cost [N]."""
    z = torch.ones(len(nearest), 1, sectors)
    z[:, 0, 1] = torch.as_tensor(nearest, dtype=torch.float32)
    return clearance_cost(lambda r: r, min_range, margin)(z)[:, 0]


def test_clearance_cost_is_zero_outside_the_margin_one_at_contact_and_squared():
    """With min_range 0.5 and margin 0.2: 0 at and beyond 0.5 m, 0.25 at 0.4 m, 1 at 0.3 m
    (min_range - margin), 4 at 0.1 m; only the nearest sector counts."""
    cost = nearest_to_cost([0.9, 0.5, 0.4, 0.3, 0.1])
    torch.testing.assert_close(cost, torch.tensor([0.0, 0.0, 0.25, 1.0, 4.0]))
    z = torch.tensor([[[0.9, 0.3, 0.8], [0.6, 0.6, 0.45]]])       # [N=1, H=2, R=3]
    out = clearance_cost(lambda r: r, 0.5, 0.2)(z)
    assert out.shape == (1, 2)
    torch.testing.assert_close(out, torch.tensor([[1.0, 0.0625]]))


def test_clearance_cost_falls_monotonically_with_the_nearest_range():
    """Swept from 0 to 1 m the cost never rises, falls strictly below min_range, and is flat
    zero above it."""
    nearest = torch.linspace(0.0, 1.0, 201)
    cost = nearest_to_cost(nearest)
    steps = cost[1:] - cost[:-1]
    below = nearest[1:] <= 0.5
    assert bool((steps <= 0).all())
    assert bool((steps[below] < 0).all())
    assert bool((cost[nearest >= 0.5] == 0).all())


def test_clearance_cost_rejects_non_positive_parameters():
    """min_range or margin <= 0 (or NaN) raise ValueError."""
    for args in ((0.0, 0.1), (0.3, 0.0), (-0.3, 0.1), (float('nan'), 0.1)):
        with pytest.raises(ValueError, match='min_range and margin'):
            clearance_cost(lambda r: r, *args)


# --- action_repeat ------------------------------------------------------------------------

def test_action_repeat_must_be_a_positive_int():
    """0, negative, fractional and bool repeats are rejected; 1 and 4 are accepted."""
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match='action_repeat'):
            PlannerConfig(action_repeat=bad)
    assert PlannerConfig().action_repeat == 1
    assert PlannerConfig(action_repeat=4).action_repeat == 4


class CountingLinearStep:
    """z' = 0.9 z + B a for Z = 3, A = 2, counting calls and the batch sizes seen."""

    B = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]])

    def __init__(self):
        self.calls = []

    def __call__(self, z, a):
        self.calls.append(z.shape[0])
        return 0.9 * z + a @ self.B.T


@pytest.mark.parametrize('repeat', [1, 3])
def test_plan_holds_each_action_for_repeat_steps(repeat):
    """Each rollout calls step horizon * repeat times (per sampled batch and once more for
    the final mean); the objective sees H latents, and PlanResult.latents [H, Z] equals the
    state after every repeat-th step of the returned actions, rolled out here by hand."""
    horizon, iterations, samples = 4, 2, 16
    step = CountingLinearStep()
    seen = []
    target = torch.tensor([1.0, -1.0, 0.5])

    def objective(z_traj, a_traj):
        seen.append(tuple(z_traj.shape))
        return ((z_traj - target) ** 2).sum(-1).sum(-1)

    planner = LatentPlanner(PlannerConfig(horizon=horizon, num_samples=samples,
                                          num_iterations=iterations, num_elites=4, seed=0,
                                          action_repeat=repeat), 2,
                            ActionBounds([-1.0, -1.0], [1.0, 1.0]))
    z0 = torch.tensor([0.2, 0.1, -0.3])
    result = planner.plan(z0, step, objective)
    assert len(step.calls) == (iterations + 1) * horizon * repeat
    assert step.calls == [samples] * (iterations * horizon * repeat) + [1] * (horizon * repeat)
    assert seen == [(samples, horizon, 3)] * iterations + [(1, horizon, 3)]
    assert result.latents.shape == (horizon, 3) and result.actions.shape == (horizon, 2)
    z, expected = z0.clone(), []
    for t in range(horizon):
        for _ in range(repeat):
            z = 0.9 * z + CountingLinearStep.B @ result.actions[t]
        expected.append(z)
    torch.testing.assert_close(result.latents, torch.stack(expected))
    assert result.cost == pytest.approx(float(((torch.stack(expected) - target) ** 2).sum()),
                                        rel=1e-5)


# --- objective terms ----------------------------------------------------------------------

def test_predict_ranges_lies_within_the_range_of_interest():
    """predict_ranges is in (0, scan_range_max), normalized divides by it; a model without
    the read-out raises instead."""
    m = pose_model(scan_sectors=4, scan_range_max=2.5)
    z = 3.0 * torch.randn(6, 5, m.cfg.latent_dim, generator=torch.Generator().manual_seed(0))
    ranges = m.predict_ranges(z)
    assert ranges.shape == (6, 5, 4)
    assert bool((ranges > 0).all() and (ranges < 2.5).all())
    torch.testing.assert_close(m.predict_ranges(z, normalized=True), ranges / 2.5)
    with pytest.raises(ValueError, match='scan_sectors'):
        pose_model().predict_ranges(z)


def test_clearance_term_is_used_with_a_range_readout_and_skipped_without():
    """With scan_sectors the clearance term is listed and adds weight * sum_t of the squared
    shortfall of the nearest predicted range; without, it is listed as skipped; weight 0
    leaves it out of both lists."""
    m = pose_model(scan_sectors=4, scan_range_max=1.0)
    g = torch.Generator().manual_seed(1)
    z, a = torch.randn(5, 3, m.cfg.latent_dim, generator=g), torch.randn(5, 3, 2, generator=g)
    goal = pose_goal(0.5, -0.5)
    terms = ObjectiveTerms(clearance_weight=2.0, clearance_min_range=0.6, clearance_margin=0.2)
    objective = build_objective(goal, m, terms)
    assert objective.terms == ('goal', 'clearance') and objective.skipped == ()
    nearest = m.predict_ranges(z).amin(-1)                        # [5, 3]
    shortfall = ((0.6 - nearest).clamp(min=0) / 0.2) ** 2
    assert float(shortfall.sum()) > 0.1                           # the term is not idle here
    base = build_objective(goal, m).fn(z, a)
    torch.testing.assert_close(objective.fn(z, a), base + 2.0 * shortfall.sum(-1))
    plain = build_objective(goal, pose_model(), terms)
    assert plain.terms == ('goal',) and plain.skipped == ('clearance',)
    idle = build_objective(goal, m, ObjectiveTerms(clearance_min_range=0.6))
    assert idle.terms == ('goal',) and idle.skipped == ()


@pytest.fixture(scope='module')
def map_and_goal():
    """A 12 x 17 grid (origin (-1, 2)) with a wall; goal at a cell centre behind it."""
    occupied = np.zeros((12, 17), bool)
    occupied[2:12, 8] = True
    origin = (-1.0, 2.0)
    goal_xy = (origin[0] + 14.5 * 0.1, origin[1] + 5.5 * 0.1)    # cell (5, 14)
    return NavigationField(occupied, 0.1, origin, goal_xy, inflation=0.1), goal_xy


def test_map_pose_objective_sums_squared_path_lengths(map_and_goal):
    """With a field, a pose goal costs sum_t distance_grid[cell_t]^2 for poses at cell
    centres (plus yaw_weight * (2 - 2 cos dyaw) with a heading), not the straight-line
    cost; other goal kinds ignore the field."""
    field, goal_xy = map_and_goal
    m = pose_model()
    cells = [[(5, 2), (6, 4), (9, 7)], [(0, 0), (11, 16), (5, 14)]]   # [N=2, H=3] (row, col)
    yaws = torch.tensor([[0.0, 1.0, -2.0], [3.0, 0.3, 0.3]])
    z = torch.zeros(2, 3, m.cfg.latent_dim)
    for n, row in enumerate(cells):
        for t, (r, c) in enumerate(row):
            z[n, t, 0] = -1.0 + (c + 0.5) * 0.1
            z[n, t, 1] = 2.0 + (r + 0.5) * 0.1
    z[..., 2] = yaws
    a = torch.zeros(2, 3, 2)
    squared = torch.tensor([[field.distance_grid[rc] ** 2 for rc in row] for row in cells],
                           dtype=torch.float32)
    free = build_objective(pose_goal(*goal_xy), m, navigation=field)
    assert free.terms == ('goal',)
    torch.testing.assert_close(free.fn(z, a), squared.sum(-1), rtol=1e-5, atol=1e-5)
    straight = build_objective(pose_goal(*goal_xy), m).fn(z, a)
    assert float(free.fn(z, a)[0]) > 2.0 * float(straight[0])   # row 0 starts behind the wall
    heading = build_objective(pose_goal(*goal_xy, yaw=0.3, yaw_weight=0.5), m, navigation=field)
    yaw_cost = 0.5 * (2 - 2 * torch.cos(yaws - 0.3))
    torch.testing.assert_close(heading.fn(z, a), (squared + yaw_cost).sum(-1),
                               rtol=1e-5, atol=1e-5)
    joints = joint_state_goal([0.1, -0.2])
    torch.testing.assert_close(build_objective(joints, m, navigation=field).fn(z, a),
                               build_objective(joints, m).fn(z, a))


# --- training the range read-out ----------------------------------------------------------

BEAM_ANGLES = np.arange(8) * np.pi / 4


def border_ranges(pos):
    """Ranges [T, 8] from positions [T, 2] in the unit square to its border along 8 beams
    45 degrees apart: a scan that is a deterministic function of the robot's state."""
    out = np.full((len(pos), len(BEAM_ANGLES)), np.inf)
    for k, direction in enumerate(np.stack([np.cos(BEAM_ANGLES), np.sin(BEAM_ANGLES)], -1)):
        for axis in range(2):
            d = direction[axis]
            if abs(d) > 1e-9:
                room = 1.0 - pos[:, axis] if d > 0 else pos[:, axis]
                out[:, k] = np.minimum(out[:, k], room / abs(d))
    return out.astype(np.float32)


SMALL = dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2,
             image_latent_dim=16, proprio_latent_dim=8, predictor_embed_dim=32,
             predictor_depth=1, predictor_num_heads=2, dynamics_hidden_dim=32,
             idm_hidden_dim=32)


def scan_config(steps, **model):
    """Config of a short run of the SMALL model (``model`` overrides), logging every step."""
    return from_dict(ExperimentConfig, {
        'model': dict(SMALL, **model),
        'optim': {'steps': steps, 'batch_size': 8, 'lr': 0.003, 'warmup_steps': 5},
        'train': {'log_every': 1, 'seed': 0}})


def episodes(scan=True, beams=8):
    """Six short generated episodes, with a 'scan' extra of ``beams`` beams if ``scan``."""
    eps = generate_episodes(6, 12, seed=3, spec=SceneSpec(image_size=32))
    if scan:
        for ep in eps:
            ranges = border_ranges(ep.extras['robot_pos'])
            ep.extras['scan'] = ranges if beams == 8 else ranges[:, :beams]
    return eps


def test_border_ranges_are_the_distances_to_the_square():
    """The helper scan: from (0.25, 0.5) the beams at 0, 90, 180 degrees read 0.75, 0.5,
    0.25 and the diagonal at 45 degrees 0.5 * sqrt(2)."""
    ranges = border_ranges(np.array([[0.25, 0.5]]))[0]
    np.testing.assert_allclose(ranges[[0, 2, 4]], [0.75, 0.5, 0.25], rtol=1e-6)
    assert ranges[1] == pytest.approx(0.5 * math.sqrt(2), rel=1e-6)


def test_short_training_run_learns_the_scan():
    """70 steps of a tiny model with scan_sectors 4: the logged 'scan' loss of the last 20
    steps is under 0.7 x that of the first 5, and under half the error of predicting each
    sector's mean (so it reads the scan from the latent, not just its average)."""
    eps = episodes()
    trainer = Trainer(scan_config(70, scan_sectors=4, scan_range_max=1.0), eps)
    trainer.run()
    losses = np.array([h['scan'] for h in trainer.state.history])
    assert len(losses) == 70 and np.isfinite(losses).all()
    first, last = losses[:5].mean(), losses[-20:].mean()
    assert last < 0.7 * first, (first, last)
    targets = sector_ranges(torch.from_numpy(np.concatenate([e.extras['scan'] for e in eps])),
                            4, 1.0)
    mean_predictor = float(targets.var(dim=0, correction=0).mean())
    assert last < 0.5 * mean_predictor, (last, mean_predictor)


def test_trainer_rejects_a_readout_without_scans():
    """scan_sectors > 0 with episodes lacking a 'scan' extra (all or some) raises a
    ValueError naming the scan topic; beams not divisible by scan_sectors raise too. A
    model without the read-out trains on them with a zero 'scan' term."""
    cfg = scan_config(1, scan_sectors=4)
    with pytest.raises(ValueError, match='scan_topic'):
        Trainer(cfg, episodes(scan=False))
    mixed = episodes()
    del mixed[2].extras['scan']
    with pytest.raises(ValueError, match='range scan in every episode'):
        Trainer(cfg, mixed)
    with pytest.raises(ValueError, match='must divide'):
        Trainer(cfg, episodes(beams=6))
    plain = Trainer(scan_config(1), episodes(scan=False))
    plain.run()
    assert plain.state.history[-1]['scan'] == 0.0


def test_a_map_field_built_for_another_goal_is_refused():
    """build_objective checks that the cost-to-go it is given leads to this pose goal."""
    model = tiny_model(joint_names=['wheel_left', 'wheel_right'], use_joint_position=False,
                       pose_in_state=True)
    field = NavigationField(np.zeros((20, 20), bool), 0.1, (0.0, 0.0), (1.0, 1.0), 0.0)
    build_objective(pose_goal(1.02, 0.98), model, ObjectiveTerms(), field)
    with pytest.raises(GoalError, match='built for a goal'):
        build_objective(pose_goal(1.5, 1.0), model, ObjectiveTerms(), field)


# --- scan_source 'tokens': the scene of a frame, queried at poses -------------------------

def scene_model(**overrides):
    """Tiny base-like model (wheel velocities and the pose in s) with a token read-out."""
    return tiny_model(joint_names=['wheel_left', 'wheel_right'], use_joint_position=False,
                      pose_in_state=True, scan_sectors=2, scan_source='tokens', **overrides)


def test_token_readout_needs_a_pose_and_a_scene():
    """scan_source 'tokens' needs pose_in_state; its ranges need the frame's scene code,
    which encode_with_scene returns with the same z as encode."""
    with pytest.raises(ValueError, match='pose_in_state'):
        tiny_model(scan_sectors=2, scan_source='tokens')
    m = scene_model(scan_range_max=2.0)
    g = torch.Generator().manual_seed(0)
    o = torch.rand(3, 3, 32, 32, generator=g)
    s = torch.randn(3, m.cfg.state_dim, generator=g)
    z, scene = m.encode_with_scene(o, s)
    torch.testing.assert_close(z, m.encode(o, s))
    assert scene.shape[0] == 3
    # One scene queried at every step of a [N, H] batch of predicted latents.
    z_traj = z[0].expand(4, 5, -1) + 0.1 * torch.randn(4, 5, z.shape[-1], generator=g)
    ranges = m.predict_ranges(z_traj, scene[0])
    assert ranges.shape == (4, 5, 2) and bool(((ranges > 0) & (ranges < 2.0)).all())
    with pytest.raises(ValueError, match='scene'):
        m.predict_ranges(z_traj)
    with pytest.raises(ValueError, match="scan_source 'tokens'"):
        tiny_model().encode_with_scene(o)


def test_clearance_on_a_scene_is_added_by_at_with_the_scene():
    """For a token read-out, the clearance term reads the scan at the current state, turns it
    into obstacle points and costs each predicted position by its distance to the nearest:
    fn leaves it out, at(scene=, z_now=) adds it, and at() without them raises."""
    m = scene_model(scan_range_max=3.0)
    g = torch.Generator().manual_seed(2)
    z, scene = m.encode_with_scene(torch.rand(1, 3, 32, 32, generator=g),
                                   torch.randn(1, m.cfg.state_dim, generator=g))
    z_traj = z[0] + 0.3 * torch.randn(5, 3, z.shape[-1], generator=g)
    a = torch.zeros(5, 3, 2)
    terms = ObjectiveTerms(clearance_weight=3.0, clearance_min_range=2.0, clearance_margin=0.5)
    objective = build_objective(pose_goal(0.2, 0.1), m, terms)
    assert objective.needs_scene and objective.terms == ('goal', 'clearance')
    with torch.no_grad():
        points = scan_points(m.predict_ranges(z[0], scene[0]), m.probe_pose(z[0]), 3.0)
        assert points.shape[0] > 0
        xy = m.probe_pose(z_traj)[..., :2]
        d = torch.cdist(xy.reshape(-1, 2), points).amin(-1).reshape(5, 3)
        shortfall = ((2.0 - d).clamp(min=0) / 0.5) ** 2
        assert float(shortfall.sum()) > 0.1
        torch.testing.assert_close(objective.at(scene=scene[0], z_now=z[0])(z_traj, a),
                                   objective.fn(z_traj, a) + 3.0 * shortfall.sum(-1))
    with pytest.raises(ValueError, match='scene'):
        objective.at()
    assert not build_objective(pose_goal(0.2, 0.1), m).needs_scene


def test_scan_points_put_each_sector_return_where_it_is():
    """Sector ranges read at a pose become points in the pose's frame: with 4 sectors the
    centres point back-right, front-right, front-left and back-left of the robot; a
    sector at the cap gives no point; the point cost is the distance to the nearest."""
    angles = sector_angles(4)
    torch.testing.assert_close(angles, torch.tensor([-0.75, -0.25, 0.25, 0.75]) * math.pi)
    pose = torch.tensor([1.0, 2.0, math.pi / 2])                  # facing +y
    pts = scan_points(torch.tensor([1.0, 0.5, 2.0, 0.5]), pose, range_max=2.0)
    assert pts.shape == (3, 2)
    s = 0.5 * math.sqrt(0.5)
    torch.testing.assert_close(pts[1], torch.tensor([1.0 + s, 2.0 + s]))   # front-right
    risk = point_clearance_cost(pts, lambda z: z, 0.5, 0.25)
    here = torch.tensor([[[1.0 + s, 2.0 + s, 0.0], [5.0, 5.0, 0.0]]])
    torch.testing.assert_close(risk(here), torch.tensor([[4.0, 0.0]]))


def base_like_episodes():
    """The generated episodes as a base would log them: s = [velocities, x, y, cos, sin]
    with the robot's position as (x, y) and heading 0, and the border scan."""
    eps = episodes()
    for ep in eps:
        pos = ep.extras['robot_pos'].astype(np.float32)
        ones, zeros = np.ones((len(ep), 1), np.float32), np.zeros((len(ep), 1), np.float32)
        ep.s = np.concatenate([ep.s[:, 2:4], pos, ones, zeros], axis=1)
    return eps


def test_short_training_run_learns_the_scan_from_tokens():
    """70 steps with scan_source 'tokens' (the scene of each frame queried at the recorded
    poses of the frames after it): the 'scan' loss of the last 20 steps is under 0.7 x that
    of the first 5, and under half the error of predicting each sector's mean."""
    eps = base_like_episodes()
    cfg = scan_config(70, joint_names=['joint_x', 'joint_y'], use_joint_position=False,
                      pose_in_state=True, scan_sectors=4, scan_source='tokens')
    trainer = Trainer(cfg, eps)
    trainer.run()
    losses = np.array([h['scan'] for h in trainer.state.history])
    first, last = losses[:5].mean(), losses[-20:].mean()
    assert np.isfinite(losses).all() and last < 0.7 * first, (first, last)
    targets = sector_ranges(torch.from_numpy(np.concatenate([e.extras['scan'] for e in eps])),
                            4, 1.0)
    assert last < 0.5 * float(targets.var(dim=0, correction=0).mean())


def test_clearance_leaves_what_the_map_explains_to_the_map():
    """With static_fn, a near return the map accounts for (within the margin) costs nothing,
    one nearer than the map's obstacles (a person) costs as without a map."""
    ranges = torch.tensor([[[0.25], [0.25], [0.25]]])           # [1, 3, R=1]
    static = torch.tensor([[0.30, 1.0, 0.5]])                   # map's nearest obstacle
    risk = clearance_cost(lambda z: z, 0.4, 0.1, static_fn=lambda z: static)(ranges)
    plain = clearance_cost(lambda z: z, 0.4, 0.1)(ranges)
    torch.testing.assert_close(plain, torch.full((1, 3), 2.25))
    # Step 0: the wall at 0.30 explains the 0.25 reading -> 0; steps 1-2: nothing on the map
    # that near -> the person costs (0.4 - 0.25) / 0.1 squared, capped by min_range.
    torch.testing.assert_close(risk, torch.tensor([[0.0, 2.25, 2.25]]))


def test_long_label_window_gathers_future_states_and_scans():
    """ClipSampler(label_length=K) adds the states and scans of K frames from each clip's
    start, and starts clips only where they fit; the Trainer asks for scan_query_steps + 1
    with a token read-out, and the scene of frame 0 then learns the ranges at those poses."""
    eps = base_like_episodes()
    sampler = ClipSampler(eps, 4, label_length=9)
    assert int(sampler.index[:, 1].max()) == len(eps[0]) - 9
    batch = sampler.gather(np.arange(3))
    e, t = sampler.index[2]
    np.testing.assert_allclose(batch.label_scan[2].numpy(), eps[e].extras['scan'][t:t + 9])
    np.testing.assert_allclose(batch.label_s[2].numpy(), eps[e].s[t:t + 9])
    assert ClipSampler(eps, 4).gather(np.arange(3)).label_scan is None
    cfg = scan_config(60, joint_names=['joint_x', 'joint_y'], use_joint_position=False,
                      pose_in_state=True, scan_sectors=4, scan_source='tokens')
    cfg.loss.scan_query_steps, cfg.loss.scan_near_weight = 8, 3.0
    trainer = Trainer(cfg, eps)
    assert trainer.sampler.label_length == 9
    trainer.run()
    losses = np.array([h['scan'] for h in trainer.state.history])
    assert np.isfinite(losses).all() and losses[-15:].mean() < 0.7 * losses[:5].mean()


def test_nearest_distance_matches_the_table_of_differences():
    """The matrix-product form equals the direct one, also far from the origin (odometry
    coordinates) and for a position on a point (distance 0, no NaN)."""
    from jepa_world_model.core.planning.scan import nearest_distance
    gen = torch.Generator().manual_seed(0)
    for offset in (0.0, 50.0):
        xy = torch.randn(64, 8, 2, generator=gen) * 3 + offset
        points = torch.randn(360, 2, generator=gen) * 3 + offset
        xy[0, 0] = points[7]
        direct = torch.linalg.vector_norm(xy[..., None, :] - points, dim=-1).amin(-1)
        fast = nearest_distance(xy, points)
        assert fast.shape == (64, 8)
        torch.testing.assert_close(fast, direct, atol=2e-3, rtol=1e-4)
        assert float(fast[0, 0]) < 2e-3 and torch.isfinite(fast).all()
