"""The planning controller: observations in, one limited command (or a stop and why) out.

A small, TD-MPC2-like interface over :class:`~.planner.LatentPlanner`::

    controller = PlanningController(runtime, PlannerConfig(...), CommandLimits.create(...),
                                    ControllerSettings(period=0.1, ...))
    controller.set_goal(pose_goal(1.0, 0.5), map=room)   # builds the objective once
    outcome = controller.act(observation)                # Command or Stop
    command = outcome if isinstance(outcome, Command) else controller.stop(observation.q)

One :meth:`~PlanningController.act` encodes the frame (``z`` [Z]), checks the goal
(measurements first: joints ``q`` [J], odometry ``pose`` [3], the image head's reading of the
frame; else the target-encoder latent), builds the plan's objective from the frame (image
goals in joint units, the scene, the scan's obstacle points), rolls the command in flight
forward ``command_delay_steps`` model steps (a command planned now takes effect after it),
plans under the ``max_plan_time`` deadline from the warm start, checks the plan's predicted
risk and ensemble disagreement, and holds its first command (trajectories: the whole plan)
to the command limits against the previous command.

The previous command is what the robot was actually sent: :meth:`~PlanningController.act`
and :meth:`~PlanningController.stop` assume their command is sent as it is; a caller whose
message conversion changes it says so with :meth:`~PlanningController.commanded`.

Names: ``z`` latent [Z], ``a`` action [A], ``s`` proprioception [1, state_dim], ``o`` image
[1, 3, S, S], ``q`` joint positions [J]. Not thread-safe: one caller at a time
(``planner_node`` holds its lock). Pure PyTorch/numpy, no ROS.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from .command_limits import CommandLimits
from .continuous_joint_limits import free_continuous_joints
from .goal_checks import assess_plan, goal_reached, overrun_stop, plan_stop
from .goals import build_objective, ensemble_size, Goal, has_risk_probe
from .image_readings import ReadingSmoother
from ..runtime.inference import WorldModelRuntime
from .objective_terms import Objective
from .objectives import ObjectiveFn, sum_objectives
from .plan_agents import PlanAgents
from .people_cost_to_go import PeopleCostToGo
from .plan_budget import rollout_cost
from .planner import ActionBounds, hold_action, LatentPlanner, PlannerConfig
from ..model.rollout_student import calls_per_action
from ..runtime.planning_step import planning_step, rollout_source, single_step
from ..runtime.streams import WindowStats
from .commands import Command, limit_plan, Stop
from .observation import check_observation, encode_frame, Observation, plan_obstacles
from .settings import ControllerSettings
from .static_map import navigation_for, StaticMap

__all__ = ['NoGoalError', 'PlanningController', 'rollout_cost', 'WARM_UP_BUDGET_S']

#: Seconds the warm-up plan may take; enough to initialise every kernel.
WARM_UP_BUDGET_S = 2.0


class NoGoalError(RuntimeError):
    """:meth:`PlanningController.act` was called before a goal was set."""


class PlanningController:
    """Plans toward a goal with a world model and answers with limited commands.

    Args:
        runtime: The loaded model.
        planner: The search's hyper-parameters.
        limits: The command limits; their velocity box is also the planner's action box.
        settings: Timing, objective terms, goal tolerance, stops and outputs.

    Raises:
        ValueError: The limits or the search do not fit the model's action.
    """

    def __init__(self, runtime: WorldModelRuntime, planner: PlannerConfig,
                 limits: CommandLimits, settings: ControllerSettings = ControllerSettings(),
                 step: Any = None) -> None:
        self.runtime = runtime
        self._check_fits(limits, settings)
        limits = self._free_continuous(limits, settings)
        # The runtime's backend (torch or onnxruntime) runs the planner's model step, or a
        # rollout student does (settings.rollout_model; core/runtime/planning_step.py);
        # ``step``: that step already built for these settings (a node builds it once).
        self._step = step if step is not None else planning_step(
            runtime, settings.rollout_dtype, settings.rollout_model, planner.action_repeat)
        calls_per_action(self._step, planner.action_repeat)   # ValueError when it cannot
        self._hold_step = single_step(runtime, self._step, settings.rollout_dtype)
        self.planner = self._make_planner(planner, limits)
        self.limits, self.settings = limits, settings
        self.goal: Optional[Goal] = None
        self.objective: Optional[Objective] = None
        self.static_map: Optional[StaticMap] = None
        self._extra_cost: Optional[ObjectiveFn] = None
        self._navigation: Tuple[Any, Any] = (None, None)   # (key, field) of the last build
        self._previous = np.zeros(runtime.action_dim)
        self.agents = PlanAgents()   # the agent term's people (plan_agents.py)
        self._smoother = ReadingSmoother(settings.image_reading_smoothing)
        #: Figures of the latest plan (goal_distance, cost, risk, disagreement).
        self.last: Dict[str, Any] = {}
        #: Milliseconds from ``started`` to the end of each plan.
        self.plan_ms = WindowStats(1000)

    # -- configuration ----------------------------------------------------------------------
    def _check_fits(self, limits: CommandLimits, settings: ControllerSettings) -> None:
        dim = self.runtime.action_dim
        if limits.action_dim != dim:
            raise ValueError(f'the command limits cover {limits.action_dim} action dims, the '
                             f'model has {dim}')
        joints = len(self.runtime.joint_names)
        index = settings.action_joints
        if index is not None and (len(index) != dim or any(
                not 0 <= i < joints for i in index)):
            raise ValueError(f'action_joints {index} must name one of the {joints} model '
                             f'joints for each of the {dim} action dims')

    def _free_continuous(self, limits: CommandLimits, settings: ControllerSettings
                         ) -> CommandLimits:
        """No position limit on continuous action joints (continuous_joint_limits.py)."""
        coding = getattr(self.runtime.config, 'joint_coding', None)
        return limits if coding is None else free_continuous_joints(
            limits, settings.action_joints, coding.continuous)

    def _make_planner(self, config: PlannerConfig, limits: CommandLimits) -> LatentPlanner:
        return LatentPlanner(config, self.runtime.action_dim,
                             ActionBounds(limits.velocity_min, limits.velocity_max),
                             device=self.runtime.device, dtype=self.runtime.dtype)

    def _build(self, goal: Goal, static_map: Optional[StaticMap],
               settings: ControllerSettings) -> Tuple[Objective, Tuple[Any, Any]]:
        """The objective of ``goal`` under ``settings``, on the map when there is one, and the
        ``(key, field)`` of the map's cost-to-go to keep with it.

        The cost-to-go is rebuilt only when the goal, the map or a map setting changed (goal and
        map compared by identity; the key holds them, so an id is never reused while cached).
        Nothing is kept here: the caller keeps both once everything it builds has succeeded.
        """
        key = (goal, static_map, settings.use_map, settings.map_inflation,
               settings.map_occupied_threshold, settings.people_cost_to_go_every)
        navigation = self._navigation
        cached = navigation[0]
        if cached is None or cached[0] is not goal or cached[1] is not static_map \
                or cached[2:] != key[2:]:
            # The same grid re-placed (a localisation correction) may keep its cost-to-go.
            previous = (cached[1], navigation[1]) if cached is not None \
                and cached[2:] == key[2:] else None
            navigation = (key, navigation_for(goal, static_map, settings, previous))
        return (build_objective(goal, self.runtime.model, settings.terms, navigation[1]),
                navigation)

    @property
    def navigation(self) -> Any:
        """The cost-to-go field the current objective scores a pose goal with, or None."""
        key, field = self._navigation
        return field if key is not None and key[0] is self.goal else None

    def set_goal(self, goal: Goal, map: Optional[StaticMap] = None,
                 extra_cost: Optional[ObjectiveFn] = None) -> Objective:
        """Plan toward ``goal`` from now on; its objective is built here, once.

        Args:
            goal: The goal.
            map: The static map pose goals are scored on (``settings.use_map``), or None.
            extra_cost: ``fn(z_traj [N, H, Z], a_traj [N, H, A]) -> [N]`` added to the
                objective (ablations such as an oracle's clearance), or None.

        Returns:
            The objective (``terms`` in use, ``skipped`` ones the model cannot provide).

        Raises:
            GoalError: The goal does not fit the model or lies outside the map
                (:class:`~.static_map.MapGoalError`); the old goal stays.
        """
        objective, self._navigation = self._build(goal, map, self.settings)
        self.goal, self.static_map, self.objective = goal, map, objective
        self._extra_cost = extra_cost
        self.planner.reset()   # the warm start aimed at the old goal
        self._smoother.reset()
        return objective

    def relocate(self, goal: Goal, map: Optional[StaticMap]) -> None:
        """The same goal and map placed anew in the planner's frame (localisation moved
        the frame they were given in): unlike :meth:`set_goal`, the warm start stays (the
        robot's task did not change), and the map's cost-to-go is re-placed, not rebuilt,
        when goal and map moved together.

        Raises:
            GoalError: The goal lies outside the map now; goal and map stay as they were.
        """
        objective, navigation = self._build(goal, map, self.settings)
        self.goal, self.static_map, self.objective = goal, map, objective
        self._navigation = navigation

    def clear_goal(self) -> None:
        """Forget the goal: :meth:`act` refuses to plan until the next :meth:`set_goal`."""
        self.goal = self.objective = self._extra_cost = None

    def set_map(self, map: Optional[StaticMap]) -> None:
        """A new static map; the current goal is scored on it from the next plan.

        Raises:
            GoalError: The goal lies outside the new map; the old map stays.
        """
        if self.goal is not None:
            self.objective, self._navigation = self._build(self.goal, map, self.settings)
        self.static_map = map

    def update(self, planner: Optional[PlannerConfig] = None,
               limits: Optional[CommandLimits] = None,
               settings: Optional[ControllerSettings] = None) -> None:
        """Change the search, the limits or the settings: all of it, or (on an error)
        nothing. The planner keeps its warm start unless its config or action box changed.

        Raises:
            ValueError: The limits do not fit the model; GoalError: the current goal does
                not fit the new objective settings.
        """
        limits = self.limits if limits is None else limits
        settings = self.settings if settings is None else settings
        config = self.planner.config if planner is None else planner
        self._check_fits(limits, settings)
        limits = self._free_continuous(limits, settings)
        objective, navigation = ((None, self._navigation) if self.goal is None else
                                 self._build(self.goal, self.static_map, settings))
        same_box = np.array_equal(limits.velocity_min, self.limits.velocity_min) and \
            np.array_equal(limits.velocity_max, self.limits.velocity_max)
        same_step = (settings.rollout_dtype, settings.rollout_model, config.action_repeat) == \
            (self.settings.rollout_dtype, self.settings.rollout_model,
             self.planner.config.action_repeat)
        step = self._step if same_step else planning_step(
            self.runtime, settings.rollout_dtype, settings.rollout_model, config.action_repeat)
        calls_per_action(step, config.action_repeat)   # ValueError before anything changes
        if config != self.planner.config or not same_box:
            self.planner = self._make_planner(config, limits)
        if settings.image_reading_smoothing != self.settings.image_reading_smoothing:
            self._smoother = ReadingSmoother(settings.image_reading_smoothing)
        self.limits, self.settings, self._step = limits, settings, step
        self._hold_step = single_step(self.runtime, step, settings.rollout_dtype)
        self.objective, self._navigation = objective, navigation

    def warm_up(self, budget: float = WARM_UP_BUDGET_S) -> None:
        """One throw-away plan: the first plan initialises kernels, keep that out of the
        first :meth:`act`. It stops after ``budget`` seconds; the warm start is dropped."""
        runtime = self.runtime
        z = torch.zeros(runtime.latent_dim, device=runtime.device, dtype=runtime.dtype)
        with torch.inference_mode():
            self.planner.plan(z, self._step, lambda zt, a: zt.abs().sum((1, 2)),
                              deadline=time.perf_counter() + budget)
        self.planner.reset()

    @property
    def rollout_source(self) -> str:
        """What runs the search's rollouts: a student's file, or the dynamics ensemble."""
        return rollout_source(self._step)

    def unusable_stops(self) -> List[str]:
        """Stops that are set (``max_risk``, ``max_disagreement``) but that the model has
        no output for, so they can never trigger."""
        model, s = self.runtime.model, self.settings
        return [term for term, limit, has in (
            ('risk', s.max_risk, has_risk_probe(model)),
            ('disagreement', s.max_disagreement, ensemble_size(model) > 1))
            if limit > 0 and not has]

    # -- the loop ---------------------------------------------------------------------------
    @property
    def previous(self) -> np.ndarray:
        """[A] the command last sent: the acceleration reference and the command in
        flight that the next plan rolls forward."""
        return self._previous.copy()

    def commanded(self, a: Any) -> None:
        """The command [A] actually sent, when the output changed what :meth:`act` or
        :meth:`stop` returned (e.g. a message's float precision or a trajectory guard)."""
        a = np.asarray(a, dtype=np.float64).reshape(-1)
        if a.size != self.runtime.action_dim or not np.isfinite(a).all():
            raise ValueError(f'a command has {self.runtime.action_dim} finite values, got '
                             f'{a.tolist()}')
        self._previous = a

    def stop(self, q: Optional[np.ndarray] = None) -> Command:
        """The stop command: zero (a trajectory holds the action joints at ``q`` [J],
        measured, in model order). Not held to the acceleration limit: a stop is
        immediate. The previous command becomes zero."""
        zero = np.zeros(self.runtime.action_dim)
        self._previous = zero.copy()
        return Command(zero, zero[None], self._action_q(q))

    def reset(self) -> None:
        """A new start: the warm start is dropped and the robot taken to be at rest
        (previous command zero). The goal stays."""
        self.planner.reset()
        self.agents.reset()
        if isinstance(self.navigation, PeopleCostToGo):   # the people it saw are gone
            self.navigation.reset()
        self._previous = np.zeros(self.runtime.action_dim)

    def _action_q(self, q: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """Positions of the action joints [A] from model-ordered ``q`` [J], or None."""
        index = self.settings.action_joints
        if index is None or q is None or np.size(q) == 0:
            return None
        return np.asarray(q, dtype=np.float64)[list(index)]

    def act(self, obs: Observation, started: Optional[float] = None) -> Union[Command, Stop]:
        """Plan from ``obs`` toward the goal: the limited first command, or why not.

        Args:
            obs: The synchronised observation.
            started: ``time.perf_counter()`` when the step started (the inputs' own
                preparation counts toward ``max_plan_time``); default: now.

        Returns:
            The :class:`Command` to send, or a :class:`Stop` (goal reached, plan overran,
            too risky or too uncertain, the obstacle term has no scan); then send
            :meth:`stop`.

        Raises:
            NoGoalError: No goal set. ObservationError: ``obs`` does not fit the model.
        """
        if self.goal is None or self.objective is None:
            raise NoGoalError('act() needs a goal: call set_goal() first')
        started = time.perf_counter() if started is None else started
        runtime, s = self.runtime, self.settings
        check_observation(obs, runtime.image_size, runtime.config.state_dim,
                          len(runtime.joint_names))
        with torch.inference_mode():
            # One encoder pass (a composed process encodes each frame once).
            z, q_image, scene = encode_frame(runtime.encoder, self.goal, self.objective, obs)
            if q_image is not None:
                q_image = self._smoother(runtime.model, self.goal, obs.q, q_image)
            if s.tolerance is not None:
                reached, dist = self._goal_check(obs, q_image)
                self.last['goal_distance'] = dist
                if reached:
                    self.planner.reset()
                    return Stop('goal_reached', '', f'within tolerance ({dist:.3f})')
            obstacles = plan_obstacles(runtime.model, z, obs, s.scan_mount,
                                       self.objective.needs_obstacles, self.navigation)
            if obstacles is None and self.objective.needs_obstacles:
                return Stop('stale_inputs', 'scan_stale', 'the obstacle term has no scan')
            agents = None
            if self.objective.needs_agents:
                agents = self.agents.for_plan(runtime.model, z, obs, s, self.planner.config,
                                              self.static_map)
                if agents is None:
                    return Stop('stale_inputs', 'scan_stale', 'the agent term has no scan')
            # objective.at() is objective.fn unless there is a reading to aim with, a scene,
            # obstacles or agents; those are read at the frame's own z.
            fn = self.objective.at(obs.q, q_image, scene, z, obstacles, agents)
            if self._extra_cost is not None:
                fn = sum_objectives([(1.0, fn), (1.0, self._extra_cost)])
            a_prev = torch.as_tensor(self._previous, dtype=runtime.dtype,
                                     device=runtime.device)
            # The command planned now takes effect only after the one being executed has
            # run on: plan from where that leaves the robot, not from where it is now.
            z_plan = hold_action(self._hold_step, z, a_prev, s.command_delay_steps)
            deadline = None if s.max_plan_time is None else started + s.max_plan_time
            result = self.planner.plan(z_plan, self._step, fn, a_prev,
                                       deadline=deadline)
            if agents is not None:   # the next forecast is conditioned on this plan
                self.agents.after_plan(runtime.model, result.latents)
            stop = self._checks(started, result, z_plan)
            if stop is not None:
                return stop
            poses = (runtime.model.probe_pose(torch.cat([z_plan[None], result.latents]))
                     .float().cpu().numpy() if s.with_poses else None)
        return self._limited(result.actions.float().cpu().numpy(), float(result.cost),
                             poses, obs.q)

    def _goal_check(self, obs: Observation, q_image: Optional[Tensor]) -> Tuple[bool, float]:
        """Measured joints and odometry beat probes; the target encoder only runs when the
        check needs a latent."""
        goal, model, q = self.goal, self.runtime.model, obs.q
        measured = {'joint_state': np.size(q) > 0, 'pose': obs.pose is not None,
                    'image': q_image is not None}
        z_obs = (None if measured.get(goal.kind)
                 else self.runtime.encoder.encode(obs.o, obs.s, target=True)[0])
        return goal_reached(goal, self.settings.tolerance, model, z_obs, q=(
            q if goal.kind == 'joint_state' and np.size(q) else None), pose=obs.pose,
            image_joints=q_image)

    def _checks(self, started: float, result: Any, z_plan: Tensor) -> Optional[Stop]:
        """The stop a finished plan calls for, if any (goal_checks.plan_stop). Records the
        plan's time and figures."""
        elapsed = time.perf_counter() - started
        self.plan_ms.add(elapsed * 1e3)
        overrun = overrun_stop(result, elapsed, self.settings.max_plan_time,
                               self.planner.config.num_iterations)
        if overrun is not None:
            return overrun
        figures = assess_plan(self.runtime.model, z_plan, result.latents, result.actions)
        self.last.update(cost=result.cost, risk=figures.risk,
                         disagreement=figures.disagreement)
        return plan_stop(figures, self.settings.max_risk, self.settings.max_disagreement)

    def _limited(self, actions: np.ndarray, cost: float, poses: Optional[np.ndarray],
                 q: np.ndarray) -> Command:
        """The plan ``actions`` [H, A] held to the limits against the previous command."""
        s, q_act = self.settings, self._action_q(q)
        first, velocities = limit_plan(actions, self._previous, s.period, self.limits, q_act,
                                       s.trajectory, s.model_step_period)
        self._previous = first.a.copy()
        return Command(first.a, velocities, q_act, tuple(first.kinds), cost, poses)
