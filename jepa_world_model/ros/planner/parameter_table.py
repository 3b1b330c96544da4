"""``planner_node``'s parameters, each declared once: :data:`PARAMS`.

One :class:`~jepa_world_model.core.settings_spec.ParamSpec` per parameter holds its type,
default, range or choices, description, when a change applies, and the core field it sets
(``core='planner.num_samples'``: :class:`~jepa_world_model.core.planning.planner.PlannerConfig`
``num_samples``; :data:`CORE_TARGETS` names the core object of each target). Everything else
is derived from the table: the descriptors, the snapshot class :data:`PlannerSettings`, the
checks of one value, the core objects (:mod:`.parameters`) and the table in
docs/planner.md (``python -m jepa_world_model.ros.parameter_docs``).

The defaults of the parameters that set a core field are the core defaults and the values
in config/ros/planner.yaml (test/test_parameter_defaults.py keeps the three equal).
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

from ...core.model.rollout_step import COMPUTE_DTYPES
from ...core.planning.command_interfaces import COMMAND_INTERFACES
from ...core.planning.command_limits import CommandLimits
from ...core.planning.goal_checks import GoalTolerance
from ...core.planning.objective_terms import ObjectiveTerms
from ...core.planning.planner import PlannerConfig
from ...core.planning.settings import ControllerSettings
from ...core.planning.terms import TRAJECTORY_TERMS, weight_parameter
from ...core.settings_spec import ParamSpec, Rule, settings_class
from ..common.parameter_table import DISTINCT_NAMES_RULE, nonempty_rule, shared, TWIST_FIELDS_RULE

__all__ = ['PARAMS', 'OUTPUTS', 'PlannerSettings', 'CORE_TARGETS']

OUTPUTS = ('cmd_vel', 'joint_trajectory', 'float64_multi_array')
_DOUBLES, _STRINGS = Tuple[float, ...], Tuple[str, ...]
_SCAN_MOUNT = Rule(lambda v: None if len(v) == 3 else f'expected 3 values (x, y, yaw), got '
                   f'{list(v)}', 'x, y, yaw')

PARAMS: Dict[str, ParamSpec] = {
    'model_path': ParamSpec('', 'Checkpoint (.safetensors); empty: the shipped arm model '
                            '(`models/arm_tiny.safetensors` in the package share directory)',
                            'configure'),
    **shared('device', 'dtype', 'num_threads', 'inference_backend', 'onnx_dir',
             'autostart'),
    'plan_rate_hz': ParamSpec(10.0, 'Plans (and recommended commands) per second; also the '
                              '`dt` of the acceleration limit', 'activate', 0.1, 200.0),
    'method': ParamSpec('cem', 'Sampling planner', 'runtime', choices=('cem', 'mppi'),
                        core='planner.method'),
    'horizon': ParamSpec(8, 'Planned steps H', 'runtime', 1, 100, core='planner.horizon'),
    'num_samples': ParamSpec(64, 'Action sequences sampled per iteration', 'runtime',
                             2, 100000, core='planner.num_samples'),
    'num_iterations': ParamSpec(3, 'Refit iterations per plan', 'runtime', 1, 100,
                                core='planner.num_iterations'),
    'num_elites': ParamSpec(8, 'Lowest-cost samples used by the refit (<= `num_samples`)',
                            'runtime', 1, 100000, core='planner.num_elites'),
    'action_repeat': ParamSpec(1, 'Model steps each planned action is held for (look-ahead '
                               '`horizon x action_repeat` steps)', 'runtime', 1, 100,
                               core='planner.action_repeat'),
    'command_delay_steps': ParamSpec(0, 'Model steps the command being executed is rolled '
                                     'forward before planning (1 when the robot applies '
                                     'commands at its next control tick)', 'runtime', 0, 10,
                                     core='controller.command_delay_steps'),
    'rollout_dtype': ParamSpec('float32', "dtype of the planner's model step: `bfloat16` "
                               'runs its matrix products about twice as fast on CPUs with '
                               'bfloat16 instructions (docs/planner_speed.md)', 'runtime',
                               choices=tuple(COMPUTE_DTYPES), core='controller.rollout_dtype'),
    'rollout_model': ParamSpec('', 'Rollout student of the model for the search\'s '
                               'rollouts (.safetensors from `jepa-world-model '
                               'distill-rollout`; a bare file name is looked up beside the '
                               'model), checked against the model\'s hash; `auto`: '
                               '`<model>_rollout.safetensors` beside the model when it fits, '
                               'else the ensemble (config/ros/planner.yaml); empty: the '
                               'dynamics ensemble (docs/planner_speed.md)', 'configure',
                               core='controller.rollout_model'),
    'init_std': ParamSpec(0.5, 'Sampling std at the start of a plan (action units)',
                          'runtime', 1e-6, 1e6, core='planner.init_std'),
    'trust_region_l1': ParamSpec(0.0, 'L1 radius around the previous action per step; '
                                 '0: off', 'runtime', 0.0, 1e6, core='planner.trust_region_l1'),
    'seed': ParamSpec(0, 'Seed of the sampling generator', 'runtime', 0, 2 ** 31 - 1,
                      core='planner.seed'),
    'model_step_period': ParamSpec(0.1, 'Seconds per model step (trajectory point spacing)',
                                   'runtime', 0.001, 60.0,
                                   core='controller.model_step_period'),
    'max_plan_time': ParamSpec(0.08, 'Time budget of one plan (s). A plan still running at '
                               'this deadline is cut short (the search checks it before '
                               'every model step) and one that finishes later is discarded: '
                               'zero command, status `overrun`. A search whose samples alone '
                               'need more on this model (measured at configure) is refused',
                               'runtime', 0.001, 60.0, core='controller.max_plan_time'),
    'stale_timeout': ParamSpec(0.5, 'Image, joint states or scan older than this (s): zero '
                               'command, status `stale_inputs`', 'runtime', 0.01, 3600.0),
    'max_future_stamp': ParamSpec(0.25, 'Joint states and odometry stamped further than '
                                  'this (s) ahead of the node clock are rejected '
                                  '(`joint_state_stamp_in_future`, `odom_stamp_in_future`) '
                                  'and never enter the history, so one bad stamp cannot '
                                  'block the valid messages after it', 'runtime', 0.0, 3600.0),
    'max_abs_input': ParamSpec(1e5, 'Plausibility bound: joint positions and velocities, '
                               'odometry x/y and goal values (joint goals; pose goal position '
                               'and orientation) of larger magnitude are rejected '
                               '(`*_out_of_range`, `goal_joint_state_out_of_range`, '
                               '`goal_pose_out_of_range`)', 'runtime', 1e-3, 1e12),
    **shared('max_image_pixels'),
    'max_scan_beams': ParamSpec(1440, 'A scan with more beams is min-pooled to at most this '
                                'many readings before any tensor is built (the nearest '
                                'return of each group of beams, so no obstacle is lost)',
                                'runtime', 1, 1000000),
    **shared('max_skew', 'image_transport', 'resize_mode'),
    'output': ParamSpec('joint_trajectory', '`cmd_vel`: `~/recommended_cmd_vel`; '
                        '`joint_trajectory`: `~/recommended_joint_trajectory`; '
                        '`float64_multi_array`: `~/recommended_commands`', 'configure',
                        choices=OUTPUTS),
    'use_twist_stamped': ParamSpec(False, '`cmd_vel` output as TwistStamped', 'configure'),
    'action_fields': ParamSpec(['linear.x', 'angular.z'], 'Twist fields of the action dims '
                               '(`cmd_vel` output; one per action dim)', 'configure',
                               rule=TWIST_FIELDS_RULE),
    'action_joint_names': ParamSpec(None, 'Joint moved by each action dim (joint outputs); '
                                    'unset: the model joints', 'configure', kind=_STRINGS,
                                    rule=DISTINCT_NAMES_RULE),
    'command_interface': ParamSpec('velocity', 'What the action commands (ros2_control '
                                   'command interface): `velocity` (rad/s, m/s), `effort` '
                                   '(N m, N; output `float64_multi_array`) or `position` '
                                   '(rad, m; output `float64_multi_array`); sets the units of '
                                   'the limits and logs', 'configure',
                                   choices=COMMAND_INTERFACES),
    # The core field keeps its historical name (CommandLimits.velocity_min): it bounds the
    # command of any interface.
    'command_min': ParamSpec([-1.0], 'Lowest command per dim (<= 0), in the units of '
                             '`command_interface`; also the planner\'s sampling bounds',
                             'runtime', rule=nonempty_rule(), core='limits.velocity_min'),
    'command_max': ParamSpec([1.0], 'Highest command per dim (>= 0), in the units of '
                             '`command_interface`; also the planner\'s sampling bounds',
                             'runtime', rule=nonempty_rule(), core='limits.velocity_max'),
    'velocity_min': ParamSpec(None, 'Deprecated name of `command_min` (used, with a warning, '
                              'when set and `command_min` is not)', 'runtime', kind=_DOUBLES),
    'velocity_max': ParamSpec(None, 'Deprecated name of `command_max` (as `velocity_min`)',
                              'runtime', kind=_DOUBLES),
    'acceleration_max': ParamSpec([2.0], 'Largest command change per second per dim (units '
                                  'of `command_interface` per second)',
                                  'runtime', rule=nonempty_rule(),
                                  core='limits.acceleration_max'),
    'joint_position_min': ParamSpec(None, 'Lower limits of the action joints (one per action '
                                    'joint; both or neither; joint outputs only, refused with '
                                    '`cmd_vel`); the entry of a continuous joint (the '
                                    "model's `continuous_joints`) is ignored: it has no "
                                    'position limit', 'runtime', kind=_DOUBLES,
                                    core='limits.position_min'),
    'joint_position_max': ParamSpec(None, 'Upper limits of the action joints (as '
                                    '`joint_position_min`; continuous joints are ignored)',
                                    'runtime', kind=_DOUBLES,
                                    core='limits.position_max'),
    'goal_joint_tolerance': ParamSpec(0.05, 'Joint goal reached within this (rad or m); also '
                                      'image goals of models with an `image_state_head`',
                                      'runtime', 0.0, 1e3, core='tolerance.joint'),
    'goal_link_tolerance': ParamSpec(0.02, 'Image goal of a model with `kinematics` reached '
                                     'when every goal link is read within this distance (m) '
                                     'of where the goal image shows it', 'runtime', 0.0, 1e3,
                                     core='tolerance.link'),
    'image_reading_smoothing': ParamSpec(0.0, 'Image goals aimed through a head reading '
                                         '(joints or goal links): weight in [0, 1) of the '
                                         "previous frames in an exponential average of the "
                                         "head's error, so the aim point does not jump with "
                                         "each frame's reading; 0: off", 'runtime', 0.0, 0.99,
                                         core='controller.image_reading_smoothing'),
    'goal_position_tolerance': ParamSpec(0.1, 'Pose goal reached within this (m)', 'runtime',
                                         0.0, 1e3, core='tolerance.position'),
    'goal_yaw_tolerance': ParamSpec(0.2, 'Pose goal heading tolerance (rad)', 'runtime',
                                    0.0, math.pi, core='tolerance.yaw'),
    'goal_latent_tolerance': ParamSpec(0.1, 'Latent goal (and image goal without an '
                                       '`image_state_head`) reached below this mean absolute '
                                       'latent difference', 'runtime', 0.0, 1e6,
                                       core='tolerance.latent'),
    'goal_yaw_weight': ParamSpec(0.0, 'Weight of the heading of pose goals; 0: heading free',
                                 'runtime', 0.0, 1e6),
    'risk_weight': ParamSpec(0.0, 'Cost of predicted contact/collision probability (models '
                             'with a risk probe)', 'runtime', 0.0, 1e6, core='terms.risk_weight'),
    'clearance_weight': ParamSpec(0.0, 'Cost of predicted ranges below `clearance_min_range` '
                                  '(models with a range read-out, `model.scan_sectors`)',
                                  'runtime', 0.0, 1e6, core='terms.clearance_weight'),
    'clearance_min_range': ParamSpec(0.32, 'Ranges (m, from the base centre) below this '
                                     'cost: robot radius plus `clearance_margin`', 'runtime',
                                     0.01, 100.0, core='terms.clearance_min_range'),
    'clearance_margin': ParamSpec(0.1, 'Band (m) below `clearance_min_range` over which the '
                                  'cost per step rises from 0 to 1 (contact)', 'runtime',
                                  0.001, 100.0, core='terms.clearance_margin'),
    'obstacle_weight': ParamSpec(0.0, 'Cost of predicted positions nearer than '
                                 '`clearance_min_range` to the returns of `scan` (LaserScan; '
                                 'pose models)', 'runtime', 0.0, 1e6,
                                 core='terms.obstacle_weight'),
    'agent_weight': ParamSpec(0.0, 'Cost of predicted positions nearer than '
                              '`clearance_min_range` (plus `agent_spread_scale` x the '
                              "forecast's spread) to where the people tracked in `scan` are "
                              'predicted to be at the same time (pose models; docs/agents.md)',
                              'runtime', 0.0, 1e6, core='terms.agent_weight'),
    'agent_spread_scale': ParamSpec(0.0, "Metres added to the agent term's limit per metre of "
                                    "the forecast's spread (standard deviation); 0: "
                                    'predicted positions taken as certain (1 stalled the '
                                    'simulated base: docs/agents.md)', 'runtime', 0.0,
                                    10.0, core='terms.agent_spread_scale'),
    'agent_model_path': ParamSpec('', 'Agent predictor of the agent term (.safetensors, '
                                  '`jepa-world-model agents-eval`, e.g. '
                                  '`models/mobile_base_agents.safetensors`); empty: constant '
                                  'velocity', 'configure'),
    'scan_mount': ParamSpec([0.0, 0.0, 0.0], 'Pose (x, y, yaw) of the scan frame in the base '
                            'frame', 'runtime', rule=_SCAN_MOUNT, core='controller.scan_mount'),
    'use_map': ParamSpec(True, 'Score pose goals by the path length on `map` (OccupancyGrid) '
                         'once one arrives', 'runtime', core='controller.use_map'),
    'map_inflation': ParamSpec(0.32, 'Band (m) around occupied map cells that paths avoid: '
                               'robot radius plus a margin', 'runtime', 0.0, 100.0,
                               core='controller.map_inflation'),
    'map_occupied_threshold': ParamSpec(50, 'Map cells at or above this occupancy (0-100) '
                                        'are obstacles; unknown (-1) cells are free',
                                        'runtime', 1, 100,
                                        core='controller.map_occupied_threshold'),
    'people_cost_to_go_every': ParamSpec(0, 'Mark the `scan` returns the map does not '
                                         'explain (people) in the map\'s cost-to-go, rebuilt '
                                         'at most every this many plans (~5 ms per rebuild '
                                         'on a 70 x 70 grid); 0: off (docs/agents.md)',
                                         'runtime', 0, 1000,
                                         core='controller.people_cost_to_go_every'),
    'max_risk': ParamSpec(0.0, 'Stop when the plan predicts an event probability above '
                          'this; 0: off', 'runtime', 0.0, 1.0, core='controller.max_risk'),
    'disagreement_weight': ParamSpec(0.0, 'Cost of ensemble disagreement (ensemble models)',
                                     'runtime', 0.0, 1e6, core='terms.disagreement_weight'),
    'max_disagreement': ParamSpec(0.0, 'Stop when the plan\'s ensemble disagreement exceeds '
                                  'this; 0: off', 'runtime', 0.0, 1e6,
                                  core='controller.max_disagreement'),
    'path_frame_id': ParamSpec('odom', 'frame_id of `~/planned_path`; pose goals and the '
                               'map are taken in it (from another frame, e.g. `map`, through '
                               'TF where tf2_ros is available, else refused)', 'runtime'),
    'base_frame_id': ParamSpec('base_link', 'The robot base frame: frame_id of the '
                               'commands (TwistStamped, JointTrajectory) and the frame TF '
                               'places the scanner in (`scan_mount` is the fallback)',
                               'runtime'),
    'enabled': ParamSpec(True, 'Recommend commands (also set by `~/enable`)', 'runtime'),
    **shared('diagnostics_period', 'log_throttle_period'),
}
# One weight per registered trajectory term (core/planning/terms): registering a term is
# all it takes to declare, validate, document and apply its weight.
PARAMS.update({weight_parameter(name): ParamSpec(0.0, term.description, 'runtime', 0.0, 1e6)
               for name, term in TRAJECTORY_TERMS.items()})

#: Snapshot of every parameter value: a frozen dataclass, one field per :data:`PARAMS` entry
#: (same name, type and default), so ``PlannerSettings(horizon=5)`` and ``replace`` work.
PlannerSettings = settings_class('PlannerSettings', PARAMS, __name__,
                                 'Snapshot of every planner_node parameter value '
                                 '(attribute names = parameter names).')

#: The core object each ``core`` target of :data:`PARAMS` names (``limits``: the arguments
#: of ``CommandLimits.create``).
CORE_TARGETS = {'planner': PlannerConfig, 'controller': ControllerSettings,
                'terms': ObjectiveTerms, 'tolerance': GoalTolerance,
                'limits': CommandLimits.create}
