"""Tests of core.goals and core.goal_checks: objectives per goal kind, extra terms, goal
checks.

A tiny randomly initialised WorldModel (the size used in test_inference_runtime.py) stands in
for a trained one; where a test needs to know what a probe reads, the probe's weights are set
by hand so the expected cost can be computed independently.
"""

import math

import pytest
import torch

from jepa_world_model.core.planning.goal_checks import assess_plan, goal_reached, GoalTolerance
from jepa_world_model.core.planning.goals import (build_objective, Goal, GoalError, image_goal,
                                                  joint_state_goal, latent_goal, ObjectiveTerms,
                                                  pose_goal)
from jepa_world_model.core.planning.planner import ActionBounds, LatentPlanner, PlannerConfig
from tiny_models import tiny_model as shared_tiny_model


def tiny_model(seed=0, **overrides):
    """The shared tiny model with a pose probe, frozen (Z = 16 + 4 + 8 = 28)."""
    return shared_tiny_model(seed, **dict({'pose_probe': True}, **overrides)).requires_grad_(False)


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def model():
    """Tiny model with a pose probe whose output is z[..., :3] (set by hand)."""
    m = tiny_model()
    with torch.no_grad():
        m.pose_probe.weight.zero_()
        m.pose_probe.weight[:, :3] = torch.eye(3)
        m.pose_probe.bias.zero_()
    return m


def trajs(model, n=5, h=4, seed=1):
    """Random latent and action trajectories [n, h, Z] and [n, h, A]."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, h, model.cfg.latent_dim, generator=g),
            torch.randn(n, h, model.cfg.action_dim, generator=g))


def test_joint_goal_cost_is_probe_squared_error_summed_over_horizon(model):
    """The joint objective equals sum_t sum_j (probe_j(z_t) - q_j)^2, computed directly."""
    z, a = trajs(model)
    q = torch.tensor([0.4, -0.3])
    objective = build_objective(joint_state_goal(q), model)
    assert objective.terms == ('goal',) and objective.skipped == ()
    expected = ((model.probe_joint_positions(z) - q) ** 2).sum(-1).sum(-1)
    torch.testing.assert_close(objective.fn(z, a), expected)


def test_pose_goal_heading_wraps_and_is_optional(model):
    """Heading error across +-pi is small; without a heading the cost ignores yaw."""
    z, a = trajs(model, n=2, h=1)
    z[:, 0, :3] = torch.tensor([1.0, 2.0, -math.pi + 0.01])
    with_yaw = build_objective(pose_goal(1.0, 2.0, math.pi - 0.01, yaw_weight=1.0), model)
    cost = with_yaw.fn(z, a)
    assert float(cost.max()) == pytest.approx(2 - 2 * math.cos(0.02), abs=1e-5)
    z[1, 0, 2] = 0.0                       # half a turn off: large heading cost
    expected = 2 - 2 * math.cos(math.pi - 0.01)
    assert float(with_yaw.fn(z, a)[1]) == pytest.approx(expected, abs=1e-5)
    free = build_objective(pose_goal(1.0, 2.0), model)
    torch.testing.assert_close(free.fn(z, a), torch.zeros(2), atol=1e-6, rtol=0)
    z[1, 0, 0] = 4.0                       # 3 m off in x
    assert float(free.fn(z, a)[1]) == pytest.approx(9.0, abs=1e-4)


def test_latent_goal_uses_the_whole_latent_and_image_goal_only_the_image_part(model):
    """Changing the state part moves the latent-goal cost but not the image-goal cost."""
    z, a = trajs(model, n=1, h=3)
    zi = model.cfg.image_latent_dim
    latent = build_objective(latent_goal(z[0, -1]), model)
    image = build_objective(Goal('image', z[0, -1, :zi].clone()), model)
    expected = (z[0] - z[0, -1]).abs().sum(-1).sum()
    assert float(latent.fn(z, a)[0]) == pytest.approx(float(expected), rel=1e-5)
    before_image = float(image.fn(z, a)[0])
    z2 = z.clone()
    z2[..., zi:] += 5.0                    # state and proprio part only
    assert float(image.fn(z2, a)[0]) == pytest.approx(before_image, rel=1e-6)
    assert float(latent.fn(z2, a)[0]) > float(latent.fn(z, a)[0]) + 1.0
    z2[..., :zi] += 1.0
    assert float(image.fn(z2, a)[0]) > before_image + 1.0


def test_image_goal_encodes_only_what_the_image_shows(model):
    """The goal image latent is the target encoder's image part, whatever s would be."""
    o = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    goal = image_goal(model, o)
    assert goal.kind == 'image' and goal.target.shape == (model.cfg.image_latent_dim,)
    with torch.no_grad():
        z = model.encode(o, torch.randn(1, model.cfg.state_dim), target=True)
    torch.testing.assert_close(goal.target, model.image_part(z)[0])


