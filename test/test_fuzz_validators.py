"""Property-based fuzzing of the validators (issue #11, "Make it stay fixed"): the parameter
checks of both nodes (``ros/world_model/parameters.py``, ``ros/planner/parameters.py``, their
shared ``ros/common/parameter_table.py``) and planner_node's goal messages
(``ros/planner/goals.py``).

Parameters: every value inside a parameter's declared range (and of its type) is accepted
on its own; values outside it, non-finite or of another type are refused with a reason that
names the parameter; any batch of any values gives a reason or None and never raises, and a
batch it accepts builds what the node builds from it (command limits, the planner's action
box and search, the action source) without an error.

Goals: a goal message becomes a goal with finite numbers within ``max_abs_input`` (and the
joint limits), or is refused with an ``InputError`` whose reason is a ``goal_*`` counter.
"""

import math

from hypothesis import event, example, given
from hypothesis import strategies as st
import numpy as np
import pytest

from jepa_world_model.core.planning.command_limits import CommandLimits
from jepa_world_model.core.runtime.inference import WorldModelRuntime
from jepa_world_model.core.planning.planner import ActionBounds, LatentPlanner
from tiny_models import JOINTS, save_tiny

try:
    import fuzz_messages as fm
    from jepa_world_model.ros.world_model import parameters as world_model_parameters
    from jepa_world_model.ros.planner import parameters as planner_parameters
    from jepa_world_model.ros.world_model.action_sources import ActionSource, TWIST_FIELDS
    from jepa_world_model.ros.common.rejects import InputError
    from jepa_world_model.ros.common.parameter_table import check_value, ModelFacts
    from jepa_world_model.ros.planner.goals import (image_goal_from_msg, joint_goal_from_msg,
                                                    pose_goal_from_msg)
except ImportError:   # the tests need these; they are marked ros and skipped by conftest
    pass

pytestmark = pytest.mark.ros

NODES = ('world_model_node', 'planner_node')


def table(node):
    """(PARAMS, settings class, validate_updates) of a node."""
    module = world_model_parameters if node == 'world_model_node' else planner_parameters
    settings = (module.NodeSettings if node == 'world_model_node'
                else module.PlannerSettings)
    return module.PARAMS, settings, module.validate_updates


def ranged(node):
    """Names of the numeric parameters with a declared range."""
    return sorted(n for n, spec in table(node)[0].items() if spec.low is not None)


def in_range(spec):
    """Values of the declared type inside ``[spec.low, spec.high]``."""
    if isinstance(spec.default, int) and not isinstance(spec.default, bool):
        return st.integers(int(spec.low), int(spec.high))
    return st.floats(spec.low, spec.high)


def hostile():
    """Values of any type: absurd numbers, strings, lists of mixed items, None."""
    return st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                     fm.floats64(), st.text(max_size=8),
                     st.lists(st.one_of(st.text(max_size=4), fm.floats64(), st.integers(),
                                        st.booleans()), max_size=4))


def plausible(name, spec):
    """Values a user would set: mostly valid for the parameter, sometimes not."""
    if spec.choices:
        return st.sampled_from(spec.choices)
    if spec.low is not None:
        return in_range(spec)
    default = spec.default
    if name == 'action_fields':
        return st.permutations(TWIST_FIELDS).flatmap(lambda f: st.integers(0, 3).map(
            lambda n: list(f[:n])))
    if name == 'action_joint_names':
        return st.one_of(st.none(), st.permutations(JOINTS), st.lists(st.sampled_from(
            JOINTS + ['elbow']), max_size=3))
    if name == 'device':
        return st.sampled_from(['cpu', 'cuda', 'cuda:1', 'auto', 'gpu', ' CPU'])
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, str):
        return st.text(max_size=8)
    # Command limits: zero is a value users set (a dimension that must not move).
    sign = {'command_min': -1.0, 'command_max': 1.0, 'velocity_min': -1.0,
            'velocity_max': 1.0}.get(name)
    if sign is not None:
        return st.lists(st.one_of(st.just(0.0), st.floats(0.0, 3.0).map(lambda v: sign * v)),
                        min_size=1, max_size=2)
    # Other lists of numbers: acceleration and joint limits, scales, scan_mount.
    return st.lists(st.one_of(st.floats(-3.0, 3.0), st.sampled_from([0.0, 1e30, 1e300])),
                    max_size=3)


def batches(node):
    """Batches of up to 5 changes: plausible values only (most batches are then valid), or
    mixed with hostile values and unknown names."""
    params = table(node)[0]
    names = st.sampled_from(sorted(params) + ['no_such_parameter'])

    def change(name, wild):
        value = plausible(name, params.get(name, params['enabled']))
        return st.tuples(st.just(name), st.one_of(value, hostile()) if wild else value)

    return st.booleans().flatmap(lambda wild: st.lists(
        names.flatmap(lambda name: change(name, wild)), max_size=5).map(dict))


