"""Tests of the ROS-free inference runtime (jepa_world_model.core.runtime.inference) and resources.

A tiny randomly initialised model is saved once per module; every test runs in milliseconds.
"""

import numpy as np
import pytest
import torch

from jepa_world_model import resources
from jepa_world_model.core.checkpoint import CheckpointError
from jepa_world_model.core.runtime.inference import (resolve_device, SurpriseNormalizer,
                                                     WorldModelRuntime)
from tiny_models import JOINTS, save_tiny as save_shared


def save_tiny(path, seed=0, **overrides):
    """The shared tiny model with a pose probe (``overrides`` change it), saved to ``path``."""
    return save_shared(path, seed, **dict({'pose_probe': True}, **overrides))


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    """Path of the tiny checkpoint with a pose probe."""
    return save_tiny(tmp_path_factory.mktemp('ckpt') / 'tiny.safetensors')


@pytest.fixture
def runtime(ckpt):
    """A fresh runtime on the tiny checkpoint."""
    return WorldModelRuntime.from_path(ckpt, normalizer=SurpriseNormalizer(10, 3))


def frame(seed):
    """A random 32x32 RGB frame."""
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def state(rt, q=(0.1, -0.2), dq=(0.0, 0.5)):
    """Proprio vector s for joint positions q and velocities dq."""
    return rt.make_state(np.array(q), np.array(dq))


def test_model_facts(runtime):
    """The runtime exposes what the node needs to know about the model."""
    assert runtime.joint_names == JOINTS
    assert runtime.action_dim == 2 and runtime.image_size == 32 and runtime.has_pose
    assert runtime.latent_dim == 28 and runtime.parameter_count > 0
    assert runtime.device == torch.device('cpu') and not runtime.has_goal


def test_preprocess_shape_range_and_errors(runtime):
    """uint8 HxWx3 at model size -> [1, 3, S, S] in [0, 1]; anything else is refused."""
    rgb = frame(0)
    o = runtime.preprocess(rgb)
    assert o.shape == (1, 3, 32, 32) and o.dtype == torch.float32
    assert float(o.min()) >= 0.0 and float(o.max()) <= 1.0
    assert torch.allclose(o[0, :, 3, 5] * 255, torch.tensor(rgb[3, 5], dtype=torch.float32))
    with pytest.raises(ValueError, match='expected a uint8 image'):
        runtime.preprocess(np.zeros((16, 32, 3), np.uint8))
    with pytest.raises(ValueError, match='expected a uint8 image'):
        runtime.preprocess(np.zeros((32, 32, 3), np.float32))


def test_step_shapes(runtime):
    """Positions/velocities [H, J], poses [H + 1, 3], latents [Z]."""
    result = runtime.step(frame(1), state(runtime), np.array([0.5, 0.0]), horizon=7)
    assert result.positions.shape == (7, 2) and result.velocities.shape == (7, 2)
    assert result.poses.shape == (8, 3)
    assert result.z.shape == (28,) and result.z_obs.shape == (28,)
    assert np.isfinite(result.positions).all() and result.compute_ms > 0
    assert result.surprise_raw is None and result.surprise is None   # nothing to compare yet
    assert result.goal_distance is None


def test_step_without_velocity_or_pose(tmp_path):
    """Models without joint velocities or a pose probe return None for those outputs."""
    path = save_tiny(tmp_path / 'novel.safetensors', use_joint_velocity=False, pose_probe=False)
    rt = WorldModelRuntime.from_path(path)
    s = rt.make_state(np.array([0.1, 0.2]), np.array([9.0, 9.0]))
    assert s.shape == (2,)
    result = rt.step(frame(2), s, np.zeros(2), horizon=3)
    assert result.positions.shape == (3, 2) and result.velocities is None
    assert result.poses is None and not rt.has_pose


def test_step_rejects_bad_inputs(runtime):
    """Wrong lengths, NaN/inf and horizon < 1 raise ValueError."""
    good_s, good_a = state(runtime), np.zeros(2)
    with pytest.raises(ValueError, match='s has 3 values'):
        runtime.step(frame(0), np.zeros(3), good_a)
    with pytest.raises(ValueError, match='a contains NaN'):
        runtime.step(frame(0), good_s, np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match='s contains NaN or inf'):
        runtime.step(frame(0), np.array([0.0, np.inf, 0.0, 0.0]), good_a)
    with pytest.raises(ValueError, match='horizon'):
        runtime.step(frame(0), good_s, good_a, horizon=0)


