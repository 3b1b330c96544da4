"""What ``planner_node``'s parameters build, and the atomic validation of a batch.

The parameters are declared once, in :data:`~.parameter_table.PARAMS` (re-exported
here with :data:`PlannerSettings`). The core objects they set are built from the ``core``
field of each spec (:func:`~jepa_world_model.core.settings_spec.core_arguments`), never from
a hand-written list of names: :func:`planner_config`, :func:`command_limits`,
:func:`objective_terms`, :func:`goal_tolerance` and :func:`controller_settings`.

The node's on-set callback runs :func:`validate_updates` on the whole batch, which also
builds the :class:`~jepa_world_model.core.planning.planner.PlannerConfig` and
:class:`~jepa_world_model.core.planning.command_limits.CommandLimits` the batch would produce, so a
batch is rejected with a reason, or applied whole. Every value is checked each time, not
only the changed ones: configure runs it with no changes, so values given at start-up
(YAML, command line) get the same checks as a later change, ``action_fields`` included.
Once configure has measured the model (:class:`PlannerFacts` ``rollout_cost``), a planner
search whose samples alone need more than ``max_plan_time`` is refused too.

When a change takes effect (``PARAMS[name].applies``, as in
``ros/world_model/parameters.py``): ``runtime`` at the next plan; ``configure`` at the next
configure (model, device, output kind); ``activate`` at the next activate (plan timer);
``startup``: read-only.

Lists of command or acceleration limits hold one value (all dimensions) or one per action
dimension, in the units of ``command_interface`` (velocity, effort or position;
core/planning/command_interfaces.py). ``velocity_min``/``velocity_max`` are the deprecated
names of ``command_min``/``command_max``: used when set and the new name is not
(:func:`command_bounds`), with a warning. Joint position limits hold one value per action
joint (``action_joint_names``, default the model's joints), the joints the velocity
commands move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple

from ...core.planning.command_interfaces import interface_problem
from ...core.planning.command_limits import CommandLimits, LimitError
from ...core.planning.goal_checks import GoalTolerance
from ...core.planning.objective_terms import ObjectiveTerms
from ...core.planning.plan_budget import RolloutCost
from ...core.planning.planner import PlannerConfig
from ...core.planning.settings import ControllerSettings
from ...core.planning.terms import TRAJECTORY_TERMS, weight_parameter
from ...core.settings_spec import core_arguments
from ..world_model.action_sources import ActionError, parse_twist_fields
from ..common.parameter_table import check_value, declare_table, ModelFacts, read_table
from .parameter_table import CORE_TARGETS, OUTPUTS, PARAMS, PlannerSettings

__all__ = ['PARAMS', 'OUTPUTS', 'CORE_TARGETS', 'PlannerSettings', 'PlannerFacts',
           'declare_parameters', 'read_settings', 'validate_updates', 'check_against_model',
           'planner_config', 'command_limits', 'action_joints', 'goal_tolerance',
           'objective_terms', 'controller_settings', 'plan_time_problem', 'command_bounds',
           'deprecated_limit_names']

#: Deprecated parameter name -> the name that replaced it.
DEPRECATED_LIMITS = {'velocity_min': 'command_min', 'velocity_max': 'command_max'}


@dataclass(frozen=True)
class PlannerFacts(ModelFacts):
    """What the cross-checks need to know about the loaded model: world_model_node's facts,
    the measured cost of a model step (None: not measured, no plan-time check) and the
    output the node was configured with ('' when not known): ``output`` changes wait for
    the next configure, so until then the commands still go out as that kind."""

    rollout_cost: Optional[RolloutCost] = None
    output: str = ''


def declare_parameters(node: Any) -> None:
    """Declare every parameter on ``node`` (YAML / command-line overrides apply).

    Raises:
        rclpy.exceptions.ParameterException: An override out of range or of the wrong type.
    """
    declare_table(node, PARAMS)


def read_settings(node: Any) -> Any:
    """Current parameter values of ``node`` (a :data:`PlannerSettings`)."""
    return PlannerSettings().with_updates(read_table(node, PARAMS))


# -- what the parameters build ---------------------------------------------------------------

def planner_config(s: Any) -> PlannerConfig:
    """The planner hyper-parameters (raises ValueError on an inconsistent set)."""
    # min_std is no parameter: the search never narrows below 0.05 (or init_std).
    return PlannerConfig(**core_arguments(PARAMS, s, 'planner'), min_std=min(0.05, s.init_std))


def _bound(s: Any, old: str) -> Tuple[float, ...]:
    new = DEPRECATED_LIMITS[old]
    alias = getattr(s, old)
    if alias and tuple(getattr(s, new)) == tuple(PARAMS[new].default):
        return tuple(alias)
    return tuple(getattr(s, new))


def command_bounds(s: Any) -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
    """``(command_min, command_max)`` in effect: each the deprecated ``velocity_min`` /
    ``velocity_max`` where that is set and the new name is at its default."""
    return _bound(s, 'velocity_min'), _bound(s, 'velocity_max')


def deprecated_limit_names(s: Any) -> List[str]:
    """The deprecated limit parameters that are set (for a warning)."""
    return [old for old in DEPRECATED_LIMITS if getattr(s, old)]


def _alias_problem(s: Any) -> Optional[str]:
    for old, new in DEPRECATED_LIMITS.items():
        alias, value = getattr(s, old), tuple(getattr(s, new))
        if alias and value != tuple(PARAMS[new].default) and tuple(alias) != value:
            return (f'{old} {list(alias)} and {new} {list(value)} are both set: {old} is the '
                    f'deprecated name of {new}; set {new} only')
    return None


def command_limits(s: Any, action_dim: int) -> CommandLimits:
    """The command limits (raises LimitError on inconsistent limits)."""
    limits = core_arguments(PARAMS, s, 'limits')
    limits['velocity_min'], limits['velocity_max'] = command_bounds(s)
    if not (s.joint_position_min or s.joint_position_max):   # unset: no joint limits
        limits.update(position_min=None, position_max=None)
    return CommandLimits.create(**limits, action_dim=action_dim)


def goal_tolerance(s: Any) -> GoalTolerance:
    """When a goal counts as reached."""
    return GoalTolerance(**core_arguments(PARAMS, s, 'tolerance'))


def objective_terms(s: Any) -> ObjectiveTerms:
    """Weights of the risk, clearance, obstacle and disagreement terms and of every
    registered trajectory term (``<name>_weight``)."""
    # Only the terms in use, so default settings build the core's default ObjectiveTerms.
    weights = tuple((name, float(getattr(s, weight_parameter(name))))
                    for name in TRAJECTORY_TERMS if getattr(s, weight_parameter(name)) != 0)
    return ObjectiveTerms(**core_arguments(PARAMS, s, 'terms'), weights=weights)


def controller_settings(s: Any, facts: PlannerFacts, period: float,
                        with_poses: bool) -> ControllerSettings:
    """The controller settings of the planner settings ``s`` on the model of ``facts``.

    Args:
        s: The planner settings.
        facts: The loaded model's joints and action size.
        period: Seconds between plans (the timer's): the first command's dt.
        with_poses: Predict base poses along each plan (``~/planned_path``).
    """
    joints = list(facts.joint_names)
    index = (None if s.output == 'cmd_vel' else
             tuple(joints.index(j) for j in action_joints(s, facts)))
    return ControllerSettings(**core_arguments(PARAMS, s, 'controller'), period=period,
                              terms=objective_terms(s), tolerance=goal_tolerance(s),
                              trajectory=s.output == 'joint_trajectory',
                              with_poses=with_poses, action_joints=index)


# -- validation ------------------------------------------------------------------------------

def _position_limits_problem(new: Any, live_output: str) -> Optional[str]:
    """Why joint position limits cannot go with the output (``new.output``, or
    ``live_output``, the one configured, in use until the next configure), or None: a Twist
    moves no joint, so the limiter would have no joint positions and refuse every command."""
    if not (new.joint_position_min or new.joint_position_max):
        return None
    for output, what in ((new.output, 'output is'), (live_output, 'the node is configured '
                                                     'with output')):
        if output == 'cmd_vel':
            return (f'joint_position_min/max need a joint output (joint_trajectory or '
                    f'float64_multi_array), but {what} cmd_vel (Twist commands move no '
                    'joint; output changes take effect at the next configure)')
    return None


def action_joints(settings: Any, facts: PlannerFacts) -> List[str]:
    """Joints moved by the action dims: ``action_joint_names`` or the model's joints."""
    return list(settings.action_joint_names or facts.joint_names)


def check_against_model(settings: Any, facts: PlannerFacts) -> Optional[str]:
    """Cross-check settings with the loaded model; the reason of a mismatch, or None."""
    dim = facts.action_dim
    low, high = command_bounds(settings)
    for name, value in (('command_min', low), ('command_max', high),
                        ('acceleration_max', settings.acceleration_max)):
        if len(value) not in (1, dim):
            return (f'{name} has {len(value)} values; the model action has '
                    f'{dim} dims (use 1 or {dim})')
    if settings.output == 'cmd_vel':
        if len(settings.action_fields) != dim:
            return (f'action_fields lists {len(settings.action_fields)} fields, the model '
                    f'action has {dim}')
        return None
    joints = action_joints(settings, facts)
    if len(joints) != dim:
        return (f'{settings.output} output: {len(joints)} action joints {joints}, the model '
                f'action has {dim} dims (set action_joint_names)')
    unknown = [j for j in joints if j not in facts.joint_names]
    if unknown:
        return f'action_joint_names {unknown} are not model joints {list(facts.joint_names)}'
    for name in ('joint_position_min', 'joint_position_max'):
        if getattr(settings, name) and len(getattr(settings, name)) != dim:
            return (f'{name} has {len(getattr(settings, name))} values, one per action joint '
                    f'{joints} is needed')
    return None


def plan_time_problem(config: PlannerConfig, max_plan_time: float,
                      cost: Optional[RolloutCost]) -> Optional[str]:
    """Why the search ``config`` cannot fit ``max_plan_time`` on a model of measured
    ``cost``, or None (also when ``cost`` is None)."""
    need = cost.sample_seconds(config) if cost is not None else 0.0
    if need <= max_plan_time:
        return None
    return (f'num_samples x (num_iterations x horizon x action_repeat) = {config.num_samples} '
            f'x {cost.model_steps(config)} model steps need at least {need * 1e3:.0f} ms on '
            f'this model and device (measured at configure), more than max_plan_time '
            f'{max_plan_time * 1e3:.0f} ms: lower num_samples, horizon, num_iterations or '
            'action_repeat, or raise max_plan_time')


def validate_updates(updates: Mapping[str, Any], current: Any,
                     facts: Optional[PlannerFacts] = None) -> Optional[str]:
    """Validate a whole batch of changes; None if it is valid, else the first problem.

    Checks every value of the result, the changed ones first (``updates`` empty: the
    current settings, as configure does). Builds the planner config and the command limits
    the batch would give, so anything they reject (num_elites > num_samples, inverted
    limits...) rejects the batch; refuses joint position limits with a cmd_vel output
    (set, or the one configured: ``facts.output``); parses ``action_fields`` for the
    cmd_vel output as the output will; with a measured ``facts.rollout_cost``, refuses a
    search that cannot fit ``max_plan_time`` (:func:`plan_time_problem`).
    """
    for name, value in updates.items():
        reason = check_value(PARAMS, name, value)
        if reason:
            return reason
    new = current.with_updates(updates)
    for name in (n for n in PARAMS if n not in updates):
        reason = check_value(PARAMS, name, getattr(new, name))
        if reason:
            return reason
    if bool(new.joint_position_min) != bool(new.joint_position_max):
        return 'set both joint_position_min and joint_position_max, or neither'
    reason = _alias_problem(new) or interface_problem(new.command_interface, new.output,
                                                      bool(new.joint_position_min))
    if reason:
        return reason
    reason = _position_limits_problem(new, getattr(facts, 'output', ''))
    if reason:
        return reason
    if new.output == 'cmd_vel':
        try:
            parse_twist_fields(new.action_fields)
        except ActionError as exc:
            return f'action_fields: {exc}'
    try:
        config = planner_config(new)
    except ValueError as exc:
        return str(exc)
    reason = plan_time_problem(config, new.max_plan_time, getattr(facts, 'rollout_cost', None))
    if reason:
        return reason
    held = getattr(getattr(facts, 'rollout_cost', None), 'held_steps', 1)
    if config.action_repeat % held:
        return (f'action_repeat {config.action_repeat} is not a multiple of the '
                f'{held} model steps the rollout_model covers per call')
    low, high = command_bounds(new)
    dim = facts.action_dim if facts is not None else max(
        len(low), len(high), len(new.acceleration_max))
    if facts is not None:
        reason = check_against_model(new, facts)
        if reason:
            return reason
    try:
        limits = command_limits(new, dim)
    except LimitError as exc:
        return str(exc)
    # The limits allow a zero-width box (0 <= a <= 0), but the command box is also the
    # planner's action box, which needs room to sample in every dim.
    flat = [d for d in range(dim) if not limits.velocity_min[d] < limits.velocity_max[d]]
    if flat:
        return (f'command_min {list(low)} and command_max {list(high)} leave no room in '
                f'action dim(s) {flat}: the planner samples commands between them, so each '
                'dim needs command_min < command_max')
    return None
