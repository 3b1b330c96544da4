"""What the two nodes' parameter tables share: the rclpy side of a table, the shared rules and
the values held for the next transition.

``world_model_node`` and ``planner_node`` each declare their parameters once, as a table
``{name: ParamSpec}`` (``world_model.parameters.PARAMS``, ``planner.parameters.PARAMS``); the spec,
the checks of one value and the settings snapshot class are the core settings engine's
(:mod:`jepa_world_model.core.settings_spec`). This module adds only what needs rclpy or is
shared by the two tables:

* :func:`declare_table` declares every parameter with a ``ParameterDescriptor``
  (:func:`parameter_descriptor`: description, integer or floating-point range, read-only for
  ``startup`` parameters), so ``ros2 param describe`` shows the limits and rclpy rejects
  out-of-range values itself; :func:`read_table` reads them back;
* the parameters both nodes have with one meaning (:data:`SHARED_PARAMS`, placed in each
  table with :func:`shared`) and the rules of others both have (:data:`DEVICE_RULE`,
  :data:`TWIST_FIELDS_RULE`, :data:`DISTINCT_NAMES_RULE`);
* :class:`HeldParameters`: configure/activate values set while configured wait for that
  transition.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
import typing
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.parameter import Parameter

from ...core.runtime.backends import BACKENDS
from ...core.settings_spec import check_value, ParamSpec, Rule, settings_class, SettingsSnapshot
from ..world_model.action_sources import TWIST_FIELDS

# ParamSpec, check_value, SettingsSnapshot and settings_class are the core engine's; the node
# modules and tests take them from here with the rclpy helpers.
__all__ = ['ParamSpec', 'Rule', 'ModelFacts', 'SettingsSnapshot', 'settings_class',
           'HeldParameters', 'parameter_descriptor', 'declare_table', 'read_table',
           'check_value', 'parameter_updates', 'DEVICE_RULE', 'TWIST_FIELDS_RULE',
           'DISTINCT_NAMES_RULE', 'nonempty_rule', 'SHARED_PARAMS', 'shared']

_DEVICE_RE = re.compile(r'^(cpu|auto|cuda(:\d+)?)$')
#: rclpy type of the typed list parameters that have no default (declared unset).
_UNSET_TYPES = {str: Parameter.Type.STRING_ARRAY, float: Parameter.Type.DOUBLE_ARRAY}
_Settings = TypeVar('_Settings', bound=SettingsSnapshot)


def _device_problem(value: str) -> Optional[str]:
    if _DEVICE_RE.match(value.strip().lower()):
        return None
    return f'expected cpu, cuda, cuda:N or auto, got {value!r}'


def _twist_fields_problem(value: Sequence[str]) -> Optional[str]:
    if not value or len(set(value)) != len(value) or any(f not in TWIST_FIELDS for f in value):
        return f'expected distinct names from {list(TWIST_FIELDS)}, got {list(value)}'
    return None


def _distinct_problem(value: Sequence[str]) -> Optional[str]:
    if len(set(value)) != len(value):
        return f'expected distinct names, got duplicates in {list(value)}'
    return None


def nonempty_rule(text: str = '1 or action-dim values') -> Rule:
    """A list parameter that needs at least one value (one for all dims, or one per dim)."""
    return Rule(lambda v: None if len(v) else 'expected at least one value, got []', text)


DEVICE_RULE = Rule(_device_problem, 'cpu, cuda, cuda:N, auto')
TWIST_FIELDS_RULE = Rule(_twist_fields_problem, 'linear/angular . x/y/z, distinct')
DISTINCT_NAMES_RULE = Rule(_distinct_problem, 'distinct')

#: The parameters both nodes have with one meaning (the model, the shared input layer, the
#: node's logging): declared here once and placed in each node's table with :func:`shared`.
SHARED_PARAMS: Dict[str, ParamSpec] = {
    'device': ParamSpec('cpu', 'Where the model runs', 'configure', rule=DEVICE_RULE),
    'dtype': ParamSpec('float32', 'Compute dtype', 'configure',
                       choices=('float32', 'float16', 'bfloat16')),
    'num_threads': ParamSpec(1, 'torch CPU threads (process-wide), and onnxruntime intra-op '
                             'threads per session; 1 is fastest for small models on a busy '
                             'robot CPU; 0: the library default', 'configure', 0, 256),
    'inference_backend': ParamSpec('torch', 'What runs the model: torch (any device and '
                                   'dtype), or onnxruntime sessions of its ONNX export on the '
                                   'CPU in float32 (`onnxruntime_int8`: int8 dynamics, faster '
                                   'planning, less exact); needs `pip install .[onnx]` '
                                   '(docs/deployment.md)', 'configure', choices=BACKENDS),
    'onnx_dir': ParamSpec('', 'ONNX export of the model (`jepa-world-model export --onnx '
                          'DIR`), checked to match its weights; empty: exported at configure '
                          'into `~/.cache/jepa_world_model/onnx` (onnxruntime backends only)',
                          'configure'),
    'autostart': ParamSpec(False, 'Configure and activate on start-up without a lifecycle '
                           'manager', 'startup'),
    'image_transport': ParamSpec('raw', 'raw: `Image` on `image`; compressed: '
                                 '`CompressedImage` (JPEG/PNG) on `image/compressed`',
                                 'activate', choices=('raw', 'compressed')),
    'resize_mode': ParamSpec('center_crop', 'How a camera image becomes the square model '
                             'input', 'runtime', choices=('center_crop', 'stretch')),
    'max_skew': ParamSpec(0.05, 'Largest image / joint-state (odometry) stamp distance (s)',
                          'runtime', 0.0, 10.0),
    'max_image_pixels': ParamSpec(16777216, 'Images with more pixels (width x height; for '
                                  'compressed images the size their PNG/JPEG header '
                                  'declares) are refused before decoding (`image_too_large`)',
                                  'runtime', 1, 2 ** 31 - 1),
    'diagnostics_period': ParamSpec(1.0, 'Seconds between /diagnostics messages', 'startup',
                                    0.05, 60.0),
    'log_throttle_period': ParamSpec(5.0, 'Seconds between repeated warnings of one kind',
                                     'runtime', 0.1, 3600.0),
}


def shared(*names: str) -> Dict[str, ParamSpec]:
    """``{name: spec}`` of these :data:`SHARED_PARAMS`, in this order (for a node's table)."""
    return {name: SHARED_PARAMS[name] for name in names}


@dataclass(frozen=True)
class ModelFacts:
    """What cross-checks need to know about the loaded model."""

    action_dim: int
    joint_names: Tuple[str, ...]


def parameter_descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The ``ParameterDescriptor`` of ``spec`` (description, range, read-only)."""
    # The description is the docs table's too; backticks are markdown, not for a terminal.
    text = f'{spec.description.replace("`", "")} [applies: {spec.applies}]'
    if spec.choices:
        text += f' (one of: {", ".join(spec.choices)})'
    elif spec.rule is not None and spec.rule.text:
        text += f' ({spec.rule.text})'
    desc = ParameterDescriptor(description=text, read_only=spec.applies == 'startup')
    if spec.low is not None and spec.kind is int:
        desc.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high),
                                           step=0)]
    elif spec.low is not None:
        desc.floating_point_range = [FloatingPointRange(from_value=float(spec.low),
                                                        to_value=float(spec.high), step=0.0)]
    return desc


def declare_table(node: Any, params: Mapping[str, ParamSpec]) -> None:
    """Declare every parameter of ``params`` on ``node`` (YAML / command-line overrides apply).

    Raises:
        rclpy.exceptions.ParameterException: An override out of range or of the wrong type.
    """
    for name, spec in params.items():
        default = spec.default
        if default is None:   # a typed list that may stay unset
            default = _UNSET_TYPES[typing.get_args(spec.kind)[0]]
        node.declare_parameter(name, default, parameter_descriptor(spec))


def read_table(node: Any, params: Mapping[str, ParamSpec]) -> Dict[str, Any]:
    """``{name: current value}`` of every parameter of ``params`` (None when unset)."""
    values = {}
    for name in params:
        try:
            values[name] = node.get_parameter(name).value
        except ParameterUninitializedException:   # typed parameter without a value
            values[name] = None
    return values


def parameter_updates(params: Sequence[Parameter]) -> Dict[str, Any]:
    """``[rclpy Parameter]`` -> ``{name: python value}`` (NOT_SET becomes None)."""
    out = {}
    for param in params:
        value = param.value
        if isinstance(value, (list, tuple)) or type(value).__name__ == 'array':
            value = list(value)
        out[param.name] = value
    return out


class HeldParameters:
    """Values of ``configure``/``activate`` parameters set while the node is configured.

    Such a value is accepted (and validated with everything requested so far), held here and
    applied at the next configure or activate. Until then the node runs on the values it was
    configured with: an ``output`` changed from ``cmd_vel`` to ``joint_trajectory`` on an active
    planner would otherwise make every command, the final zero one included, fail to publish
    on the Twist publisher created at configure.
    """

    def __init__(self, params: Mapping[str, ParamSpec]) -> None:
        self._params = params
        self._held: Dict[str, Any] = {}

    @property
    def held(self) -> Dict[str, Any]:
        """``{name: value}`` waiting for the next configure/activate."""
        return dict(self._held)

    def requested(self, settings: _Settings) -> _Settings:
        """``settings`` with the held values: what the parameters say now (validate this)."""
        return settings.with_updates(self._held) if self._held else settings

    def split(self, updates: Mapping[str, Any],
              state: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """``(now, later)``: the values of ``updates`` that apply now in lifecycle ``state`` and
        those that must wait (nothing waits in ``unconfigured``). Changes nothing: pass
        ``later`` to :meth:`hold` once the whole batch is accepted."""
        now, later = {}, {}
        for name, value in updates.items():
            wait = (state != 'unconfigured'
                    and self._params[name].applies in ('configure', 'activate'))
            (later if wait else now)[name] = value
        return now, later

    def hold(self, now: Mapping[str, Any], later: Mapping[str, Any]) -> None:
        """Record an accepted batch: ``later`` waits, a value applied ``now`` drops a held one."""
        for name in now:
            self._held.pop(name, None)
        self._held.update(later)

    def release(self, settings: _Settings, transition: str) -> _Settings:
        """``settings`` with the values ``transition`` (``configure`` or ``activate``) applies.

        configure applies everything held; activate only the ``activate`` parameters.
        """
        kinds = ('configure', 'activate') if transition == 'configure' else ('activate',)
        due = {n: v for n, v in self._held.items() if self._params[n].applies in kinds}
        for name in due:
            del self._held[name]
        return settings.with_updates(due) if due else settings
