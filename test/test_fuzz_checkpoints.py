"""Property-based fuzzing of checkpoint files (issue #11, "Make it stay fixed"): random bytes,
truncations, a rewritten header length, mutated safetensors headers (dtypes, shapes, offsets,
names) and mutated embedded configs (any JSON value for any model size, deep nesting, huge
integers, not JSON at all).

Whatever the file, ``load_checkpoint``, ``checkpoint_config`` and ``describe`` either succeed
on a file that matches its config or raise ``CheckpointError``, never anything else; the real
model is built only once the header has matched the config (before that only on the ``meta``
device, which allocates nothing); nothing is ever unpickled; and no example makes the process
grow by more than a few tens of megabytes.
"""

import json
import pickle
import resource
import struct
from unittest import mock

from hypothesis import event, example, given, settings
from hypothesis import strategies as st
import pytest
import torch

from jepa_world_model.core import checkpoint as checkpoint_module
from jepa_world_model.core.checkpoint import (CheckpointError, checkpoint_config, describe,
                                              load_checkpoint)
from jepa_world_model.core.config import config_to_json, MODEL_SIZE_LIMITS
from tiny_models import save_tiny, tiny_config

#: Growth of the peak RSS allowed over all examples of a test (MB).
MAX_RSS_GROWTH_MB = 200
#: Each example writes a file and may build a meta model: a fraction of the profile's.
EXAMPLES = max(20, settings.default.max_examples // 2)
#: The embedded config of the good file (the tiny model with a pose probe).
GOOD_CONFIG = config_to_json(tiny_config(pose_probe=True))


class FileBytes(bytes):
    """A file's bytes that print as their length (failure reports stay readable)."""

    def __repr__(self):
        return f'<{len(self)} bytes>'


@pytest.fixture(scope='module')
def good_file(tmp_path_factory):
    """The bytes of a valid tiny checkpoint (with a pose probe)."""
    path = save_tiny(tmp_path_factory.mktemp('ckpt') / 'good.safetensors', pose_probe=True)
    load_checkpoint(path)   # the first meta-device build imports torch's meta kernels
    return FileBytes(path.read_bytes())


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp('fuzzed') / 'fuzzed.safetensors'


def split(data):
    """(header dict, tensor data) of a safetensors file."""
    size = struct.unpack('<Q', data[:8])[0]
    return json.loads(data[8:8 + size]), data[8 + size:]


def join(header, body):
    text = json.dumps(header).encode()
    return struct.pack('<Q', len(text)) + text + body


def json_values():
    """Any JSON value, small or absurd."""
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                       st.sampled_from([0, -1, 1, 3, 7, 10 ** 9]), st.floats(),
                       st.text(max_size=6))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=4),
                                                                        inner, max_size=3)),
                        max_leaves=8)


@st.composite
def mutated_config(draw):
    """The embedded config of the good file with a few model (or other) fields set to any
    JSON value, or replaced by text that is not a config."""
    kind = draw(st.sampled_from(['fields', 'fields', 'sizes', 'text']))
    if kind == 'text':
        return draw(st.one_of(
            st.text(max_size=40), st.just('[' * 50000 + ']' * 50000),
            st.just('{"model": {"image_size": ' + '9' * 5000 + '}}'),
            st.just('{"model": {"mlp_ratio": NaN}}'), st.just('null')))
    config = json.loads(GOOD_CONFIG)
    fields = sorted(config['model'])
    for _ in range(draw(st.integers(1, 3))):
        if kind == 'sizes':   # within the per-field limits: a model too big is still refused
            name = draw(st.sampled_from(sorted(set(MODEL_SIZE_LIMITS) & set(fields))))
            value = draw(st.integers(1, MODEL_SIZE_LIMITS[name]))
            config['model'][name] = (['j%d' % i for i in range(value)]
                                     if isinstance(config['model'][name], list) else value)
        else:
            section = draw(st.sampled_from(['model', 'model', 'loss', 'data']))
            name = draw(st.sampled_from(sorted(config[section]) + ['unknown_key']))
            config[section][name] = draw(json_values())
    return json.dumps(config)