def validator_accepted(reason, names=()):
    """Whether a validator accepted (``reason`` None), recorded as a hypothesis event; a
    refusal must be a non-empty reason naming one of ``names`` (when given)."""
    if reason is None:
        event('accepted')
        return True
    event('refused')
    assert isinstance(reason, str) and reason, reason
    assert not names or any(name in reason for name in names), reason
    return False


def goal_or_refusal(decode, prefix):
    """The goal ``decode()`` returns, or None where it refused with an ``InputError`` whose
    reason (a counter name starting with ``prefix``) and message are given; the outcome is
    recorded as a hypothesis event."""
    try:
        goal = decode()
    except InputError as exc:
        event(exc.reason)
        assert exc.reason.startswith(prefix) and str(exc)
        return None
    event('accepted')
    return goal


# -- parameters ------------------------------------------------------------------------------

@pytest.mark.parametrize('node', NODES)
@given(data=st.data())
def test_every_value_inside_a_declared_range_is_accepted_on_its_own(node, data):
    params, settings, validate = table(node)
    name = data.draw(st.sampled_from(ranged(node)))
    value = data.draw(in_range(params[name]))
    assert check_value(params, name, value) is None
    reason = validate({name: value}, settings())
    # The cross-parameter rules the docs state, and nothing else, may refuse it.
    crossing = {
        'surprise_min_samples': lambda v: v > settings().surprise_window,
        'surprise_window': lambda v: v < settings().surprise_min_samples,
        'stall_error_timeout': lambda v: v < settings().stale_timeout,
        'stale_timeout': lambda v: node == 'world_model_node' and v > 5.0,
        'num_samples': lambda v: v < settings().num_elites if node == 'planner_node' else 0,
        'num_elites': lambda v: v > settings().num_samples if node == 'planner_node' else 0,
    }
    if crossing.get(name, lambda v: False)(value):
        event('cross-parameter rule')
        assert reason is not None and name in reason
    else:
        assert reason is None, reason


@pytest.mark.parametrize('node', NODES)
@given(data=st.data())
def test_values_outside_the_range_non_finite_or_of_another_type_are_refused_by_name(
        node, data):
    params, settings, validate = table(node)
    name = data.draw(st.sampled_from(ranged(node)))
    spec = params[name]
    is_int = isinstance(spec.default, int)
    outside = st.one_of(
        st.integers(int(spec.high) + 1, int(spec.high) + 10 ** 6) if is_int
        else st.floats(spec.high, 1e300, exclude_min=True),
        st.integers(int(spec.low) - 10 ** 6, int(spec.low) - 1) if is_int
        else st.floats(-1e300, spec.low, exclude_max=True),
        st.sampled_from([float('nan'), float('inf'), -float('inf')]),
        st.sampled_from(['1', None, True, [1.0]]),
        st.floats(0.5, 0.5) if is_int else st.just('0.5'))
    value = data.draw(outside)
    for reason in (check_value(params, name, value), validate({name: value}, settings())):
        assert isinstance(reason, str) and name in reason


@pytest.mark.parametrize('node', NODES)
@given(data=st.data())
def test_any_batch_is_refused_with_a_reason_or_builds_what_the_node_builds(node, data):
    params, settings, validate = table(node)
    updates = data.draw(batches(node))
    facts = data.draw(st.sampled_from([None, 'facts']))
    if facts and node == 'world_model_node':
        facts = ModelFacts(action_dim=2, joint_names=tuple(JOINTS))
    elif facts:
        facts = planner_parameters.PlannerFacts(action_dim=2, joint_names=tuple(JOINTS))
    if not validator_accepted(validate(updates, settings(), facts)):
        return
    new = settings().with_updates(updates)
    for name, value in updates.items():
        assert check_value(params, name, value) is None
    if node == 'planner_node':
        low, high = planner_parameters.command_bounds(new)
        limits = planner_parameters.command_limits(new, 2 if facts else max(
            len(low), len(high), len(new.acceleration_max)))
        LatentPlanner(planner_parameters.planner_config(new), limits.action_dim,
                      ActionBounds(limits.velocity_min, limits.velocity_max))
    elif facts:
        ActionSource.create(new.action_source, 2, new.action_fields, new.action_joint_names,
                            JOINTS, new.action_trajectory_field, new.action_scale,
                            new.action_timeout)


LIMIT_PARAMETERS = ('command_min', 'command_max', 'acceleration_max')


@given(st.fixed_dictionaries({name: plausible(name, planner_parameters.PARAMS[name])
                              for name in LIMIT_PARAMETERS}))