def test_planning_toward_a_joint_goal_beats_random_actions(model):
    """With the built objective, CEM finds plans far cheaper than random action sequences."""
    z0 = torch.randn(model.cfg.latent_dim, generator=torch.Generator().manual_seed(4))
    objective = build_objective(joint_state_goal([0.5, -0.5]), model)
    planner = LatentPlanner(PlannerConfig(horizon=4, num_samples=64, num_iterations=4,
                                          num_elites=8, seed=0), 2,
                            ActionBounds([-2.0, -2.0], [2.0, 2.0]))
    with torch.no_grad():
        result = planner.plan(z0, model.predict, objective.fn)
        a_rand = torch.rand(64, 4, 2, generator=torch.Generator().manual_seed(5)) * 4 - 2
        z_rand = model.rollout(z0.expand(64, -1), a_rand)
        random_costs = objective.fn(z_rand, a_rand)
    assert result.cost < float(random_costs.quantile(0.1))


def test_risk_term_adds_weighted_max_event_probability():
    """risk cost = weight * sum_t max_k probe_risk; without a probe the term is skipped."""
    m = tiny_model(risk_labels=['collision', 'contact'])
    z, a = trajs(m)
    goal = joint_state_goal([0.0, 0.0])
    base = build_objective(goal, m).fn(z, a)
    with_risk = build_objective(goal, m, ObjectiveTerms(risk_weight=3.0))
    assert with_risk.terms == ('goal', 'risk')
    expected = base + 3.0 * m.probe_risk(z).amax(-1).sum(-1)
    torch.testing.assert_close(with_risk.fn(z, a), expected)
    plain = tiny_model()
    skipped = build_objective(goal, plain, ObjectiveTerms(risk_weight=3.0))
    assert skipped.terms == ('goal',) and skipped.skipped == ('risk',)


def test_disagreement_term_calls_the_ensemble_once_per_evaluation(monkeypatch):
    """Ensemble of 3: variance term added, one predict_ensemble call per cost evaluation."""
    m = tiny_model(dynamics_ensemble_size=3)
    z, a = trajs(m)
    goal = joint_state_goal([0.0, 0.0])
    base = build_objective(goal, m).fn(z, a)
    calls = []
    original = m.predict_ensemble
    monkeypatch.setattr(m, 'predict_ensemble', lambda *args: calls.append(1) or original(*args))
    objective = build_objective(goal, m, ObjectiveTerms(disagreement_weight=2.0))
    cost = objective.fn(z, a)
    assert objective.terms == ('goal', 'disagreement') and len(calls) == 1
    preds = original(z[:, :-1].reshape(-1, z.shape[-1]), a[:, 1:].reshape(-1, 2))
    var = preds.var(dim=0, correction=0).mean(-1).reshape(5, 3).sum(-1)
    torch.testing.assert_close(cost, base + 2.0 * var)
    single = build_objective(goal, tiny_model(), ObjectiveTerms(disagreement_weight=2.0))
    assert single.skipped == ('disagreement',)


