"""Property-based fuzzing of commands (issue #11, "Make it stay fixed"): the commands
world_model_node reads (``ActionSource``) and the ones planner_node sends (``limit_command``,
``limit_plan``, ``command_msg``, ``integrate_positions``).

Incoming: a command message is stored as a finite float32 action within ``max_abs_input``,
or refused with ``ActionError`` and the previous command stays in effect.

Outgoing, for any valid limits, any plan, any previous command and any measured joint
position (inside or beyond its limits):

* every command is inside the velocity box;
* a joint inside its range never leaves it; a joint beyond a limit moves only inward, never
  past its other limit (the documented inward-only recovery);
* consecutive commands change by at most ``acceleration_max * dt``, except where no command
  can meet that and the velocity and joint limits together: then the command is the
  hard-feasible value nearest to the allowed range (``acceleration_infeasible``);
* a published trajectory starts at the measured position and its positions and velocities
  agree; a stop holds every joint where it is measured.
"""

from types import SimpleNamespace

from hypothesis import event, example, given
from hypothesis import strategies as st
import numpy as np
import pytest

from jepa_world_model.core.planning.command_limits import (CommandLimits, integrate_positions,
                                                           limit_command, LimitError)
from jepa_world_model.core.planning.commands import limit_plan

try:
    from geometry_msgs.msg import Twist, TwistStamped
    from std_msgs.msg import Float64MultiArray, Header

    import fuzz_messages as fm
    from jepa_world_model.ros.world_model.action_sources import (ActionError, ActionSource,
                                                                 TWIST_FIELDS)
    from jepa_world_model.ros.planner.outputs import command_msg
except ImportError:   # the tests need these; they are marked ros and skipped by conftest
    pass

pytestmark = pytest.mark.ros

JOINTS = ['j0', 'j1']
NOW = 1000.0
EPS = 1e-9


def tol(*values):
    """Round-off allowance for comparisons of values of this size."""
    return EPS + 1e-12 * max([1.0] + [float(np.max(np.abs(v))) for v in values])


# -- strategies ----------------------------------------------------------------------------

#: Seconds between commands or trajectory points: the planner's usual 0.01-0.2 s mostly.
PERIODS = st.one_of(st.floats(0.01, 0.2), st.floats(0.005, 2.0))


@st.composite
def limits_strategy(draw, dim=2, positions=None):
    """Valid CommandLimits on ``dim`` action dims (joint d moved by dim d when there are
    joint limits; ``positions`` None: either)."""
    speed = st.floats(0.0, 5.0)
    v_max = np.array(draw(st.lists(speed, min_size=dim, max_size=dim)))
    v_min = -np.array(draw(st.lists(speed, min_size=dim, max_size=dim)))
    # Tight limits often: a loose acceleration limit would hide a wrong reference.
    acc = draw(st.lists(st.one_of(st.sampled_from([0.1, 0.5, 2.0]), st.floats(0.01, 50.0),
                                  st.just(float('inf'))), min_size=dim, max_size=dim))
    if positions is None:
        positions = draw(st.booleans())
    if not positions:
        return CommandLimits.create(v_min, v_max, acc)
    p_min = np.array(draw(st.lists(st.floats(-3.0, 3.0), min_size=dim, max_size=dim)))
    width = np.array(draw(st.lists(st.floats(1e-3, 6.0), min_size=dim, max_size=dim)))
    return CommandLimits.create(v_min, v_max, acc, position_min=p_min,
                                position_max=p_min + width)


def measured_q(draw, limits, dim=2):
    """Joint positions inside, on, or beyond (either side of) the joint limits."""
    if not limits.has_positions:
        return np.array(draw(st.lists(st.floats(-5.0, 5.0), min_size=dim, max_size=dim)))
    where = st.one_of(st.floats(-1.0, 2.0), st.sampled_from([0.0, 1.0, -0.5, 1.5]))
    u = np.array(draw(st.lists(where, min_size=dim, max_size=dim)))
    return limits.position_min + u * (limits.position_max - limits.position_min)


def hard_interval(limits, q, hold):
    """[A] low and high of the velocity box and the joint-limit bound over ``hold`` s: land
    on a limit at most; beyond one, no motion further out (inward only)."""
    low, high = limits.velocity_min.copy(), limits.velocity_max.copy()
    if limits.has_positions and q is not None:
        for dim, joint in enumerate(limits.joint_index):
            high[dim] = min(high[dim], max(0.0, (limits.position_max[joint] - q[joint]) / hold))
            low[dim] = max(low[dim], min(0.0, (limits.position_min[joint] - q[joint]) / hold))
    return low, high


