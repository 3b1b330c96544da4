"""``world_model_node``: JEPA world-model predictions from a robot's camera and joint states.

A thin rclpy lifecycle node around
:class:`~jepa_world_model.core.runtime.inference.WorldModelRuntime`.
Subscriptions only hand the newest message to a :class:`~.frame_pipeline.FramePipeline`; one
worker thread runs the model on the newest frame, so a slow model drops frames (counted) and
never builds a backlog. docs/world_model_node.md lists topics, parameters and QoS advice.

Lifecycle: ``configure`` loads the checkpoint (FAILURE with a clear log line when it is
missing, corrupt or does not fit the parameters) and creates publishers and services,
``activate`` creates the subscriptions and starts the worker, ``deactivate``/``cleanup``
release them again. ``/diagnostics`` is published in every state.
"""

import sys
import threading
import time
from typing import Any, Dict, List, Optional

from geometry_msgs.msg import Vector3Stamped
from nav_msgs.msg import Odometry, Path
import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_msgs.msg import Float32, Float32MultiArray, Header
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from ..common.model_loading import load_runtime, ModelLoadError
from ..common.node_main import run_node
from ...core.runtime.action_alignment import AlignmentError
from ...core.runtime.inference import SurpriseNormalizer, WorldModelRuntime
from ...core.runtime.shared_encoder import EncoderPool
from ...core.runtime.streams import Counters
from .action_sources import ActionError, ActionSource, live_alignment, scale_vector
from ..common import LOCK_TIMEOUT_S
from ..common.images import image_subscription
from .frame_pipeline import FramePipeline, NOT_REJECTIONS
from ..common.node_diagnostics import build_diagnostic_array, HealthSnapshot
from ..common.node_diagnostics import RejectionTally
from ..common.guarded_lifecycle import autostart, GuardedLifecycleNode
from ..common.node_io import latent_msg, path_msg, trajectory_msg
from ..common.prediction_markers import delete_all_markers, prediction_markers
from ..common.stamped_figures import surprise_stamped_msg
from .parameters import check_against_model, declare_parameters, ModelFacts
from .parameters import PARAMS, parameter_updates, read_settings
from ..common.parameter_table import HeldParameters
from ..common.topic_qos import DEPRECATED_QOS_PARAMETERS, deprecated_qos_warnings
from ..common.topic_qos import input_qos, output_qos, overridable
from .parameters import surprise_arguments, validate_updates

SUCCESS = TransitionCallbackReturn.SUCCESS
_JOIN_TIMEOUT_S = 2.0


