"""One engine for declared settings: the nodes' ROS parameters and the training config.

A node's parameter is declared once, as a :class:`ParamSpec` in a table ``{name: spec}``
(type, default, range or choices, description, when a change applies, the core field it
feeds). Everything else is derived from the table:

* :func:`check_value`: one value against its spec (type, finite, range, choices, rule);
* :func:`settings_class`: the frozen snapshot dataclass, one field per parameter;
* :func:`core_arguments`: the keyword arguments of the core object a parameter feeds
  (``ParamSpec.core`` ``'planner.num_samples'`` is ``PlannerConfig.num_samples``);
* the ROS descriptors and the docs tables (``ros/common/parameter_table.py``,
  ``ros/parameter_docs.py``).

The training config's dataclasses (``core/config.py``) are read with the same type checks:
:func:`from_dict` builds a dataclass from a mapping, refusing unknown keys and values that do
not fit the field's type hint (:func:`coerce`). Every check reports ``'<where>: expected
<what>, got <value>'`` (:class:`ConfigError`, or the returned reason). Pure Python, no ROS.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
import math
import types
import typing
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Type,
                    TypeVar)

__all__ = ['ConfigError', 'require', 'describe', 'coerce', 'from_dict', 'Rule', 'ParamSpec',
           'APPLIES', 'check_value', 'SettingsSnapshot', 'settings_class', 'core_arguments',
           'core_targets']

T = TypeVar('T')
_Settings = TypeVar('_Settings', bound='SettingsSnapshot')
#: When a parameter change takes effect: the next use, configure, activate, never (read-only).
APPLIES = ('runtime', 'configure', 'activate', 'startup')


class ConfigError(ValueError):
    """A config file, dict or setting does not fit its declared type, range or rules."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition``."""
    if not condition:
        raise ConfigError(message)


# -- types -----------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    # bool is an int to Python, never a number to a config or a parameter.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional_inner(hint: Any) -> Optional[Any]:
    """``X`` of ``Optional[X]`` / ``X | None``, else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1 and len(typing.get_args(hint)) == 2:
            return inner[0]
    return None


def _sequence_item(hint: Any) -> Optional[Any]:
    """Item type of ``List[X]`` / ``Tuple[X, ...]`` (any length), else None."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (list, List):
        return args[0]
    if origin in (tuple, Tuple) and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


_WORDS = {bool: 'true or false', int: 'an integer', float: 'a number', str: 'a string'}
_PLURAL = {bool: 'true/false values', int: 'integers', float: 'numbers', str: 'strings'}


def describe(hint: Any) -> str:
    """What a value of type ``hint`` is, in words: ``'an integer'``, ``'a list of numbers'``."""
    inner = _optional_inner(hint)
    if inner is not None:
        return f'{describe(inner)} or null'
    item = _sequence_item(hint)
    if item is not None:
        return f'a list of {_PLURAL.get(item, describe(item))}'
    if typing.get_origin(hint) in (tuple, Tuple):
        return f'a list of {len(typing.get_args(hint))} values'
    if dataclasses.is_dataclass(hint):
        return 'a mapping'
    return _WORDS.get(hint, repr(hint))


def coerce(hint: Any, value: Any, where: str) -> Any:
    """``value`` as type ``hint`` (int -> float, list -> tuple, mapping -> dataclass).

    Supported: bool, int, float, str, ``Optional[X]``, ``List[X]``, ``Tuple[X, ...]``,
    ``Tuple[X, Y]`` and dataclasses (:func:`from_dict`).

    Raises:
        ConfigError: ``'<where>: expected <describe(hint)>, got <value>'``.
    """
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    inner = _optional_inner(hint)
    if inner is not None:
        return None if value is None else coerce(inner, value, where)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (list, List, tuple, Tuple):
        fixed = origin in (tuple, Tuple) and _sequence_item(hint) is None
        if not isinstance(value, (list, tuple)) or (fixed and len(value) != len(args)):
            raise ConfigError(f'{where}: expected {describe(hint)}, got {value!r}')
        items = args if fixed else [args[0]] * len(value)
        out = [coerce(a, v, f'{where}[{i}]') for i, (a, v) in enumerate(zip(items, value))]
        return out if origin in (list, List) else tuple(out)
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: _is_number, str: lambda v: isinstance(v, str)}.get(hint)
    if ok is None:
        raise ConfigError(f'{where}: unsupported config type {hint!r}')
    if not ok(value):
        raise ConfigError(f'{where}: expected {describe(hint)}, got {value!r}')
    return float(value) if hint is float else value


