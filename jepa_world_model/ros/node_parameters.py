"""Parameters of ``world_model_node``: declarations, validation and the settings snapshot.

Every parameter is declared with a ``ParameterDescriptor`` (description, and an integer or
floating-point range where it has one, so ``ros2 param describe`` shows the limits). Values
are validated by :func:`validate_updates`, which the node's on-set callback runs on the whole
batch: one bad value rejects the batch with a reason and nothing is applied.

When a change takes effect (``PARAMS[name].applies``):

* ``runtime``: the next frame (horizon, sync limits, rates, surprise, publishing);
* ``configure``: the next ``configure`` transition (model, device, action source);
* ``activate``: the next ``activate`` transition (topics and QoS);
* ``startup``: read-only, set it in the params file or on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.parameter import Parameter

from .action_sources import ACTION_SOURCES, TRAJECTORY_FIELDS
from .parameter_table import (check_value, declare_table, ModelFacts, parameter_descriptor,
                              parameter_updates, ParamSpec, read_table, SettingsSnapshot)

# ParamSpec, ModelFacts and parameter_updates live in parameter_table (shared with the
# planner); they stay importable from here, where world_model_node takes them from.
__all__ = ['ParamSpec', 'PARAMS', 'NodeSettings', 'ModelFacts', 'declare_parameters',
           'read_settings', 'validate_updates', 'validate_value', 'parameter_updates']

RELIABILITY = ('best_effort', 'reliable')
_FLOAT32_MAX = 3.4028234663852886e38


PARAMS: Dict[str, ParamSpec] = {
    'model_path': ParamSpec('', 'Checkpoint (.safetensors); empty: the model shipped in the '
                            'package share directory (models/gantry_tiny.safetensors)',
                            'configure'),
    'device': ParamSpec('cpu', 'cpu, cuda, cuda:N or auto', 'configure'),
    'dtype': ParamSpec('float32', 'Compute dtype', 'configure',
                       choices=('float32', 'float16', 'bfloat16')),
    'num_threads': ParamSpec(1, 'torch CPU threads (process-wide); 1 is fastest for small '
                             'models on a busy robot CPU; 0: torch default', 'configure', 0, 256),
    'autostart': ParamSpec(False, 'Configure and activate on start-up without a lifecycle '
                           'manager (ros2 run convenience)', 'startup'),
    'horizon': ParamSpec(10, 'Predicted steps H', 'runtime', 1, 200),
    'model_step_period': ParamSpec(0.1, 'Seconds per model step (time_from_start of the '
                                   'predicted points, surprise matching)', 'runtime',
                                   0.001, 60.0),
    'max_prediction_rate': ParamSpec(0.0, 'Process at most this many frames per second '
                                     '(Hz); 0: every frame the model keeps up with',
                                     'runtime', 0.0, 1000.0),
    'image_transport': ParamSpec('raw', "raw: sensor_msgs/Image on 'image'; compressed: "
                                 "sensor_msgs/CompressedImage on 'image/compressed'",
                                 'activate', choices=('raw', 'compressed')),
    'resize_mode': ParamSpec('center_crop', 'How a camera image becomes the square model '
                             'input', 'runtime', choices=('center_crop', 'stretch')),
    'image_reliability': ParamSpec('best_effort', 'Image subscription reliability; '
                                   'best_effort also receives reliable publishers',
                                   'activate', choices=RELIABILITY),
    'joint_states_reliability': ParamSpec('best_effort', 'joint_states subscription '
                                          'reliability', 'activate', choices=RELIABILITY),
    'action_reliability': ParamSpec('best_effort', 'Action topic subscription reliability',
                                    'activate', choices=RELIABILITY),
    'image_qos_depth': ParamSpec(1, 'Image queue depth; 1 = latest frame only', 'activate',
                                 1, 100),
    'joint_states_qos_depth': ParamSpec(10, 'joint_states queue depth (keeps the sync history '
                                        'complete when a callback is late)', 'activate',
                                        1, 1000),
    'max_skew': ParamSpec(0.05, 'Largest image/joint-state stamp distance (s)', 'runtime',
                          0.0, 10.0),
    'sync_mode': ParamSpec('interpolate', 'Joint state at the image stamp: interpolate or '
                           'nearest', 'runtime', choices=('interpolate', 'nearest')),
    'stale_timeout': ParamSpec(0.5, 'Inputs older than this (s, node clock) are rejected and '
                               'diagnostics go to WARN', 'runtime', 0.01, 3600.0),
    'max_future_stamp': ParamSpec(0.25, 'Joint states, odometry and images stamped further '
                                  'than this (s) ahead of the node clock are rejected '
                                  '(stamp_in_future), so one bad stamp cannot block the '
                                  'valid ones after it', 'runtime', 0.0, 3600.0),
    'max_abs_input': ParamSpec(1e5, 'Joint positions and velocities, odometry x/y and action '
                               'commands of larger magnitude are rejected as implausible',
                               'runtime', 1e-3, 1e12),
    'max_image_pixels': ParamSpec(16777216, 'Images with more pixels (width x height; for '
                                  'compressed images the size their header declares) are '
                                  'refused before decoding (image_too_large)', 'runtime',
                                  1, 2 ** 31 - 1),
    'stall_error_timeout': ParamSpec(5.0, 'Diagnostics go to ERROR after this long (s) '
                                     'without a prediction while active', 'runtime',
                                     0.1, 3600.0),
    'action_source': ParamSpec('twist', 'twist, twist_stamped, joint_trajectory, '
                               'float64_multi_array, joint_delta or zero', 'configure',
                               choices=tuple(sorted(ACTION_SOURCES))),
    'action_topic': ParamSpec('', 'Action topic; empty: cmd_vel (twist*), joint_trajectory, '
                              'commands (float64_multi_array)', 'activate'),
    'action_fields': ParamSpec(['linear.x', 'linear.y'], 'Twist fields in model action '
                               'order', 'configure'),
    'action_joint_names': ParamSpec(None, 'Joints of joint_trajectory actions in model order; '
                                    'unset: the model joints', 'configure',
                                    ptype=Parameter.Type.STRING_ARRAY),
    'action_trajectory_field': ParamSpec('positions', 'JointTrajectory field used as the '
                                         'action', 'configure', choices=TRAJECTORY_FIELDS),
    'action_scale': ParamSpec([1.0], 'Action multiplier: one value for all dims or one per '
                              'dim (e.g. m/s -> model units)', 'runtime'),
    'action_timeout': ParamSpec(0.5, 'A command older than this (s) counts as zero',
                                'runtime', 0.0, 3600.0),
    'publish_latent': ParamSpec(False, 'Publish ~/latent (Float32MultiArray)', 'runtime'),
    'path_frame_id': ParamSpec('', 'frame_id of ~/predicted_path; empty: the image frame',
                               'runtime'),
    'surprise_window': ParamSpec(300, 'Frames in the running median that normalises '
                                 '~/surprise', 'runtime', 1, 100000),
    'surprise_min_samples': ParamSpec(30, 'Frames before ~/surprise is published '
                                      '(calibration)', 'runtime', 1, 100000),
    'surprise_scale': ParamSpec(0.0, 'Fixed surprise divisor; 0: running median', 'runtime',
                                0.0, 1e9),
    'enabled': ParamSpec(True, 'Process frames (also set by the ~/enable service)', 'runtime'),
    'diagnostics_period': ParamSpec(1.0, 'Seconds between /diagnostics messages', 'startup',
                                    0.05, 60.0),
    'log_throttle_period': ParamSpec(5.0, 'Seconds between repeated warnings of one kind',
                                     'runtime', 0.1, 3600.0),
}


@dataclass(frozen=True)
class NodeSettings(SettingsSnapshot):
    """Snapshot of every parameter value (attribute names = parameter names)."""

    model_path: str = ''
    device: str = 'cpu'
    dtype: str = 'float32'
    num_threads: int = 1
    autostart: bool = False
    horizon: int = 10
    model_step_period: float = 0.1
    max_prediction_rate: float = 0.0
    image_transport: str = 'raw'
    resize_mode: str = 'center_crop'
    image_reliability: str = 'best_effort'
    joint_states_reliability: str = 'best_effort'
    action_reliability: str = 'best_effort'
    image_qos_depth: int = 1
    joint_states_qos_depth: int = 10
    max_skew: float = 0.05
    sync_mode: str = 'interpolate'
    stale_timeout: float = 0.5
    max_future_stamp: float = 0.25
    max_abs_input: float = 1e5
    max_image_pixels: int = 16777216
    stall_error_timeout: float = 5.0
    action_source: str = 'twist'
    action_topic: str = ''
    action_fields: Tuple[str, ...] = ('linear.x', 'linear.y')
    action_joint_names: Tuple[str, ...] = ()
    action_trajectory_field: str = 'positions'
    action_scale: Tuple[float, ...] = (1.0,)
    action_timeout: float = 0.5
    publish_latent: bool = False
    path_frame_id: str = ''
    surprise_window: int = 300
    surprise_min_samples: int = 30
    surprise_scale: float = 0.0
    enabled: bool = True
    diagnostics_period: float = 1.0
    log_throttle_period: float = 5.0


def descriptor(name: str) -> ParameterDescriptor:
    """The ``ParameterDescriptor`` of ``name`` (description, range, read-only)."""
    return parameter_descriptor(PARAMS[name])


def declare_parameters(node: Any) -> None:
    """Declare every parameter on ``node`` (overrides from YAML / command line apply).

    Raises:
        rclpy.exceptions.InvalidParameterValueException: An override is out of range.
        rclpy.exceptions.InvalidParameterTypeException: An override has the wrong type.
    """
    declare_table(node, PARAMS)


def read_settings(node: Any) -> NodeSettings:
    """Current parameter values of ``node`` as :class:`NodeSettings`."""
    return NodeSettings().with_updates(read_table(node, PARAMS))


def validate_value(name: str, value: Any) -> Optional[str]:
    """Check one value on its own; return the reason it is invalid, or None."""
    reason = check_value(PARAMS, name, value)
    if reason:
        return reason
    if name == 'action_scale':
        # The action is float32: a larger factor would make the action source refuse it.
        if len(value) == 0 or not all(abs(v) <= _FLOAT32_MAX for v in value):
            return (f'action_scale must hold 1 or action_dim finite values within float32 '
                    f'(|v| <= {_FLOAT32_MAX:.4g}), got {list(value)}')
    if name in ('action_topic',) and value and not re.match(r'^[~/A-Za-z_][\w/~{}]*$', value):
        return f'{name} {value!r} is not a valid topic name'
    return None


def validate_updates(updates: Mapping[str, Any], current: NodeSettings,
                     model: Optional[ModelFacts] = None) -> Optional[str]:
    """Validate a batch of changes against the current settings (and the loaded model).

    Args:
        updates: ``{name: new value}``, the whole batch.
        current: Settings before the batch.
        model: Facts of the loaded model, for cross-checks (None when unconfigured).

    Every value of the result is checked, the changed ones first, so ``updates`` empty
    checks the current settings: configure runs it that way, and a value from a parameter
    file (which rclpy only checks for type and range) gets the same rules as a change.

    Returns:
        None if the whole batch is valid, else the reason (the first problem found).
    """
    for name, value in updates.items():
        reason = validate_value(name, value)
        if reason:
            return reason
    new = current.with_updates(updates)
    for name in (n for n in settings_names() if n not in updates):
        reason = validate_value(name, getattr(new, name))
        if reason:
            return reason
    if new.surprise_min_samples > new.surprise_window:
        return (f'surprise_min_samples ({new.surprise_min_samples}) must not exceed '
                f'surprise_window ({new.surprise_window})')
    if new.stall_error_timeout < new.stale_timeout:
        return (f'stall_error_timeout ({new.stall_error_timeout}) must be >= stale_timeout '
                f'({new.stale_timeout})')
    if model is not None:
        return check_against_model(new, model)
    return None


def check_against_model(settings: NodeSettings, model: ModelFacts) -> Optional[str]:
    """Cross-check settings with the loaded model; return the reason of a mismatch or None."""
    scale = settings.action_scale
    if len(scale) not in (1, model.action_dim):
        return (f'action_scale has {len(scale)} values; the model action has '
                f'{model.action_dim} dims (use 1 or {model.action_dim})')
    source = settings.action_source
    if source in ('twist', 'twist_stamped') and len(settings.action_fields) != model.action_dim:
        return (f'action_fields lists {len(settings.action_fields)} fields '
                f'{list(settings.action_fields)}, the model action has {model.action_dim}')
    joints = settings.action_joint_names or model.joint_names
    if source == 'joint_trajectory' and len(joints) != model.action_dim:
        return (f'action_joint_names has {len(joints)} joints, the model action has '
                f'{model.action_dim}')
    if source == 'joint_delta' and len(model.joint_names) != model.action_dim:
        return (f'action_source joint_delta needs as many model joints '
                f'({len(model.joint_names)}) as action dims ({model.action_dim})')
    return None


def settings_names() -> List[str]:
    """Names of all parameters (declaration order)."""
    return [f.name for f in fields(NodeSettings)]
