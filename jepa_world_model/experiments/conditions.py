"""Conditions and settings of the closed-loop experiment (what runs, with which parameters).

Arm (goal: a configuration sampled per seed; success: end effector within the tolerance):

* ``image``: ``planner_node`` plans toward the goal image (``~/goal_image``).
* ``joint``: ``planner_node`` plans toward the goal joint positions (``~/goal_joint_state``),
  an upper reference: the goal is fully specified and the state probe reads q well.
* ``random``: uniform random joint velocities within the planner's velocity limits, a new
  one every control step, published by the supervisor.
* ``pixel``: the oracle pixel-space planner (:mod:`.pixel_planner`) in the supervisor.

Mobile base (goal: a reachable free position; success: within the tolerance, no collision):

* ``risk``: ``planner_node`` with its risk term, the obstacle term (``obstacle_weight``):
  the returns of the base's range scanner (sim_node's ``scan``), scored on the positions the
  world model predicts along each plan. The goal is scored on the static ``map`` sim_node
  publishes, and each planned action is held for 2 steps.
* ``no_risk``: the same planner with no risk term.
* ``agents``: the same planner with the agent term (``agent_weight``) instead of the obstacle
  term: the people tracked in the same scan, predicted 0.5-2 s ahead by the shipped agent
  predictor (models/mobile_base_agents.safetensors), against the planned positions at the
  same times (docs/agents.md). Furniture is left to the map's cost-to-go.
* ``risk_agents``: both the obstacle term and the agent term.
* ``readout``: the same planner with the clearance term on the model's own range read-out
  of the camera frame (``clearance_weight``) instead of the scanner: the all-learned
  variant, kept for comparison (not run by default).

No ROS here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..resources import default_model_path
from ..sim.people_scenes import validate_scene

#: The agent term's predictor in the ``agents`` conditions (jepa-world-model agents-eval).
AGENT_MODEL = 'mobile_base_agents.safetensors'

__all__ = ['ExperimentError', 'CONDITIONS', 'Condition', 'ExperimentOptions',
           'DEFAULT_CONDITIONS', 'JOINTS', 'planner_parameters',
           'sim_parameters', 'random_limits', 'model_label', 'condition_label']


class ExperimentError(RuntimeError):
    """The experiment cannot go on (a node died, a service or the simulator is silent)."""


@dataclass(frozen=True)
class Condition:
    """One experimental condition.

    Attributes:
        name: Its name on the command line.
        robot: 'arm' or 'mobile_base'.
        driver: Who commands the simulator: 'planner' (planner_node), 'random', 'pixel'.
        goal: 'image', 'joint_state' or 'pose' (what the planner is given).
        description: One line for the outputs.
    """

    name: str
    robot: str
    driver: str
    goal: str
    description: str


CONDITIONS: Dict[str, Condition] = {c.name: c for c in (
    Condition('image', 'arm', 'planner', 'image',
              'planner_node, goal image on ~/goal_image'),
    Condition('joint', 'arm', 'planner', 'joint_state',
              'planner_node, goal joint positions on ~/goal_joint_state (reference)'),
    Condition('random', 'arm', 'random', 'image',
              'uniform random joint velocities within the velocity limits, new every step'),
    Condition('pixel', 'arm', 'pixel', 'image',
              'greedy pixel-space planner on an oracle copy of the simulator, L2 to the '
              'goal image'),
    Condition('risk', 'mobile_base', 'planner', 'pose',
              'planner_node, goal pose on ~/goal_pose and the map, with the obstacle term '
              'on the range scan'),
    Condition('no_risk', 'mobile_base', 'planner', 'pose',
              'planner_node, goal pose on ~/goal_pose and the map, no risk term'),
    Condition('agents', 'mobile_base', 'planner', 'pose',
              'planner_node, goal pose on ~/goal_pose and the map, with the agent term on '
              'the people predicted from the range scan'),
    Condition('risk_agents', 'mobile_base', 'planner', 'pose',
              'planner_node, goal pose on ~/goal_pose and the map, with the obstacle term '
              'and the agent term'),
    Condition('readout', 'mobile_base', 'planner', 'pose',
              "planner_node, goal pose on ~/goal_pose and the map, with the clearance term "
              "on the model's range read-out"),
)}
DEFAULT_CONDITIONS = {'arm': ['image', 'joint', 'random', 'pixel'],
                      'mobile_base': ['risk', 'no_risk']}
#: sim_node's highest rate_hz.
MAX_TICK_RATE_HZ = 100.0
JOINTS = {'arm': ['joint1', 'joint2', 'joint3'],
          'mobile_base': ['wheel_left_joint', 'wheel_right_joint']}


@dataclass
class ExperimentOptions:
    """Settings of one ``plan-eval`` run (the CLI flags).

    Attributes:
        robot: 'arm' or 'mobile_base'.
        episodes: Episodes per condition.
        out: Output directory (results_<label>.json, figures).
        model: Planner checkpoint (default: the robot's shipped model).
        conditions: Names from :data:`CONDITIONS` (default: all of the robot's).
        budget: Control steps per episode (0: 80 for the arm, 150 for the base).
        tolerance: Success tolerance [m] (0: 0.05 for the arm's end effector, 0.15 for
            the base position).
        seed: Simulator seed; episode i uses seed + i + 1 (sim_node's ``~/reset``).
        risk_weight: Base ``risk`` condition: the planner's ``obstacle_weight``;
            ``readout``: its ``clearance_weight``.
        disagreement_weight: Base planner's ensemble-disagreement weight (both conditions).
        pixel_checkpoints: The pixel planner's scoring checkpoints (control steps).
        planner_overrides: Extra planner_node parameters (``--set name=value``).
        blocked_goals: Arm: also draw goals whose joint-space straight line from the start
            touches the obstacle (:class:`~.arm_tasks.ArmGoalSpec`).
        time_scale: sim_node ticks this many times faster than the control rate (its
            ``rate_hz`` is ``time_scale * rate_hz``, its ``control_period`` stays
            ``1 / rate_hz``): simulated time runs up to this factor faster than wall time.
        lockstep: sim_node's ``step_on_command``: it steps as soon as the command for the
            published step arrives, and after ``1 / (time_scale * rate_hz)`` wall seconds
            without one (the deadline a real-time run gives a command).
        command_wait: With ``lockstep``: sim_node's longest wall-clock wait [s] for a
            command (its ``rate_hz`` is ``1 / command_wait``; ``control_period`` stays
            ``1 / rate_hz``); 0: one control period. A loaded machine can then be given a
            longer ``max_plan_time`` and still plan every step.
        max_minutes: Wall-clock cap per condition (0: none); fewer episodes then run.
        startup_timeout: Wall seconds for each node to come up.
        scene: Mobile base: the people's scene (:data:`~..sim.people_scenes.SCENES`;
            ``default``: today's two walkers who give way).
        report_only: Only redo the summary and figures from the results in ``out``.
    """

    robot: str = 'arm'
    episodes: int = 50
    out: Path = Path('outputs/closed_loop')
    model: Optional[Path] = None
    conditions: List[str] = field(default_factory=list)
    budget: int = 0
    tolerance: float = 0.0
    seed: int = 0
    rate_hz: float = 10.0
    risk_weight: float = 20.0
    disagreement_weight: float = 0.0
    pixel_checkpoints: Tuple[int, ...] = (3,)
    planner_overrides: Dict[str, Any] = field(default_factory=dict)
    blocked_goals: bool = False
    time_scale: float = 1.0
    lockstep: bool = False
    command_wait: float = 0.0
    max_minutes: float = 0.0
    startup_timeout: float = 120.0
    scene: str = 'default'
    report_only: bool = False

    def __post_init__(self) -> None:
        """Fill the robot's defaults; raise ValueError on bad values."""
        if self.robot not in DEFAULT_CONDITIONS:
            raise ValueError(f'robot must be arm or mobile_base, got {self.robot!r}')
        self.conditions = list(self.conditions or DEFAULT_CONDITIONS[self.robot])
        for name in self.conditions:
            if name not in CONDITIONS or CONDITIONS[name].robot != self.robot:
                known = [c.name for c in CONDITIONS.values() if c.robot == self.robot]
                raise ValueError(f'condition {name!r} is not one of the {self.robot} '
                                 f'conditions {known}')
        self.budget = int(self.budget or (80 if self.robot == 'arm' else 150))
        self.tolerance = float(self.tolerance or (0.05 if self.robot == 'arm' else 0.15))
        if self.episodes < 1 or self.budget < 1 or self.tolerance <= 0 or self.rate_hz <= 0:
            raise ValueError('episodes, budget, tolerance and rate must be positive')
        if not 1.0 <= self.time_scale <= MAX_TICK_RATE_HZ / self.rate_hz:
            raise ValueError(f'time_scale must be in [1, {MAX_TICK_RATE_HZ / self.rate_hz:g}] '
                             f'(sim_node ticks at most {MAX_TICK_RATE_HZ:g} Hz), got '
                             f'{self.time_scale}')
        if self.command_wait and not (self.lockstep and 0.0 < self.command_wait <= 2.0):
            raise ValueError(f'command_wait needs lockstep and must be in (0, 2] s (sim_node '
                             f'ticks at least every 2 s), got {self.command_wait}')
        validate_scene(self.scene)
        if self.scene != 'default' and self.robot != 'mobile_base':
            raise ValueError(f'scene {self.scene!r} needs robot mobile_base')
        self.out = Path(self.out)

    @property
    def control_period(self) -> float:
        """Seconds per control step (sim_node tick, the models' step)."""
        return 1.0 / self.rate_hz


def model_label(path: Path) -> str:
    """Short name of a checkpoint: its stem, or its folder for ``.../checkpoint.*``."""
    path = Path(path)
    return path.parent.name if path.stem == 'checkpoint' else path.stem


def condition_label(condition: Condition, opts: ExperimentOptions, model: Path) -> str:
    """The label of a condition's results: planner conditions name their model (``risk``
    its risk weight too), the pixel planner its checkpoints."""
    if condition.driver == 'planner':
        weighted = condition.name in ('risk', 'readout', 'agents', 'risk_agents')
        name = f'{condition.name}{opts.risk_weight:g}' if weighted else condition.name
        scene = '' if opts.scene == 'default' else f'@{opts.scene}'
        return f'{name}[{model_label(model)}]{scene}'
    if condition.driver == 'pixel':
        return f'pixel[{",".join(str(c) for c in opts.pixel_checkpoints)}]'
    return condition.name


def sim_parameters(opts: ExperimentOptions, image_size: int = 64) -> Dict[str, Any]:
    """sim_node parameters (real time unless ``opts.time_scale`` or ``opts.lockstep``)."""
    params: Dict[str, Any] = {'robot': opts.robot, 'image_size': image_size,
                              'rate_hz': float(opts.rate_hz), 'seed': int(opts.seed)}
    if opts.time_scale != 1.0 or opts.lockstep:
        params.update({'rate_hz': float(opts.rate_hz * opts.time_scale),
                       'control_period': opts.control_period,
                       'step_on_command': bool(opts.lockstep)})
    if opts.command_wait:
        params['rate_hz'] = 1.0 / opts.command_wait
    if opts.robot == 'mobile_base':
        params['use_twist_stamped'] = False
        if opts.scene != 'default':   # (default: the parameters of every earlier run)
            params['scene'] = opts.scene
    return params


def planner_parameters(opts: ExperimentOptions, condition: Condition, model: Path
                       ) -> Dict[str, Any]:
    """planner_node parameters for ``condition``.

    The arm's mirror config/ros/planner.yaml (CEM 64 x 3 iterations, horizon 8, |v| <= 1
    rad/s, 3 rad/s^2, the sim's joint ranges) with the Float64MultiArray output the sim
    executes. Two goal checks change: ``goal_latent_tolerance`` 0, so an image goal on a
    model without an ``image_state_head`` never stops the arm by a latent distance that is
    not calibrated to the success tolerance (success is judged here, on the end effector),
    and ``goal_joint_tolerance`` 0.02 rad (joint goals, and image goals read in joint
    units), inside the 5 cm end-effector tolerance.
    """
    dt = opts.control_period
    common: Dict[str, Any] = {
        'model_path': str(Path(model).resolve()), 'device': 'cpu', 'num_threads': 1,
        'autostart': True, 'use_sim_time': True, 'plan_rate_hz': float(opts.rate_hz),
        'method': 'cem', 'horizon': 8, 'num_samples': 64, 'num_iterations': 3,
        'num_elites': 8, 'init_std': 0.5, 'seed': 0, 'model_step_period': dt,
        'max_plan_time': 0.08, 'stale_timeout': 0.5, 'max_skew': 0.05}
    if opts.robot == 'arm':
        common.update({
            'output': 'float64_multi_array', 'action_joint_names': JOINTS['arm'],
            'velocity_min': [-1.0], 'velocity_max': [1.0], 'acceleration_max': [3.0],
            'joint_position_min': [-2.9, -2.5, -2.5], 'joint_position_max': [2.9, 2.5, 2.5],
            'goal_joint_tolerance': 0.02, 'goal_latent_tolerance': 0.0,
            'risk_weight': 0.0, 'disagreement_weight': 0.0})
    else:
        # 64 samples x 2 iterations, each action held 2 steps (1.6 s look-ahead), fits the
        # 80 ms plan budget. sim_node applies a command at its next tick, one step after the
        # frame it was planned from: plans start one step ahead (command_delay_steps 1).
        # The disagreement term would run the ensemble over every sample again (a plan of
        # 128 x 3 with it took ~100 ms), so it is off unless asked for.
        # min range 0.35 m: the robot's 0.22 m radius, a person's ~0.03 m of slack between
        # scan returns and 0.1 m margin.
        obstacle = opts.risk_weight if condition.name in ('risk', 'risk_agents') else 0.0
        clearance = opts.risk_weight if condition.name == 'readout' else 0.0
        agents = opts.risk_weight if condition.name in ('agents', 'risk_agents') else 0.0
        common.update({
            'num_samples': 64, 'num_iterations': 2, 'num_elites': 8, 'action_repeat': 2,
            'command_delay_steps': 1, 'use_map': True, 'map_inflation': 0.32,
            'clearance_min_range': 0.35, 'clearance_margin': 0.1,
            'clearance_weight': float(clearance), 'obstacle_weight': float(obstacle),
            'agent_weight': float(agents),
            'output': 'cmd_vel', 'use_twist_stamped': False,
            'action_fields': ['linear.x', 'angular.z'],
            'velocity_min': [-0.5, -1.5], 'velocity_max': [0.8, 1.5],
            'acceleration_max': [2.0, 6.0], 'goal_position_tolerance': 0.1,
            'goal_yaw_weight': 0.0, 'path_frame_id': 'odom',
            'risk_weight': 0.0, 'disagreement_weight': float(opts.disagreement_weight)})
        if agents:   # (an empty string cannot be passed as a --ros-args override)
            common['agent_model_path'] = str(default_model_path(AGENT_MODEL))
    common.update(opts.planner_overrides)
    return common


def random_limits(opts: ExperimentOptions) -> Tuple[List[float], List[float]]:
    """(low, high) of the random condition's commands: the planner's velocity limits."""
    params = planner_parameters(opts, CONDITIONS[DEFAULT_CONDITIONS[opts.robot][0]],
                                Path('unused'))
    dim = len(JOINTS['arm']) if opts.robot == 'arm' else 2
    low, high = params['velocity_min'], params['velocity_max']
    return ((low * dim if len(low) == 1 else list(low)),
            (high * dim if len(high) == 1 else list(high)))