def check_command(limits, a, prev, dt, q=None, hold=None):
    """``a`` [A] within the hard limits; within the acceleration limit from ``prev`` unless
    that is infeasible, and then the hard-feasible value nearest to it."""
    low, high = hard_interval(limits, q, hold or dt)
    eps = tol(a, prev, low, high)
    assert np.all(a >= low - eps) and np.all(a <= high + eps), (a, low, high)
    change = limits.acceleration_max * dt
    for d in np.flatnonzero(np.abs(a - prev) > change + eps):
        below, above = prev[d] + change[d] < low[d], prev[d] - change[d] > high[d]
        assert below or above, f'dim {d}: {prev[d]} -> {a[d]} exceeds the acceleration limit'
        assert a[d] == pytest.approx(low[d] if below else high[d], abs=eps)


def check_positions(limits, q0, pos):
    """Positions [H, J] from q0: inside stays inside, beyond moves only inward and never
    past the other limit."""
    before = np.vstack([q0, pos[:-1]])
    eps = tol(q0, pos)
    above, below = before > limits.position_max, before < limits.position_min
    assert np.all(pos[above] <= before[above] + eps)
    assert np.all(pos[below] >= before[below] - eps)
    lo = np.broadcast_to(limits.position_min, pos.shape)
    hi = np.broadcast_to(limits.position_max, pos.shape)
    assert np.all(pos >= np.minimum(lo, before) - eps)
    assert np.all(pos <= np.maximum(hi, before) + eps)


# -- incoming commands ----------------------------------------------------------------------

def commands():
    """(source name, a message of its type with any contents)."""
    return st.sampled_from([
        ('twist', fm.twist_msgs()), ('twist_stamped', fm.twist_msgs(stamped=True)),
        ('joint_trajectory', fm.trajectory_msgs(JOINTS)),
        ('float64_multi_array', fm.float_array_msgs())]).flatmap(
            lambda pair: st.tuples(st.just(pair[0]), pair[1]))


def overflowing_twist():
    twist = Twist()
    twist.linear.x = 1e9     # times action_scale 1e30: beyond float32
    return twist


@given(commands(), st.sampled_from([1e-3, 1.0, 1e5, 1e12]),
       st.lists(st.one_of(st.floats(-10.0, 10.0), st.just(1e30)), min_size=1, max_size=1))
@example(('twist', overflowing_twist()), 1e12, [1e30])
def test_a_command_is_a_finite_action_within_max_abs_or_refused_and_the_old_one_stays(
        command, max_abs, scale):
    name, msg = command
    src = ActionSource.create(name, 2, ['linear.x', 'angular.z'], (), JOINTS, 'positions',
                              scale, 0.5)
    src.max_abs = max_abs
    first = Float64MultiArray(data=[0.5 * max_abs, -0.5 * max_abs])
    if name == 'float64_multi_array' and abs(first.data[0] * scale[0]) <= fm.FLOAT32_MAX:
        src.on_message(first, NOW)
    before = src.current(NOW)
    try:
        src.on_message(msg, NOW)
    except ActionError as exc:
        event('refused')
        assert str(exc)
        np.testing.assert_array_equal(src.current(NOW), before)
        return
    event('stored')
    action = src.current(NOW)
    assert action.dtype == np.float32 and action.shape == (2,) and np.isfinite(action).all()
    raw = src.extract(msg)
    assert np.all(np.abs(raw) <= max_abs)
    np.testing.assert_array_equal(action, raw * src.scale)


@given(commands())
def test_extracting_an_action_raises_only_action_error(command):
    name, msg = command
    src = ActionSource.create(name, 2, ['linear.x', 'angular.z'], (), JOINTS, 'positions',
                              [1.0], 0.5)
    try:
        action = src.extract(msg)
    except ActionError:
        return
    assert action.shape == (2,) and np.isfinite(action).all()


# -- outgoing commands -----------------------------------------------------------------------

@given(limits_strategy(), st.data(), PERIODS, PERIODS)
def test_limit_command_keeps_every_limit(limits, data, dt, hold_extra):
    q = measured_q(data.draw, limits)
    prev = previous_command(data.draw, limits)
    desired = np.array(data.draw(st.lists(fm.floats64(), min_size=2, max_size=2)))
    hold = dt + hold_extra
    try:
        out = limit_command(desired, prev, dt, limits, q if limits.has_positions else None,
                            hold=hold)
    except LimitError:
        assert not np.isfinite(desired).all()
        return
    event('acceleration_infeasible' if 'acceleration_infeasible' in out.kinds else 'feasible')
    check_command(limits, out.a, prev, dt, q if limits.has_positions else None, hold)


def previous_command(draw, limits):
    """The previous command: published within the velocity box (often zero), or anywhere
    when the limits were tightened since."""
    u = st.one_of(st.just(0.0), st.floats(-1.0, 1.0))
    in_box = st.lists(u, min_size=2, max_size=2).map(
        lambda u: np.where(np.array(u) > 0, np.array(u) * limits.velocity_max,
                           -np.array(u) * limits.velocity_min))
    anywhere = st.lists(st.floats(-10.0, 10.0), min_size=2, max_size=2).map(np.array)
    return draw(st.one_of(in_box, in_box, anywhere))


