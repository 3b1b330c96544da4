"""Tests for the latent planner, the L1-ball projection and the objective builders."""

import ast
import math
import pathlib
import time

import pytest
import torch

from jepa_world_model.core.planning import objectives as obj
from jepa_world_model.core.planning.planner import (
    ActionBounds, hold_action, LatentPlanner, PlannerConfig, project_l1_ball)

PLANNING = (pathlib.Path(__file__).resolve().parents[1] / 'jepa_world_model' / 'core'
            / 'planning')
H = 6
DT = 0.5


def double_integrator():
    """2-D point mass z = [px, py, vx, vy]: z' = A z + B a (a is an acceleration)."""
    a_mat = torch.eye(4)
    a_mat[0, 2] = a_mat[1, 3] = DT
    b_mat = torch.zeros(4, 2)
    b_mat[0, 0] = b_mat[1, 1] = 0.5 * DT ** 2
    b_mat[2, 0] = b_mat[3, 1] = DT

    def step(z, a):
        return z @ a_mat.T + a @ b_mat.T

    return step


def rollout(step, z0, a_seq):
    z = z0.unsqueeze(0)
    for t in range(a_seq.shape[0]):
        z = step(z, a_seq[t:t + 1])
    return z[0]


def make_planner(method='cem', **kw):
    cfg = dict(method=method, horizon=H, num_samples=128, num_iterations=5, num_elites=16,
               init_std=0.5, min_std=0.02, temperature=0.05, momentum=0.1, seed=0)
    cfg.update(kw)
    return LatentPlanner(PlannerConfig(**cfg), 2, ActionBounds([-1.0, -1.0], [1.0, 1.0]))


@pytest.fixture(scope='module')
def problem():
    """A goal reached exactly by a known in-bounds action sequence."""
    step = double_integrator()
    z0 = torch.zeros(4)
    a_star = torch.stack([torch.linspace(0.8, -0.4, H), torch.linspace(-0.5, 0.6, H)], dim=1)
    z_goal = rollout(step, z0, a_star)
    g = torch.Generator().manual_seed(123)
    rand_a = torch.rand(200, H, 2, generator=g) * 2 - 1
    z_rand = z0.expand(200, 4)
    for t in range(H):
        z_rand = step(z_rand, rand_a[:, t])
    random_dist = (z_rand - z_goal).norm(dim=-1).mean().item()
    return step, z0, z_goal, random_dist


@pytest.mark.parametrize('method', ['cem', 'mppi'])
def test_reaches_goal(problem, method):
    step, z0, z_goal, random_dist = problem
    planner = make_planner(method, num_iterations=8)
    objective = obj.latent_goal_objective(z_goal, p=2, sum_over_horizon=False)
    res = planner.plan(z0, step, objective)
    final = (res.latents[-1] - z_goal).norm().item()
    assert final < 0.1 * random_dist, (final, random_dist)
    # The returned latents are the rollout of the returned actions.
    assert torch.allclose(res.latents[-1], rollout(step, z0, res.actions), atol=1e-5)
    assert res.cost == pytest.approx(final, rel=1e-4, abs=1e-6)
    assert res.cost <= min(res.iteration_costs) + 1e-6


@pytest.mark.parametrize('method', ['cem', 'mppi'])
def test_warm_start_lowers_cost_at_equal_iterations(problem, method):
    step, z0, z_goal, _ = problem
    objective = obj.latent_goal_objective(z_goal, p=2, sum_over_horizon=True)
    warm, cold = 0.0, 0.0  # excess cost over a well-converged plan from the same state
    for seed in range(3):
        planner = make_planner(method, num_iterations=1, seed=seed)
        z = z0
        for _ in range(4):  # warm-started receding-horizon loop
            res = planner.plan(z, step, objective)
            z = step(z.unsqueeze(0), res.first_action.unsqueeze(0))[0]
        ref = make_planner(method, num_iterations=30, seed=seed).plan(z, step, objective).cost
        warm += planner.plan(z, step, objective).cost - ref
        planner.reset()
        cold += planner.plan(z, step, objective).cost - ref
    assert warm < 0.7 * cold, (warm, cold)