class WorldModelNode(GuardedLifecycleNode):
    """Lifecycle node publishing predicted joint trajectories, paths and surprise.

    Invalid lifecycle requests are refused and parameter requests are batches
    (:class:`~..common.guarded_lifecycle.GuardedLifecycleNode`).
    """

    def __init__(self, node_name: str = 'world_model_node',
                 encoder_pool: Optional[EncoderPool] = None, **kwargs: Any) -> None:
        """Declare parameters and diagnostics; nothing is loaded before configure.

        ``encoder_pool``: share the model and its encode cache with the other nodes of the
        process that load the same checkpoint (``world_model_stack``)."""
        super().__init__(node_name, **kwargs)
        self._encoder_pool = encoder_pool
        declare_parameters(self)
        self.settings = read_settings(self)
        self.counters = Counters()
        self.model_lock = threading.Lock()
        self.runtime: Optional[WorldModelRuntime] = None
        self.pipeline: Optional[FramePipeline] = None
        self._facts: Optional[ModelFacts] = None
        self._action: Optional[ActionSource] = None
        self._pubs: Dict[str, Any] = {}
        self._subs: List[Any] = []
        self._frame_ready, self._stop = threading.Event(), threading.Event()
        self._worker: Optional[threading.Thread] = None
        self._rejections = RejectionTally(NOT_REJECTIONS)
        self._held = HeldParameters(PARAMS)   # configure/activate values set while configured
        self._qos_warned = False
        self._marker_frame = ''   # frame of the last markers: DELETEALL goes there
        self._io_group = MutuallyExclusiveCallbackGroup()
        self._image_group = MutuallyExclusiveCallbackGroup()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._start_diagnostics(self.settings.diagnostics_period, self._publish_diagnostics,
                                self._io_group)

    # -- lifecycle -------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load and check the checkpoint, then create publishers and services."""
        s = self.settings = self._held.release(self.settings, 'configure')
        reason = validate_updates({}, s)
        if reason:
            return self._fail(f'invalid parameters: {reason}')
        try:
            runtime = load_runtime(s, normalizer=SurpriseNormalizer(**surprise_arguments(s)),
                                   pool=self._encoder_pool)
        except ModelLoadError as exc:
            return self._fail(str(exc))
        path = runtime.checkpoint.path
        facts = ModelFacts(runtime.action_dim, tuple(runtime.joint_names))
        reason = check_against_model(s, facts)
        try:
            action = ActionSource.create(s.action_source, runtime.action_dim, s.action_fields,
                                         s.action_joint_names, runtime.joint_names,
                                         s.action_trajectory_field, s.action_scale,
                                         s.action_timeout)
            action.alignment = live_alignment(runtime, s)
        except (ActionError, AlignmentError) as exc:
            reason = reason or str(exc)
        if reason:
            return self._fail(f'{path} does not fit the parameters: {reason}')
        try:  # the first call initialises kernels: keep that out of the first frame's latency
            size = runtime.image_size
            runtime.step(np.zeros((size, size, 3), np.uint8),
                         runtime.make_state(np.zeros(len(facts.joint_names)), None,
                                            np.zeros(3) if runtime.needs_pose else None),
                         np.zeros(facts.action_dim))
            runtime.reset()
        except (ValueError, RuntimeError) as exc:
            return self._fail(f'warm-up inference failed on {s.device}: {exc}')
        self.runtime, self._facts, self._action = runtime, facts, action
        self._config_error = ''
        self.counters.reset()
        self._create_outputs(runtime.has_pose)
        self._state = 'inactive'
        shared = ' (shared in this process)' if runtime.model_shared else ''
        self.get_logger().info(
            f'configured: {path} ({runtime.parameter_count:,} parameters) on {s.device}/'
            f'{s.dtype}{shared}; joints {runtime.joint_names}; action {s.action_source} '
            f'[{runtime.action_dim}], {action.alignment.rule}'
            f'{f" {action.alignment.window_s} s" if action.alignment.waits else ""}; '
            f'horizon {s.horizon} x {s.model_step_period} s')
        return SUCCESS

    def _create_outputs(self, has_pose: bool) -> None:
        def pub(msg_type: Any, topic: str) -> Any:
            return self.create_lifecycle_publisher(msg_type, topic, output_qos(5),
                                                   qos_overriding_options=overridable())

        self._pubs = {'trajectory': pub(JointTrajectory, '~/predicted_joint_trajectory'),
                      'surprise': pub(Float32, '~/surprise'),
                      'surprise_stamped': pub(Vector3Stamped, '~/surprise_stamped'),
                      'markers': pub(MarkerArray, '~/markers'),
                      'latent': pub(Float32MultiArray, '~/latent')}
        if has_pose:
            self._pubs['path'] = pub(Path, '~/predicted_path')
        self._own_services = [
            self.create_service(Trigger, '~/capture_goal', self._on_capture_goal,
                                callback_group=self._io_group),
            self.create_service(SetBool, '~/enable', self._on_enable,
                                callback_group=self._io_group)]

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Create the subscriptions and start the inference worker."""
        s = self.settings = self._held.release(self.settings, 'activate')
        pipeline = FramePipeline(self.runtime, self._action, s, self.counters,
                                 self.get_logger().warning, self._now, self.model_lock)
        # Depth 1 keeps only the newest frame (a slow model drops frames, never lags);
        # depth 10 keeps the sync history complete when a callback is late. The deprecated
        # *_reliability / *_qos_depth parameters, when set, replace these defaults; the
        # standard qos_overrides.<topic>.subscription.* replace either.
        image_qos = input_qos(s.image_qos_depth or 1, s.image_reliability)
        state_depth = s.joint_states_qos_depth or 10

        def sub(msg_type: Any, topic: str, callback: Any, qos: Any, group: Any) -> Any:
            return self.create_subscription(msg_type, topic, callback, qos,
                                            callback_group=group,
                                            qos_overriding_options=overridable())

        self._subs = [
            sub(*image_subscription(s.image_transport), self._on_image, image_qos,
                self._image_group),
            sub(JointState, 'joint_states', pipeline.on_joint_state,
                input_qos(state_depth, s.joint_states_reliability), self._io_group)]
        if self.runtime.needs_pose:   # the model's state holds the odometry pose
            self._subs.append(sub(Odometry, 'odom', pipeline.on_odometry,
                                  input_qos(state_depth, s.joint_states_reliability),
                                  self._io_group))
        if self._action.message_type is not None:
            self._subs.append(sub(self._action.message_type,
                                  s.action_topic or self._action.default_topic,
                                  pipeline.on_action, input_qos(1, s.action_reliability),
                                  self._io_group))
        self._warn_deprecated_qos()
        self.pipeline = pipeline
        self._stop.clear()
        self._worker = threading.Thread(target=self._worker_loop, args=(pipeline,),
                                        name='world_model_worker', daemon=True)
        self._worker.start()
        self._state = 'active'
        self.get_logger().info('active: ' + ', '.join(
            f'{sub.topic_name} [{sub.msg_type.__name__}]' for sub in self._subs))
        return super().on_activate(state)

    def _warn_deprecated_qos(self) -> None:
        """Once per node: name the qos_overrides that replace each deprecated QoS parameter
        set (they are read-only, so one warning says it all)."""
        if self._qos_warned:
            return
        self._qos_warned = True
        topics = {'image': self._subs[0].topic_name, 'joint_states': self._subs[1].topic_name}
        if self._action.message_type is not None:
            topics['action'] = self._subs[-1].topic_name
        values = {name: getattr(self.settings, name) for name in DEPRECATED_QOS_PARAMETERS}
        for text in deprecated_qos_warnings(values, topics):
            self.get_logger().warning(text)

    def _stop_processing(self) -> None:
        self._stop.set()
        self._frame_ready.set()
        if self._worker is not None:
            self._worker.join(timeout=_JOIN_TIMEOUT_S)
            if self._worker.is_alive():
                self.get_logger().error('inference worker did not stop within '
                                        f'{_JOIN_TIMEOUT_S} s; it exits after its frame')
        self._worker = None
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        self.pipeline = None

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the worker and drop the subscriptions; clear the markers (the publishers
        are still active here)."""
        self._stop_processing()
        if 'markers' in self._pubs:
            self._pubs['markers'].publish(delete_all_markers(Header(
                stamp=self.get_clock().now().to_msg(), frame_id=self._marker_frame)))
        self._state = 'inactive'
        return super().on_deactivate(state)

    def _release_model(self) -> None:
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs, self._facts, self._action = {}, None, None
        self._release_runtime()

    def release(self) -> None:
        """Stop the worker and free the model (idempotent)."""
        self._stop_processing()
        self._release_model()

    # -- callbacks (executor threads: short, never blocking) -------------------------------
    def _on_image(self, msg: Any) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.on_image(msg)
            self._frame_ready.set()

    def _on_capture_goal(self, request: Trigger.Request,
                         response: Trigger.Response) -> Trigger.Response:
        pipeline = self.pipeline
        if self._state != 'active' or pipeline is None:
            response.success, response.message = False, f'node is {self._state}, not active'
        else:
            response.success, response.message = pipeline.capture_goal()
        return response

    def _on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        """Validate the whole batch; apply all of it or none of it."""
        # Parameters that are not the table's (use_sim_time, qos_overrides.*) are rclpy's.
        updates = {k: v for k, v in parameter_updates(params).items() if k in PARAMS}
        if not self.model_lock.acquire(timeout=LOCK_TIMEOUT_S):
            return SetParametersResult(successful=False, reason='model busy, try again')
        try:
            reason = validate_updates(updates, self._held.requested(self.settings), self._facts)
            scale = None
            if reason is None and self._facts is not None and 'action_scale' in updates:
                try:
                    scale = scale_vector(updates['action_scale'], self._facts.action_dim)
                except ActionError as exc:
                    reason = str(exc)
            if reason:
                self.get_logger().warning(f'parameter change rejected: {reason}')
                return SetParametersResult(successful=False, reason=reason)
            now, later = self._held.split(updates, self._state)
            new = self.settings.with_updates(now)
            # Nothing below can fail, so the batch is never half-applied.
            if self._action is not None:
                self._action.timeout = new.action_timeout
                if scale is not None:
                    self._action.scale = scale
            if self.runtime is not None:
                self.runtime.normalizer.reconfigure(**surprise_arguments(new))
            if self.pipeline is not None:
                self.pipeline.apply(new, scale)
            if later:
                self.get_logger().info(f'{sorted(later)} take effect at the next '
                                       'configure/activate')
            self.settings = new
            self._held.hold(now, later)
            return SetParametersResult(successful=True)
        finally:
            self.model_lock.release()

    # -- inference worker ------------------------------------------------------------------
    def _worker_loop(self, pipeline: FramePipeline) -> None:
        while not self._stop.is_set():
            if not self._frame_ready.wait(timeout=0.1):
                continue
            self._frame_ready.clear()
            item = pipeline.take_frame()
            if item is None or self._stop.is_set():
                continue
            try:
                out = pipeline.process(*item)
                if out is not None:
                    self._publish(*out)
                    pipeline.published(item[1])
            except Exception as exc:  # noqa: BLE001 - a dead worker would silently stop output
                pipeline.reject('internal_error', f'{type(exc).__name__}: {exc}')

    def _publish(self, header: Any, result: Any) -> None:
        """The outputs of one frame, each in the frame its data is in (docs/world_model_node.md,
        Topics): joint-space ones in ``base_frame_id``, poses in ``path_frame_id``, the
        surprise with the image's own header; all with the image's stamp."""
        s, pubs = self.settings, self._pubs
        base = Header(stamp=header.stamp, frame_id=s.base_frame_id or header.frame_id)
        pubs['trajectory'].publish(trajectory_msg(base, self._facts.joint_names,
                                                  result.positions, result.velocities,
                                                  s.model_step_period))
        if result.poses is not None and 'path' in pubs:
            pubs['path'].publish(path_msg(header, result.poses, s.model_step_period,
                                          s.path_frame_id))
        if result.surprise is not None:
            pubs['surprise'].publish(Float32(data=float(result.surprise)))
            pubs['surprise_stamped'].publish(surprise_stamped_msg(
                header, result.surprise, result.surprise_raw, result.surprise_steps))
        if s.publish_markers:
            self._marker_frame = base.frame_id
            pubs['markers'].publish(prediction_markers(
                base, self._facts.joint_names, result.positions, result.velocities,
                result.poses, s.model_step_period, marker_lifetime(s),
                s.marker_link_lengths or (), s.path_frame_id or header.frame_id))
        if s.publish_latent:
            pubs['latent'].publish(latent_msg(result.z))

    # -- diagnostics -----------------------------------------------------------------------
    def health(self) -> HealthSnapshot:
        """Current health snapshot (what /diagnostics reports)."""
        s, runtime, pipeline = self.settings, self.runtime, self.pipeline
        counts = self.counters.snapshot()
        messages = self.counters.last_messages()
        problem = max(((k, m, t) for k, (m, t) in messages.items()), key=lambda x: x[2],
                      default=None)
        h = HealthSnapshot(
            node_name=self.get_fully_qualified_name(), lifecycle_state=self._state,
            enabled=s.enabled, config_error=self._config_error, counters=counts,
            rejected_in_period=self._rejections.since_last(counts),
            stale_timeout=s.stale_timeout, stall_error_timeout=s.stall_error_timeout,
            topics={'image': self._subs[0].topic_name if self._subs else 'image',
                    'joint_states': self._subs[1].topic_name if self._subs else 'joint_states'})
        if pipeline is not None and self._state == 'active':
            for key, value in pipeline.health_fields().items():
                setattr(h, key, value)
            if problem is not None:
                h.last_problem = (problem[0], problem[1], time.monotonic() - problem[2])
        if runtime is not None:
            h.counters = {**counts, **runtime.encoder.counts()}   # events, not rejections
            result = pipeline.last_result if pipeline is not None else None
            h.model = {'name': runtime.checkpoint.path.stem, 'path': str(runtime.checkpoint.path),
                       'parameters': str(runtime.parameter_count), 'device': str(runtime.device),
                       'dtype': s.dtype, 'latent_dim': str(runtime.latent_dim),
                       'joints': ','.join(runtime.joint_names),
                       'step': str(runtime.checkpoint.step)}
            h.surprise.update({'calibrated': runtime.normalizer.calibrated,
                               'scale': runtime.normalizer.scale,
                               'last': result.surprise if result else None,
                               'raw': result.surprise_raw if result else None})
            h.goal_distance = result.goal_distance if result else None
        return h

    def _publish_diagnostics(self) -> None:
        self._diag_pub.publish(build_diagnostic_array(self.health(),
                                                      self.get_clock().now().to_msg()))


def marker_lifetime(s: Any) -> float:
    """Seconds a marker outlives its prediction: ``stale_timeout`` (a pause that long is
    stale for diagnostics too), plus one period of ``max_prediction_rate`` when it is set."""
    return s.stale_timeout + (1.0 / s.max_prediction_rate if s.max_prediction_rate > 0 else 0.0)


def main(args: Optional[List[str]] = None) -> int:
    """Entry point of ``ros2 run jepa_world_model world_model_node``; always shuts down."""
    return run_node('world_model_node', WorldModelNode, args, start=autostart,
                    release=WorldModelNode.release)


if __name__ == '__main__':
    sys.exit(main())
