"""One model and one encode per frame for the runtimes of a process
(core/runtime/shared_encoder.py).

The ViT passes are counted by wrapping the shared model's ``patch_tokens`` (what really
ran), independently of the encoders' own counters, which are checked against them.
"""

import os
import threading
import time

import numpy as np
import pytest
import torch

from jepa_world_model.core.checkpoint import load_checkpoint
from jepa_world_model.core.planning.command_limits import CommandLimits
from jepa_world_model.core.planning.goals import joint_state_goal
from jepa_world_model.core.runtime.inference import WorldModelRuntime
from jepa_world_model.core.planning.planner import PlannerConfig
from jepa_world_model.core.planning import (Command, ControllerSettings, Observation,
                                            PlanningController)
from jepa_world_model.core.runtime.shared_encoder import EncoderPool, SharedEncoder
from tiny_models import save_tiny

pytestmark = pytest.mark.usefixtures('one_torch_thread')

SMALL = PlannerConfig(horizon=3, num_samples=8, num_elites=2, num_iterations=1)
LIMITS = CommandLimits.create([-1.0], [1.0], [100.0], action_dim=2)


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    """Path of the tiny arm-like checkpoint (joints joint_a, joint_b)."""
    return str(save_tiny(tmp_path_factory.mktemp('shared') / 'tiny.safetensors'))


class PassCounter:
    """Wraps a model's patch_tokens: ``calls`` counts the ViT passes that really ran."""

    def __init__(self, model, delay_s=0.0):
        self.calls, self._real, self._delay = 0, model.patch_tokens, delay_s
        model.patch_tokens = self

    def __call__(self, *args, **kwargs):
        self.calls += 1
        time.sleep(self._delay)
        return self._real(*args, **kwargs)


def frame(seed=0):
    """A random 32x32 RGB frame."""
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def observation(runtime, rgb, q=(0.1, -0.2)):
    """The planner's view of ``rgb`` with joints ``q`` (zero velocities)."""
    q = np.asarray(q, dtype=np.float64)
    s = torch.as_tensor(runtime.make_state(q, np.zeros(2)), dtype=torch.float32)[None]
    return Observation(runtime.preprocess(rgb), s, q, None)


def test_two_runtimes_of_a_pool_share_one_model_and_encode_a_frame_once(ckpt):
    """The world model's step and the planner's act on one frame: 2 ViT passes (online and
    target), not 3; the planner's online pass is a cache hit; z, the step's result and the
    command are those of runtimes that loaded and encoded on their own."""
    pool = EncoderPool()
    world, planner = (WorldModelRuntime.from_path(ckpt, pool=pool) for _ in range(2))
    assert planner.model is world.model and len(pool) == 1
    assert (world.model_shared, planner.model_shared) == (False, True)
    passes = PassCounter(world.model)
    alone_world, alone_planner = (WorldModelRuntime.from_path(ckpt) for _ in range(2))
    assert alone_planner.model is not alone_world.model

    rgb, q = frame(1), (0.1, -0.2)
    s = world.make_state(np.array(q), np.zeros(2))
    step = world.step(rgb, s, np.zeros(2))
    controllers = [PlanningController(rt, SMALL, LIMITS, ControllerSettings(max_plan_time=10.0))
                   for rt in (planner, alone_planner)]
    for controller in controllers:
        controller.set_goal(joint_state_goal([0.5, -0.5]))
    shared_command = controllers[0].act(observation(planner, rgb, q))
    assert passes.calls == 2
    assert world.encoder.counts() == {'encodes': 2, 'encode_cache_hits': 0}
    assert planner.encoder.counts() == {'encodes': 0, 'encode_cache_hits': 1}

    alone_step = alone_world.step(rgb, s, np.zeros(2))
    alone_command = controllers[1].act(observation(alone_planner, rgb, q))
    np.testing.assert_array_equal(step.z, alone_step.z)
    np.testing.assert_array_equal(step.z_obs, alone_step.z_obs)
    np.testing.assert_array_equal(step.positions, alone_step.positions)
    assert isinstance(shared_command, Command) and isinstance(alone_command, Command)
    np.testing.assert_array_equal(shared_command.a, alone_command.a)
    obs = observation(planner, rgb, q)
    assert torch.equal(planner.encoder.encode(obs.o, obs.s),
                       alone_planner.model.encode(obs.o, obs.s))
    assert passes.calls == 2   # the direct check above was a hit as well