def test_bounds_hold_for_every_sample():
    seen = []

    def step(z, a):
        seen.append(a.clone())
        return z + a.sum(-1, keepdim=True)

    low, high = torch.tensor([-0.5, 0.0, -2.0]), torch.tensor([0.25, 1.0, -1.0])
    for method in ('cem', 'mppi'):
        cfg = PlannerConfig(method=method, horizon=4, num_samples=64, num_iterations=3,
                            num_elites=8, init_std=50.0, trust_region_l1=0.3)
        planner = LatentPlanner(cfg, 3, ActionBounds(low, high))

        def push_huge(z_traj, a_traj):  # rewards huge actions: pushes against the box
            return -(a_traj.abs() * 1e3).sum(dim=(1, 2))

        for _ in range(2):
            res = planner.plan(torch.zeros(1), step, push_huge,
                               prev_action=torch.tensor([9.0, -9.0, 9.0]))
            assert bool((res.actions >= low).all() and (res.actions <= high).all())
    a = torch.cat(seen)
    assert bool((a >= low).all()) and bool((a <= high).all())


def test_trust_region_respected():
    calls = []

    def step(z, a):
        calls.append(a.clone())
        return z + a.sum(-1, keepdim=True)

    radius, h = 0.2, 5
    cfg = PlannerConfig(horizon=h, num_samples=32, num_iterations=2, num_elites=4,
                        init_std=2.0, trust_region_l1=radius)
    planner = LatentPlanner(cfg, 2, ActionBounds([-1.0, -1.0], [1.0, 1.0]))
    prev = torch.tensor([0.9, -0.9])
    res = planner.plan(torch.zeros(1), step, lambda z, a: (z[:, :, 0] - 5).abs().sum(1), prev)
    assert len(calls) % h == 0
    for i in range(0, len(calls), h):  # each rollout is h consecutive step calls
        seq = torch.stack(calls[i:i + h], dim=1)  # [N, h, A]
        ref = torch.cat([prev.expand(seq.shape[0], 1, 2), seq[:, :-1]], dim=1)
        assert float((seq - ref).abs().sum(-1).max()) <= radius + 1e-5
    steps = torch.cat([prev[None], res.actions]).diff(dim=0).abs().sum(-1)
    assert float(steps.max()) <= radius + 1e-5


def brute_force_l1_projection(v, r, iters=200):
    """Bisection on the soft-threshold theta with ||soft(v, theta)||_1 = r."""
    if v.abs().sum() <= r:
        return v.clone()
    lo, hi = 0.0, float(v.abs().max())
    for _ in range(iters):
        mid = (lo + hi) / 2
        if (v.abs() - mid).clamp_min(0).sum() > r:
            lo = mid
        else:
            hi = mid
    return torch.sign(v) * (v.abs() - hi).clamp_min(0)


def test_project_l1_ball_known_cases():
    v = torch.tensor([[3.0, 1.0], [1.0, 1.0], [-1.0, 1.0], [0.1, -0.2], [0.0, 0.0]])
    out = project_l1_ball(v, 1.0)
    expected = torch.tensor([[1.0, 0.0], [0.5, 0.5], [-0.5, 0.5], [0.1, -0.2], [0.0, 0.0]])
    assert torch.allclose(out, expected)
    assert torch.equal(project_l1_ball(v, 0.0), torch.zeros_like(v))
    assert torch.allclose(project_l1_ball(torch.tensor([3.0, 1.0]), 2.0),
                          torch.tensor([2.0, 0.0]))
    with pytest.raises(ValueError):
        project_l1_ball(v, -1.0)


def test_project_l1_ball_matches_brute_force_and_is_optimal():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(200, 6, generator=g, dtype=torch.float64) * 2
    radius = torch.rand(200, generator=g, dtype=torch.float64) * 3
    out = project_l1_ball(v, radius)
    assert bool((out.abs().sum(-1) <= radius + 1e-9).all())
    inside = v.abs().sum(-1) <= radius
    assert torch.equal(out[inside], v[inside])
    for i in range(v.shape[0]):
        assert torch.allclose(out[i], brute_force_l1_projection(v[i], float(radius[i])),
                              atol=1e-9)
    # Optimality: no random point of the ball is closer to v than the projection.
    q = torch.randn(200, 500, 6, generator=g, dtype=torch.float64)
    q = q / q.abs().sum(-1, keepdim=True) * radius[:, None, None] * torch.rand(
        200, 500, 1, generator=g, dtype=torch.float64)
    d_proj = (v - out).norm(dim=-1)
    assert bool(((v[:, None] - q).norm(dim=-1) >= d_proj[:, None] - 1e-9).all())


