"""Tests of the joint-limit guard of trajectories (core, no ROS), issue #11 item 5.

:func:`integrate_positions` turns limited velocities into trajectory positions. It used to be
a clip of the positions onto the limits, which snapped a joint beyond its limit onto the
limit in one point. Property-style over random limits, positions and commands: positions
start at the measured q, agree with the velocities, never pass a limit from inside and only
move inward from outside; what :func:`limit_command` and :func:`limit_sequence` produce
passes the guard unchanged, from inside or beyond the limits.
"""

import numpy as np
import pytest

from jepa_world_model.core.planning.command_limits import (CommandLimits, integrate_positions,
                                                           limit_command, limit_sequence,
                                                           LimitError)

SEEDS = range(25)
EPS = 1e-9


def random_limits(rng, wide=False):
    """Random limits on 3 joints, joint j moved by action dim j."""
    low, high = (1.5, 3.0) if wide else (0.3, 2.0)
    return CommandLimits.create(-rng.uniform(0.3, 1.0, 3), rng.uniform(0.3, 1.0, 3),
                                rng.uniform(2.0, 5.0, 3),
                                position_min=-rng.uniform(low, high, 3),
                                position_max=rng.uniform(low, high, 3))


def beyond(rng, limits):
    """Joint positions 0.2-1.5 rad beyond a random limit each, and the side (+1: above)."""
    side = rng.choice([-1.0, 1.0], 3)
    edge = np.where(side > 0, limits.position_max, limits.position_min)
    return edge + side * rng.uniform(0.2, 1.5, 3), side


@pytest.mark.parametrize('seed', SEEDS)
def test_guard_never_passes_a_limit_and_never_moves_out(seed):
    """Wild velocities from anywhere: each point moves at most as far as its command, in its
    direction; beyond a limit only inward, inside never across a limit."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng)
    q0 = rng.uniform(limits.position_min - 1.5, limits.position_max + 1.5)
    dt = rng.uniform(0.02, 0.3)
    wild = rng.normal(0.0, 10.0, (12, 3))
    out = integrate_positions(wild, q0, dt, limits)
    np.testing.assert_allclose(out.positions, q0 + np.cumsum(out.velocities * dt, axis=0),
                               atol=1e-9)
    # Reduced toward zero only, and only where marked.
    assert np.all(out.velocities * wild >= 0)
    assert np.all(np.abs(out.velocities) <= np.abs(wild) + EPS)
    np.testing.assert_array_equal(out.velocities[~out.held], wild[~out.held])
    before = np.vstack([q0, out.positions[:-1]])
    p_min = np.broadcast_to(limits.position_min, before.shape)
    p_max = np.broadcast_to(limits.position_max, before.shape)
    above, below = before > p_max + EPS, before < p_min - EPS
    assert np.all(out.positions[above] <= before[above] + EPS)
    assert np.all(out.positions[below] >= before[below] - EPS)
    inside = ~(above | below)
    assert np.all(out.positions[inside] <= p_max[inside] + EPS)
    assert np.all(out.positions[inside] >= p_min[inside] - EPS)


@pytest.mark.parametrize('seed', SEEDS)
def test_a_hold_trajectory_stays_where_the_joint_is(seed):
    """Zero velocities from beyond a limit: every point at the measured q, not the limit."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng)
    q0, _ = beyond(rng, limits)
    out = integrate_positions(np.zeros((4, 3)), q0, 0.1, limits)
    np.testing.assert_array_equal(out.positions, np.tile(q0, (4, 1)))
    assert not out.held.any()


@pytest.mark.parametrize('seed', SEEDS)
def test_limited_plan_from_beyond_the_limits_comes_back_within_every_limit(seed):
    """The node's limiting (first command over max(period, step), the rest step by step)
    from joints beyond their limits, commands pulling inward: the guard changes nothing,
    the positions start at q0 and move inward at no more than velocity and acceleration."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng, wide=True)
    q0, side = beyond(rng, limits)
    period, step = rng.uniform(0.02, 0.3), rng.uniform(0.02, 0.15)
    prev = -side * rng.uniform(0.0, 0.3, 3)                   # inward or still
    desired = -side * rng.uniform(0.0, 5.0, (6, 3))
    first = limit_command(desired[0], prev, period, limits, q0, hold=max(period, step))
    q1 = integrate_positions(first.a[None], q0, step, limits).positions[0]
    rest = limit_sequence(desired[1:], first.a, step, limits, q1)
    velocities = np.vstack([first.a, rest.a])
    out = integrate_positions(velocities, q0, step, limits)
    assert not out.held.any()
    np.testing.assert_array_equal(out.velocities, velocities)
    np.testing.assert_allclose(out.positions[1:], rest.positions, atol=1e-12)
    assert 'acceleration_infeasible' not in first.kinds
    assert not any(k == 'acceleration_infeasible' for k, _ in rest.active)
    steps = np.diff(np.vstack([prev, velocities]), axis=0)
    assert np.all(np.abs(steps[0]) <= limits.acceleration_max * period + EPS)
    assert np.all(np.abs(steps[1:]) <= limits.acceleration_max * step + EPS)
    assert np.all(velocities >= limits.velocity_min - EPS)
    assert np.all(velocities <= limits.velocity_max + EPS)
    travel = np.diff(np.vstack([q0, out.positions]), axis=0)
    assert np.all(travel * side[None] <= EPS)                  # inward only


@pytest.mark.parametrize('seed', SEEDS)
def test_hold_keeps_a_longer_first_step_inside(seed):
    """Near a limit, a command limited with ``hold`` stays inside over ``hold`` seconds."""
    rng = np.random.default_rng(seed)
    limits = CommandLimits.create([-1.0], [1.0], [np.inf], position_min=[-1.0],
                                  position_max=[1.0])
    q = [1.0 - rng.uniform(0.001, 0.05)]
    dt, hold = rng.uniform(0.01, 0.05), rng.uniform(0.1, 0.3)
    out = limit_command([1.0], [0.0], dt, limits, q, hold=hold)
    assert q[0] + out.a[0] * hold == pytest.approx(1.0, abs=1e-12)
    assert ('position', 0) in out.active


@pytest.mark.parametrize('bad', [
    dict(velocities=np.zeros((2, 2))), dict(velocities=np.zeros(3)),
    dict(velocities=np.array([[0.0, np.nan, 0.0]])), dict(q0=[0.0, 0.0]),
    dict(q0=[0.0, np.inf, 0.0]), dict(dt=0.0), dict(dt=float('nan'))])
def test_integrate_positions_rejects_bad_inputs(bad):
    """NaN/inf, wrong shapes and a bad dt are errors."""
    args = dict(velocities=np.zeros((2, 3)), q0=[0.0, 0.0, 0.0], dt=0.1,
                limits=random_limits(np.random.default_rng(0)))
    args.update(bad)
    with pytest.raises(LimitError):
        integrate_positions(**args)


def test_limit_command_rejects_a_bad_hold():
    """hold must be finite and > 0."""
    limits = random_limits(np.random.default_rng(0))
    for hold in (0.0, -0.1, float('inf')):
        with pytest.raises(LimitError, match='hold'):
            limit_command([0.0] * 3, [0.0] * 3, 0.1, limits, [0.0] * 3, hold=hold)