def test_surprise_is_previous_prediction_vs_target_latent(runtime):
    """Frame-index mode: raw surprise = L1(predict(z_prev, a_prev), target encode(now))."""
    model = runtime.model
    a0 = np.array([0.3, -0.7], np.float32)
    runtime.step(frame(3), state(runtime), a0, horizon=4)
    second = runtime.step(frame(4), state(runtime, q=(0.2, -0.1)), np.zeros(2), horizon=4)
    with torch.inference_mode():
        o0, o1 = runtime.preprocess(frame(3)), runtime.preprocess(frame(4))
        s0 = torch.from_numpy(state(runtime)).unsqueeze(0)
        s1 = torch.from_numpy(state(runtime, q=(0.2, -0.1))).unsqueeze(0)
        pred = model.predict(model.encode(o0, s0), torch.from_numpy(a0).unsqueeze(0))
        expected = float((pred - model.encode(o1, s1, target=True)).abs().mean())
    assert second.surprise_steps == 1
    assert second.surprise_raw == pytest.approx(expected, rel=1e-5)


def test_surprise_matches_by_stamp_whatever_the_frame_rate(runtime):
    """30 Hz frames with a 0.1 s model step compare with the frame 3 back (k = 1)."""
    results = [runtime.step(frame(10 + i), state(runtime), np.zeros(2), horizon=5,
                            stamp=100.0 + i / 30.0, step_period=0.1) for i in range(6)]
    # Frame 2 is 2/3 of a step after frame 0: within the half-step tolerance.
    assert [r.surprise_steps for r in results] == [0, 0, 1, 1, 1, 1]
    # Frame 3 is exactly one step after frame 0, so it is compared with frame 0's prediction.
    with torch.inference_mode():
        model = runtime.model
        s = torch.from_numpy(state(runtime)).unsqueeze(0)
        pred = model.predict(model.encode(runtime.preprocess(frame(10)), s), torch.zeros(1, 2))
        obs = model.encode(runtime.preprocess(frame(13)), s, target=True)
    assert results[3].surprise_raw == pytest.approx(float((pred - obs).abs().mean()), rel=1e-5)
    # A 5 Hz camera (0.2 s gaps) compares with the previous frame's 2-step prediction.
    runtime.reset()
    slow = [runtime.step(frame(20 + i), state(runtime), np.zeros(2), horizon=5,
                         stamp=200.0 + 0.2 * i, step_period=0.1) for i in range(3)]
    assert [r.surprise_steps for r in slow] == [0, 2, 2]
    # A gap longer than the horizon leaves nothing to compare with.
    gap = runtime.step(frame(30), state(runtime), np.zeros(2), horizon=5, stamp=210.0,
                       step_period=0.1)
    assert gap.surprise_raw is None


