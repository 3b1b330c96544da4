"""Parameters of ``planner_node``: declarations, atomic validation, and what they build.

Every parameter is declared with a ``ParameterDescriptor`` (description, range). The node's
on-set callback runs :func:`validate_updates` on the whole batch, which also builds the
:class:`~jepa_world_model.core.planner.PlannerConfig` and
:class:`~jepa_world_model.core.command_limits.CommandLimits` the batch would produce, so a
batch is rejected with a reason, or applied whole. Every value is checked each time, not
only the changed ones: configure runs it with no changes, so values given at start-up
(YAML, command line) get the same checks as a later change, ``action_fields`` included.
Once configure has measured the model (:class:`PlannerFacts` ``rollout_cost``), a planner
search whose samples alone need more than ``max_plan_time`` is refused too.

When a change takes effect (``PARAMS[name].applies``, as in ``node_parameters``): ``runtime``
at the next plan; ``configure`` at the next configure (model, device, output kind);
``activate`` at the next activate (plan timer); ``startup``: read-only.

Lists of velocity or acceleration limits hold one value (all dimensions) or one per action
dimension. Joint position limits hold one value per action joint (``action_joint_names``,
default the model's joints), the joints the velocity commands move.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

from rclpy.parameter import Parameter

from ..core.command_limits import CommandLimits, LimitError
from ..core.goal_checks import GoalTolerance
from ..core.goals import ObjectiveTerms
from ..core.plan_budget import RolloutCost
from ..core.planner import PlannerConfig
from .action_sources import ActionError, parse_twist_fields
from .parameter_table import (check_value, declare_table, is_number, ModelFacts, ParamSpec,
                              read_table, SettingsSnapshot)

__all__ = ['PARAMS', 'OUTPUTS', 'PlannerSettings', 'PlannerFacts', 'declare_parameters',
           'read_settings', 'validate_updates', 'check_against_model', 'planner_config',
           'command_limits', 'action_joints', 'goal_tolerance', 'objective_terms',
           'plan_time_problem']

OUTPUTS = ('cmd_vel', 'joint_trajectory', 'float64_multi_array')
_STRINGS, _DOUBLES = Parameter.Type.STRING_ARRAY, Parameter.Type.DOUBLE_ARRAY


@dataclass(frozen=True)
class PlannerFacts(ModelFacts):
    """What the cross-checks need to know about the loaded model: world_model_node's facts,
    the measured cost of a model step (None: not measured, no plan-time check) and the
    output the node was configured with ('' when not known): ``output`` changes wait for
    the next configure, so until then the commands still go out as that kind."""

    rollout_cost: Optional[RolloutCost] = None
    output: str = ''


PARAMS: Dict[str, ParamSpec] = {
    'model_path': ParamSpec('', 'Checkpoint (.safetensors); empty: the shipped arm model '
                            '(models/arm_tiny.safetensors in the package share directory)',
                            'configure'),
    'device': ParamSpec('cpu', 'cpu, cuda, cuda:N or auto', 'configure'),
    'dtype': ParamSpec('float32', 'Compute dtype', 'configure',
                       choices=('float32', 'float16', 'bfloat16')),
    'num_threads': ParamSpec(1, 'torch CPU threads (process-wide); 0: torch default',
                             'configure', 0, 256),
    'autostart': ParamSpec(False, 'Configure and activate on start-up', 'startup'),
    'plan_rate_hz': ParamSpec(10.0, 'Plans (and recommendations) per second', 'activate',
                              0.1, 200.0),
    'method': ParamSpec('cem', 'cem or mppi', 'runtime', choices=('cem', 'mppi')),
    'horizon': ParamSpec(8, 'Planned steps H', 'runtime', 1, 100),
    'num_samples': ParamSpec(128, 'Action sequences sampled per iteration', 'runtime',
                             2, 100000),
    'num_iterations': ParamSpec(3, 'Refit iterations per plan', 'runtime', 1, 100),
    'num_elites': ParamSpec(16, 'Lowest-cost samples used by the refit (<= num_samples)',
                            'runtime', 1, 100000),
    'action_repeat': ParamSpec(1, 'Model steps each planned action is held for (look-ahead '
                               'horizon x action_repeat steps)', 'runtime', 1, 100),
    'command_delay_steps': ParamSpec(0, 'Model steps the command being executed is rolled '
                                     'forward before planning: how long a new command '
                                     'waits to take effect (1 when the robot applies '
                                     'commands at its next control tick)', 'runtime', 0, 10),
    'init_std': ParamSpec(0.5, 'Sampling std at the start of a plan (action units)',
                          'runtime', 1e-6, 1e6),
    'trust_region_l1': ParamSpec(0.0, 'L1 radius around the previous action per step; '
                                 '0: off', 'runtime', 0.0, 1e6),
    'seed': ParamSpec(0, 'Seed of the sampling generator', 'runtime', 0, 2 ** 31 - 1),
    'model_step_period': ParamSpec(0.1, 'Seconds per model step (trajectory timing)',
                                   'runtime', 0.001, 60.0),
    'max_plan_time': ParamSpec(0.08, 'A plan taking longer (s) is discarded: zero command, '
                               'status overrun', 'runtime', 0.001, 60.0),
    'stale_timeout': ParamSpec(0.5, 'Image or joint states older than this (s): zero '
                               'command, status stale_inputs', 'runtime', 0.01, 3600.0),
    'max_future_stamp': ParamSpec(0.25, 'Joint states and odometry stamped further than '
                                  'this (s) ahead of the node clock are rejected '
                                  '(stamp_in_future)', 'runtime', 0.0, 3600.0),
    'max_abs_input': ParamSpec(1e5, 'Joint positions and velocities and odometry x/y of '
                               'larger magnitude are rejected as implausible', 'runtime',
                               1e-3, 1e12),
    'max_image_pixels': ParamSpec(16777216, 'Images with more pixels (width x height) are '
                                  'refused (image_too_large)', 'runtime', 1, 2 ** 31 - 1),
    'max_scan_beams': ParamSpec(1440, 'A scan with more beams is min-pooled to at most this '
                                'many returns (the nearest of each group, so no obstacle is '
                                'lost)', 'runtime', 1, 1000000),
    'max_skew': ParamSpec(0.05, 'Largest image / joint-state (odom) stamp distance (s)',
                          'runtime', 0.0, 10.0),
    'image_transport': ParamSpec('raw', "raw: sensor_msgs/Image on 'image'; compressed: "
                                 "sensor_msgs/CompressedImage on 'image/compressed'",
                                 'activate', choices=('raw', 'compressed')),
    'resize_mode': ParamSpec('center_crop', 'How a camera image becomes the model input',
                             'runtime', choices=('center_crop', 'stretch')),
    'output': ParamSpec('joint_trajectory', 'cmd_vel: ~/recommended_cmd_vel; '
                        'joint_trajectory: ~/recommended_joint_trajectory; '
                        'float64_multi_array: ~/recommended_commands', 'configure',
                        choices=OUTPUTS),
    'use_twist_stamped': ParamSpec(False, 'cmd_vel output as TwistStamped', 'configure'),
    'action_fields': ParamSpec(['linear.x', 'angular.z'], 'Twist fields of the action dims '
                               '(cmd_vel output)', 'configure'),
    'action_joint_names': ParamSpec(None, 'Joint moved by each action dim (joint outputs); '
                                    'unset: the model joints', 'configure', ptype=_STRINGS),
    'velocity_min': ParamSpec([-1.0], 'Lowest command per dim (<= 0); also the planner '
                              'bounds', 'runtime'),
    'velocity_max': ParamSpec([1.0], 'Highest command per dim (>= 0); also the planner '
                              'bounds', 'runtime'),
    'acceleration_max': ParamSpec([2.0], 'Largest command change per second per dim',
                                  'runtime'),
    'joint_position_min': ParamSpec(None, 'Lower joint limits of the action joints; unset: '
                                    'none', 'runtime', ptype=_DOUBLES),
    'joint_position_max': ParamSpec(None, 'Upper joint limits of the action joints; unset: '
                                    'none', 'runtime', ptype=_DOUBLES),
    'goal_joint_tolerance': ParamSpec(0.05, 'Joint goal reached within this (rad or m); also '
                                      'image goals of models with an image_state_head',
                                      'runtime', 0.0, 1e3),
    'goal_position_tolerance': ParamSpec(0.1, 'Pose goal reached within this (m)', 'runtime',
                                         0.0, 1e3),
    'goal_yaw_tolerance': ParamSpec(0.2, 'Pose goal heading tolerance (rad)', 'runtime',
                                    0.0, math.pi),
    'goal_latent_tolerance': ParamSpec(0.1, 'Latent goal (and image goal without an '
                                       'image_state_head) reached below this mean '
                                       '|z - z_goal|', 'runtime', 0.0, 1e6),
    'goal_yaw_weight': ParamSpec(0.0, 'Weight of the heading of pose goals; 0: heading free',
                                 'runtime', 0.0, 1e6),
    'risk_weight': ParamSpec(0.0, 'Cost of predicted contact/collision probability (models '
                             'with a risk probe)', 'runtime', 0.0, 1e6),
    'clearance_weight': ParamSpec(0.0, 'Cost of predicted ranges below clearance_min_range '
                                  '(models with a range read-out, model.scan_sectors)',
                                  'runtime', 0.0, 1e6),
    'clearance_min_range': ParamSpec(0.32, 'Predicted scan ranges (m, from the base centre) '
                                     'below this cost: robot radius plus clearance_margin',
                                     'runtime', 0.01, 100.0),
    'clearance_margin': ParamSpec(0.1, 'Band (m) below clearance_min_range over which the '
                                  'clearance cost per step rises from 0 to 1 (contact)',
                                  'runtime', 0.001, 100.0),
    'obstacle_weight': ParamSpec(0.0, 'Cost of predicted positions nearer than '
                                 'clearance_min_range to the returns of scan '
                                 '(sensor_msgs/LaserScan; pose models)', 'runtime', 0.0, 1e6),
    'scan_mount': ParamSpec([0.0, 0.0, 0.0], 'Pose (x, y, yaw) of the scan frame in the base '
                            'frame', 'runtime'),
    'use_map': ParamSpec(True, 'Score pose goals by the path length on map '
                         '(nav_msgs/OccupancyGrid) once one arrives', 'runtime'),
    'map_inflation': ParamSpec(0.32, 'Band (m) around occupied map cells that paths avoid: '
                               'robot radius plus a margin', 'runtime', 0.0, 100.0),
    'map_occupied_threshold': ParamSpec(50, 'Map cells at or above this occupancy (0-100) '
                                        'are obstacles; unknown (-1) cells are free',
                                        'runtime', 1, 100),
    'max_risk': ParamSpec(0.0, 'Stop when the plan predicts an event probability above '
                          'this; 0: off', 'runtime', 0.0, 1.0),
    'disagreement_weight': ParamSpec(0.0, 'Cost of ensemble disagreement (ensemble models)',
                                     'runtime', 0.0, 1e6),
    'max_disagreement': ParamSpec(0.0, 'Stop when the plan\'s ensemble disagreement exceeds '
                                  'this; 0: off', 'runtime', 0.0, 1e6),
    'path_frame_id': ParamSpec('odom', 'frame_id of ~/planned_path and of pose goals',
                               'runtime'),
    'enabled': ParamSpec(True, 'Recommend commands (also set by ~/enable)', 'runtime'),
    'diagnostics_period': ParamSpec(1.0, 'Seconds between /diagnostics messages', 'startup',
                                    0.05, 60.0),
    'log_throttle_period': ParamSpec(5.0, 'Seconds between repeated warnings of one kind',
                                     'runtime', 0.1, 3600.0),
}


@dataclass(frozen=True)
class PlannerSettings(SettingsSnapshot):
    """Snapshot of every parameter value (attribute names = parameter names)."""

    model_path: str = ''
    device: str = 'cpu'
    dtype: str = 'float32'
    num_threads: int = 1
    autostart: bool = False
    plan_rate_hz: float = 10.0
    method: str = 'cem'
    horizon: int = 8
    num_samples: int = 128
    num_iterations: int = 3
    num_elites: int = 16
    action_repeat: int = 1
    command_delay_steps: int = 0
    init_std: float = 0.5
    trust_region_l1: float = 0.0
    seed: int = 0
    model_step_period: float = 0.1
    max_plan_time: float = 0.08
    stale_timeout: float = 0.5
    max_future_stamp: float = 0.25
    max_abs_input: float = 1e5
    max_image_pixels: int = 16777216
    max_scan_beams: int = 1440
    max_skew: float = 0.05
    image_transport: str = 'raw'
    resize_mode: str = 'center_crop'
    output: str = 'joint_trajectory'
    use_twist_stamped: bool = False
    action_fields: Tuple[str, ...] = ('linear.x', 'angular.z')
    action_joint_names: Tuple[str, ...] = ()
    velocity_min: Tuple[float, ...] = (-1.0,)
    velocity_max: Tuple[float, ...] = (1.0,)
    acceleration_max: Tuple[float, ...] = (2.0,)
    joint_position_min: Tuple[float, ...] = ()
    joint_position_max: Tuple[float, ...] = ()
    goal_joint_tolerance: float = 0.05
    goal_position_tolerance: float = 0.1
    goal_yaw_tolerance: float = 0.2
    goal_latent_tolerance: float = 0.1
    goal_yaw_weight: float = 0.0
    risk_weight: float = 0.0
    clearance_weight: float = 0.0
    clearance_min_range: float = 0.32
    clearance_margin: float = 0.1
    obstacle_weight: float = 0.0
    scan_mount: Tuple[float, ...] = (0.0, 0.0, 0.0)
    use_map: bool = True
    map_inflation: float = 0.32
    map_occupied_threshold: int = 50
    max_risk: float = 0.0
    disagreement_weight: float = 0.0
    max_disagreement: float = 0.0
    path_frame_id: str = 'odom'
    enabled: bool = True
    diagnostics_period: float = 1.0
    log_throttle_period: float = 5.0


def declare_parameters(node: Any) -> None:
    """Declare every parameter on ``node`` (YAML / command-line overrides apply).

    Raises:
        rclpy.exceptions.ParameterException: An override out of range or of the wrong type.
    """
    declare_table(node, PARAMS)


def read_settings(node: Any) -> PlannerSettings:
    """Current parameter values of ``node``."""
    return PlannerSettings().with_updates(read_table(node, PARAMS))


def _validate_value(name: str, value: Any) -> Optional[str]:
    reason = check_value(PARAMS, name, value)
    if reason or value is None:
        return reason
    if isinstance(value, (list, tuple)) and any(is_number(v) and not math.isfinite(v)
                                                for v in value):
        return f'{name} must hold finite values, got {list(value)}'
    if name in ('velocity_min', 'velocity_max', 'acceleration_max') and not value:
        return f'{name} must hold 1 value or one per action dim'
    if name == 'scan_mount' and len(value) != 3:
        return f'scan_mount must hold 3 values (x, y, yaw), got {list(value)}'
    return None


def _position_limits_problem(new: PlannerSettings, live_output: str) -> Optional[str]:
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


def action_joints(settings: PlannerSettings, facts: PlannerFacts) -> List[str]:
    """Joints moved by the action dims: ``action_joint_names`` or the model's joints."""
    return list(settings.action_joint_names or facts.joint_names)


