"""planner_node's outputs when a joint is beyond its limit, and published == returned.

Issue #11 item 5: a trajectory from a joint beyond its limit used to start with point 0
snapped onto the limit (3.5 -> 2.5 rad in 0.1 s with velocity_max 1.0) and velocity 0, while
the node kept the unclipped command as its acceleration reference. These tests drive
:class:`PlannerOutputs` with a stand-in node that records what is published (no DDS, fast),
plans limited as the planning controller limits them (``limit_plan``),
and check, property-style over random limits, positions and plans: trajectories start at
the measured position, move at no more than the velocity and acceleration limits, only
inward for a joint beyond a limit, never across a limit for a joint inside its range, and
the command the node keeps is the one it published.
"""

from types import SimpleNamespace

import numpy as np
import pytest

try:
    from geometry_msgs.msg import Twist, TwistStamped
    from std_msgs.msg import Float64MultiArray, Header
    from trajectory_msgs.msg import JointTrajectory

    from jepa_world_model.core.planning.command_limits import CommandLimits
    from jepa_world_model.core.planning.commands import Command, limit_plan
    from jepa_world_model.core.runtime.streams import Counters
    from jepa_world_model.ros.planner.outputs import command_msg, PlannerOutputs
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros

SEEDS = range(20)
EPS = 1e-9
JOINTS = ['j0', 'j1', 'j2']
FIELDS = ('linear.x', 'linear.y', 'angular.z')


class FakePublisher:
    """Records every message."""

    def __init__(self, msg_type, topic):
        self.msg_type, self.topic, self.sent = msg_type, topic, []

    def publish(self, msg):
        assert isinstance(msg, self.msg_type), (msg, self.msg_type)
        self.sent.append(msg)


class FakeNode:
    """What PlannerOutputs needs of a lifecycle node: publishers it can create and destroy."""

    def __init__(self):
        self.pubs = {}

    def create_lifecycle_publisher(self, msg_type, topic, qos, qos_overriding_options=None):
        self.pubs[topic] = FakePublisher(msg_type, topic)
        return self.pubs[topic]

    def destroy_lifecycle_publisher(self, pub):
        self.pubs.pop(pub.topic)


def settings(output='joint_trajectory', step=0.1, twist_stamped=False, fields=FIELDS):
    """The planner settings command_msg reads."""
    return SimpleNamespace(output=output, use_twist_stamped=twist_stamped,
                           action_fields=fields, model_step_period=step, path_frame_id='',
                           base_frame_id='base_link')


def outputs(s):
    """(PlannerOutputs on a FakeNode, the command publisher, the counters)."""
    node, counters = FakeNode(), Counters()
    out = PlannerOutputs(node, s, False, counters)
    cmd = [p for t, p in node.pubs.items() if t.startswith('~/recommended')]
    assert len(cmd) == 1
    return out, cmd[0], counters


def send_plan(out, s, joints, limits, period, prev, q_act, actions):
    """Hold the plan ``actions`` [H, A] to the limits as the controller does and publish
    it; the command as published."""
    first, velocities = limit_plan(np.asarray(actions, dtype=np.float64), prev, period, limits,
                                   q_act, s.output == 'joint_trajectory', s.model_step_period)
    command = Command(first.a, velocities, q_act, tuple(first.kinds), 1.0)
    return out.plan(s, joints, limits, Header(), command)


def send_stop(out, s, joints, limits, q_act):
    """Publish the stop command (zero; a trajectory holds still at ``q_act``)."""
    zero = np.zeros(len(joints))
    return out.stop(s, joints, limits, Header(), Command(zero, zero[None], q_act))


def points(msg):
    """(positions [H, A] or None, velocities [H, A]) of a JointTrajectory."""
    pos = np.array([p.positions for p in msg.points])
    vel = np.array([p.velocities for p in msg.points])
    return (pos if pos.size else None), vel


def random_limits(rng, wide=False):
    """Random limits on 3 joints; ``wide``: ranges wider than one plan can travel."""
    v_max, v_min = rng.uniform(0.3, 1.0, 3), -rng.uniform(0.3, 1.0, 3)
    acc = rng.uniform(2.0, 5.0, 3)
    p_min = -rng.uniform(1.5, 3.0, 3) if wide else -rng.uniform(0.3, 2.0, 3)
    p_max = rng.uniform(1.5, 3.0, 3) if wide else rng.uniform(0.3, 2.0, 3)
    return CommandLimits.create(v_min, v_max, acc, position_min=p_min, position_max=p_max)


