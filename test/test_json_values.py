"""json_safe: what the demo and the experiments write to JSON is strict JSON."""

import json

import numpy as np

from jepa_world_model.json_values import json_safe


def test_numpy_values_become_plain_and_non_finite_becomes_null():
    value = {1: (np.float32(1.5), float('inf'), -np.inf, np.nan),
             'flags': np.array([True, False]), 'count': np.int64(3), 'ok': np.bool_(True),
             'plain': True, 'name': 'x', 'none': None}
    out = json_safe(value)
    assert out == {'1': [1.5, None, None, None], 'flags': [True, False], 'count': 3,
                   'ok': True, 'plain': True, 'name': 'x', 'none': None}
    # bool must stay bool (it is an int subclass) and every value must be a JSON type.
    assert out['ok'] is True and out['plain'] is True and type(out['count']) is int
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == out


def test_nested_arrays_keep_their_shape():
    out = json_safe({'a': np.array([[1.0, np.nan], [2.0, 3.0]])})
    assert out == {'a': [[1.0, None], [2.0, 3.0]]}
