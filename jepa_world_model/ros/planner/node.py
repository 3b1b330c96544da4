"""``planner_node``: recommends robot commands by planning in a JEPA world model's latent space.

A timer at ``plan_rate_hz`` takes the newest camera frame with the joint state (and, for models
with the pose in their state, the odometry pose) at its stamp, with the newest ``scan`` when
the obstacle term is on (:mod:`.inputs`), has the planning controller
(:mod:`~jepa_world_model.core.planning.controller`) plan toward the current goal and publishes
its command, held to :mod:`~jepa_world_model.core.planning.command_limits`, as a
Twist/TwistStamped, a JointTrajectory or a Float64MultiArray (``output``), stamped with the
image it came from (:mod:`.outputs`). Goals: ``~/goal_joint_state``, ``~/goal_pose``,
``~/goal_image`` (:mod:`.goals`) or ``~/capture_goal`` (the current view).

Safety stops publish one zero command per tick and say why on ``~/status`` and
``/diagnostics``: stale or unusable inputs (``stale_inputs``), a plan slower than
``max_plan_time`` (``overrun``), predicted risk or ensemble disagreement over their limits
(``risk_too_high``, ``uncertainty_too_high``). ``goal_reached`` publishes zero too.
Every way out of ``active`` publishes a single zero, then nothing: ``~/enable false`` (or
``enabled`` set false), deactivate, shutdown, a transition that raised (error processing),
and the end of the process (SIGINT, SIGTERM, an exception out of the spin:
:func:`~..common.node_main.run_node` takes the shutdown transition). The zero goes out while the
lifecycle publisher is still active; before the publishers are destroyed the node waits
(at most ``FLUSH_TIMEOUT_S``) for subscribers to acknowledge it, so the last command a
robot's controller received is the zero.

Lifecycle and threading follow ``world_model_node``: configure loads the checkpoint (FAILURE
with a log line on a bad one), activate creates subscriptions and the plan timer; an invalid
lifecycle request is refused and a parameter request is one batch
(:class:`~..common.guarded_lifecycle.GuardedLifecycleNode`). Planning
runs in the timer callback; every lock acquisition has a timeout. This module holds the
lifecycle, the parameter callback and the diagnostics; the goal and plan-timer callbacks are
:class:`~.callbacks.PlannerCore`'s.
"""

import sys
import time
from typing import Any, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import OccupancyGrid, Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy._rclpy_pybind11 import InvalidHandle, RCLError
from rclpy.duration import Duration
from rclpy.lifecycle.publisher import LifecyclePublisher
from sensor_msgs.msg import Image, JointState, LaserScan
from std_srvs.srv import SetBool, Trigger

from ..common.model_loading import load_runtime, ModelLoadError
from ..common.node_main import run_node
from ...core.planning.goals import GoalError
from ...core.agents.predictor import AgentModelError
from ...core.planning.controller import PlanningController, rollout_cost
from ...core.runtime.planning_step import planning_step
from ...core.planning.plan_agents import PlanAgents
from ...core.runtime.shared_encoder import EncoderPool
from ...core.runtime.streams import WindowStats
from ..common import LOCK_TIMEOUT_S
from ..common.images import image_subscription
from ..common.guarded_lifecycle import autostart
from ..common.parameter_table import HeldParameters, parameter_updates
from ..common.topic_qos import input_qos, latched_map_qos, output_qos, overridable
from .callbacks import PlannerCore
from ..common.node_diagnostics import RejectionTally
from .outputs import assess, diagnostic_array, NOT_REJECTION_PREFIXES
from .outputs import NOT_REJECTIONS
from .outputs import PlannerOutputs
from .parameters import command_limits, PARAMS, PlannerFacts
from .parameters import command_bounds, deprecated_limit_names
from ...core.planning.command_interfaces import unit_of
from .parameters import planner_config, validate_updates

SUCCESS = TransitionCallbackReturn.SUCCESS
DEFAULT_MODEL = 'arm_tiny.safetensors'
FLUSH_TIMEOUT_S = 0.5   # at most this long for subscribers to acknowledge the final zero


