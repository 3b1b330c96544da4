"""The per-message logic of ``world_model_node``, without ROS entities.

:class:`FramePipeline` owns what exists while the node is active: the camera and state inputs
(the input layer both nodes share, :mod:`..common`), the action source and the statistics.
The node's subscription callbacks hand messages to it (cheap, never blocking), its worker
thread calls :meth:`FramePipeline.process` on the newest frame and publishes what comes back.
Every rejected input is counted under a reason and logged (throttled per reason).

Threads: callbacks run on executor threads, :meth:`process` on the worker. ``lock`` guards
the joint and odometry histories, the rates and the statistics; ``model_lock`` guards the
runtime, which the worker, the services and the parameter callback share. Each acquisition
of ``model_lock`` has a timeout.

A single message must not take the node down or block the valid ones after it: state
messages stamped more than ``max_future_stamp`` ahead of the node clock are refused
(``*_stamp_in_future``, they would make every later message look out of order), values
beyond ``max_abs_input`` are refused (``*_out_of_range``, ``action_invalid``), images above
``max_image_pixels`` are refused before decoding (``image_too_large``), and a frame whose
outputs are not finite is dropped (``prediction_nonfinite``), so the node never publishes
NaN.

The action a frame is rolled out with follows the checkpoint's ``action_alignment``
(core/runtime/action_alignment.py, the rule the bags were read with): ``at_or_before`` takes
the latest command received at or before the frame stamp; ``after_frame`` the first one
received in (t, t + window], for which the worker waits, at most until the window is over
(a frame whose command has not come by then holds the previous command and counts
``action_late``).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from std_msgs.msg import Header

from ...core.runtime.inference import StepResult, WorldModelRuntime
from ...core.runtime.input_rules import clock_was_reset, stale_problem, stamp_ahead_problem
from ...core.runtime.streams import Counters, RateMeter, SyncError, WindowStats
from .action_sources import ActionError, ActionSource
from ..common import LOCK_TIMEOUT_S
from ..common.images import CameraFrame, CameraInput, frame_to_model_rgb
from ..common.rejects import InputError, RejectLog
from ..common.state_inputs import StateInputs
from ..common.joint_state_conversion import stamp_to_seconds
from .parameters import NodeSettings

__all__ = ['FramePipeline', 'NOT_REJECTIONS', 'nonfinite_outputs']

#: Counters that are not rejections (they do not turn diagnostics to WARN).
NOT_REJECTIONS = ('images_received', 'predictions', 'dropped_frames', 'skipped_disabled',
                  'skipped_rate', 'time_reset_images', 'time_reset_joint_state',
                  'time_reset_odom')
#: The numeric fields of a StepResult that are published or feed later frames.
_RESULT_FIELDS = ('z', 'z_obs', 'positions', 'velocities', 'poses', 'surprise_raw', 'surprise',
                  'goal_distance')


def nonfinite_outputs(result: StepResult) -> List[str]:
    """Names of the fields of ``result`` holding NaN or inf (empty: all finite)."""
    return [name for name in _RESULT_FIELDS if getattr(result, name) is not None
            and not np.isfinite(np.asarray(getattr(result, name), dtype=np.float64)).all()]


class FramePipeline:
    """Latest-frame inference over synchronised image, joint-state and action inputs.

    Args:
        runtime: The loaded model.
        action: Where the action comes from.
        settings: Parameter snapshot (replace ``settings`` to change it at runtime).
        counters: Event counters shared with the node (they outlive activations).
        warn: Logger function for (throttled) warnings.
        now: Node clock in seconds (ROS time: follows /clock with use_sim_time).
        model_lock: Lock guarding ``runtime``.
    """

    def __init__(self, runtime: WorldModelRuntime, action: ActionSource, settings: NodeSettings,
                 counters: Counters, warn: Callable[[str], None], now: Callable[[], float],
                 model_lock: threading.Lock) -> None:
        self.runtime, self.action, self.settings = runtime, action, settings
        self.counters, self._warn, self._now = counters, warn, now
        self.model_lock = model_lock
        self.action.max_abs = settings.max_abs_input
        self.lock = threading.Lock()
        self.joint_names = list(runtime.joint_names)
        self.reject = RejectLog(counters, warn, lambda: self.settings.log_throttle_period)
        self.camera = CameraInput(counters, self.lock)
        # Odometry only for models with the pose in s (core/model/state_layout.py).
        self.states = StateInputs(self.joint_names, runtime.needs_pose, lambda: self.settings,
                                  now, counters, self.reject,
                                  settings.sync_mode == 'interpolate',
                                  max(2.0, 4 * settings.model_step_period + settings.max_skew),
                                  self.lock)
        self.rates = {k: RateMeter() for k in ('action', 'prediction')}
        self.latency, self.inference, self.skew, self.surprise = (WindowStats(1000)
                                                                  for _ in range(4))
        self.started = time.monotonic()
        self.last_prediction: Optional[float] = None   # monotonic
        self.last_result: Optional[StepResult] = None
        self.image_stamp: Optional[float] = None        # newest used image stamp
        self.action_arrival: Optional[float] = None     # monotonic
        self._last_stamp: Optional[float] = None        # newest processed image stamp
        self._last_processed = 0.0
        self._command_arrived = threading.Condition()   # wakes an after_frame wait

    # -- subscription callbacks (executor threads) -------------------------------------------
    def on_image(self, msg: Any) -> None:
        """Keep only the newest frame; a frame replaced before processing is dropped.

        The command in effect right now is kept with the frame: it is what the robot did
        since the previous frame, which the surprise needs. By the time the worker runs, a
        driver that reacts to this frame may already have sent the next command.
        """
        self.camera.on_image(msg, self.action.in_effect(self._now()))

    def take_frame(self) -> Optional[CameraFrame]:
        """Newest unprocessed ``(message, arrival time, action in effect then)``, or None."""
        return self.camera.take()

    def on_joint_state(self, msg: Any) -> None:
        """Validate a JointState and add it to the sync history."""
        self.states.on_joint_state(msg)

    def on_odometry(self, msg: Any) -> None:
        """Validate a nav_msgs/Odometry and add its planar pose to the sync history."""
        self.states.on_odometry(msg)

    def on_action(self, msg: Any) -> None:
        """Store the action of a command message."""
        try:
            self.action.on_message(msg, self._now())
        except ActionError as exc:
            self.reject('action_invalid', str(exc))
            return
        with self.lock:
            now = time.monotonic()
            self.rates['action'].tick(now)
            self.action_arrival = now
        with self._command_arrived:
            self._command_arrived.notify_all()

    def await_command(self, stamp: float) -> None:
        """Under ``after_frame``, wait until the command of the frame stamped ``stamp`` has
        arrived or its window is over (wall time bounded by the window)."""
        alignment = self.action.alignment
        if not (alignment.waits and self.action.takes_messages):
            return
        window = alignment.window_s
        deadline = time.monotonic() + min(window, max(0.0, stamp + window - self._now()))
        with self._command_arrived:
            # Checked under the condition's lock: a command that arrives between the check and
            # the wait notifies after the wait began, so it is never missed.
            while not alignment.decided(stamp, self._now(), self.action.command_times()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._command_arrived.wait(timeout=remaining)

    def frame_action(self, stamp: float, now: float, s: NodeSettings) -> np.ndarray:
        """The action the frame stamped ``stamp`` is rolled out with -> float32 [A] (call
        after :meth:`await_command`, with ``lock`` held).

        Raises:
            SyncError, ActionError: joint_delta without enough joint-state history.
        """
        if not self.action.takes_messages:
            return self.action.current(now, self.states.sync.joints, stamp,
                                       s.model_step_period, s.max_skew)
        action, in_window = self.action.paired(stamp)
        if self.action.alignment.waits and not in_window:
            self.reject('action_late', f'no command within {self.action.alignment.window_s} s '
                        f'after the frame stamped {stamp:.6f} (action_alignment after_frame): '
                        f'the previous command is held')
        return action

    # -- worker ----------------------------------------------------------------------------
    def process(self, msg: Any, received: float, applied: Optional[np.ndarray] = None
                ) -> Optional[Tuple[Header, StepResult]]:
        """Run the model on one frame; None if it was skipped or rejected (and counted).

        ``applied`` is the command in effect when the frame arrived (see :meth:`on_image`);
        without it (joint_delta, zero) the frame's own action is what was applied.
        """
        s, runtime = self.settings, self.runtime
        if not s.enabled:
            self.counters.add('skipped_disabled')
            return None
        if s.max_prediction_rate > 0 and received - self._last_processed < (
                1.0 / s.max_prediction_rate):
            self.counters.add('skipped_rate')
            return None
        stamp, now = stamp_to_seconds(msg.header.stamp), self._now()
        if not self._check_image_time(stamp, now, s):
            return None
        try:
            rgb = frame_to_model_rgb(msg, runtime.image_size, s.resize_mode, s.max_image_pixels)
        except InputError as exc:
            return self.reject(exc.reason, str(exc))
        self.await_command(stamp)
        sync = self.states.sync
        with self.lock:
            try:
                joints = sync.joints_at(stamp, s.max_skew)
                pose = sync.pose_at(stamp, s.max_skew)
                action = self.frame_action(stamp, now, s)
            except SyncError as exc:
                return self.reject(f'sync_{exc.reason}', str(exc))
            except ActionError as exc:
                return self.reject('action_unavailable', str(exc))
        if not self.model_lock.acquire(timeout=LOCK_TIMEOUT_S):
            return self.reject('model_busy', f'runtime lock not free within {LOCK_TIMEOUT_S} s')
        try:
            result = runtime.step(rgb, runtime.make_state(joints.position, joints.velocity,
                                                          pose),
                                  action, s.horizon, stamp, s.model_step_period,
                                  a_applied=applied if applied is not None else action)
            bad = nonfinite_outputs(result)
            if bad:   # the runtime's history holds them now: later surprises would be NaN too
                runtime.reset()
        except (ValueError, RuntimeError) as exc:   # e.g. CUDA out of memory
            return self.reject('inference_error', str(exc))
        finally:
            self.model_lock.release()
        if bad:
            return self.reject('prediction_nonfinite', f'model outputs {bad} are not finite '
                               '(inputs outside the trained range?): frame dropped, model '
                               'history reset')
        with self.lock:
            self._last_stamp, self._last_processed = stamp, received
            self.last_result = result
            self.image_stamp = stamp
            self.skew.add(joints.skew * 1e3)
            self.inference.add(result.compute_ms)
            if result.surprise is not None:
                self.surprise.add(result.surprise)
        return Header(stamp=msg.header.stamp, frame_id=msg.header.frame_id), result

    def published(self, received: float) -> None:
        """Record that the outputs of a frame that arrived at ``received`` are out."""
        done = time.monotonic()
        self.counters.add('predictions')
        with self.lock:
            self.last_prediction = done
            self.latency.add((done - received) * 1e3)
            self.rates['prediction'].tick(done)

    def _check_image_time(self, stamp: float, now: float, s: NodeSettings) -> bool:
        """Reject stale, duplicate and out-of-order images; detect clock resets."""
        problem = stale_problem(stamp, now, s.stale_timeout)
        if problem:
            self.reject('image_stale', problem)
            return False
        problem = stamp_ahead_problem(stamp, now, s.max_future_stamp)
        if problem:   # processed, it would make every image until then look out of order
            self.reject('image_stamp_in_future', f'image {problem}')
            return False
        last = self._last_stamp
        # The stamp is fresh on the node clock here (checked above), as the rule requires.
        if clock_was_reset(last, stamp, now, s.stale_timeout):
            self._warn(f'time jumped back {last - stamp:.1f} s: resetting the model history')
            self.counters.add('time_reset_images')
            self._last_stamp = None
            if self.model_lock.acquire(timeout=LOCK_TIMEOUT_S):
                try:
                    self.runtime.reset()
                finally:
                    self.model_lock.release()
        elif last is not None and stamp <= last:
            kind = 'duplicate' if stamp == last else 'out_of_order'
            self.reject(f'image_{kind}', f'image stamp {stamp:.6f} is {kind.replace("_", " ")} '
                        f'(last processed {last:.6f})')
            return False
        return True

    def capture_goal(self) -> Tuple[bool, str]:
        """Make the latest observation the goal latent; ``(success, message)``."""
        if not self.model_lock.acquire(timeout=LOCK_TIMEOUT_S):
            return False, 'model busy, try again'
        try:
            ok = self.runtime.capture_goal()
        finally:
            self.model_lock.release()
        return ok, ('goal captured from the latest observation' if ok
                    else 'no observation processed yet')

    def apply(self, new: NodeSettings, scale: Any = None) -> None:
        """Apply validated runtime settings (never fails; call with ``model_lock`` held)."""
        self.action.timeout = new.action_timeout
        self.action.max_abs = new.max_abs_input
        if scale is not None:
            self.action.scale = scale
        self.states.sync.set_interpolate(new.sync_mode == 'interpolate')
        self.settings = new

    def health_fields(self) -> Dict[str, Any]:
        """The pipeline's part of a :class:`~..common.node_diagnostics.HealthSnapshot`."""
        mono, now = time.monotonic(), self._now()
        with self.lock:
            rates = {'image': self.camera.rate, 'joint_states': self.states.joint_rate,
                     **self.rates}
            stamps = dict(self.states.sync.newest_stamps())
            arrivals = dict(self.states.arrivals)
            if self.image_stamp is not None:
                stamps['image'] = self.image_stamp
            for key, value in (('image', self.camera.last_arrival),
                               ('action', self.action_arrival)):
                if value is not None:
                    arrivals[key] = value
            return {
                'since_prediction': mono - (self.last_prediction or self.started),
                'rates': {k: r.rate(mono) for k, r in rates.items()},
                'ages': {k: now - v for k, v in stamps.items()},
                'since_received': {k: mono - v for k, v in arrivals.items()},
                'latency_ms': self.latency.summary(), 'inference_ms': self.inference.summary(),
                'skew_ms': self.skew.summary(),
                'surprise': {f'window_{k}': v for k, v in self.surprise.summary().items()},
            }
