"""Tests of jepa_world_model.core.planning.command_limits: every limit holds, property-style.

Each property is checked on random limits, commands and joint positions for many seeds; the
desired commands are drawn far outside the limits so the clipping is exercised.
"""

import numpy as np
import pytest

from jepa_world_model.core.planning.command_limits import (clip_positions, CommandLimits,
                                                           limit_command, limit_sequence,
                                                           LimitError)

SEEDS = range(25)
EPS = 1e-9


def random_limits(rng, dim=3, joints=True):
    """Random valid limits; joint j is moved by action dim j."""
    v_max = rng.uniform(0.1, 2.0, dim)
    v_min = -rng.uniform(0.1, 2.0, dim)
    acc = rng.uniform(0.5, 5.0, dim)
    if not joints:
        return CommandLimits.create(v_min, v_max, acc)
    p_min = -rng.uniform(0.5, 3.0, dim)
    p_max = rng.uniform(0.5, 3.0, dim)
    return CommandLimits.create(v_min, v_max, acc, position_min=p_min, position_max=p_max)


def in_box(x, low, high):
    """All of x within [low, high] up to round-off."""
    return bool(np.all(x >= low - EPS) and np.all(x <= high + EPS))


@pytest.mark.parametrize('seed', SEEDS)
def test_velocity_limit_holds_for_wild_commands(seed):
    """Desired commands up to 50x the limits come out inside the velocity box."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng, joints=False)
    prev = rng.uniform(limits.velocity_min, limits.velocity_max)
    for _ in range(20):
        desired = rng.normal(0.0, 50.0, 3)
        out = limit_command(desired, prev, 10.0, limits)   # long dt: acceleration is loose
        assert in_box(out.a, limits.velocity_min, limits.velocity_max)
        outside = (desired < limits.velocity_min) | (desired > limits.velocity_max)
        assert {d for k, d in out.active if k == 'velocity'} == set(np.flatnonzero(outside))
        prev = out.a


@pytest.mark.parametrize('seed', SEEDS)
def test_acceleration_limit_holds_over_a_run(seed):
    """|a - a_prev| <= acceleration_max * dt for every step of a random run."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng, joints=False)
    dt = rng.uniform(0.01, 0.2)
    prev = np.zeros(3)
    saw_active = False
    for _ in range(50):
        out = limit_command(rng.normal(0.0, 5.0, 3), prev, dt, limits)
        assert np.all(np.abs(out.a - prev) <= limits.acceleration_max * dt + EPS)
        assert in_box(out.a, limits.velocity_min, limits.velocity_max)
        saw_active |= 'acceleration' in out.kinds
        prev = out.a
    assert saw_active, 'the run never pushed against the acceleration limit'


@pytest.mark.parametrize('seed', SEEDS)
def test_joint_limits_are_never_crossed(seed):
    """Integrating the limited commands never leaves the joint limits, from anywhere inside."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng)
    q = rng.uniform(limits.position_min, limits.position_max)
    prev = np.zeros(3)
    dt = rng.uniform(0.02, 0.5)
    for _ in range(100):
        # Mostly push outward, toward the nearer limit, hard.
        desired = np.sign(q) * rng.uniform(1.0, 20.0, 3) + rng.normal(0.0, 0.5, 3)
        out = limit_command(desired, prev, dt, limits, q)
        q = q + out.a * dt
        assert in_box(q, limits.position_min, limits.position_max), (q, out)
        assert in_box(out.a, limits.velocity_min, limits.velocity_max)
        prev = out.a


@pytest.mark.parametrize('seed', SEEDS)
def test_joint_landing_and_no_outward_motion_at_or_over_the_limit(seed):
    """Near a limit the command lands on it; at or beyond it, only motion back is allowed."""
    rng = np.random.default_rng(seed)
    limits = CommandLimits.create([-5.0], [5.0], [np.inf], action_dim=2,
                                  position_min=[-1.0, -1.0], position_max=[1.0, 1.0])
    gap = rng.uniform(0.001, 0.05)
    q = np.array([1.0 - gap, -1.0 + gap])
    out = limit_command([5.0, -5.0], [0.0, 0.0], 0.1, limits, q)
    np.testing.assert_allclose(q + out.a * 0.1, [1.0, -1.0], atol=1e-12)
    assert {k for k, _ in out.active} == {'position'}
    over = np.array([1.0 + gap, -1.0])               # beyond max, exactly at min
    out = limit_command([rng.uniform(0.1, 5), -rng.uniform(0.1, 5)], [0.0, 0.0], 0.1,
                        limits, over)
    np.testing.assert_array_equal(out.a, [0.0, 0.0])
    back = limit_command([-0.5, 0.5], [0.0, 0.0], 0.1, limits, over)
    np.testing.assert_allclose(back.a, [-0.5, 0.5])   # moving back inside is not limited
    assert back.active == ()


def test_feasible_commands_pass_unchanged():
    """A command inside every limit is returned as is, with no active limit."""
    limits = CommandLimits.create([-1.0], [1.0], [2.0], action_dim=2,
                                  position_min=[-1.0, -1.0], position_max=[1.0, 1.0])
    out = limit_command([0.3, -0.1], [0.25, -0.05], 0.1, limits, [0.0, 0.0])
    np.testing.assert_array_equal(out.a, [0.3, -0.1])
    assert out.active == () and out.kinds == []


def test_hard_limits_win_when_acceleration_cannot_be_met():
    """Fast toward a close limit: the joint limit holds and the conflict is reported."""
    limits = CommandLimits.create([-2.0], [2.0], [1.0], position_min=[-1.0], position_max=[1.0])
    out = limit_command([2.0], [2.0], 0.1, limits, [0.99])
    assert out.a[0] == pytest.approx(0.1)             # lands on the limit, 1.9 below a_prev
    assert ('acceleration_infeasible', 0) in out.active
    # Limits tightened below the previous command: the velocity box wins.
    tight = CommandLimits.create([-0.5], [0.5], [1.0])
    out = limit_command([2.0], [2.0], 0.1, tight)
    assert out.a[0] == pytest.approx(0.5) and 'acceleration_infeasible' in out.kinds


@pytest.mark.parametrize('seed', SEEDS)
def test_sequence_respects_every_limit_at_every_step(seed):
    """limit_sequence: velocity, acceleration and integrated positions within limits."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng)
    q0 = rng.uniform(limits.position_min, limits.position_max)
    prev = rng.uniform(limits.velocity_min, limits.velocity_max)
    dt = rng.uniform(0.05, 0.3)
    seq = limit_sequence(rng.normal(0.0, 10.0, (12, 3)), prev, dt, limits, q0)
    assert seq.a.shape == (12, 3) and seq.positions.shape == (12, 3)
    steps = np.diff(np.vstack([prev, seq.a]), axis=0)
    feasible_acc = not any(k == 'acceleration_infeasible' for k, _ in seq.active)
    if feasible_acc:
        assert np.all(np.abs(steps) <= limits.acceleration_max * dt + EPS)
    assert in_box(seq.a, limits.velocity_min, limits.velocity_max)
    assert in_box(seq.positions, limits.position_min, limits.position_max)
    np.testing.assert_allclose(seq.positions, q0 + np.cumsum(seq.a * dt, axis=0))