# A zero-width velocity box passed the validator, then failed configure: "warm-up plan failed".
@example({'command_min': [0.0], 'command_max': [0.0], 'acceleration_max': [2.0]})
@example({'command_min': [-1.0, 0.0], 'command_max': [1.0, 0.0], 'acceleration_max': [2.0]})
def test_command_limits_the_planner_accepts_give_it_an_action_box(updates):
    """command_min, command_max and acceleration_max accepted together also make the
    planner's action box and search (configure builds both from them)."""
    if not validator_accepted(planner_parameters.validate_updates(
            updates, planner_parameters.PlannerSettings(),
            planner_parameters.PlannerFacts(action_dim=2, joint_names=tuple(JOINTS))),
            LIMIT_PARAMETERS):
        return
    new = planner_parameters.PlannerSettings().with_updates(updates)
    limits = planner_parameters.command_limits(new, 2)
    LatentPlanner(planner_parameters.planner_config(new), 2,
                  ActionBounds(limits.velocity_min, limits.velocity_max))


ACTION_PARAMETERS = ('action_source', 'action_fields', 'action_joint_names',
                     'action_trajectory_field', 'action_scale')


@given(st.fixed_dictionaries({name: plausible(name, world_model_parameters.PARAMS[name])
                              for name in ACTION_PARAMETERS}))
# A scale beyond float32 passed the validator, then failed configure (ActionSource.create).
@example({'action_source': 'twist', 'action_fields': ['linear.x', 'angular.z'],
          'action_joint_names': None, 'action_trajectory_field': 'positions',
          'action_scale': [1e300]})
def test_action_settings_the_world_model_accepts_build_its_action_source(updates):
    if not validator_accepted(world_model_parameters.validate_updates(
            updates, world_model_parameters.NodeSettings(), ModelFacts(2, tuple(JOINTS))),
            ACTION_PARAMETERS):
        return
    new = world_model_parameters.NodeSettings().with_updates(updates)
    source = ActionSource.create(new.action_source, 2, new.action_fields,
                                 new.action_joint_names, JOINTS, new.action_trajectory_field,
                                 new.action_scale, new.action_timeout)
    assert np.isfinite(source.scale).all()


# -- goals -----------------------------------------------------------------------------------

@st.composite
def joint_limits(draw):
    """Command limits on the two model joints, with or without joint position limits."""
    if draw(st.booleans()):
        return CommandLimits.create([-1.0], [1.0], [2.0], 2)
    low = draw(st.floats(-3.0, 0.0))
    return CommandLimits.create([-1.0], [1.0], [2.0], 2, position_min=[low, low],
                                position_max=[low + draw(st.floats(0.01, 6.0))] * 2)


@given(fm.joint_state_msgs(JOINTS), joint_limits(), st.sampled_from([1e-3, 1.0, 1e5, 1e12]))
def test_a_joint_goal_is_finite_within_max_abs_and_the_limits_or_refused(
        msg, limits, max_abs):
    goal = goal_or_refusal(
        lambda: joint_goal_from_msg(msg, JOINTS, JOINTS, limits, max_abs=max_abs), 'goal_')
    if goal is None:
        return
    target = goal.target.numpy()
    assert target.shape == (2,) and np.isfinite(target).all()
    assert np.all(np.abs(target) <= max_abs)
    if limits.has_positions:
        assert np.all(target >= limits.position_min) and np.all(target <= limits.position_max)


@given(fm.pose_stamped_msgs(), st.sampled_from([True, True, False]),
       st.sampled_from(['odom', 'map', '']),
       st.sampled_from([0.0, 1.0, 1e6]), st.sampled_from([1e-3, 1.0, 1e5, 1e12]))
def test_a_pose_goal_is_finite_within_max_abs_or_refused(
        msg, has_pose, frame, yaw_weight, max_abs):
    goal = goal_or_refusal(
        lambda: pose_goal_from_msg(msg, has_pose, frame, yaw_weight, max_abs=max_abs),
        'goal_pose_')
    if goal is None:
        return
    target = goal.target.numpy()
    assert has_pose and msg.header.frame_id and frame in ('', msg.header.frame_id)
    assert target.shape == (3,) and np.isfinite(target).all()
    assert abs(target[0]) <= max_abs and abs(target[1]) <= max_abs
    assert math.isfinite(goal.yaw_weight) and goal.yaw_weight >= 0


@pytest.fixture(scope='module')
def runtime(tmp_path_factory):
    return WorldModelRuntime.from_path(save_tiny(tmp_path_factory.mktemp('goal') / 't.pt'))


@given(st.one_of(fm.image_msgs(), fm.valid_images()),
       st.sampled_from(['center_crop', 'stretch']))
def test_an_image_goal_is_a_finite_latent_or_refused(runtime, msg, mode):
    goal = goal_or_refusal(lambda: image_goal_from_msg(msg, runtime, mode), 'goal_image_')
    if goal is None:
        return
    assert goal.target.ndim == 1 and bool(np.isfinite(goal.target.numpy()).all())