class PlannerNode(PlannerCore):
    """Lifecycle node that plans toward a goal and publishes limited command recommendations.

    The goals, the plan tick and the outputs are :class:`~.callbacks.PlannerCore`'s; this
    class adds the lifecycle transitions, the parameter callback and ``/diagnostics``.
    """

    def __init__(self, node_name: str = 'planner_node',
                 encoder_pool: Optional[EncoderPool] = None, **kwargs: Any) -> None:
        """Declare parameters and diagnostics; nothing is loaded before configure.

        ``encoder_pool``: share the model and its encode cache with the other nodes of the
        process that load the same checkpoint (``world_model_stack``)."""
        super().__init__(node_name, **kwargs)
        self._encoder_pool = encoder_pool
        self._subs: List[Any] = []
        self._timer = None
        self._rejections = RejectionTally(NOT_REJECTIONS, NOT_REJECTION_PREFIXES)
        self._held = HeldParameters(PARAMS)   # configure/activate values set while configured
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._start_diagnostics(self.settings.diagnostics_period, self._publish_diagnostics)

    # -- lifecycle -------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the checkpoint, check it against the parameters, create outputs."""
        s = self.settings = self._held.release(self.settings, 'configure')
        try:
            runtime = load_runtime(s, DEFAULT_MODEL, pool=self._encoder_pool)
        except ModelLoadError as exc:
            return self._fail(str(exc))
        path = runtime.checkpoint.path
        # Built once: its cost, the controller and the warm-up use this step; auto's reason
        # for keeping the ensemble goes to this node's log.
        try:
            step = planning_step(runtime, s.rollout_dtype, s.rollout_model, s.action_repeat,
                                 warn=self.get_logger().warning)
        except ValueError as exc:   # a clear reason here rather than a failed warm-up below
            return self._fail(f'rollout_model: {exc}' if s.rollout_model else str(exc))
        except RuntimeError as exc:
            return self._fail(f'warm-up plan failed on {s.device}: {exc}')
        # The measured step cost lets validate_updates refuse searches over max_plan_time.
        facts = PlannerFacts(runtime.action_dim, tuple(runtime.joint_names),
                             rollout_cost(runtime, step=step), s.output)
        reason = validate_updates({}, s, facts)
        if reason:
            return self._fail(f'{path} does not fit the parameters: {reason}')
        self.runtime, self._facts = runtime, facts
        try:
            controller = PlanningController(runtime, planner_config(s),
                                            command_limits(s, facts.action_dim),
                                            self._controller_settings(s), step=step)
            controller.warm_up()
        except (ValueError, RuntimeError) as exc:
            return self._fail(f'warm-up plan failed on {s.device}: {exc}')
        try:   # the agent term's predictor (core/planning/plan_agents.py)
            controller.agents = PlanAgents.load(s.agent_model_path)
        except AgentModelError as exc:
            return self._fail(f'agent_model_path: {exc}')
        self.controller, self._config_error = controller, ''
        self.counters.reset()
        self._reset_inputs()
        self._create_outputs(s)
        self._state = 'inactive'
        for term in controller.unusable_stops():
            self.get_logger().warning(f'max_{term} is set but the model has no {term} '
                                      'output: that stop can never trigger')
        shared = ' (shared in this process)' if runtime.model_shared else ''
        self.get_logger().info(f'configured: {path} on {s.device}{shared}; output {s.output}; '
                               f'action [{facts.action_dim}]; joints {list(facts.joint_names)}; '
                               f'{s.command_interface} commands in '
                               f'{list(command_bounds(s)[0])}..{list(command_bounds(s)[1])} '
                               f'{unit_of(s.command_interface)}; rollouts: '
                               f'{controller.rollout_source}')
        self._warn_deprecated_limits(s)
        return SUCCESS

    def _warn_deprecated_limits(self, s: Any) -> None:
        names = deprecated_limit_names(s)
        if names:
            self.get_logger().warning(
                f'{names} are deprecated names of command_min/command_max (the limits bound '
                f'{s.command_interface} commands, {unit_of(s.command_interface)}); rename them '
                'in the parameter file')

    def _create_outputs(self, s: Any) -> None:
        self._outputs = PlannerOutputs(self, s, self.runtime.has_pose, self.counters)
        self._own_services = [
            self.create_service(Trigger, '~/capture_goal', self._on_capture),
            self.create_service(SetBool, '~/enable', self._on_enable)]

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the inputs and goals, start the plan timer."""
        self.settings = self._held.release(self.settings, 'activate')
        self._reset_inputs()
        inputs = self._inputs

        def sub(msg_type: Any, topic: str, callback: Any, qos: Any) -> Any:
            # Each topic's QoS can be changed with qos_overrides.<topic>.subscription.*.
            return self.create_subscription(msg_type, topic, callback, qos,
                                            qos_overriding_options=overridable())

        # Sensors: newest image/scan only, a state history of 10; goals reliable, depth 1.
        self._subs = [sub(*image_subscription(self.settings.image_transport), inputs.on_image,
                          input_qos(1)),
                      sub(JointState, 'joint_states', inputs.on_joint_state, input_qos(10)),
                      sub(Image, '~/goal_image', self._on_goal_image, output_qos(1)),
                      sub(PoseStamped, '~/goal_pose', self._on_goal_pose, output_qos(1)),
                      sub(JointState, '~/goal_joint_state', self._on_goal_joint_state,
                          output_qos(1)),
                      sub(OccupancyGrid, 'map', self._on_map, latched_map_qos())]
        if self.runtime.needs_pose:   # the model's state holds the odometry pose
            self._subs.append(sub(Odometry, 'odom', inputs.on_odometry, input_qos(10)))
        if self.runtime.has_pose:     # the obstacle term scores predicted poses on scans
            self._subs.append(sub(LaserScan, 'scan', inputs.on_scan, input_qos(1)))
        # The limiter's dt is the period the timer really runs at: plan_rate_hz changes only
        # take effect here, and a larger dt would allow larger command steps.
        self._period = 1.0 / self.settings.plan_rate_hz
        self.controller.update(settings=self._controller_settings(self.settings))
        self._timer = self.create_timer(self._period, self._on_timer)
        self._state = 'active'
        self.get_logger().info('active: ' + ', '.join(s.topic_name for s in self._subs))
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish one zero command, forget the goal, stop the timer and subscriptions.

        The goal is dropped so that a later activation never starts motion by itself.
        """
        self._final_stop('deactivated', flush=False)   # the publishers stay: no wait
        self._stop_processing()
        self._state = 'inactive'
        return super().on_deactivate(state)

    def _final_stop(self, detail: str, flush: bool = True) -> None:
        """Leaving ``active``: one zero command (and the goal dropped) while the lifecycle
        publishers are still active; with ``flush``, wait for subscribers to acknowledge it,
        since the publishers are destroyed next. Nothing when not active."""
        if self._state != 'active':
            return
        # The zero goes out even if the lock is stuck: a robot left moving is worse.
        locked = self._lock.acquire(timeout=LOCK_TIMEOUT_S)
        try:
            self._publish_stop('inactive', detail)
            if self.controller is not None:
                self.controller.clear_goal()
        except (RCLError, InvalidHandle) as exc:   # the context is already gone
            self.get_logger().error(f'final zero command not sent ({detail}): {exc}')
            return
        finally:
            if locked:
                self._lock.release()
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        for pub in (self.publishers if flush else ()):
            if isinstance(pub, LifecyclePublisher):   # the outputs; reliable ones wait
                left = max(deadline - time.monotonic(), 0.0)
                pub.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9)))

    def _stop_processing(self) -> None:
        if self._timer is not None:
            self.destroy_timer(self._timer)
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._timer, self._subs = None, []

    def release(self) -> None:
        """Stop planning and free the model, publishers and services (idempotent)."""
        self._stop_processing()
        if self._outputs is not None:
            self._outputs.destroy()
        self._outputs, self._facts, self.controller = None, None, None
        self._release_runtime()

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything, from any state; from active, a zero command first."""
        self._final_stop('shutting down')
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: a zero command if still active, release everything and
        return to unconfigured."""
        self._final_stop('error during a lifecycle transition')
        return super().on_error(state)

    # -- parameters ------------------------------------------------------------------------
    def _on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        """Validate the whole batch and build what it changes; apply all of it or none."""
        # Parameters that are not the planner's (use_sim_time, QoS overrides) are rclpy's.
        updates = {k: v for k, v in parameter_updates(params).items() if k in PARAMS}
        if not self._lock.acquire(timeout=LOCK_TIMEOUT_S):
            return SetParametersResult(successful=False, reason='planner busy, try again')
        try:
            reason = validate_updates(updates, self._held.requested(self.settings),
                                      self._facts)
            old = self.settings
            now, later = self._held.split(updates, self._state)
            new = old.with_updates(now)
            if reason is None and self.controller is not None:
                try:   # all of it or, on an error, nothing
                    self.controller.update(planner_config(new),
                                           command_limits(new, self._facts.action_dim),
                                           self._controller_settings(new))
                except (ValueError, GoalError) as exc:
                    reason = str(exc)
            if reason:
                self.get_logger().warning(f'parameter change rejected: {reason}')
                return SetParametersResult(successful=False, reason=reason)
            self.settings = new
            self._held.hold(now, later)
            if set(deprecated_limit_names(new)) - set(deprecated_limit_names(old)):
                self._warn_deprecated_limits(new)
            if old.enabled != new.enabled and self._state == 'active':
                if new.enabled:
                    self.controller.reset()
                else:
                    self._publish_stop('disabled', 'disabled through ~/enable')
            if later:
                self.get_logger().info(f'{sorted(later)} take effect at the next '
                                       'configure/activate')
            return SetParametersResult(successful=True)
        finally:
            self._lock.release()

    # -- diagnostics -----------------------------------------------------------------------
    def diagnostics(self) -> DiagnosticArray:
        """The node's ``/diagnostics`` message: level, why, and the figures behind it."""
        counts = self.counters.snapshot()
        new_rejections = self._rejections.since_last(counts)
        level, message = assess(self._state, self._config_error, self.status,
                                self.status_detail, new_rejections)
        mono, controller = time.monotonic(), self.controller
        objective = controller.objective if controller is not None else None
        values = [('lifecycle_state', self._state), ('enabled', self.settings.enabled),
                  ('status', self.status), ('status_detail', self.status_detail),
                  ('goal', self.goal.kind if self.goal is not None else ''),
                  ('objective_terms', ','.join(objective.terms) if objective else ''),
                  ('config_error', self._config_error)]
        last, plan_ms = ((controller.last, controller.plan_ms) if controller is not None
                         else ({}, WindowStats(1)))
        values += [(f'last.{k}', v) for k, v in last.items()]
        values += [(f'plan_ms.{k}', v) for k, v in plan_ms.summary().items()]
        rates = {**self._inputs.rates(), **self.rates}
        values += [(f'rate_hz.{k}', r.rate(mono)) for k, r in rates.items()]
        if self.runtime is not None:   # encoder passes are events, not rejections
            counts = {**counts, **self.runtime.encoder.counts()}
        values += [(f'count.{k}', v) for k, v in sorted(counts.items())]
        if self.runtime is not None:
            values.append(('model.path', str(self.runtime.checkpoint.path)))
        name = self.get_fully_qualified_name().lstrip('/') + ': planner'
        return diagnostic_array(name, self.settings.device, level, message, values,
                                self.get_clock().now().to_msg())

    def _publish_diagnostics(self) -> None:
        try:
            self._diag_pub.publish(self.diagnostics())
        except InvalidHandle:
            pass   # destroy_node() ran under this callback (shutdown)


def main(args: Optional[List[str]] = None) -> int:
    """Entry point of ``ros2 run jepa_world_model planner_node``; always shuts down."""
    return run_node('planner_node', PlannerNode, args, start=autostart)


if __name__ == '__main__':
    sys.exit(main())