@pytest.mark.parametrize('method', ['cem', 'mppi'])
def test_seeded_determinism(problem, method):
    step, z0, z_goal, _ = problem
    objective = obj.latent_goal_objective(z_goal)
    p1, p2, p3 = (make_planner(method, seed=s) for s in (7, 7, 8))
    r1, r2, r3 = (p.plan(z0, step, objective) for p in (p1, p2, p3))
    assert torch.equal(r1.actions, r2.actions) and r1.cost == r2.cost
    assert not torch.equal(r1.actions, r3.actions)
    p1.reset()
    assert torch.equal(p1.plan(z0, step, objective).actions, r1.actions)


@pytest.mark.parametrize('kwargs', [
    dict(method='ilqr'), dict(horizon=0), dict(num_samples=1), dict(num_iterations=0),
    dict(num_elites=0), dict(num_samples=8, num_elites=9), dict(init_std=0.0),
    dict(min_std=-0.1), dict(min_std=1.0, init_std=0.5), dict(temperature=0.0),
    dict(momentum=1.0), dict(momentum=-0.1), dict(trust_region_l1=-1.0),
    dict(trust_region_l1=float('nan')), dict(seed=-1), dict(horizon=2.5),
    dict(chunk_size=0),
])
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        PlannerConfig(**kwargs)