@pytest.mark.parametrize('seed', SEEDS)
def test_clip_positions(seed):
    """Positions far outside come back inside; the mask marks exactly the clipped entries."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng)
    positions = rng.normal(0.0, 5.0, (8, 3))
    clipped, mask = clip_positions(positions, limits)
    assert in_box(clipped, limits.position_min, limits.position_max)
    outside = (positions < limits.position_min) | (positions > limits.position_max)
    np.testing.assert_array_equal(mask, outside)
    np.testing.assert_array_equal(clipped[~mask], positions[~mask])


def test_joint_index_maps_dims_to_joints_and_skips_free_dims():
    """Dim 0 moves joint 1, dim 1 moves no limited joint."""
    limits = CommandLimits.create([-1.0], [1.0], [np.inf], action_dim=2,
                                  position_min=[-1.0, -1.0], position_max=[1.0, 1.0],
                                  joint_index=[1, -1])
    out = limit_command([1.0, 1.0], [0.0, 0.0], 0.1, limits, [0.0, 0.95])
    np.testing.assert_allclose(out.a, [0.5, 1.0])


@pytest.mark.parametrize('bad', [
    dict(a=[float('nan'), 0.0, 0.0]), dict(a_prev=[0.0, float('inf'), 0.0]),
    dict(q=[0.0, float('nan'), 0.0]), dict(a=[0.0, 0.0]), dict(a_prev=[0.0]),
    dict(dt=0.0), dict(dt=float('nan')), dict(q=None), dict(q=[0.0, 0.0])])
def test_bad_inputs_raise(bad):
    """NaN/inf, wrong lengths, bad dt and missing joint positions are errors, not clipping."""
    limits = random_limits(np.random.default_rng(0))
    args = dict(a=[0.1, 0.1, 0.1], a_prev=[0.0, 0.0, 0.0], dt=0.1, limits=limits,
                q=[0.0, 0.0, 0.0])
    args.update(bad)
    with pytest.raises(LimitError):
        limit_command(**args)


@pytest.mark.parametrize('kwargs, match', [
    (dict(velocity_min=[1.0], velocity_max=[-1.0], acceleration_max=[1.0]), 'inverted'),
    (dict(velocity_min=[0.5], velocity_max=[1.0], acceleration_max=[1.0]), 'zero'),
    (dict(velocity_min=[-1.0], velocity_max=[1.0], acceleration_max=[0.0]), '> 0'),
    (dict(velocity_min=[float('nan')], velocity_max=[1.0], acceleration_max=[1.0]), 'NaN'),
    (dict(velocity_min=[-1.0, -1.0, -1.0], velocity_max=[1.0, 1.0], acceleration_max=[1.0]),
     'expected 1 or 3'),
    (dict(velocity_min=[-1.0], velocity_max=[1.0], acceleration_max=[1.0], action_dim=2,
          position_min=[1.0, 0.0], position_max=[-1.0, 1.0]), 'inverted'),
    (dict(velocity_min=[-1.0], velocity_max=[1.0], acceleration_max=[1.0], action_dim=2,
          position_min=[-1.0, -1.0]), 'both'),
    (dict(velocity_min=[-1.0], velocity_max=[1.0], acceleration_max=[1.0], action_dim=2,
          position_min=[-1.0, -1.0], position_max=[1.0, 1.0], joint_index=[0, 0]),
     'distinct'),
])
def test_invalid_limits_raise(kwargs, match):
    """Inverted, NaN, non-positive and mismatched limits are rejected when built."""
    with pytest.raises(LimitError, match=match):
        CommandLimits.create(**kwargs)


def test_clip_positions_rejects_nan_and_wrong_joint_count():
    """NaN or a wrong joint count in a trajectory is an error."""
    limits = random_limits(np.random.default_rng(1))
    with pytest.raises(LimitError):
        clip_positions(np.array([[0.0, float('nan'), 0.0]]), limits)
    with pytest.raises(LimitError):
        clip_positions(np.zeros((2, 4)), limits)
