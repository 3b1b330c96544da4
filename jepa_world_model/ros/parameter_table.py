"""A node's parameter table: declaration with descriptors, reading, and the generic checks.

``world_model_node`` and ``planner_node`` each describe their parameters as a table
``{name: ParamSpec}`` (``node_parameters.PARAMS``, ``planner_parameters.PARAMS``) and a frozen
settings dataclass whose attribute names are the parameter names. This module holds what the
two tables share, so both nodes declare, read and check parameters the same way:

* :func:`declare_table` declares every parameter with a ``ParameterDescriptor`` (description,
  integer or floating-point range, read-only for ``startup`` parameters), so
  ``ros2 param describe`` shows the limits and rclpy rejects out-of-range values itself;
* :func:`check_value` checks one value against its spec (type, finite, range, choices, and the
  rules of the parameters both nodes have: ``device``, ``action_fields``,
  ``action_joint_names``); each node adds the checks of its own parameters on top.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
import re
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.parameter import Parameter

from .action_sources import TWIST_FIELDS

__all__ = ['ParamSpec', 'ModelFacts', 'SettingsSnapshot', 'HeldParameters',
           'parameter_descriptor', 'declare_table', 'read_table', 'check_value', 'is_number',
           'parameter_updates']

_DEVICE_RE = re.compile(r'^(cpu|auto|cuda(:\d+)?)$')
#: Item type and wording of the typed list parameters that have no default.
_ARRAY_ITEMS = {Parameter.Type.STRING_ARRAY: (str, 'strings'),
                Parameter.Type.DOUBLE_ARRAY: (float, 'numbers')}
_Settings = TypeVar('_Settings', bound='SettingsSnapshot')


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


@dataclass(frozen=True)
class ModelFacts:
    """What cross-checks need to know about the loaded model."""

    action_dim: int
    joint_names: Tuple[str, ...]


class SettingsSnapshot:
    """Base of the frozen settings dataclasses (attribute names = parameter names)."""

    def with_updates(self: _Settings, updates: Mapping[str, Any]) -> _Settings:
        """A copy with ``updates`` applied (lists become tuples, None becomes ())."""
        clean = {}
        for name, value in updates.items():
            # Tuples keep the snapshot hashable and comparable with ==, whatever rclpy hands
            # over (list, array.array); an unset list parameter reads as empty.
            if value is None or (isinstance(value, Iterable)
                                 and not isinstance(value, (str, bytes))):
                value = tuple(value or ())
            clean[name] = value
        return replace(self, **clean)


def parameter_descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The ``ParameterDescriptor`` of ``spec`` (description, range, read-only)."""
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


def declare_table(node: Any, params: Mapping[str, ParamSpec]) -> None:
    """Declare every parameter of ``params`` on ``node`` (YAML / command-line overrides apply).

    Raises:
        rclpy.exceptions.ParameterException: An override out of range or of the wrong type.
    """
    for name, spec in params.items():
        default = spec.ptype if spec.default is None else spec.default
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


def is_number(value: Any) -> bool:
    """An int or float, not a bool (which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _item_ok(item: type, value: Any) -> bool:
    # Integers pass where floats are expected: a YAML file may write 1.0 as 1.
    return isinstance(value, str) if item is str else is_number(value)


def _type_error(name: str, spec: ParamSpec, value: Any) -> Optional[str]:
    expected = spec.default
    if expected is None:   # typed list without a default: unset (None) is a valid value
        item, words = _ARRAY_ITEMS[spec.ptype]
        ok = value is None or (isinstance(value, (list, tuple))
                               and all(_item_ok(item, v) for v in value))
        return None if ok else f'{name} must be a list of {words}'
    if isinstance(expected, bool):
        return None if isinstance(value, bool) else f'{name} must be true or false'
    if isinstance(expected, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f'{name} must be an integer'
    if isinstance(expected, float):
        return None if is_number(value) else f'{name} must be a number'
    if isinstance(expected, str):
        return None if isinstance(value, str) else f'{name} must be a string'
    item = type(expected[0])
    ok = isinstance(value, (list, tuple)) and all(_item_ok(item, v) for v in value)
    return None if ok else f'{name} must be a list of {item.__name__}'


def check_value(params: Mapping[str, ParamSpec], name: str, value: Any) -> Optional[str]:
    """Check one value on its own against ``params[name]``; the reason it is invalid, or None.

    ``value`` None (an unset typed list) passes every check after the type check.
    """
    if name not in params:
        return f'unknown parameter {name!r}'
    spec = params[name]
    reason = _type_error(name, spec, value)
    if reason:
        return reason
    if isinstance(value, float) and not math.isfinite(value):
        return f'{name} must be finite, got {value}'
    if spec.low is not None and not isinstance(value, (bool, list, tuple)):
        if not spec.low <= value <= spec.high:
            return f'{name} must be in [{spec.low}, {spec.high}], got {value}'
    if spec.choices and value not in spec.choices:
        return f'{name} must be one of {list(spec.choices)}, got {value!r}'
    if name == 'device' and not _DEVICE_RE.match(value.strip().lower()):
        return f'device must be cpu, cuda, cuda:N or auto, got {value!r}'
    if name == 'action_fields':
        bad = [f for f in value if f not in TWIST_FIELDS]
        if bad or not value or len(set(value)) != len(value):
            return (f'action_fields must be distinct names from {list(TWIST_FIELDS)}, got '
                    f'{list(value)}')
    if name == 'action_joint_names' and value and len(set(value)) != len(value):
        return f'action_joint_names has duplicates: {list(value)}'
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
