"""Each node parameter is declared once, and its default is the same everywhere it shows.

For every parameter that sets a core field (``ParamSpec.core``), three places must agree: the
spec's default, the core object's default (``PlannerConfig``, ``ControllerSettings``,
``ObjectiveTerms``, ``GoalTolerance``, ``SurpriseNormalizer``...) and the shipped parameter
file (config/ros/planner.yaml, config/ros/world_model.yaml). The shipped files are what users
run and what the results were measured with; the other parameters of a file equal the spec defaults
too, except the robot-specific values listed below. The objects built from the default
settings are the core objects' defaults.
"""

import dataclasses
import inspect
import os

import pytest
import yaml

from jepa_world_model.core.planning.goal_checks import GoalTolerance
from jepa_world_model.core.planning.objective_terms import ObjectiveTerms
from jepa_world_model.core.planning.planner import PlannerConfig
from jepa_world_model.core.planning.settings import ControllerSettings
from jepa_world_model.core.settings_spec import check_value, core_targets
from jepa_world_model.core.runtime.surprise import SurpriseNormalizer

try:
    from jepa_world_model.ros.world_model import parameters as world_model_parameters
    from jepa_world_model.ros.planner import parameters as planner_parameters
    from jepa_world_model.ros.common.parameter_table import SHARED_PARAMS
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = {'planner_node': 'config/ros/planner.yaml',
         'world_model_node': 'config/ros/world_model.yaml'}
#: Values of config/ros/planner.yaml that belong to the simulated arm it is set up for, not to
#: every robot: its joints, their ranges and its acceleration limit. The spec keeps the
#: robot-neutral default (no joint limits, 2 rad/s^2).
ROBOT_SPECIFIC = {'planner_node': {'action_joint_names', 'joint_position_min',
                                   'joint_position_max', 'acceleration_max'},
                  'world_model_node': set()}
#: Values the shipped file chooses over the core default on purpose: ``rollout_model: auto``
#: plans with the distilled student shipped beside the model when there is one (success
#: measured unchanged: docs/planner_speed.md); the core default stays the ensemble.
SHIPPED_CHOICES = {'planner_node': {'rollout_model'}, 'world_model_node': set()}
#: Parameters a file leaves out (commented out: unset; the deprecated QoS parameters, whose
#: standard replacement the file shows in a comment).
LEFT_OUT = {'planner_node': {'velocity_min', 'velocity_max'},   # deprecated names
            'world_model_node': {'action_joint_names', 'marker_link_lengths',
                                 'image_reliability', 'image_qos_depth',
                                 'joint_states_reliability', 'joint_states_qos_depth',
                                 'action_reliability'}}
_NO_DEFAULT = inspect.Parameter.empty


def module(node):
    return planner_parameters if node == 'planner_node' else world_model_parameters


def shipped(node):
    """``{name: value}`` of the node's parameter file (its one node section)."""
    with open(os.path.join(REPO, FILES[node]), encoding='utf-8') as handle:
        (section,) = yaml.safe_load(handle).values()
    return section['ros__parameters']


def core_default(target, field):
    """The default of ``field`` of a core dataclass or function (``_NO_DEFAULT``: none)."""
    if dataclasses.is_dataclass(target):
        (found,) = [f for f in dataclasses.fields(target) if f.name == field]
        if found.default_factory is not dataclasses.MISSING:
            return found.default_factory()
        return _NO_DEFAULT if found.default is dataclasses.MISSING else found.default
    return inspect.signature(target).parameters[field].default


def as_setting(value):
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize('node', sorted(FILES))
def test_every_core_field_named_by_a_spec_exists(node):
    params, targets = module(node).PARAMS, module(node).CORE_TARGETS
    named = core_targets(params)
    assert set(named) == set(targets), 'a core target without its core object (or unused)'
    for target, fields in named.items():
        known = ([f.name for f in dataclasses.fields(targets[target])]
                 if dataclasses.is_dataclass(targets[target])
                 else list(inspect.signature(targets[target]).parameters))
        assert sorted(set(fields) - set(known)) == [], f'{target}: no such field'


