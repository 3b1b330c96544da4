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

from dataclasses import dataclass, fields, replace
import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.parameter import Parameter

from .action_sources import ACTION_SOURCES, TRAJECTORY_FIELDS, TWIST_FIELDS

__all__ = ['ParamSpec', 'PARAMS', 'NodeSettings', 'ModelFacts', 'declare_parameters',
           'read_settings', 'validate_updates', 'validate_value']

RELIABILITY = ('best_effort', 'reliable')
_DEVICE_RE = re.compile(r'^(cpu|auto|cuda(:\d+)?)$')


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: default (``None`` = typed, no default), limits and when it applies."""

    default: Any
    description: str
    applies: str = 'runtime'
    low: Optional[float] = None
    high: Optional[float] = None
    choices: Optional[Tuple[str, ...]] = None
    ptype: Optional[Parameter.Type] = None   # only for parameters without a default


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
class NodeSettings:
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

    def with_updates(self, updates: Mapping[str, Any]) -> 'NodeSettings':
        """A copy with ``updates`` applied (lists become tuples, None becomes ())."""
        clean = {}
        for name, value in updates.items():
            if value is None or (isinstance(value, Iterable)
                                 and not isinstance(value, (str, bytes))):
                value = tuple(value or ())
            clean[name] = value
        return replace(self, **clean)


@dataclass(frozen=True)
class ModelFacts:
    """What cross-checks need to know about the loaded model."""

    action_dim: int
    joint_names: Tuple[str, ...]


def descriptor(name: str) -> ParameterDescriptor:
    """The ``ParameterDescriptor`` of ``name`` (description, range, read-only)."""
    spec = PARAMS[name]
    text = f'{spec.description} [applies: {spec.applies}]'
    if spec.choices:
        text += f' (one of: {", ".join(spec.choices)})'
    desc = ParameterDescriptor(description=text, read_only=spec.applies == 'startup')
    if spec.low is not None and isinstance(spec.default, int):
        desc.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high),
                                           step=0)]
    elif spec.low is not None:
        desc.floating_point_range = [FloatingPointRange(from_value=float(spec.low),
                                                        to_value=float(spec.high), step=0.0)]
    return desc


def declare_parameters(node: Any) -> None:
    """Declare every parameter on ``node`` (overrides from YAML / command line apply).

    Raises:
        rclpy.exceptions.InvalidParameterValueException: An override is out of range.
        rclpy.exceptions.InvalidParameterTypeException: An override has the wrong type.
    """
    for name, spec in PARAMS.items():
        default = spec.ptype if spec.default is None else spec.default
        node.declare_parameter(name, default, descriptor(name))


def read_settings(node: Any) -> NodeSettings:
    """Current parameter values of ``node`` as :class:`NodeSettings`."""
    values = {}
    for name in PARAMS:
        try:
            values[name] = node.get_parameter(name).value
        except ParameterUninitializedException:   # typed parameter without a value
            values[name] = None
    return NodeSettings().with_updates(values)


def _type_error(name: str, value: Any) -> Optional[str]:
    expected = PARAMS[name].default
    if expected is None:
        ok = value is None or (isinstance(value, (list, tuple))
                               and all(isinstance(v, str) for v in value))
        return None if ok else f'{name} must be a list of strings'
    if isinstance(expected, bool):
        return None if isinstance(value, bool) else f'{name} must be true or false'
    if isinstance(expected, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f'{name} must be an integer'
    if isinstance(expected, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f'{name} must be a number'
    if isinstance(expected, str):
        return None if isinstance(value, str) else f'{name} must be a string'
    item = type(expected[0])
    ok = isinstance(value, (list, tuple)) and all(
        isinstance(v, item) or (item is float and isinstance(v, int) and not isinstance(v, bool))
        for v in value)
    return None if ok else f'{name} must be a list of {item.__name__}'


def validate_value(name: str, value: Any) -> Optional[str]:
    """Check one value on its own; return the reason it is invalid, or None."""
    if name not in PARAMS:
        return f'unknown parameter {name!r}'
    reason = _type_error(name, value)
    if reason:
        return reason
    spec = PARAMS[name]
    if isinstance(value, float) and not math.isfinite(value):
        return f'{name} must be finite, got {value}'
    if spec.low is not None and not isinstance(value, (bool, list, tuple)):
        if not spec.low <= value <= spec.high:
            return f'{name} must be in [{spec.low}, {spec.high}], got {value}'
    if spec.choices and value not in spec.choices:
        return f'{name} must be one of {list(spec.choices)}, got {value!r}'
    if name == 'device' and not _DEVICE_RE.match(value.strip().lower()):
        return f"device must be cpu, cuda, cuda:N or auto, got {value!r}"
    if name == 'action_fields':
        bad = [f for f in value if f not in TWIST_FIELDS]
        if bad or not value or len(set(value)) != len(value):
            return (f'action_fields must be distinct names from {list(TWIST_FIELDS)}, got '
                    f'{list(value)}')
    if name == 'action_scale':
        if len(value) == 0 or not all(math.isfinite(v) for v in value):
            return f'action_scale must hold 1 or action_dim finite values, got {list(value)}'
    if name == 'action_joint_names' and value and len(set(value)) != len(value):
        return f'action_joint_names has duplicates: {list(value)}'
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

    Returns:
        None if the whole batch is valid, else the reason (the first problem found).
    """
    for name, value in updates.items():
        reason = validate_value(name, value)
        if reason:
            return reason
    new = current.with_updates(updates)
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


def parameter_updates(params: Sequence[Parameter]) -> Dict[str, Any]:
    """``[rclpy Parameter]`` -> ``{name: python value}`` (NOT_SET becomes None)."""
    out = {}
    for param in params:
        value = param.value
        if isinstance(value, (list, tuple)) or type(value).__name__ == 'array':
            value = list(value)
        out[param.name] = value
    return out


def settings_names() -> List[str]:
    """Names of all parameters (declaration order)."""
    return [f.name for f in fields(NodeSettings)]