def plan_case(draw, positions=None):
    limits = draw(limits_strategy(positions=positions))
    q = measured_q(draw, limits) if limits.has_positions else None
    prev = previous_command(draw, limits)
    horizon = draw(st.integers(1, 6))
    plan = np.array(draw(st.lists(st.lists(st.one_of(st.floats(-10.0, 10.0),
                                                     st.sampled_from([1e6, -1e300])),
                                           min_size=2, max_size=2),
                                  min_size=horizon, max_size=horizon)))
    return limits, q, prev, plan


@given(st.data(), PERIODS, PERIODS)
def test_a_published_trajectory_keeps_every_limit_from_any_measured_position(
        data, period, step):
    limits, q, prev, plan = plan_case(data.draw, positions=True)
    s = SimpleNamespace(output='joint_trajectory', use_twist_stamped=False,
                        action_fields=(), model_step_period=step, base_frame_id='base_link')
    first, velocities = limit_plan(plan, prev, period, limits, q, True, step)
    out = command_msg(s, JOINTS, limits, Header(), first.a, velocities, q)
    pos = np.array([p.positions for p in out.msg.points])
    vel = np.array([p.velocities for p in out.msg.points])
    assert pos.shape == vel.shape == plan.shape and not out.guarded
    assert np.isfinite(pos).all() and np.isfinite(vel).all()
    np.testing.assert_array_equal(out.command, vel[0])
    np.testing.assert_allclose(pos, q + np.cumsum(vel * step, axis=0), rtol=0, atol=1e-9)
    check_command(limits, vel[0], prev, period, q, max(period, step))
    for k in range(1, len(vel)):
        check_command(limits, vel[k], vel[k - 1], step, pos[k - 1], step)
    check_positions(limits, q, pos)


@given(st.data(), PERIODS, st.sampled_from(['cmd_vel', 'float64_multi_array']),
       st.booleans())
def test_twist_and_array_commands_carry_the_limited_first_command(
        data, period, output, stamped):
    limits, _, prev, plan = plan_case(data.draw, positions=False)
    fields = data.draw(st.permutations(TWIST_FIELDS))[:2]
    s = SimpleNamespace(output=output, use_twist_stamped=stamped, action_fields=fields,
                        model_step_period=0.1, base_frame_id='base_link')
    first, velocities = limit_plan(plan, prev, period, limits, None, False, 0.1)
    out = command_msg(s, JOINTS, limits, Header(), first.a, velocities, None)
    check_command(limits, out.command, prev, period)
    if output == 'float64_multi_array':
        assert isinstance(out.msg, Float64MultiArray)
        sent = np.array(out.msg.data)
    else:
        assert isinstance(out.msg, TwistStamped if stamped else Twist)
        twist = out.msg.twist if stamped else out.msg
        sent = np.array([getattr(getattr(twist, f.split('.')[0]), f.split('.')[1])
                         for f in fields])
        others = [getattr(getattr(twist, f.split('.')[0]), f.split('.')[1])
                  for f in TWIST_FIELDS if f not in fields]
        assert others == [0.0] * 4
    np.testing.assert_array_equal(sent, first.a)
    np.testing.assert_array_equal(out.command, sent)


@given(limits_strategy(positions=True), st.data(), PERIODS)
def test_a_stop_holds_every_joint_where_it_is_measured(limits, data, step):
    q = measured_q(data.draw, limits)
    s = SimpleNamespace(output='joint_trajectory', use_twist_stamped=False,
                        action_fields=(), model_step_period=step, base_frame_id='base_link')
    zero = np.zeros(2)
    out = command_msg(s, JOINTS, limits, Header(), zero, zero[None], q)
    assert [list(p.positions) for p in out.msg.points] == [list(q)]
    assert [list(p.velocities) for p in out.msg.points] == [[0.0, 0.0]]


@given(limits_strategy(positions=True), st.data(), PERIODS)
def test_integrate_positions_only_slows_commands_and_keeps_the_joints_in_their_band(
        limits, data, dt):
    q = measured_q(data.draw, limits)
    horizon = data.draw(st.integers(1, 6))
    v = np.array(data.draw(st.lists(st.lists(st.floats(-20.0, 20.0), min_size=2, max_size=2),
                                    min_size=horizon, max_size=horizon)))
    out = integrate_positions(v, q, dt, limits)
    eps = tol(v, q)
    np.testing.assert_allclose(out.positions, q + np.cumsum(out.velocities * dt, axis=0),
                               rtol=0, atol=1e-9)
    assert np.all(np.abs(out.velocities) <= np.abs(v) + eps)       # only ever reduced...
    assert np.all(out.velocities * v >= -eps)                        # ...never reversed
    np.testing.assert_array_equal(out.velocities[~out.held], v[~out.held])
    check_positions(limits, q, out.positions)
