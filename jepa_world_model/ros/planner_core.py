"""The planning half of ``planner_node``: goals in, one plan per timer tick, commands out.

:class:`PlannerCore` is the base of :class:`~.planner_node.PlannerNode`: it holds what the
planner plans with (model, planner, command limits, goal and objective, inputs, previous
command) and the callbacks that use it: the goal topics and ``~/capture_goal``
(:mod:`.planner_goals`), and the plan timer (:mod:`.planner_step`), which publishes the limited
command or, on a safety stop, one zero command (:mod:`.planner_outputs`). ``PlannerNode`` adds
the lifecycle transitions that create and release all of it, the parameter callback and the
diagnostics.

Threads: every callback is in the node's default, mutually exclusive group, so inputs, goals
and the plan timer never run concurrently. ``_lock`` guards against threads outside the
executor (parameter sets, lifecycle triggers); every acquisition has a timeout.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import OccupancyGrid
import numpy as np
from rclpy._rclpy_pybind11 import InvalidHandle
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header
from std_srvs.srv import Trigger
import torch

from ..core.goals import build_objective, Goal, GoalError, latent_goal
from ..core.inference import WorldModelRuntime
from ..core.planner import ActionBounds, LatentPlanner
from ..core.streams import Counters, RateMeter
from .frame_pipeline import LOCK_TIMEOUT_S
from .guarded_lifecycle import GuardedLifecycleNode
from .node_io import InputError
from .planner_goals import image_goal_from_msg, joint_goal_from_msg, pose_goal_from_msg
from .planner_inputs import PlannerInputs
from .planner_map import map_from_msg, navigation_for, StaticMap
from .planner_outputs import PlannerOutputs, STOPS
from .planner_parameters import (action_joints, command_limits, declare_parameters,
                                 objective_terms, PlannerFacts, planner_config, read_settings)
from .planner_step import PlanStep, PlanStop

__all__ = ['PlannerCore']


class PlannerCore(GuardedLifecycleNode):
    """Goals, the plan tick and the command outputs of the planner (see the module docstring)."""

    def __init__(self, node_name: str, **kwargs: Any) -> None:
        """Declare the parameters; nothing is loaded before configure."""
        super().__init__(node_name, **kwargs)
        declare_parameters(self)
        self.settings = read_settings(self)
        self.counters = Counters()
        self._lock = threading.Lock()   # runtime, planner, goal, inputs, settings swaps
        self.runtime: Optional[WorldModelRuntime] = None
        self._facts: Optional[PlannerFacts] = None
        self._planner: Optional[LatentPlanner] = None
        self._limits = self._objective = self.goal = None
        self.static_map: Optional[StaticMap] = None
        self._navigation: Tuple[Any, Any] = (None, None)   # (key, field) of the last build
        self._state = 'unconfigured'
        self._outputs: Optional[PlannerOutputs] = None
        self._period = 1.0 / self.settings.plan_rate_hz
        self.status, self.status_detail = 'inactive', ''
        self.plans = PlanStep()
        self.rates = {k: RateMeter() for k in ('image', 'joint_states', 'plan')}
        self._log_times: Dict[str, float] = {}
        self._reset_inputs()

    @property
    def lifecycle_state(self) -> str:
        """'unconfigured', 'inactive', 'active' or 'finalized'."""
        return self._state

    def _reset_inputs(self) -> None:
        joints = self._facts.joint_names if self._facts else ()
        self._inputs = PlannerInputs(joints, self.settings.max_skew, lambda: self.settings,
                                     self.counters, self._reject, self._now, self.rates)
        self._prev = np.zeros(self._facts.action_dim if self._facts else 0)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _reject(self, reason: str, message: str) -> None:
        """Count a rejected input under ``reason``; log it once per throttle period."""
        now = time.monotonic()
        count = self.counters.add(reason, message, now)
        if now - self._log_times.get(reason, -math.inf) >= self.settings.log_throttle_period:
            self._log_times[reason] = now
            self.get_logger().warning(f'{reason} (#{count}): {message}')

    def _build_objective(self, goal: Goal, s: Any) -> Any:
        """The objective for ``goal`` under settings ``s``, on the map when there is one.

        The map's cost-to-go is rebuilt only when the goal, the map or a map setting changed.
        """
        key = (id(goal), id(self.static_map), s.use_map, s.map_inflation,
               s.map_occupied_threshold)
        if self._navigation[0] != key:
            self._navigation = (key, navigation_for(goal, self.static_map, s))
        return build_objective(goal, self.runtime.model, objective_terms(s),
                               self._navigation[1])

    def _rebuild(self, s: Any, planner: bool) -> None:
        """Planner (when asked), limits and objective from ``s`` (raises on bad values)."""
        limits = command_limits(s, self._facts.action_dim)
        objective = (self._build_objective(self.goal, s) if self.goal is not None else None)
        if planner:
            self._planner = LatentPlanner(planner_config(s), self._facts.action_dim,
                                          ActionBounds(limits.velocity_min, limits.velocity_max),
                                          device=self.runtime.device, dtype=self.runtime.dtype)
        self._limits, self._objective = limits, objective

    # -- goals -----------------------------------------------------------------------------
    def _set_goal(self, make: Callable[[], Goal], what: str) -> Optional[str]:
        """Build a goal with ``make()`` and plan toward it; the reason it was rejected, or
        None. Bad goals are counted (``goal_*`` counters) and the old goal stays."""
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_S):
            self._reject('busy', f'{what} dropped: planner lock not free')
            return 'planner busy, try again'
        try:
            try:
                goal = make()
                objective = self._build_objective(goal, self.settings)
            except (GoalError, InputError, ValueError) as exc:
                self._reject(getattr(exc, 'reason', f'{what}_invalid'), str(exc))
                return str(exc)
            self.goal, self._objective = goal, objective
            self._planner.reset()   # the warm start aimed at the old goal
        finally:
            self._lock.release()
        self.counters.add('goals')
        self.get_logger().info(f'new {goal.kind} goal from {what}')
        return None

    # make() runs under the lock: settings, limits and the runtime cannot change under it.
    def _on_goal_joint_state(self, msg: JointState) -> None:
        self._set_goal(lambda: joint_goal_from_msg(
            msg, self._facts.joint_names, action_joints(self.settings, self._facts),
            self._limits), 'goal_joint_state')

    def _on_goal_pose(self, msg: PoseStamped) -> None:
        self._set_goal(lambda: pose_goal_from_msg(
            msg, self.runtime.has_pose, self.settings.path_frame_id,
            self.settings.goal_yaw_weight), 'goal_pose')

    def _on_goal_image(self, msg: Image) -> None:
        self._set_goal(lambda: image_goal_from_msg(msg, self.runtime, self.settings.resize_mode),
                       'goal_image')

    def _on_map(self, msg: OccupancyGrid) -> None:
        """A new static map; a pose goal in progress is re-scored on it. A bad map, or one
        the goal lies outside, is counted and the old map stays."""
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_S):
            return self._reject('busy', 'map dropped: planner lock not free')
        try:
            try:
                new_map = map_from_msg(msg, self.settings.path_frame_id)
            except InputError as exc:
                return self._reject(exc.reason, str(exc))
            old_map, self.static_map = self.static_map, new_map
            if self.goal is not None:
                try:
                    self._objective = self._build_objective(self.goal, self.settings)
                except (GoalError, ValueError) as exc:
                    self.static_map = old_map
                    return self._reject(getattr(exc, 'reason', 'map_invalid'), str(exc))
        finally:
            self._lock.release()
        self.counters.add('maps')
        h, w = new_map.occupancy.shape
        self.get_logger().info(f'map {w} x {h} cells at {new_map.resolution:g} m')

    def _on_capture(self, request: Trigger.Request, response: Trigger.Response) -> Any:
        def make() -> Goal:
            try:
                obs = self._inputs.observe(self.runtime, require_new=False)
            except InputError as exc:
                raise InputError('capture_failed', f'cannot capture: {exc}') from None
            with torch.inference_mode():
                return latent_goal(self.runtime.model.encode(obs.o, obs.s, target=True)[0])
        if self._state != 'active':
            response.success, response.message = False, f'node is {self._state}, not active'
            return response
        error = self._set_goal(make, 'capture_goal')
        response.success = error is None
        response.message = error or 'goal captured from the current view'
        return response

    # -- planning --------------------------------------------------------------------------
    def _on_timer(self) -> None:
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_S):
            return self._reject('busy', 'plan skipped: planner lock not free')
        try:
            try:
                self._tick()
            except PlanStop as stop:
                self._reject(stop.reason, str(stop))
                self._publish_stop(stop.status, str(stop))
            except InvalidHandle:
                raise
            except Exception as exc:  # noqa: BLE001 - an exception here would end the spin
                self._reject('internal_error', f'{type(exc).__name__}: {exc}')
                self._publish_stop('error', f'{type(exc).__name__}: {exc}')
        except InvalidHandle:
            pass   # destroy_node() ran under this callback: no publisher left to stop through
        finally:
            self._lock.release()

    def _tick(self) -> None:
        s, runtime = self.settings, self.runtime
        if not s.enabled or self.goal is None:
            return self._set_status('disabled' if not s.enabled else 'no_goal')
        started = time.perf_counter()
        try:
            obs = self._inputs.observe(runtime, require_new=True)
        except InputError as exc:
            raise PlanStop('stale_inputs', exc.reason, str(exc)) from None
        if obs is None:
            return
        plan = self.plans.run(runtime, self._planner, self.goal, self._objective, s, obs,
                              self._prev, started, self._outputs.with_path)
        if plan is None:
            self._planner.reset()
            dist = self.plans.last['goal_distance']
            return self._publish_stop('goal_reached', f'within tolerance ({dist:.3f})')
        q_act = self._action_q(obs.q) if s.output != 'cmd_vel' else None
        self._prev = self._outputs.plan(s, action_joints(s, self._facts), self._limits,
                                        self._period, self._prev, obs.header, q_act, plan)
        self.counters.add('plans')
        self.rates['plan'].tick(time.monotonic())
        self._set_status('planning')

    # -- outputs ---------------------------------------------------------------------------
    def _set_status(self, status: str, detail: str = '') -> None:
        self.status, self.status_detail = status, detail
        if self._outputs is not None:
            self._outputs.status(status)

    def _action_q(self, q: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """Positions of the action joints [A] from model-ordered ``q`` [J]."""
        if q is None or q.size == 0:
            return None
        names = list(self._facts.joint_names)
        return q[[names.index(j) for j in action_joints(self.settings, self._facts)]]

    def _publish_stop(self, status: str, detail: str) -> None:
        """One zero command (stamped now) and the status; resets the acceleration reference."""
        s = self.settings
        if self._outputs is not None and self._facts is not None:
            header = Header(stamp=self.get_clock().now().to_msg(),
                            frame_id=self._inputs.frame_id)
            q = (self._action_q(self._inputs.newest_q())   # hold still here
                 if s.output == 'joint_trajectory' else None)
            self._prev = self._outputs.stop(s, action_joints(s, self._facts), self._limits,
                                            header, q, self._facts.action_dim)
        if status in STOPS:
            self.counters.add(f'stop_{status}')
        self._set_status(status, detail)
