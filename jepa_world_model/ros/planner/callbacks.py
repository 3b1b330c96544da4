"""The planning half of ``planner_node``: goals in, one controller step per timer tick,
commands out.

:class:`PlannerCore` is the base of :class:`~.node.PlannerNode`. The planning itself
(objective, warm start, command-delay roll-forward, plan deadline, plan checks, command
limits, the previous command) is the
:class:`~jepa_world_model.core.planning.controller.PlanningController`'s; this class turns
ROS messages into its goals, maps and observations, and its commands and stops into
messages: the goal topics and ``~/capture_goal`` (:mod:`.goals`), ``map``
(:mod:`.map_input`), and the plan timer, which publishes the command or, on a stop, one
zero command (:mod:`.outputs`). ``PlannerNode`` adds the lifecycle transitions that
create and release all of it, the parameter callback and the diagnostics.

Threads: every callback is in the node's default, mutually exclusive group, so inputs, goals
and the plan timer never run concurrently. ``_lock`` guards against threads outside the
executor (parameter sets, lifecycle triggers); every acquisition has a timeout.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import OccupancyGrid
import numpy as np
from rclpy._rclpy_pybind11 import InvalidHandle
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from ...core.planning.goals import Goal, GoalError, latent_goal
from ...core.runtime.inference import WorldModelRuntime
from ...core.planning.commands import Stop
from ...core.planning.controller import PlanningController
from ...core.planning.settings import ControllerSettings
from ...core.planning.static_map import StaticMap
from ...core.runtime.streams import Counters, RateMeter
from ..common import LOCK_TIMEOUT_S
from ..common.rejects import InputError, RejectLog
from ..common.tf_frames import make_frames
from ..common.guarded_lifecycle import GuardedLifecycleNode
from .goal_repeats import GoalLedger, image_fingerprint
from .goals import image_goal_from_msg, joint_goal_from_msg, placed_pose_goal_from_msg
from .inputs import PlannerInputs
from .map_input import map_from_msg
from .outputs import PlannerOutputs, STOPS
from .placements import Placements
from .parameters import (action_joints, controller_settings, declare_parameters, PlannerFacts,
                         read_settings)

__all__ = ['PlannerCore']


class PlannerCore(GuardedLifecycleNode):
    """Goals, the plan tick and the command outputs of the planner (see the module docstring)."""

    def __init__(self, node_name: str, **kwargs: Any) -> None:
        """Declare the parameters; nothing is loaded before configure."""
        super().__init__(node_name, **kwargs)
        declare_parameters(self)
        self.settings = read_settings(self)
        self.counters = Counters()
        self._lock = threading.Lock()   # runtime, controller, goal, inputs, settings swaps
        self.runtime: Optional[WorldModelRuntime] = None
        self._facts: Optional[PlannerFacts] = None
        self.controller: Optional[PlanningController] = None
        self.static_map: Optional[StaticMap] = None
        self._outputs: Optional[PlannerOutputs] = None
        self._period = 1.0 / self.settings.plan_rate_hz
        self.status, self.status_detail = 'inactive', ''
        self.rates = {'plan': RateMeter()}   # the inputs' rates are the PlannerInputs'
        # Counts a rejected input under its reason; logs it once per throttle period.
        self._reject = RejectLog(self.counters, self.get_logger().warning,
                                 lambda: self.settings.log_throttle_period)
        self._goal_ledger = GoalLedger()            # repeats and kind changes of goals
        # Goals and maps given in map, placed again when localisation moves map -> odom.
        self._placements = Placements(self.get_logger().info)
        # base_link <- laser and odom <- map from TF where tf2_ros imports; None: the
        # parameters (scan_mount; goals and maps only in path_frame_id). docs/planner.md.
        self._tf_frames, self._tf_listener = make_frames(
            self, lambda: tuple(self.settings.scan_mount), self.get_logger().warning)
        self._reset_inputs()

    @property
    def goal(self) -> Optional[Goal]:
        """The goal the controller plans toward, or None."""
        return self.controller.goal if self.controller is not None else None

    def _reset_inputs(self) -> None:
        joints = self._facts.joint_names if self._facts else ()
        with_pose = self.runtime is not None and self.runtime.needs_pose
        self._inputs = PlannerInputs(joints, with_pose, lambda: self.settings, self.counters,
                                     self._reject, self._now)
        self._inputs.frames = self._tf_frames
        if self.controller is not None:
            self.controller.reset()

    def _controller_settings(self, s: Any) -> ControllerSettings:
        return controller_settings(s, self._facts, self._period, self.runtime.has_pose)

    # -- goals -----------------------------------------------------------------------------
    def _set_goal(self, make: Callable[[], Goal], what: str,
                  fingerprint: Optional[bytes] = None, repeatable: bool = True
                  ) -> Optional[str]:
        """Build a goal with ``make()`` and plan toward it; the reason it was rejected, or
        None. Bad goals are counted (``goal_*`` counters) and the old goal stays.

        A message that repeats the current goal (:mod:`.goal_repeats`; image goals by their
        ``fingerprint``, before ``make()`` encodes them) is counted as ``goals_repeated``
        and changes nothing: no log, the warm start stays. ``repeatable=False`` (capture)
        always sets a new goal. A goal of another kind replaces the current one (the latest
        wins) with a warning, at most once per ``log_throttle_period``.
        """
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_S):
            self._reject('busy', f'{what} dropped: planner lock not free')
            return 'planner busy, try again'
        try:
            current = self.controller.goal
            if repeatable and self._goal_ledger.repeats_image(current, fingerprint):
                self.counters.add('goals_repeated')
                return None
            try:
                goal = make()
                if repeatable and self._goal_ledger.repeats(current, goal):
                    self.counters.add('goals_repeated')
                    return None
                self.controller.set_goal(goal, self.static_map)
            except (GoalError, InputError, ValueError) as exc:
                self._reject(getattr(exc, 'reason', f'{what}_invalid'), str(exc))
                return str(exc)
            replaced = self._goal_ledger.replacement(current, goal)
            self._goal_ledger.accepted(goal, what, fingerprint)
        finally:
            self._lock.release()
        self.counters.add('goals')
        if replaced is None:
            self.get_logger().info(f'new {goal.kind} goal from {what}')
        else:
            # Counted, and logged once per throttle period: two publishers of different
            # goal kinds alternate at their rates (goal_kind_changes is not a rejection).
            self._reject('goal_kind_changes',
                         f'new {goal.kind} goal from {what} replaces the {replaced}: the '
                         'latest goal wins (publish goals of one kind at a time)')
        return None

    # make() runs under the lock: settings, limits and the runtime cannot change under it.
    def _on_goal_joint_state(self, msg: JointState) -> None:
        self._set_goal(lambda: joint_goal_from_msg(
            msg, self._facts.joint_names, action_joints(self.settings, self._facts),
            self.controller.limits, self.settings.max_abs_input), 'goal_joint_state')

    def _on_goal_pose(self, msg: PoseStamped) -> None:
        made = []

        def make() -> Goal:
            goal, placed = placed_pose_goal_from_msg(
                msg, self.runtime.has_pose, self.settings.path_frame_id,
                self.settings.goal_yaw_weight, self.settings.max_abs_input, self._tf_frames)
            current = self.controller.goal
            if self._placements.given_again(current, goal, placed):
                return current   # a repeat: where it lies now is the placements' business
            made.append((goal, placed))
            return goal
        self._set_goal(make, 'goal_pose')
        if made and self.controller.goal is made[0][0]:   # accepted, not a repeat
            self._placements.goal_set(*made[0])

    def _on_goal_image(self, msg: Image) -> None:
        self._set_goal(lambda: image_goal_from_msg(msg, self.runtime, self.settings.resize_mode),
                       'goal_image', image_fingerprint(msg, self.settings.resize_mode))

    def _on_map(self, msg: OccupancyGrid) -> None:
        """A new static map; a pose goal in progress is re-scored on it. A bad map, or one
        the goal lies outside, is counted and the old map stays."""
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_S):
            return self._reject('busy', 'map dropped: planner lock not free')
        try:
            try:
                new_map = map_from_msg(msg, self.settings.path_frame_id, self._tf_frames)
            except InputError as exc:
                return self._reject(exc.reason, str(exc))
            try:
                self.controller.set_map(new_map)
            except (GoalError, ValueError) as exc:
                return self._reject(getattr(exc, 'reason', 'map_invalid'), str(exc))
            self.static_map = new_map
        finally:
            self._lock.release()
        self.counters.add('maps')
        h, w = new_map.occupancy.shape
        self.get_logger().info(f'map {w} x {h} cells at {new_map.resolution:g} m')

    def _on_capture(self, request: Trigger.Request, response: Trigger.Response) -> Any:
        def make() -> Goal:
            try:
                stamped = self._inputs.observe(self.runtime, require_new=False)
            except InputError as exc:
                raise InputError('capture_failed', f'cannot capture: {exc}') from None
            obs = stamped.observation
            return latent_goal(self.runtime.encoder.encode(obs.o, obs.s, target=True)[0])
        if self._state != 'active':
            response.success, response.message = False, f'node is {self._state}, not active'
            return response
        error = self._set_goal(make, 'capture_goal', repeatable=False)
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
            except InvalidHandle:
                raise
            except Exception as exc:  # noqa: BLE001 - an exception here would end the spin
                self._reject('internal_error', f'{type(exc).__name__}: {exc}')
                self._publish_stop('error', f'{type(exc).__name__}: {exc}')
        except InvalidHandle:
            pass   # destroy_node() ran under this callback: no publisher left to stop through
        finally:
            self._lock.release()

    def _on_enable(self, request: Any, response: Any) -> Any:
        """``~/enable``; switched on with a goal, the first plan runs at once on the newest
        frame rather than up to a plan period later (in a lock-stepped simulation, that
        period would pass with no command while the simulator waits for one)."""
        response = super()._on_enable(request, response)
        if response.success and request.data and self._state == 'active' \
                and self.controller is not None and self.controller.goal is not None:
            self._on_timer()
        return response

    def _tick(self) -> None:
        s, controller = self.settings, self.controller
        if not s.enabled or controller.goal is None:
            return self._set_status('disabled' if not s.enabled else 'no_goal')
        started = time.perf_counter()
        self._place_again(s)
        try:
            stamped = self._inputs.observe(self.runtime, require_new=True)
        except InputError as exc:
            return self._stop(Stop('stale_inputs', exc.reason, str(exc)))
        if stamped is None:
            return
        outcome = controller.act(stamped.observation, started)
        # The figures are this plan's when it was planned and checked: a command, or a stop
        # for its risk or disagreement (goal_reached and overrun stop before the checks).
        if not isinstance(outcome, Stop) or outcome.status in ('risk_too_high',
                                                               'uncertainty_too_high'):
            self._outputs.figures(stamped.header, controller.last)
        if isinstance(outcome, Stop):
            return self._stop(outcome)
        # The next acceleration reference is the command the message carries.
        controller.commanded(self._outputs.plan(s, action_joints(s, self._facts),
                                                controller.limits, stamped.header, outcome))
        self.counters.add('plans')
        self.rates['plan'].tick(time.monotonic())
        self._set_status('planning')

    def _place_again(self, s: Any) -> None:
        """A goal or map given in another frame, placed again if TF moved that frame."""
        goal = self.controller.goal
        try:
            self.static_map, moved = self._placements.update(
                self.controller, self.static_map, self._tf_frames, s.path_frame_id)
        except (GoalError, ValueError) as exc:
            return self._reject(getattr(exc, 'reason', 'goal_invalid'),
                                f'goal and map not placed again: {exc}')
        if moved:
            self.counters.add('relocations')
            if self.controller.goal is not goal:   # the ledger follows the re-placed goal
                self._goal_ledger.accepted(self.controller.goal, 'goal_pose')

    # -- outputs ---------------------------------------------------------------------------
    def _set_status(self, status: str, detail: str = '') -> None:
        self.status, self.status_detail = status, detail
        if self._outputs is not None:
            self._outputs.status(status)

    def _stop(self, stop: Stop) -> None:
        """A stop of the plan: counted under its reason (safety stops), one zero command."""
        if stop.reason:
            self._reject(stop.reason, stop.message)
        self._publish_stop(stop.status, stop.message)

    def _publish_stop(self, status: str, detail: str) -> None:
        """One zero command (stamped now) and the status; resets the acceleration reference."""
        s, controller = self.settings, self.controller
        if self._outputs is not None and controller is not None:
            header = Header(stamp=self.get_clock().now().to_msg(),
                            frame_id=self._inputs.frame_id)
            q: Optional[np.ndarray] = (self._inputs.newest_q()   # hold still here
                                       if s.output == 'joint_trajectory' else None)
            controller.commanded(self._outputs.stop(s, action_joints(s, self._facts),
                                                    controller.limits, header,
                                                    controller.stop(q)))
        if status in STOPS:
            self.counters.add(f'stop_{status}')
        self._set_status(status, detail)
