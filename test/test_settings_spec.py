"""The settings engine (core/settings_spec.py): one type check for the training config and the
node parameters, parameter specs, the snapshot class and the core-field mapping derived from
them. Pure Python: no ROS needed."""

import dataclasses
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import pytest

from jepa_world_model.core.settings_spec import (check_value, coerce, ConfigError,
                                                 core_arguments, core_targets, describe,
                                                 from_dict, ParamSpec, Rule, settings_class)


@pytest.mark.parametrize('hint, value, expected', [
    (int, 3, 3), (float, 2, 2.0), (bool, False, False), (str, 'a', 'a'),
    (List[float], [1, 2.5], [1.0, 2.5]), (Tuple[str, ...], ['a', 'b'], ('a', 'b')),
    (Tuple[float, float], [0, 1], (0.0, 1.0)), (Optional[int], None, None),
    (Optional[Tuple[float, ...]], (1.0,), (1.0,)),
])
def test_coerce_accepts_values_of_the_type(hint, value, expected):
    out = coerce(hint, value, 'x')
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize('hint, value, message', [
    (int, True, "x: expected an integer, got True"),
    (int, 2.5, 'x: expected an integer, got 2.5'),
    (float, False, 'x: expected a number, got False'),
    (float, '1.0', "x: expected a number, got '1.0'"),
    (bool, 1, 'x: expected true or false, got 1'),
    (str, None, 'x: expected a string, got None'),
    (List[float], 1.0, 'x: expected a list of numbers, got 1.0'),
    (List[float], [1.0, 'a'], "x[1]: expected a number, got 'a'"),
    (Tuple[float, float], [1.0], 'x: expected a list of 2 values, got [1.0]'),
])
def test_coerce_names_where_and_what_was_expected(hint, value, message):
    with pytest.raises(ConfigError) as info:
        coerce(hint, value, 'x')
    assert str(info.value) == message


@dataclass
class Inner:
    size: int = 1


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    names: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.inner.size > 10:
            raise ConfigError('size must be <= 10')


def test_from_dict_builds_nested_dataclasses_and_refuses_unknown_keys():
    assert from_dict(Outer, {'inner': {'size': 3}, 'names': ['a']}) == Outer(Inner(3), ['a'])
    assert from_dict(Outer, None) == Outer()
    with pytest.raises(ConfigError, match=r"inner: unknown key\(s\) \['sise'\]"):
        from_dict(Outer, {'inner': {'sise': 3}})
    with pytest.raises(ConfigError, match='inner.size: expected an integer'):
        from_dict(Outer, {'inner': {'size': '3'}})
    with pytest.raises(ConfigError, match='expected a mapping, got list'):
        from_dict(Outer, [1])
    with pytest.raises(ConfigError, match='Outer: size must be <= 10'):
        from_dict(Outer, {'inner': {'size': 11}})
    assert describe(Optional[List[str]]) == 'a list of strings or null'


TABLE = {
    'rate': ParamSpec(10.0, 'Rate', 'activate', 0.1, 100.0, core='loop.rate'),
    'count': ParamSpec(3, 'Count', 'runtime', 1, 5, core='loop.count'),
    'mode': ParamSpec('a', 'Mode', 'configure', choices=('a', 'b')),
    'limits': ParamSpec([1.0], 'Limits', rule=Rule(
        lambda v: None if v else 'expected at least one value, got []', 'non-empty'),
        core='box.limits'),
    'names': ParamSpec(None, 'Names', 'configure', kind=Tuple[str, ...]),
    'flag': ParamSpec(True, 'Flag', 'startup'),
}


@pytest.mark.parametrize('name, value, reason', [
    ('rate', 0.1, None), ('rate', 100, None), ('count', 5, None), ('mode', 'b', None),
    ('limits', (2, -1.5), None), ('names', None, None), ('names', ['x'], None),
    ('rate', 200.0, 'rate: expected a value in [0.1, 100.0], got 200.0'),
    ('rate', float('nan'), 'rate: expected a finite number, got nan'),
    ('count', 2.0, 'count: expected an integer, got 2.0'),
    ('count', 0, 'count: expected a value in [1, 5], got 0'),
    ('mode', 'c', "mode: expected one of ['a', 'b'], got 'c'"),
    ('limits', [float('inf')], 'limits: expected finite numbers, got [inf]'),
    ('limits', [], 'limits: expected at least one value, got []'),
    ('names', [1], 'names[0]: expected a string, got 1'),
    ('flag', 1, 'flag: expected true or false, got 1'),
    ('other', 1, "unknown parameter 'other'"),
])
def test_check_value(name, value, reason):
    assert check_value(TABLE, name, value) == reason


def test_specs_infer_their_type_and_refuse_inconsistent_declarations():
    assert TABLE['limits'].kind == Tuple[float, ...]
    assert ParamSpec(['a'], 'x').kind == Tuple[str, ...]
    assert ParamSpec(1e5, 'x').kind is float and ParamSpec(False, 'x').kind is bool
    for bad in (dict(applies='sometimes'), dict(low=0.0), dict(core='no_dot')):
        with pytest.raises(ValueError):
            ParamSpec(1.0, 'x', **bad)
    with pytest.raises(ValueError, match='give kind'):
        ParamSpec(None, 'x')


def test_the_settings_class_is_derived_from_the_table():
    Settings = settings_class('Settings', TABLE, __name__, 'Test settings.')
    assert [f.name for f in dataclasses.fields(Settings)] == list(TABLE)
    s = Settings()
    assert (s.rate, s.count, s.limits, s.names, s.flag) == (10.0, 3, (1.0,), (), True)
    assert Settings(count=4).count == 4 and Settings.__doc__ == 'Test settings.'
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.count = 2
    updated = s.with_updates({'limits': [2.0, 3.0], 'names': None, 'mode': 'b'})
    assert (updated.limits, updated.names, updated.mode) == ((2.0, 3.0), (), 'b')
    assert hash(updated) != hash(s) and updated != s


def test_core_arguments_follow_the_core_field_of_each_spec():
    Settings = settings_class('Settings', TABLE, __name__, '')
    s = Settings(rate=5.0, count=2)
    assert core_targets(TABLE) == {'loop': {'rate': 'rate', 'count': 'count'},
                                   'box': {'limits': 'limits'}}
    assert core_arguments(TABLE, s, 'loop') == {'rate': 5.0, 'count': 2}
    assert core_arguments(TABLE, s, 'box') == {'limits': (1.0,)}
    with pytest.raises(KeyError, match='nothing'):
        core_arguments(TABLE, s, 'nothing')