def test_surprise_uses_the_actions_really_applied(runtime):
    """With ``a_applied`` the surprise re-predicts from the earlier latent with the commands
    that were in effect, not the (stale) one the earlier frame rolled out with."""
    model = runtime.model
    stale, applied = np.array([0.0, 0.0], np.float32), np.array([0.8, -0.5], np.float32)
    first_applied = np.array([-0.4, 0.2], np.float32)
    kwargs = dict(horizon=5, step_period=0.1)
    runtime.step(frame(40), state(runtime), stale, stamp=50.0, a_applied=first_applied,
                 **kwargs)
    one = runtime.step(frame(41), state(runtime), stale, stamp=50.1, a_applied=applied,
                       **kwargs)
    with torch.inference_mode():
        s = torch.from_numpy(state(runtime)).unsqueeze(0)
        z0 = model.encode(runtime.preprocess(frame(40)), s)
        z1 = model.encode(runtime.preprocess(frame(41)), s)
        obs1 = model.encode(runtime.preprocess(frame(41)), s, target=True)
        with_applied = model.predict(z0, torch.from_numpy(applied).unsqueeze(0))
        with_stale = model.predict(z0, torch.from_numpy(stale).unsqueeze(0))
    assert one.surprise_steps == 1
    assert one.surprise_raw == pytest.approx(float((with_applied - obs1).abs().mean()),
                                             rel=1e-5)
    assert abs(one.surprise_raw - float((with_stale - obs1).abs().mean())) > 1e-4
    # Each frame's surprise uses the command in effect when that frame arrived.
    runtime.reset()
    runtime.step(frame(40), state(runtime), stale, stamp=60.0, a_applied=stale, **kwargs)
    runtime.step(frame(41), state(runtime), stale, stamp=60.1, a_applied=applied, **kwargs)
    last = np.array([0.1, 0.9], np.float32)
    two = runtime.step(frame(42), state(runtime), stale, stamp=60.2, a_applied=last, **kwargs)
    assert two.surprise_steps == 1
    with torch.inference_mode():
        obs2 = model.encode(runtime.preprocess(frame(42)), s, target=True)
        expected = model.predict(z1, torch.from_numpy(last).unsqueeze(0))
    assert two.surprise_raw == pytest.approx(float((expected - obs2).abs().mean()), rel=1e-5)
    # k = 2: a 5 Hz camera; the middle step has no frame, so both steps use ``last``.
    runtime.reset()
    runtime.step(frame(40), state(runtime), stale, stamp=70.0, a_applied=stale, **kwargs)
    slow = runtime.step(frame(42), state(runtime), stale, stamp=70.2, a_applied=last,
                        **kwargs)
    with torch.inference_mode():
        a2 = torch.from_numpy(last).expand(1, 2, 2)
        expected = model.rollout(z0, a2)[:, -1]
    assert slow.surprise_steps == 2
    assert slow.surprise_raw == pytest.approx(float((expected - obs2).abs().mean()), rel=1e-5)
    # k = 2 with a frame near the middle (60.13, off the step grid by 0.3 steps, so 70.2 is
    # matched with 70.0 at k = 2): step 1 uses that frame's command, step 2 ``last``.
    runtime.reset()
    runtime.step(frame(40), state(runtime), stale, stamp=80.0, a_applied=stale, **kwargs)
    runtime.step(frame(41), state(runtime), stale, stamp=80.13, a_applied=applied, **kwargs)
    mixed = runtime.step(frame(42), state(runtime), stale, stamp=80.2, a_applied=last,
                         **kwargs)
    with torch.inference_mode():
        a_seq = torch.stack([torch.from_numpy(applied), torch.from_numpy(last)]).unsqueeze(0)
        expected = model.rollout(z0, a_seq)[:, -1]
    assert mixed.surprise_steps == 2
    assert mixed.surprise_raw == pytest.approx(float((expected - obs2).abs().mean()), rel=1e-5)


def test_surprise_normalised_to_one_for_a_steady_scene(runtime):
    """Identical frames give identical raw errors, so the normalised surprise is exactly 1."""
    out = [runtime.step(frame(5), state(runtime), np.zeros(2), horizon=2) for _ in range(8)]
    assert [r.surprise for r in out[:4]] == [None] * 4   # no raw value, then calibrating
    assert all(r.surprise == pytest.approx(1.0) for r in out[4:])


def test_normalizer_semantics():
    """Per-dimension robust scaling; 1.0 is typical; a spike is not dampened by itself."""
    norm = SurpriseNormalizer(window=50, min_samples=5, refresh=1)
    rng = np.random.default_rng(0)
    # Dimension 0 is always hard to predict (error ~10), dimension 1 normally easy (~0.1).

    def typical():
        return np.abs(np.array([10.0, 0.1]) * (1 + 0.05 * rng.standard_normal(2)))

    assert norm.update(typical()) is None and not norm.calibrated
    for _ in range(30):
        norm.update(typical())
    assert norm.calibrated and norm.scale == pytest.approx(1.0, abs=0.05)
    assert norm.update(typical()) == pytest.approx(1.0, abs=0.1)
    # The robot dimension errs 5x: the plain L1 error barely moves (+0.4 on ~10), the
    # per-dimension surprise triples. The spike does not move the medians.
    assert norm.update(np.array([10.0, 0.5])) == pytest.approx(3.0, rel=0.1)
    assert norm.update(typical()) == pytest.approx(1.0, abs=0.1)
    # A dimension that is always exact weighs at most 100 typical ones (floored scale).
    floored = SurpriseNormalizer(window=10, min_samples=3)
    for _ in range(5):
        floored.update(np.array([1.0, 1.0, 0.0]))
    assert floored.update(np.array([1.0, 1.0, 1.0])) == pytest.approx((1 + 1 + 100) / 2)
    fixed = SurpriseNormalizer(window=10, min_samples=10, fixed_scale=2.0)
    assert fixed.calibrated and fixed.update(np.array([3.0, 3.0])) == pytest.approx(1.5)
    norm.reconfigure(window=5, min_samples=2, fixed_scale=0.0)
    assert norm.calibrated and norm.min_samples == 2
    norm.reset()
    assert not norm.calibrated and np.isnan(norm.scale)
    with pytest.raises(ValueError):
        SurpriseNormalizer(window=0)
    with pytest.raises(ValueError):
        norm.reconfigure(window=5, min_samples=1, fixed_scale=-1.0)