def check_against_model(settings: PlannerSettings, facts: PlannerFacts) -> Optional[str]:
    """Cross-check settings with the loaded model; the reason of a mismatch, or None."""
    dim = facts.action_dim
    for name in ('velocity_min', 'velocity_max', 'acceleration_max'):
        if len(getattr(settings, name)) not in (1, dim):
            return (f'{name} has {len(getattr(settings, name))} values; the model action has '
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


def planner_config(s: PlannerSettings) -> PlannerConfig:
    """The planner hyper-parameters (raises ValueError on an inconsistent set)."""
    return PlannerConfig(method=s.method, horizon=s.horizon, num_samples=s.num_samples,
                         num_iterations=s.num_iterations, num_elites=s.num_elites,
                         init_std=s.init_std, min_std=min(0.05, s.init_std),
                         trust_region_l1=s.trust_region_l1 or None, seed=s.seed,
                         action_repeat=s.action_repeat)


def command_limits(s: PlannerSettings, action_dim: int) -> CommandLimits:
    """The command limits (raises LimitError on inconsistent limits)."""
    has_joints = bool(s.joint_position_min or s.joint_position_max)
    return CommandLimits.create(s.velocity_min, s.velocity_max, s.acceleration_max, action_dim,
                                s.joint_position_min if has_joints else None,
                                s.joint_position_max if has_joints else None)


def goal_tolerance(s: PlannerSettings) -> GoalTolerance:
    """When a goal counts as reached."""
    return GoalTolerance(joint=s.goal_joint_tolerance, position=s.goal_position_tolerance,
                         yaw=s.goal_yaw_tolerance, latent=s.goal_latent_tolerance)


def objective_terms(s: PlannerSettings) -> ObjectiveTerms:
    """Weights of the risk, clearance, obstacle and disagreement terms."""
    return ObjectiveTerms(risk_weight=s.risk_weight, disagreement_weight=s.disagreement_weight,
                          clearance_weight=s.clearance_weight,
                          obstacle_weight=s.obstacle_weight,
                          clearance_min_range=s.clearance_min_range,
                          clearance_margin=s.clearance_margin)


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


def validate_updates(updates: Mapping[str, Any], current: PlannerSettings,
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
        reason = _validate_value(name, value)
        if reason:
            return reason
    new = current.with_updates(updates)
    for name in (f.name for f in fields(new) if f.name not in updates):
        reason = _validate_value(name, getattr(new, name))
        if reason:
            return reason
    if bool(new.joint_position_min) != bool(new.joint_position_max):
        return 'set both joint_position_min and joint_position_max, or neither'
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
    dim = facts.action_dim if facts is not None else max(
        len(new.velocity_min), len(new.velocity_max), len(new.acceleration_max))
    if facts is not None:
        reason = check_against_model(new, facts)
        if reason:
            return reason
    try:
        limits = command_limits(new, dim)
    except LimitError as exc:
        return str(exc)
    # The limits allow a zero-width box (0 <= a <= 0), but the velocity box is also the
    # planner's action box, which needs room to sample in every dim.
    flat = [d for d in range(dim) if not limits.velocity_min[d] < limits.velocity_max[d]]
    if flat:
        return (f'velocity_min {list(new.velocity_min)} and velocity_max '
                f'{list(new.velocity_max)} leave no room in action dim(s) {flat}: the planner '
                'samples commands between them, so each dim needs velocity_min < velocity_max')
    return None