def test_goal_reached_with_measurements_probes_and_tolerances(model):
    """Tolerances per kind; measured q/pose preferred, probes used otherwise."""
    tol = GoalTolerance(joint=0.05, position=0.1, yaw=0.2, latent=0.1)
    goal = joint_state_goal([0.5, -0.5])
    assert goal_reached(goal, tol, q=[0.53, -0.47]) == (True, pytest.approx(0.03, abs=1e-6))
    assert not goal_reached(goal, tol, q=[0.5, -0.6])[0]
    z = torch.zeros(model.cfg.latent_dim)
    z[:3] = torch.tensor([1.0, 1.0, math.pi - 0.05])
    heading = pose_goal(1.05, 1.0, -math.pi + 0.05)
    assert goal_reached(heading, tol, model, z_obs=z) == (True, pytest.approx(0.05, abs=1e-6))
    assert not goal_reached(heading, tol, pose=[1.0, 1.0, 0.0])[0]     # heading off by pi
    assert goal_reached(pose_goal(1.0, 1.0), tol, pose=[1.0, 1.05, 0.0])[0]
    assert not goal_reached(pose_goal(1.0, 1.0), tol, pose=[1.2, 1.0, 0.0])[0]
    probed = model.probe_joint_positions(z.reshape(1, -1))[0].detach()
    assert goal_reached(joint_state_goal(probed + 0.01), tol, model, z_obs=z)[0]
    target = torch.zeros(model.cfg.latent_dim)
    assert goal_reached(latent_goal(target), tol, z_obs=target + 0.05)[0]
    assert not goal_reached(latent_goal(target), tol, z_obs=target + 0.2)[0]
    img = Goal('image', torch.zeros(model.cfg.image_latent_dim))
    far_state = torch.zeros(model.cfg.latent_dim)
    far_state[model.cfg.image_latent_dim:] = 10.0
    assert goal_reached(img, tol, model, z_obs=far_state) == (True, 0.0)


def test_goals_that_do_not_fit_the_model_are_rejected(model):
    """Wrong sizes, NaN, missing pose output and missing measurements raise GoalError."""
    no_pose = tiny_model(pose_probe=False)
    cases = [
        lambda: build_objective(joint_state_goal([0.1, 0.2, 0.3]), model),
        lambda: build_objective(pose_goal(1.0, 2.0), no_pose),
        lambda: build_objective(latent_goal(torch.zeros(5)), model),
        lambda: build_objective(Goal('image', torch.zeros(5)), model),
        lambda: build_objective(Goal('smell', torch.zeros(2)), model),
        lambda: build_objective(joint_state_goal([0.0, 0.0]), model,
                                ObjectiveTerms(risk_weight=-1.0)),
        lambda: joint_state_goal([0.0, float('nan')]),
        lambda: joint_state_goal([0.0, 0.0], weights=[1.0, -1.0]),
        lambda: pose_goal(float('inf'), 0.0),
        lambda: goal_reached(joint_state_goal([0.0, 0.0]), GoalTolerance()),
        lambda: goal_reached(latent_goal(torch.zeros(3)), GoalTolerance()),
    ]
    for case in cases:
        with pytest.raises(GoalError):
            case()


def test_assess_plan_reports_risk_and_disagreement_only_when_available():
    """None without a risk probe / ensemble; otherwise the maxima along the plan."""
    plain = tiny_model()
    z, a = trajs(plain, n=1)
    figures = assess_plan(plain, z[0, 0], z[0], a[0])
    assert figures.risk is None and figures.disagreement is None
    ens = tiny_model(dynamics_ensemble_size=3)
    figures = assess_plan(ens, z[0, 0], z[0], a[0])
    starts = torch.cat([z[0, :1], z[0, :-1]])
    assert figures.disagreement == pytest.approx(float(ens.disagreement(starts, a[0]).max()))
    risky = tiny_model(risk_labels=['collision'])
    figures = assess_plan(risky, z[0, 0], z[0], a[0])
    assert figures.risk == pytest.approx(float(risky.probe_risk(z[0]).max()))
    assert 0.0 <= figures.risk <= 1.0