def test_goal_capture(runtime):
    """No goal before a frame; afterwards the goal is that frame's target latent."""
    assert not runtime.capture_goal() and runtime.goal is None
    first = runtime.step(frame(6), state(runtime), np.zeros(2))
    assert runtime.capture_goal() and runtime.has_goal
    np.testing.assert_array_equal(runtime.goal, first.z_obs)
    same = runtime.step(frame(6), state(runtime), np.zeros(2))
    other = runtime.step(frame(7), state(runtime, q=(0.9, 0.9)), np.zeros(2))
    assert same.goal_distance == pytest.approx(0.0, abs=1e-6)
    assert other.goal_distance > 1e-4
    runtime.reset()
    assert runtime.has_goal   # a goal describes a place, it survives a time reset


def test_determinism(ckpt):
    """Two runtimes on one checkpoint give bit-identical results; reset() repeats a run."""
    runs = []
    for _ in range(2):
        rt = WorldModelRuntime.from_path(ckpt)
        runs.append([rt.step(frame(8 + i), state(rt), np.array([0.1, 0.2]), horizon=4)
                     for i in range(3)])
    rt.reset()
    runs.append([rt.step(frame(8 + i), state(rt), np.array([0.1, 0.2]), horizon=4)
                 for i in range(3)])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a.positions, b.positions)
            np.testing.assert_array_equal(a.poses, b.poses)
            assert a.surprise_raw == b.surprise_raw


def test_from_path_errors(tmp_path, ckpt):
    """Missing/corrupt files raise CheckpointError; bad dtype/device raise ValueError."""
    with pytest.raises(CheckpointError, match='not found'):
        WorldModelRuntime.from_path(tmp_path / 'missing.safetensors')
    corrupt = tmp_path / 'corrupt.safetensors'
    corrupt.write_bytes(b'not a safetensors file at all')
    with pytest.raises(CheckpointError):
        WorldModelRuntime.from_path(corrupt)
    with pytest.raises(ValueError, match='dtype'):
        WorldModelRuntime.from_path(ckpt, dtype='float8')
    with pytest.raises(ValueError):
        WorldModelRuntime.from_path(ckpt, device='tpu')


def test_resolve_device():
    """cpu and auto always work; cuda only where available; others are refused."""
    assert resolve_device('cpu') == torch.device('cpu')
    assert resolve_device(' AUTO ').type in ('cpu', 'cuda')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='CUDA is not available'):
            resolve_device('cuda:0')
    with pytest.raises(ValueError):
        resolve_device('mps')


def test_bfloat16_runtime(ckpt):
    """A reduced-precision runtime runs and returns float32 numpy outputs."""
    rt = WorldModelRuntime.from_path(ckpt, dtype='bfloat16')
    result = rt.step(frame(9), state(rt), np.zeros(2), horizon=2)
    assert result.positions.dtype == np.float32 and np.isfinite(result.positions).all()


def test_default_model_path_search_order(monkeypatch, tmp_path):
    """The first existing candidate wins; with none, the first candidate is returned."""
    paths = resources.model_search_paths('nope.safetensors')
    assert paths[-1].parts[-2:] == ('models', 'nope.safetensors')
    assert resources.default_model_path('nope.safetensors') == paths[0]
    shipped = tmp_path / 'share' / 'jepa_world_model' / 'models' / 'x.safetensors'
    shipped.parent.mkdir(parents=True)
    shipped.write_bytes(b'')
    monkeypatch.setattr(resources, '_ament_share_dir', lambda: None)
    monkeypatch.setattr(resources.sys, 'prefix', str(tmp_path))
    assert resources.default_model_path('x.safetensors') == shipped
    assert resources.DEFAULT_MODEL == 'gantry_tiny.safetensors'