def test_bad_bounds_and_planner_args_raise():
    with pytest.raises(ValueError):
        ActionBounds([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError):
        ActionBounds([0.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        ActionBounds([0.0], [float('inf')])
    with pytest.raises(ValueError):
        LatentPlanner(PlannerConfig(), 3, ActionBounds([0.0, 0.0], [1.0, 1.0]))
    planner = LatentPlanner(PlannerConfig(num_samples=4, num_elites=2), 1,
                            ActionBounds([0.0], [1.0]))
    with pytest.raises(ValueError):  # objective returns the wrong shape
        planner.plan(torch.zeros(3), lambda z, a: z, lambda z, a: z.sum(-1))


@pytest.mark.parametrize('num_samples', [2, 7, 64])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_shapes(num_samples, dtype):
    dim_z, dim_a, h = 5, 3, 4
    cfg = PlannerConfig(horizon=h, num_samples=num_samples, num_iterations=2, num_elites=2,
                        method='mppi' if num_samples == 7 else 'cem')
    planner = LatentPlanner(cfg, dim_a, ActionBounds([-1.0] * dim_a, [1.0] * dim_a))
    w = torch.randn(dim_a, dim_z, dtype=dtype)
    sizes = []

    def step(z, a):
        sizes.append(z.shape[0])
        return torch.tanh(z + a @ w)

    res = planner.plan(torch.zeros(1, dim_z, dtype=dtype), step,
                       obj.latent_goal_objective(torch.ones(dim_z, dtype=dtype)))
    assert res.actions.shape == (h, dim_a) and res.first_action.shape == (dim_a,)
    assert res.latents.shape == (h, dim_z) and res.actions.dtype == dtype
    assert res.iterations == 2 and len(res.iteration_costs) == 2
    assert isinstance(res.cost, float)
    assert set(sizes) == {num_samples, 1}  # batched: one call per step for all samples


def test_objective_builders():
    n, h, dim_z, dim_a = 3, 4, 2, 1
    z = torch.arange(n * h * dim_z, dtype=torch.float32).reshape(n, h, dim_z)
    a = torch.zeros(n, h, dim_a)
    goal = torch.zeros(dim_z)
    l1 = obj.latent_goal_objective(goal, p=1)(z, a)
    assert torch.allclose(l1, z.abs().sum(-1).sum(-1))
    last = obj.latent_goal_objective(goal, p=2, sum_over_horizon=False, final_weight=2.0)
    assert torch.allclose(last(z, a), 2 * z[:, -1].norm(dim=-1))
    state = obj.state_goal_objective(lambda zz: zz[:, :1], torch.tensor([1.0]))
    assert torch.allclose(state(z, a), ((z[..., 0] - 1) ** 2).sum(-1))
    risk = obj.risk_objective(lambda zz: torch.full(zz.shape[:2], 0.5), weight=2.0)
    assert torch.allclose(risk(z, a), torch.full((n,), float(h)))
    same = obj.ensemble_disagreement_objective([lambda zz, aa: zz, lambda zz, aa: zz])
    assert torch.equal(same(z, a), torch.zeros(n))
    apart = obj.ensemble_disagreement_objective([lambda zz, aa: zz, lambda zz, aa: zz + 2])
    assert torch.allclose(apart(z, a), torch.full((n,), float(h - 1)))
    total = obj.sum_objectives([(1.0, risk), (0.5, state)])
    assert torch.allclose(total(z, a), risk(z, a) + 0.5 * state(z, a))
    with pytest.raises(ValueError):
        obj.latent_goal_objective(goal, p=3)
    with pytest.raises(ValueError):
        obj.sum_objectives([])


def test_core_planner_has_no_ros_imports():
    for name in ('planner.py', 'objectives.py'):
        tree = ast.parse((PLANNING / name).read_text())
        mods = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names]
        mods += [node.module or '' for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)]
        assert not [m for m in mods if m.startswith('rclpy') or '_msgs' in m], mods


def test_hold_action_predicts_the_running_command_forward():
    """hold_action(step, z, a, n) applies ``a`` n times from ``z``; n = 0 returns ``z``."""
    calls = []

    def step(z, a):
        calls.append((z.shape, a.shape))
        return z + 2.0 * a.sum(-1, keepdim=True)

    z, a = torch.tensor([1.0, -1.0, 0.5]), torch.tensor([0.25, 0.5])
    torch.testing.assert_close(hold_action(step, z, a, 0), z)
    torch.testing.assert_close(hold_action(step, z, a, 3), z + 3 * 1.5)
    assert calls == [(torch.Size([1, 3]), torch.Size([1, 2]))] * 3


def test_a_deadline_stops_a_huge_plan_in_time(problem):
    """200,000 samples x horizon 50 x 3 iterations (seconds of work) with a 50 ms deadline:
    the plan returns soon after it, says it was cut short and still gives well-formed
    actions inside the bounds. A deadline already past returns before any model step."""
    step, z0, z_goal, _ = problem
    objective = obj.latent_goal_objective(z_goal)
    planner = LatentPlanner(PlannerConfig(horizon=50, num_samples=200000, num_iterations=3,
                                          num_elites=16), 2,
                            ActionBounds([-1.0, -1.0], [1.0, 1.0]))
    started = time.perf_counter()
    res = planner.plan(z0, step, objective, deadline=started + 0.05)
    elapsed = time.perf_counter() - started
    assert res.cut_short and res.iterations < 3
    assert elapsed < 0.05 + 0.5, elapsed     # about one model step of one chunk late
    assert res.actions.shape == (50, 2) and res.latents.shape == (50, 4)
    assert bool((res.actions.abs() <= 1.0).all())
    calls = []

    def counting_step(z, a):
        calls.append(z.shape[0])
        return step(z, a)

    late = make_planner().plan(z0, counting_step, objective, deadline=time.perf_counter())
    assert late.cut_short and late.iterations == 0 and late.cost == math.inf
    assert calls == [] and late.actions.shape == (H, 2) and late.latents.shape == (H, 4)


@pytest.mark.parametrize('method', ['cem', 'mppi'])
@pytest.mark.parametrize('chunk', [4096, 10])
def test_a_deadline_that_is_met_changes_nothing(problem, method, chunk):
    """Same seed, same plans over warm-started calls, with no deadline or one far away
    (also when the samples are drawn and scored in chunks of 10)."""
    step, z0, z_goal, _ = problem
    objective = obj.latent_goal_objective(z_goal)
    runs = []
    for deadline in (None, math.inf, time.perf_counter() + 1e6):
        planner = make_planner(method, chunk_size=chunk, trust_region_l1=0.8)
        prev = torch.tensor([0.3, -0.2])
        runs.append([planner.plan(z0, step, objective, prev, deadline=deadline)
                     for _ in range(2)])
    for plain, *timed in zip(*runs):
        assert plain.iterations == 5 and not plain.cut_short
        for res in timed:
            assert not res.cut_short and res.iterations == 5
            assert torch.equal(res.actions, plain.actions) and res.cost == plain.cost
            assert torch.equal(res.latents, plain.latents)
            assert res.iteration_costs == plain.iteration_costs
