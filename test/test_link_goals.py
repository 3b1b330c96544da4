"""Image goals aimed at links (models with ``kinematics``): the link read-out, its training
loss and report, and the planner objective and goal check built on it."""

import math

import numpy as np
import pytest
import torch

from jepa_world_model.core.planning.goal_checks import goal_reached, GoalTolerance
from jepa_world_model.core.planning.goals import (build_objective, Goal, GoalError,
                                                  has_link_readout, image_goal,
                                                  image_link_goal, link_goal_objective)
from jepa_world_model.core.model.kinematics import kinematics_from_urdf
from jepa_world_model.core.training.data import Episode
from jepa_world_model.core.training.report_checks import (GOAL_IMAGE_MAX_LINK_ERROR,
                                                          link_readout_report)
from jepa_world_model.core.training.trainer import Trainer
from test_kinematics import planar_tool, planar_urdf
from tiny_models import JOINTS, tiny_config, tiny_model

pytestmark = pytest.mark.usefixtures('one_torch_thread')

KINEMATICS = kinematics_from_urdf(planar_urdf(), 'base_link', ['tool'], JOINTS)


def link_model(**overrides):
    """A tiny frozen model with the planar arm's kinematics; its state probe reads the joint
    positions straight from the normalised-state slice of z (set by hand)."""
    m = tiny_model(kinematics=KINEMATICS, image_state_source='tokens', **overrides)
    m.requires_grad_(False)
    zi, state_dim = m.cfg.image_latent_dim, m.cfg.state_dim
    with torch.no_grad():
        m.state_probe.weight.zero_()
        m.state_probe.bias.zero_()
        m.state_probe.weight[:, zi:zi + state_dim] = torch.eye(state_dim)
    return m


def latents_at(model, q):
    """Latents [..., Z] whose probed joint positions are ``q`` [..., 2]."""
    z = torch.zeros(*q.shape[:-1], model.cfg.latent_dim)
    zi = model.cfg.image_latent_dim
    z[..., zi:zi + 2] = q        # state_mean 0, state_std 1: normalised = physical
    return z


def test_image_goal_reads_the_goal_links_and_the_plan_aims_fk_at_them():
    """The goal carries the link read-out of the goal image; planned latents cost the squared
    distance of FK(probed joints) to the goal links, anchored at FK(q_now) + the read
    displacement, so a bias both readings share cancels."""
    m = link_model()
    assert has_link_readout(m)
    o = torch.rand(1, 3, 32, 32)
    goal = image_goal(m, o)
    torch.testing.assert_close(goal.links, m.encode_with_image_links(o, None)[1][0]
                               if not m.cfg.state_dim else
                               m.encode_with_image_links(o, torch.zeros(1, 4))[1][0])
    assert goal.reading is goal.links
    q_goal, q_now = torch.tensor([0.6, -0.4]), torch.tensor([0.0, 0.2])
    true_goal = torch.tensor([planar_tool(0.6, -0.4)])
    bias = torch.tensor([[0.05, -0.02, 0.01]])
    read_now = m.link_positions(q_now) + bias
    biased = Goal('image', goal.target, links=true_goal + bias)
    torch.testing.assert_close(image_link_goal(m, biased, q_now, read_now), true_goal)
    objective = build_objective(biased, m)
    fn = objective.at(q_now, read_now)
    plans = latents_at(m, torch.stack([q_goal.expand(3, 2), q_now.expand(3, 2)]))  # [2, 3, Z]
    cost = fn(plans, torch.zeros(2, 3, 2))
    assert cost[0].item() == pytest.approx(0.0, abs=1e-9)
    expected = 3 * float(((m.link_positions(q_now) - true_goal) ** 2).sum())
    assert cost[1].item() == pytest.approx(expected, rel=1e-5)
    # without the current reading: aimed at the goal image's reading itself
    torch.testing.assert_close(objective.fn(plans, torch.zeros(2, 3, 2)),
                               link_goal_objective(m, biased.links)(plans, torch.zeros(2, 3, 2)))


def test_link_goal_check_is_in_metres_on_the_current_reading():
    m = link_model()
    goal = Goal('image', torch.zeros(m.cfg.image_latent_dim),
                links=torch.tensor([[0.5, 0.0, 0.1]]))
    near, far = [[0.51, 0.0, 0.1]], [[0.5, 0.05, 0.1]]
    reached, dist = goal_reached(goal, GoalTolerance(link=0.02), m, None, image_joints=near)
    assert reached and dist == pytest.approx(0.01, abs=1e-6)
    reached, dist = goal_reached(goal, GoalTolerance(link=0.02), m, None, image_joints=far)
    assert not reached and dist == pytest.approx(0.05, abs=1e-6)
    with pytest.raises(GoalError, match='image link reading'):
        goal_reached(goal, GoalTolerance(), m, None, image_joints=[0.5, 0.0])