def check_motion(limits, q, pos, vel, step):
    """Positions start at q, agree with the velocities, move within the velocity box, only
    inward while beyond a limit and never across a limit once inside."""
    np.testing.assert_allclose(pos, q + np.cumsum(vel * step, axis=0), atol=1e-9)
    assert np.all(vel >= limits.velocity_min - EPS) and np.all(vel <= limits.velocity_max + EPS)
    before = np.vstack([q, pos[:-1]])
    # Never a position step larger than the velocity limit allows (point 0 from q).
    moved = (pos - before) / step
    assert np.all(moved >= limits.velocity_min - 1e-6), (q, pos)
    assert np.all(moved <= limits.velocity_max + 1e-6), (q, pos)
    above, below = before > limits.position_max, before < limits.position_min
    assert np.all(pos[above] <= before[above] + EPS), (q, pos)          # inward only
    assert np.all(pos[below] >= before[below] - EPS), (q, pos)
    inside = ~(above | below)
    assert np.all(pos[inside] <= np.broadcast_to(limits.position_max, pos.shape)[inside] + EPS)
    assert np.all(pos[inside] >= np.broadcast_to(limits.position_min, pos.shape)[inside] - EPS)


def test_the_filed_case_moves_back_at_the_velocity_limit():
    """3.5 rad, limit 2.5, velocity_max 1.0: point 0 at 3.4 rad after 0.1 s, not 2.5."""
    limits = CommandLimits.create([-1.0], [1.0], [100.0], position_min=[-2.5],
                                  position_max=[2.5])
    s = settings(step=0.1)
    out, pub, _ = outputs(s)
    sent = send_plan(out, s, ['j0'], limits, 0.1, np.zeros(1), np.array([3.5]), [[-5.0]] * 4)
    pos, vel = points(pub.sent[-1])
    np.testing.assert_allclose(pos[:, 0], [3.4, 3.3, 3.2, 3.1])
    np.testing.assert_allclose(vel[:, 0], -1.0)
    np.testing.assert_array_equal(sent, vel[0])


@pytest.mark.parametrize('seed', SEEDS)
def test_closed_loop_from_beyond_the_limits_moves_inward_within_every_limit(seed):
    """Joints start beyond their limits; twenty plans, the joints following what was
    published: every trajectory starts at the measured q, only moves inward while beyond a
    limit, and velocity and acceleration (against what was published last) hold."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng, wide=True)
    period, step = rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.15)
    s = settings(step=step)
    out, pub, counters = outputs(s)
    side = rng.choice([-1.0, 1.0], 3)
    q = np.where(side > 0, limits.position_max, limits.position_min) + side * rng.uniform(
        0.2, 1.5, 3)
    # Previous commands already inward (or still): the acceleration limit can be met.
    prev = -side * rng.uniform(0.0, 1.0, 3) * np.where(side > 0, -limits.velocity_min,
                                                       limits.velocity_max)
    centre = (limits.position_min + limits.position_max) / 2
    for _ in range(20):
        desired = np.sign(centre - q) * rng.uniform(0.0, 5.0, (5, 3))   # home, wildly
        sent = send_plan(out, s, JOINTS, limits, period, prev, q, desired)
        pos, vel = points(pub.sent[-1])
        np.testing.assert_array_equal(sent, vel[0])                   # published == kept
        check_motion(limits, q, pos, vel, step)
        steps = np.diff(np.vstack([prev, vel]), axis=0)
        assert np.all(np.abs(steps[0]) <= limits.acceleration_max * period + EPS), steps
        assert np.all(np.abs(steps[1:]) <= limits.acceleration_max * step + EPS), steps
        # The joints follow the published trajectory until the next plan.
        times = step * np.arange(len(pos) + 1)
        q = np.array([np.interp(period, times, np.r_[q[j], pos[:, j]]) for j in range(3)])
        prev = sent
    assert counters.get('limit_acceleration_infeasible') == 0, counters.snapshot()
    assert counters.get('limit_position_guard') == 0, counters.snapshot()


@pytest.mark.parametrize('seed', SEEDS)
def test_joints_inside_never_cross_a_limit_and_published_is_kept(seed):
    """Plans pushing outward from inside the range, plan period shorter or longer than the
    model step: no point crosses a limit, positions and velocities agree, the returned
    command is point 0's velocity."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng)
    period, step = rng.uniform(0.02, 0.3), rng.uniform(0.02, 0.3)
    s = settings(step=step)
    out, pub, _ = outputs(s)
    q = rng.uniform(limits.position_min, limits.position_max)
    prev = rng.uniform(limits.velocity_min, limits.velocity_max)
    for _ in range(10):
        desired = np.sign(q) * rng.uniform(1.0, 20.0, (6, 3)) + rng.normal(0.0, 0.5, (6, 3))
        sent = send_plan(out, s, JOINTS, limits, period, prev, q, desired)
        pos, vel = points(pub.sent[-1])
        np.testing.assert_array_equal(sent, vel[0])
        check_motion(limits, q, pos, vel, step)
        q, prev = pos[0], sent