@st.composite
def mutated_files(draw, good):
    """Bytes of a damaged or hostile checkpoint derived from ``good``."""
    kind = draw(st.sampled_from(['intact', 'noise', 'truncated', 'length', 'header',
                                 'header', 'config', 'config']))
    if kind == 'intact':
        return good
    if kind == 'noise':
        return draw(st.binary(max_size=200))
    if kind == 'truncated':
        return good[:draw(st.integers(0, len(good) - 1))]
    if kind == 'length':
        size = draw(st.one_of(st.integers(0, 2 ** 64 - 1), st.integers(0, 10 ** 9)))
        return struct.pack('<Q', size) + good[8:]
    header, body = split(good)
    if kind == 'config':
        header['__metadata__']['config'] = draw(mutated_config())
        return join(header, body)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(k for k in header if k != '__metadata__')))
        what = draw(st.sampled_from(['dtype', 'shape', 'offsets', 'drop', 'rename', 'meta']))
        if what == 'dtype':
            header[name]['dtype'] = draw(st.sampled_from(['F64', 'BF16', 'I64', 'BOOL', 'U8',
                                                          'F8_E4M3', 'X', '']))
        elif what == 'shape':
            header[name]['shape'] = draw(st.lists(st.one_of(
                st.integers(0, 8), st.sampled_from([2 ** 31, 2 ** 40])), max_size=3))
        elif what == 'offsets':
            header[name]['data_offsets'] = draw(st.lists(
                st.integers(0, len(body) + 64), min_size=2, max_size=2))
        elif what == 'drop':
            del header[name]
        elif what == 'rename':
            header[draw(st.sampled_from(['optim.0.exp_avg', 'optim.x.y', 'model.extra',
                                         'junk']))] = header.pop(name)
        elif what == 'meta':
            key = draw(st.sampled_from(['format', 'step', 'config']))
            header['__metadata__'][key] = draw(st.one_of(st.text(max_size=8),
                                                         st.sampled_from(['1e5', '9' * 5000])))
    return join(header, body)


def _no_unpickling(*args, **kwargs):
    raise AssertionError('a checkpoint was unpickled')


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: kB


def _real_model_builds(devices):
    real = checkpoint_module.WorldModel

    def recording(cfg):
        devices.append(torch.get_default_device().type)
        return real(cfg)
    return recording


@pytest.fixture(scope='module')
def rss_budget():
    """Peak RSS before the first example; each test checks its growth stays bounded."""
    return _peak_rss_mb()


def load_safely(path):
    """load_checkpoint(path) with unpickling forbidden; (result or the CheckpointError,
    devices the real WorldModel was built on)."""
    devices = []
    with mock.patch.object(pickle, 'loads', _no_unpickling), \
            mock.patch.object(pickle, 'load', _no_unpickling), \
            mock.patch.object(torch, 'load', _no_unpickling), \
            mock.patch.object(checkpoint_module, 'WorldModel', _real_model_builds(devices)):
        try:
            return load_checkpoint(path), devices
        except CheckpointError as exc:
            return exc, devices


def check_outcome(path, outcome, devices):
    """A refused file names itself and never built the real model; a loaded one is
    finite."""
    if isinstance(outcome, CheckpointError):
        event('refused')
        assert str(path) in str(outcome)
        assert set(devices) <= {'meta'}, 'the real model was built for a refused file'
        return
    event('loaded')
    assert devices[-1] == 'cpu'
    for name, tensor in outcome.model.state_dict().items():
        assert torch.isfinite(tensor).all(), name


@settings(max_examples=EXAMPLES)
@given(st.data())
def test_any_file_loads_as_a_matching_model_or_raises_checkpoint_error(good_file, scratch,
                                                                       rss_budget, data):
    scratch.write_bytes(data.draw(mutated_files(good_file)))
    check_outcome(scratch, *load_safely(scratch))
    assert _peak_rss_mb() - rss_budget < MAX_RSS_GROWTH_MB


@settings(max_examples=EXAMPLES)
@given(mutated_config())
@example('[' * 50000 + ']' * 50000)     # RecursionError escaped config_from_json
@example('{"model": {"image_size": ' + '9' * 5000 + '}}')   # ValueError (int digits) too
def test_any_embedded_config_is_valid_and_matching_or_a_checkpoint_error(good_file, scratch,
                                                                         rss_budget, config):
    header, body = split(good_file)
    header['__metadata__']['config'] = config
    scratch.write_bytes(join(header, body))
    check_outcome(scratch, *load_safely(scratch))
    assert _peak_rss_mb() - rss_budget < MAX_RSS_GROWTH_MB


@settings(max_examples=EXAMPLES)
@given(st.data())
def test_header_readers_raise_only_checkpoint_error(good_file, scratch, data):
    """``checkpoint_config`` and ``describe`` (``jepa-world-model info``) read the header
    only: a valid summary or CheckpointError."""
    scratch.write_bytes(data.draw(mutated_files(good_file)))
    for read in (checkpoint_config, describe):
        try:
            out = read(scratch)
        except CheckpointError as exc:
            assert str(exc)
            continue
        assert out is not None