def test_link_goal_errors():
    m = link_model()
    plain = Goal('image', torch.zeros(m.cfg.image_latent_dim))
    with pytest.raises(GoalError, match='no link reading'):
        image_link_goal(m, plain, [0.0, 0.0], [[0.0, 0.0, 0.0]])
    with pytest.raises(GoalError, match='joint positions'):
        image_link_goal(m, Goal('image', plain.target, links=torch.zeros(1, 3)), [0.0],
                        [[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match='no kinematics'):
        tiny_model().link_positions(torch.zeros(2))
    assert not has_link_readout(tiny_model())


def planar_episodes(n=4, length=12, seed=0):
    """Episodes whose frames draw the planar arm's tool as a bright square where FK puts it
    (images that show the link), with the joint state in ``s``."""
    rng = np.random.default_rng(seed)
    eps = []
    for _ in range(n):
        q = np.cumsum(rng.normal(0, 0.3, (length, 2)), 0).astype(np.float32)
        images = np.zeros((length, 32, 32, 3), np.uint8)
        for t, (qa, qb) in enumerate(q):
            x, y, _ = planar_tool(float(qa), float(qb))
            c, r = int(round(15.5 + 20 * x)), int(round(15.5 + 20 * y))
            images[t, max(r - 2, 0):r + 2, max(c - 2, 0):c + 2] = 255
        s = np.concatenate([q, np.zeros_like(q)], 1)
        eps.append(Episode(images=images, s=s, a=rng.normal(0, 1, (length, 2))
                           .astype(np.float32)))
    return eps


def test_link_loss_trains_the_read_out_and_the_report_measures_it():
    """A few hundred steps on images that show the tool: the image_links loss falls and the
    report's median link error drops well below what the untrained head reads."""
    config = tiny_config(kinematics=KINEMATICS, image_state_source='tokens')
    config.loss.image_links = 5.0
    config.optim.steps, config.optim.batch_size, config.optim.warmup_steps = 150, 16, 10
    config.data.clip_length = 4
    eps = planar_episodes()
    trainer = Trainer(config, eps)
    mean = trainer.model.link_readout.link_mean
    assert mean.abs().max() > 0          # fitted on the episodes' FK positions
    before = link_readout_report(trainer.model, eps)
    losses = []
    for _ in range(config.optim.steps):
        trainer.model.train()
        losses.append(float(trainer.train_step()['image_links']))
    after = link_readout_report(trainer.model, eps)
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert after['median_error_m'][0] < 0.7 * before['median_error_m'][0]
    assert after['links'] == ['tool'] and after['frames'] == 48
    assert after['threshold'] == GOAL_IMAGE_MAX_LINK_ERROR
    assert after['goal_images_usable'] == (after['max_median_error'] <= GOAL_IMAGE_MAX_LINK_ERROR)
    assert (after['warning'] == '') == after['goal_images_usable']
    assert math.isfinite(after['p90_error_m'][0])
    with pytest.raises(ValueError, match='no kinematics'):
        link_readout_report(tiny_model(), eps)


def test_reading_smoother_averages_the_heads_error_not_the_robot():
    """The smoothed reading is f(q) minus an exponential average of f(q) - reading: with a
    constant head error it is the reading itself; frame-to-frame noise in the error is
    averaged while the measured joints stay current; a new goal starts afresh."""
    from jepa_world_model.core.planning.image_readings import ReadingSmoother
    m = link_model()
    goal = Goal('image', torch.zeros(m.cfg.image_latent_dim), links=torch.zeros(1, 3))
    smooth = ReadingSmoother(0.5)
    bias = torch.tensor([[0.02, 0.0, 0.0]])
    for q in ([0.0, 0.0], [0.3, 0.1], [0.5, -0.2]):
        q = torch.tensor(q)
        reading = m.link_positions(q) - bias          # the same error in every frame
        torch.testing.assert_close(smooth(m, goal, q, reading), reading)
    q = torch.tensor([0.5, -0.2])
    noisy = m.link_positions(q) - bias + torch.tensor([[0.0, 0.04, 0.0]])   # one bad frame
    out = smooth(m, goal, q, noisy)
    torch.testing.assert_close(out, m.link_positions(q) - bias + torch.tensor([[0.0, 0.02, 0.0]]))
    smooth.reset()
    torch.testing.assert_close(smooth(m, goal, q, noisy), noisy)
    joints = Goal('image', goal.target, joints=torch.zeros(2))
    passthrough = ReadingSmoother(0.0)
    assert passthrough(m, joints, q, torch.ones(2)) is not None
    torch.testing.assert_close(passthrough(m, joints, q, torch.ones(2)), torch.ones(2))
    with pytest.raises(ValueError, match='beta'):
        ReadingSmoother(1.0)
    from jepa_world_model.core.planning.settings import ControllerSettings
    assert ControllerSettings(image_reading_smoothing=0.8).image_reading_smoothing == 0.8
    with pytest.raises(ValueError, match='image_reading_smoothing'):
        ControllerSettings(image_reading_smoothing=1.0)


def test_link_reading_diagnostic_compares_both_readings_with_the_truth():
    """``diagnose link-reading``'s core: per frame the truth (FK of the recorded joints) and
    each reading the model has; the summary's errors are distances to the truth, and the
    displacement errors are zero for a reading that is the truth plus a constant."""
    from jepa_world_model.experiments.link_reading import readings, summarize
    m = link_model(image_state_head=True)
    eps = planar_episodes(n=2, length=6)
    r = readings(m, m.link_readout.fk, eps)
    assert set(r) == {'true', 'joints_then_fk', 'link_readout'}
    q = torch.from_numpy(np.concatenate([ep.s[:, :2] for ep in eps]))
    np.testing.assert_allclose(r['true'], m.link_positions(q).numpy(), atol=1e-6)
    assert r['link_readout'].shape == r['true'].shape == (12, 1, 3)
    shifted = summarize(r['true'] + np.array([0.03, 0.0, 0.04]) * 0.9, r['true'], ['tool'])
    assert shifted['tool']['median_cm'] == pytest.approx(4.5, abs=1e-3)
    assert shifted['tool']['within_5cm'] == 1.0
    for row in shifted['tool']['displacement_error_by_true_distance'].values():
        assert row['median_cm'] == pytest.approx(0.0, abs=1e-4) and row['pairs'] > 0