@pytest.mark.parametrize('seed', SEEDS)
def test_stop_holds_a_joint_beyond_its_limit_where_it_is(seed):
    """The stop trajectory holds every joint at its measured position, not on the limit."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng)
    s = settings(step=rng.uniform(0.02, 0.3))
    out, pub, _ = outputs(s)
    q = rng.uniform(limits.position_min - 2.0, limits.position_max + 2.0)
    sent = send_stop(out, s, JOINTS, limits, q)
    pos, vel = points(pub.sent[-1])
    np.testing.assert_array_equal(pos, q[None])
    np.testing.assert_array_equal(vel, 0.0)
    np.testing.assert_array_equal(sent, 0.0)


@pytest.mark.parametrize('seed', SEEDS)
def test_every_output_returns_the_command_it_published(seed):
    """Float64MultiArray, Twist, TwistStamped and JointTrajectory (with a joint beyond its
    limit): the command kept as the next acceleration reference is the one in the message."""
    rng = np.random.default_rng(seed)
    limits = random_limits(rng)
    # A base (Twist) has no joint limits.
    base = CommandLimits.create(limits.velocity_min, limits.velocity_max,
                                limits.acceleration_max)
    q = limits.position_max + rng.uniform(0.1, 1.0, 3)          # every joint beyond its max
    prev = rng.uniform(limits.velocity_min, 0.0)
    desired = rng.normal(0.0, 5.0, (4, 3))
    period = rng.uniform(0.02, 0.3)
    for output, stamped in (('float64_multi_array', False), ('cmd_vel', False),
                            ('cmd_vel', True), ('joint_trajectory', False)):
        s = settings(output, step=rng.uniform(0.02, 0.3), twist_stamped=stamped)
        out, pub, _ = outputs(s)
        q_act, held_to = (None, base) if output == 'cmd_vel' else (q, limits)
        sent = send_plan(out, s, JOINTS, held_to, period, prev, q_act, desired)
        msg = pub.sent[-1]
        if isinstance(msg, Float64MultiArray):
            published = np.array(msg.data)
        elif isinstance(msg, (Twist, TwistStamped)):
            twist = msg.twist if stamped else msg
            published = np.array([twist.linear.x, twist.linear.y, twist.angular.z])
        else:
            assert isinstance(msg, JointTrajectory)
            pos, vel = points(msg)
            published = vel[0]
            check_motion(limits, q, pos, vel, s.model_step_period)
        np.testing.assert_array_equal(sent, published, err_msg=output)
        if q_act is not None:
            assert np.all(published <= EPS), published                 # never further out


def test_twist_with_fewer_fields_than_dims_is_refused():
    """A command with more dims than action_fields would publish part of itself."""
    limits = CommandLimits.create([-1.0], [1.0], [10.0], action_dim=3)
    with pytest.raises(ValueError, match='action_fields'):
        command_msg(settings('cmd_vel', fields=FIELDS[:2]), JOINTS, limits, Header(),
                    np.array([0.1, 0.2, 0.3]), np.array([[0.1, 0.2, 0.3]]), None)