@pytest.mark.parametrize('node', sorted(FILES))
def test_spec_defaults_equal_the_core_defaults(node):
    params, targets = module(node).PARAMS, module(node).CORE_TARGETS
    compared, differ = 0, {}
    for target, fields in core_targets(params).items():
        for field, name in fields.items():
            expected = core_default(targets[target], field)
            if expected is _NO_DEFAULT:   # e.g. CommandLimits.create's velocity limits
                continue
            compared += 1
            if params[name].default != expected and \
                    params[name].settings_default != as_setting(expected):
                differ[name] = (params[name].default, f'{target}.{field}', expected)
    assert differ == {}, 'spec default != core default'
    assert compared >= (20 if node == 'planner_node' else 3), compared


@pytest.mark.parametrize('node', sorted(FILES))
def test_the_shipped_file_holds_the_spec_defaults(node):
    params, values = module(node).PARAMS, shipped(node)
    assert sorted(set(values) - set(params)) == [], 'unknown parameters in the file'
    assert set(params) - set(values) == LEFT_OUT[node]
    differ = {}
    for name, value in values.items():
        assert check_value(params, name, value) is None, name
        if as_setting(value) != params[name].settings_default and \
                name not in ROBOT_SPECIFIC[node] | SHIPPED_CHOICES[node]:
            differ[name] = (value, params[name].default)
    assert differ == {}, f'{FILES[node]} (value, spec default) differ'
    core_set = {n for n, s in params.items() if s.core is not None}
    assert core_set - ROBOT_SPECIFIC[node] - LEFT_OUT[node], 'no core parameter compared'


def test_the_default_settings_build_the_core_defaults():
    """What planner_node builds from its default settings is what the core builds by default:
    the search, the objective terms, the goal tolerance and the controller settings."""
    settings = planner_parameters.PlannerSettings()
    assert planner_parameters.planner_config(settings) == PlannerConfig()
    assert planner_parameters.objective_terms(settings) == ObjectiveTerms()
    assert planner_parameters.goal_tolerance(settings) == GoalTolerance()
    facts = planner_parameters.PlannerFacts(action_dim=2, joint_names=('a', 'b'))
    built = planner_parameters.controller_settings(
        dataclasses.replace(settings, output='cmd_vel'), facts,
        period=1.0 / settings.plan_rate_hz, with_poses=False)
    assert built == ControllerSettings()
    arguments = world_model_parameters.surprise_arguments(world_model_parameters.NodeSettings())
    defaults = inspect.signature(SurpriseNormalizer).parameters
    assert arguments == {name: defaults[name].default for name in arguments}
    assert sorted(arguments) == ['fixed_scale', 'min_samples', 'window']


def test_a_changed_setting_reaches_its_core_field():
    """The derived mapping carries each value to the field its spec names (not a default)."""
    settings = planner_parameters.PlannerSettings(
        num_samples=77, num_elites=7, trust_region_l1=0.3, clearance_margin=0.25,
        goal_yaw_tolerance=0.4, max_plan_time=0.2, scan_mount=(0.1, 0.0, 0.5),
        velocity_min=(-0.5,), joint_position_min=(-1.0, -1.0),
        joint_position_max=(1.0, 1.0))
    config = planner_parameters.planner_config(settings)
    assert (config.num_samples, config.num_elites, config.trust_region_l1) == (77, 7, 0.3)
    assert planner_parameters.objective_terms(settings).clearance_margin == 0.25
    assert planner_parameters.goal_tolerance(settings).yaw == 0.4
    limits = planner_parameters.command_limits(settings, 2)
    assert list(limits.velocity_min) == [-0.5, -0.5]
    assert list(limits.position_min) == [-1.0, -1.0]
    facts = planner_parameters.PlannerFacts(action_dim=2, joint_names=('a', 'b'))
    controller = planner_parameters.controller_settings(settings, facts, 0.1, False)
    assert (controller.max_plan_time, controller.scan_mount) == (0.2, (0.1, 0.0, 0.5))
    assert controller.action_joints == (0, 1) and controller.trajectory


def test_a_parameter_both_nodes_have_with_one_meaning_is_declared_once():
    """Same name and same spec in both tables: it is the one in SHARED_PARAMS (one object),
    and every shared one is in both tables."""
    planner, world = planner_parameters.PARAMS, world_model_parameters.PARAMS
    for name in SHARED_PARAMS:
        assert planner[name] is SHARED_PARAMS[name] and world[name] is SHARED_PARAMS[name]
    copies = [n for n in set(planner) & set(world)
              if planner[n] == world[n] and n not in SHARED_PARAMS]
    assert copies == [], 'declared twice with the same spec: move it to SHARED_PARAMS'