def from_dict(cls: Type[T], data: Optional[Mapping[str, Any]], where: str = '') -> T:
    """Build dataclass ``cls`` from a (nested) mapping, refusing unknown keys and wrong types.

    Missing keys keep the dataclass defaults; ``cls.__post_init__`` checks the rest.

    Raises:
        ConfigError: Naming the key (``'model.image_size: expected an integer, ...'``).
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f'{where or cls.__name__}: expected a mapping, '
                          f'got {type(data).__name__}')
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f'{where or cls.__name__}: unknown key(s) {unknown}; '
                          f'allowed: {sorted(known)}')
    kwargs = {name: coerce(hints[name], value, f'{where}.{name}' if where else name)
              for name, value in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f'{where or cls.__name__}: {exc}') from None


# -- parameter specs -------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """A check of one value beyond type, range and choices.

    Attributes:
        check: ``check(value)`` -> what is wrong (``'expected ..., got ...'``) or None.
        text: The rule in a few words, for the docs' "range / choices" column ('' for none).
    """

    check: Callable[[Any], Optional[str]]
    text: str = ''


def _kind_of(default: Any) -> Any:
    """The type hint a default implies: bool, int, float, str or a tuple of its items."""
    if isinstance(default, (list, tuple)) and default:
        item = float if all(_is_number(v) for v in default) else type(default[0])
        return Tuple[item, ...]
    if isinstance(default, (bool, int, float, str)):
        return type(default)
    raise ValueError(f'cannot tell the type of default {default!r}: give kind')


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: the single place its name, type, default, limits and use are declared.

    Attributes:
        default: Value when none is given; None: a typed list that may stay unset (``kind``
            then required). Lists may be given as lists; the settings hold tuples.
        description: One or two sentences (docs table and ``ros2 param describe``).
        applies: When a change takes effect, one of :data:`APPLIES`.
        low, high: Inclusive range of a number (both or neither).
        choices: The allowed strings.
        kind: Type hint (bool, int, float, str, ``Tuple[float, ...]``, ``Tuple[str, ...]``);
            by default the type of ``default``.
        core: ``'<target>.<field>'``: the core object field this parameter sets
            (:func:`core_arguments`), None when it feeds none.
        rule: A further check of the value (:class:`Rule`).
    """

    default: Any
    description: str
    applies: str = 'runtime'
    low: Optional[float] = None
    high: Optional[float] = None
    choices: Optional[Tuple[str, ...]] = None
    kind: Any = None
    core: Optional[str] = None
    rule: Optional[Rule] = None

    def __post_init__(self) -> None:
        """Infer ``kind``; raise ValueError on an inconsistent spec (a programming error)."""
        if self.kind is None:
            object.__setattr__(self, 'kind', _kind_of(self.default))
        if self.applies not in APPLIES:
            raise ValueError(f'applies must be one of {APPLIES}, got {self.applies!r}')
        if (self.low is None) != (self.high is None):
            raise ValueError('give both low and high, or neither')
        if self.core is not None and self.core.count('.') != 1:
            raise ValueError(f"core must be '<target>.<field>', got {self.core!r}")

    @property
    def settings_default(self) -> Any:
        """The default as the settings hold it: lists as tuples, unset as ()."""
        if self.default is None:
            return ()
        return tuple(self.default) if isinstance(self.default, list) else self.default


def check_value(table: Mapping[str, ParamSpec], name: str, value: Any) -> Optional[str]:
    """Check one value on its own against ``table[name]``; what is wrong with it, or None.

    Type (:func:`coerce`), finite numbers (every item of a list too), range, choices and the
    spec's rule. None is a valid value of a spec without default (an unset list).
    """
    spec = table.get(name)
    if spec is None:
        return f'unknown parameter {name!r}'
    if value is None and spec.default is None:
        return None
    try:
        coerce(spec.kind, value, name)
    except ConfigError as exc:
        return str(exc)
    if isinstance(value, float) and not math.isfinite(value):
        return f'{name}: expected a finite number, got {value}'
    if isinstance(value, (list, tuple)) and not all(
            math.isfinite(v) for v in value if _is_number(v)):
        return f'{name}: expected finite numbers, got {list(value)}'
    if spec.low is not None and not spec.low <= value <= spec.high:
        return f'{name}: expected a value in [{spec.low}, {spec.high}], got {value}'
    if spec.choices and value not in spec.choices:
        return f'{name}: expected one of {list(spec.choices)}, got {value!r}'
    problem = spec.rule.check(value) if spec.rule is not None else None
    return f'{name}: {problem}' if problem else None


# -- settings snapshots ----------------------------------------------------------------------

class SettingsSnapshot:
    """Base of the frozen settings classes made by :func:`settings_class`."""

    def with_updates(self: _Settings, updates: Mapping[str, Any]) -> _Settings:
        """A copy with ``updates`` applied (lists become tuples, None becomes ())."""
        clean = {}
        for name, value in updates.items():
            # Tuples keep the snapshot hashable and comparable with ==, whatever the caller
            # hands over (list, array.array); an unset list parameter reads as empty.
            if value is None or (isinstance(value, Iterable)
                                 and not isinstance(value, (str, bytes))):
                value = tuple(value or ())
            clean[name] = value
        return replace(self, **clean)


def settings_class(name: str, table: Mapping[str, ParamSpec], module: str,
                   doc: str) -> Type[SettingsSnapshot]:
    """A frozen dataclass ``name`` with one field per parameter of ``table`` (same names,
    in table order, typed by ``kind``, defaulting to ``settings_default``)."""
    fields = [(pname, spec.kind, dataclasses.field(default=spec.settings_default))
              for pname, spec in table.items()]
    cls = dataclasses.make_dataclass(name, fields, bases=(SettingsSnapshot,), frozen=True,
                                     namespace={'__doc__': doc})
    cls.__module__ = module   # where it is defined for users (repr, pickling)
    return cls


def core_targets(table: Mapping[str, ParamSpec]) -> Dict[str, Dict[str, str]]:
    """``{target: {core field: parameter name}}`` of the parameters with a ``core`` field."""
    out: Dict[str, Dict[str, str]] = {}
    for pname, spec in table.items():
        if spec.core is not None:
            target, field_name = spec.core.split('.')
            out.setdefault(target, {})[field_name] = pname
    return out


def core_arguments(table: Mapping[str, ParamSpec], settings: Any,
                   target: str) -> Dict[str, Any]:
    """``{core field: value in settings}`` of the parameters of ``table`` that set a field of
    ``target`` (``ParamSpec.core`` ``'<target>.<field>'``)."""
    fields = core_targets(table).get(target)
    if not fields:
        raise KeyError(f'no parameter sets a field of {target!r}')
    return {field_name: getattr(settings, pname) for field_name, pname in fields.items()}