def test_the_cache_keys_on_the_image_itself_and_the_encoder(ckpt):
    """One changed pixel is another frame; the target encoder is another pass; each
    runtime pools its own proprioception over shared tokens."""
    shared = SharedEncoder(load_checkpoint(ckpt), torch.device('cpu'), torch.float32)
    a, b = shared.client(), shared.client()
    rt = WorldModelRuntime(shared.checkpoint, 'cpu', torch.float32, shared=shared)
    rgb = frame(2)
    other = rgb.copy()
    other[5, 7, 1] ^= 1
    s0 = torch.as_tensor(rt.make_state(np.array([0.1, 0.2]), np.zeros(2)))[None]
    s1 = torch.as_tensor(rt.make_state(np.array([0.3, -0.4]), np.zeros(2)))[None]
    with torch.inference_mode():
        expected = shared.model.encode(rt.preprocess(rgb), s1)   # the model's own pass
    passes = PassCounter(shared.model)
    z_a = a.encode(rt.preprocess(rgb), s0)
    z_b = b.encode(rt.preprocess(rgb), s1)
    assert passes.calls == 1 and not torch.equal(z_a, z_b)
    assert torch.equal(z_b, expected)
    b.encode(rt.preprocess(other), s0)
    b.encode(rt.preprocess(rgb), s0, target=True)
    assert passes.calls == 3
    assert a.counts() == {'encodes': 1, 'encode_cache_hits': 0}
    assert b.counts() == {'encodes': 2, 'encode_cache_hits': 1}
    batch = torch.cat([rt.preprocess(rgb)] * 2)      # batches are not frames: not cached
    a.encode(batch, torch.cat([s0, s0]))
    assert passes.calls == 4
    with pytest.raises(ValueError, match=r'expected images \[B, 3, 32, 32\]'):
        a.encode(torch.zeros(1, 3, 16, 16), s0)


def test_two_threads_asking_for_one_frame_at_once_run_one_pass(ckpt):
    """The second caller waits for the pass in progress instead of running its own."""
    shared = SharedEncoder(load_checkpoint(ckpt), torch.device('cpu'), torch.float32)
    passes = PassCounter(shared.model, delay_s=0.3)
    o = WorldModelRuntime(shared.checkpoint, shared=shared).preprocess(frame(3))
    clients = [shared.client() for _ in range(2)]
    results = [None, None]

    def encode(i):
        results[i] = clients[i].encode(o, torch.zeros(1, 4))

    threads = [threading.Thread(target=encode, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=10.0)
    assert passes.calls == 1 and torch.equal(results[0], results[1])
    assert sorted(c.encode_cache_hits for c in clients) == [0, 1]


def test_a_failed_pass_is_not_cached(ckpt):
    """A pass that raised leaves nothing behind: the next request runs it again."""
    shared = SharedEncoder(load_checkpoint(ckpt), torch.device('cpu'), torch.float32)
    real, calls = shared.model.patch_tokens, []

    def failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError('out of memory')
        return real(*args, **kwargs)

    shared.model.patch_tokens = failing_once
    client = shared.client()
    o = torch.rand(1, 3, 32, 32)
    with pytest.raises(RuntimeError, match='out of memory'):
        client.encode(o, torch.zeros(1, 4))
    client.encode(o, torch.zeros(1, 4))
    assert len(calls) == 2 and client.counts() == {'encodes': 1, 'encode_cache_hits': 0}


def test_the_pool_shares_only_the_same_file_device_and_dtype(ckpt, tmp_path):
    """Another dtype or file, or the same file rewritten, loads anew; a runtime must match
    the shared encoder it is given; encoders nobody holds are let go."""
    pool = EncoderPool()
    first = WorldModelRuntime.from_path(ckpt, pool=pool)
    half = WorldModelRuntime.from_path(ckpt, dtype='bfloat16', pool=pool)
    assert half.model is not first.model and len(pool) == 2
    copy = tmp_path / 'copy.safetensors'
    copy.write_bytes(open(ckpt, 'rb').read())
    again = WorldModelRuntime.from_path(str(copy), pool=pool)
    assert again.model is not first.model
    stat = os.stat(copy)
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert WorldModelRuntime.from_path(str(copy), pool=pool).model is not again.model
    with pytest.raises(ValueError, match='the shared encoder holds'):
        WorldModelRuntime(load_checkpoint(ckpt), shared=first.encoder.shared)
    del first, half, again
    assert len(pool) == 0