def head_model():
    """Tiny model whose image_state_head reads its patch tokens (image_state_source tokens)
    and whose state probe reads the state slice of z."""
    m = tiny_model(image_state_head=True, image_state_source='tokens')
    zi, sd = m.cfg.image_latent_dim, m.cfg.state_dim
    with torch.no_grad():
        m.state_probe.weight.zero_()
        m.state_probe.weight[:, zi:zi + sd] = torch.eye(sd)
        m.state_probe.bias.zero_()
    return m


def test_image_goal_with_image_state_head_aims_at_the_read_displacement():
    """Image goals on image_state_head models carry the head's reading of the goal image; the
    plan aims at q_now + reading(goal) - reading(now), so an error the two readings share
    cancels; the goal check is in joint units on the current image's reading."""
    from jepa_world_model.core.planning.goals import has_image_state_head, image_joint_goal
    m = head_model()
    assert has_image_state_head(m)
    o = torch.rand(1, 3, 32, 32)
    goal = image_goal(m, o)
    torch.testing.assert_close(goal.joints, m.read_image_joints(o)[0])
    # A head off by the same +0.3 rad in both readings: the goal is the true displacement.
    q_goal, q_now = torch.tensor([0.5, -0.2]), torch.tensor([0.1, 0.1])
    biased = Goal('image', goal.target, joints=q_goal + 0.3)
    torch.testing.assert_close(image_joint_goal(biased, q_now, q_now + 0.3), q_goal)
    objective = build_objective(biased, m)
    z, a = trajs(m)
    expected = build_objective(joint_state_goal(q_goal), m).fn(z, a)
    torch.testing.assert_close(objective.at(q_now, q_now + 0.3)(z, a), expected)
    assert objective.at() is objective.fn
    # Without a reading of the current image the objective stays the image-latent one.
    image_only = build_objective(Goal('image', goal.target), m).fn(z, a)
    torch.testing.assert_close(objective.fn(z, a), image_only)
    reached, dist = goal_reached(biased, GoalTolerance(joint=0.05), m, None,
                                 image_joints=q_now + 0.3)
    assert not reached and dist == pytest.approx(0.4)
    assert goal_reached(biased, GoalTolerance(joint=0.05), m, None,
                        image_joints=q_goal + 0.31)[0]
    with pytest.raises(GoalError, match='no joint reading'):
        image_joint_goal(Goal('image', goal.target), q_now, q_now)
    with pytest.raises(GoalError, match='image joint reading'):
        image_joint_goal(biased, q_now, [0.1])


def test_latent_image_state_head_scores_predicted_latents():
    """With image_state_source latent, ``fn`` compares the head's reading of every predicted
    image part with the goal's reading (sum over joints and steps)."""
    m = tiny_model(image_state_head=True)
    goal = image_goal(m, torch.rand(1, 3, 32, 32))
    z, a = trajs(m)
    expected = ((m.image_joint_positions(z) - goal.joints) ** 2).sum(-1).sum(-1)
    torch.testing.assert_close(build_objective(goal, m).fn(z, a), expected)
    with pytest.raises(ValueError, match='patch tokens'):
        m.joints_from_tokens(torch.zeros(1, 16, 32))


def test_anchored_image_goal_keeps_the_extra_terms():
    """Risk and disagreement terms are added to the anchored objective too."""
    m = tiny_model(image_state_head=True, image_state_source='tokens',
                   risk_labels=['collision'], dynamics_ensemble_size=2)
    goal = image_goal(m, torch.rand(1, 3, 32, 32))
    terms = ObjectiveTerms(risk_weight=2.0, disagreement_weight=1.0)
    plain = build_objective(goal, m)
    full = build_objective(goal, m, terms)
    assert full.terms == ('goal', 'risk', 'disagreement')
    z, a = trajs(m)
    q_now, q_img = torch.tensor([0.2, 0.0]), torch.tensor([0.1, 0.3])
    extra = full.fn(z, a) - plain.fn(z, a)
    torch.testing.assert_close(full.at(q_now, q_img)(z, a) - plain.at(q_now, q_img)(z, a),
                               extra)
    assert bool((extra > 0).all())
