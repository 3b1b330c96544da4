"""``jepa-world-model demo``: its analysis on synthetic data with known answers, and live runs.

The unit tests need neither ROS nor a model. The ``ros``/``slow`` tests run the real
command in a subprocess against randomly initialised models (what is measured is the
plumbing, not the model's quality): a complete 15 s run with the arm, one with the
mobile base and one with the tabletop, and an arm run interrupted with SIGINT that must
leave no node process behind.
"""

import json
import math
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from jepa_world_model.demo import analysis
from jepa_world_model.demo.analysis import Recording
from jepa_world_model.demo.arm.policy import DemoArmPolicy, planar_ik
from jepa_world_model.demo.base.analysis import path_errors, PathRecording, unicycle_rollout
from jepa_world_model.demo.base.geometry import BaseRoom
from jepa_world_model.demo.base.policy import DemoBasePolicy

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DT = 0.1
JOINTS = ['joint1', 'joint2', 'joint3']


def linear_recording(steps=50, horizon=5, velocity=(0.3, -0.2, 0.1), offset=0.0):
    """Joints moving at constant velocity; predictions exact plus ``offset`` rad."""
    t = np.arange(steps) * DT
    v = np.asarray(velocity)
    q = 0.5 + t[:, None] * v
    dq = np.tile(v, (steps, 1))
    dts = (np.arange(horizon) + 1) * DT
    pred_q = q[:, None, :] + dts[None, :, None] * v + offset
    return Recording(joint_names=JOINTS, joint_t=t, q=q, dq=dq, pred_t=t.copy(),
                     pred_q=pred_q, pred_dt=dts)


# ----------------------------------------------------------------------------- analysis

def test_interpolate_at_is_exact_on_the_grid_and_refuses_gaps():
    t = np.array([0.0, 0.1, 0.2, 0.5])
    values = np.array([[0.0], [1.0], [2.0], [5.0]])
    query = np.array([0.1, 0.15, 0.35, 0.6, -0.01, 0.5 + 1e-9])
    out, ok = analysis.interpolate_at(t, values, query, max_gap=0.05)
    # 0.35 lies in a gap; -0.01 and 0.6 would need extrapolation; 0.5 + 1e-9 is rounding.
    assert ok.tolist() == [True, True, False, False, False, True]
    assert out[0, 0] == 1.0 and out[1, 0] == pytest.approx(1.5) and out[5, 0] == 5.0
    assert np.isnan(out[2, 0])


def test_constant_velocity_baseline_is_exact_on_linear_motion():
    rec = linear_recording(offset=0.05)
    err = analysis.horizon_errors(rec, max_gap=0.5 * DT)
    assert err['horizon_steps'] == [1, 2, 3, 4, 5]
    assert np.allclose(err['constant_velocity'], 0.0, atol=1e-9)
    assert np.allclose(err['model'], 0.05)
    mean_speed = np.mean(np.abs([0.3, -0.2, 0.1]))
    assert np.allclose(err['nothing_changes'], mean_speed * DT * np.arange(1, 6))
    # The last k frames have no measured future at horizon k.
    assert err['pairs'] == [49, 48, 47, 46, 45]
    assert np.allclose(err['model_per_joint']['joint2'], 0.05)


def test_horizons_are_aligned_by_stamps_not_by_message_order():
    rec = linear_recording(steps=40, horizon=3)
    # Joint states at another rate and phase (25 Hz) than the predictions (10 Hz):
    # interpolation at stamp + time_from_start still finds the exact linear truth.
    t = np.arange(0.0, 4.0, 0.04) + 0.013
    v = np.array([0.3, -0.2, 0.1])
    rec.joint_t, rec.q, rec.dq = t, 0.5 + t[:, None] * v, np.tile(v, (len(t), 1))
    err = analysis.horizon_errors(rec, max_gap=0.021)
    assert np.allclose(err['model'], 0.0, atol=1e-9)
    # A prediction shifted by one step (as if matched by index) is off by |v| * dt.
    rec.pred_q = rec.pred_q - DT * v
    err = analysis.horizon_errors(rec, max_gap=0.021)
    assert np.allclose(err['model'], np.mean(np.abs(v)) * DT)


def test_missing_joint_states_drop_pairs_instead_of_bridging_gaps():
    rec = linear_recording(steps=30, horizon=2)
    keep = np.ones(30, bool)
    keep[10:15] = False
    rec.joint_t, rec.q, rec.dq = rec.joint_t[keep], rec.q[keep], rec.dq[keep]
    err = analysis.horizon_errors(rec, max_gap=0.5 * DT)
    assert err['pairs'][0] < 29 and np.allclose(err['constant_velocity'], 0.0)


def test_header_less_messages_take_the_stamp_of_the_message_sent_before_them():
    ref_src = np.array([10.0, 10.1, 10.2, 10.3])
    ref_stamps = np.array([1.0, 1.1, 1.2, 1.3])
    # Arrival order differs from send order; one message has no reference near it.
    query = np.array([10.201, 10.001, 10.9, 10.302, 9.0])
    stamps = analysis.stamps_from_source_times(query, ref_src, ref_stamps, max_gap=0.05)
    assert stamps[:2].tolist() == [1.2, 1.0] and stamps[3] == 1.3
    assert np.isnan(stamps[2]) and np.isnan(stamps[4])


def test_command_replay_tells_which_command_the_node_used():
    rec = linear_recording(steps=6, horizon=2)
    rec.image_t, rec.images = rec.joint_t.copy(), np.zeros((6, 4, 4, 3), np.uint8)
    rec.joint_src = 100.0 + rec.joint_t
    rec.command_src = rec.joint_src + 0.002          # the driver answers each joint state
    rec.commands = np.arange(6)[:, None] * np.array([[0.5, 0.0, 0.0]])

    def predict(image, q, dq, action):
        return q + np.outer(rec.pred_dt, action)

    used = rec.commands.copy()
    used[[2, 4]] = rec.commands[[1, 3]]              # frames 2 and 4 got the last command
    used[5] = 9.0                                    # and frame 5 something else
    rec.pred_q = np.stack([predict(None, rec.q[i], None, used[i]) for i in range(6)])
    out = analysis.command_replay(rec, predict)
    # Frame 0 has no previous command to compare with.
    assert out == {'frames': 5, 'fresh': 2, 'previous': 2, 'neither': 1,
                   'previous_fraction': 0.4}


def test_onsets_are_rising_edges():
    t = np.arange(8) * DT
    flags = np.array([1, 1, 0, 0, 1, 0, 1, 1], bool)
    assert np.allclose(analysis.onsets(t, flags), [0.0, 0.4, 0.6])
    assert analysis.onsets(np.zeros(0), np.zeros(0, bool)).size == 0


def test_surprise_windows_separate_onsets_from_free_motion():
    t = np.round(np.arange(200) * DT, 6)
    collision = np.zeros(200, bool)
    collision[50:53] = collision[120:125] = True
    surprise = np.ones(200)
    near = np.zeros(200, bool)
    for onset in (5.0, 12.0):
        near |= (t >= onset - 0.2 - 1e-9) & (t <= onset + 1.0 + 1e-9)
    surprise[near] = 4.0
    rec = linear_recording(steps=200, horizon=1)
    rec.surprise_t, rec.surprise = t, surprise
    rec.flag_t, rec.collision, rec.contact = t, collision, collision.copy()
    out = analysis.surprise_windows(rec, max_gap=0.5 * DT)
    assert out['collision']['onsets'] == 2 and out['contact']['onsets'] == 2
    assert out['collision']['near'] == {'count': 26, 'mean': 4.0, 'median': 4.0, 'p90': 4.0}
    assert out['free_motion']['count'] == 200 - 26
    assert out['free_motion']['mean'] == 1.0 and out['ratio_mean_collision_to_free'] == 4.0
    # Contact away from any onset window (a long push) is not free motion either.
    rec.contact = collision.copy()
    rec.contact[150:160] = True
    rec.contact[149] = False
    assert analysis.surprise_windows(rec, 0.05)['free_motion']['count'] < 200 - 26


def test_summary_helpers():
    assert analysis.json_safe({'a': [np.float32(1.5), float('nan')], 'b': np.int64(3),
                               'c': np.array([True])}) == {'a': [1.5, None], 'b': 3,
                                                           'c': [True]}
    frame_t = np.arange(300) * DT
    clip = analysis.choose_clip(frame_t, np.array([1.0, 12.0]), 5.0, lead_s=3.0,
                                start_s=4.0)
    assert frame_t[clip][0] == pytest.approx(9.0) and len(frame_t[clip]) == 51
    tail = analysis.choose_clip(frame_t, np.array([29.0]), 5.0, lead_s=3.0)
    assert frame_t[tail][-1] == pytest.approx(29.9)
    rec = linear_recording(offset=0.05)
    lines = analysis.format_summary(
        analysis.json_safe(analysis.horizon_errors(rec, 0.05)),
        analysis.json_safe(analysis.surprise_windows(rec, 0.05)))
    assert any('const-vel' in line for line in lines)
    assert any('n/a' in line for line in lines)   # no surprise samples: nothing invented


# ----------------------------------------------------------------------------- policy

def test_planar_ik_reaches_the_target():
    lengths = (0.3, 0.25, 0.16)
    for elbow in (-1.0, 1.0):
        q = planar_ik((0.38, 0.30), lengths, elbow=elbow, wrist=0.4)
        a = np.cumsum(q)
        tip = sum(length * np.array([math.cos(angle), math.sin(angle)])
                  for length, angle in zip(lengths, a))
        assert np.allclose(tip, (0.38, 0.30), atol=1e-9)
    assert planar_ik((1.0, 0.0), lengths) is None


def test_policy_aims_at_the_obstacle_and_stays_in_bounds():
    limits = np.array([[-2.9, 2.9], [-2.5, 2.5], [-2.5, 2.5]])
    policy = DemoArmPolicy(limits, -1.5 * np.ones(3), 1.5 * np.ones(3), (0.38, 0.30),
                           (0.3, 0.25, 0.16), seed=1, obstacle_every=4)
    q = np.zeros(3)
    kinds = []
    for _ in range(200):
        action = policy(q, collision=False)
        assert np.all(np.abs(action) <= 1.5)
        kinds.append(policy.goal_kind)
        q = q + DT * action
    assert kinds[0] == 'random' and 'obstacle' in kinds and 'retreat' in kinds


# ----------------------------------------------------------------------------- drawing

def _rich_recording():
    rec = linear_recording(steps=60, horizon=4, velocity=(0.2, -0.1, 0.05))
    rec.image_t = rec.joint_t.copy()
    rec.images = np.full((60, 64, 64, 3), 200, np.uint8)
    rec.surprise_t = rec.joint_t[10:]
    rec.surprise = np.linspace(0.5, 2.0, 50)
    rec.flag_t = rec.joint_t.copy()
    rec.collision = np.zeros(60, bool)
    rec.collision[30:35] = True
    rec.contact = rec.collision.copy()
    return rec


def test_plots_and_animation_are_written(tmp_path):
    from jepa_world_model.demo import plots
    from jepa_world_model.demo.arm.kinematics import ArmKinematics
    from jepa_world_model.demo.arm.overlay import animation_frames
    rec = _rich_recording()
    err = analysis.horizon_errors(rec, 0.05)
    for path in (plots.plot_joint_trajectories(rec, tmp_path / 'j.png', DT),
                 plots.plot_error_vs_horizon(err, tmp_path / 'e.png'),
                 plots.plot_surprise(rec, tmp_path / 's.png', DT)):
        assert path.stat().st_size > 1000
    kin = ArmKinematics(64)
    # The tip at q = 0 lies on the +x axis, right of the image centre.
    u, v = kin.project(kin.end_effector(np.zeros((1, 3))))[0]
    assert u > 32 + 20 and v == pytest.approx(32.0)
    frames = animation_frames(rec, kin, slice(20, 30), DT)
    assert len(frames) == 10 and frames[0].shape == (256, 256 + 320, 3)
    gif = plots.write_animation(frames, tmp_path / 'demo.gif', fps=10)
    assert gif.stat().st_size > 1000


def test_cli_keeps_the_synthetic_demo():
    from jepa_world_model.cli import build_parser
    from jepa_world_model.commands import demo, demo_synthetic
    args = build_parser().parse_args(['demo-synthetic', '--steps', '5'])
    assert args.func is demo_synthetic.run and args.steps == 5
    args = build_parser().parse_args(['demo', '--duration', '5'])
    assert args.func is demo.run and args.robot == 'arm'


# ----------------------------------------------------------------------------- mobile base

def small_room():
    """The simulator's room as numbers (no MuJoCo): walls at +-1.5 m, one pillar."""
    return BaseRoom(half_extent=1.5, obstacles=np.array([[0.75, 0.7, 0.3]]), robot_radius=0.22,
                    camera_pos=np.array([0.0, 0.0, 6.0]),
                    intrinsics=(113.46, 113.46, 32.0, 32.0, 64, 64),
                    action_low=np.array([-0.5, -1.5]), action_high=np.array([0.8, 1.5]))


def circle_recording(steps=80, horizon=5, v=0.4, w=0.5, probe_offset=(0.05, 0.0)):
    """Odometry of a robot on a circle; predicted paths exact plus a constant offset."""
    t = np.arange(steps) * DT
    start = np.array([[0.2, -0.3, 0.4]])
    pose = unicycle_rollout(start, [[v, w]], t)[0]
    dts = np.arange(horizon + 1) * DT
    truth = np.stack([unicycle_rollout(start, [[v, w]], ti + dts)[0] for ti in t])
    path = truth + np.array([*probe_offset, 0.0])
    return PathRecording(odom_t=t, odom_pose=pose, odom_twist=np.tile([v, w], (steps, 1)),
                         path_t=t.copy(), path_pose=path, path_dt=dts)


def test_unicycle_rollout_follows_the_arc():
    # Half a turn at v = 1 m/s, w = 1 rad/s: a circle of radius 1 to the left.
    out = unicycle_rollout([[0.0, 0.0, 0.0]], [[1.0, 1.0]], [0.0, math.pi / 2, math.pi])[0]
    assert np.allclose(out[1], [1.0, 1.0, math.pi / 2]) and np.allclose(out[2, :2], [0, 2])
    line = unicycle_rollout([[1.0, 2.0, math.pi / 2]], [[0.5, 0.0]], [2.0])[0, 0]
    assert np.allclose(line, [1.0, 3.0, math.pi / 2])


def test_path_errors_score_the_model_and_the_odometry_baselines():
    rec = circle_recording(probe_offset=(0.03, -0.04))
    err = path_errors(rec, max_gap=0.5 * DT)
    assert err['horizon_steps'] == [1, 2, 3, 4, 5] and err['pairs'] == [79, 78, 77, 76, 75]
    assert err['model_now'] == pytest.approx(0.05) and err['model_now_yaw'] < 1e-9
    assert np.allclose(err['model'], 0.05)                 # the probe's offset at every k
    assert np.allclose(err['model_anchored'], 0.0, atol=1e-9)
    assert np.allclose(err['constant_velocity'], 0.0, atol=1e-9)   # constant twist
    # Nothing changes: the chord of the arc, 2 (v / w) sin(w k dt / 2).
    chord = 2 * 0.4 / 0.5 * np.sin(0.5 * 0.5 * DT * np.arange(1, 6))
    assert np.allclose(err['nothing_changes'], chord, atol=1e-6)
    assert np.allclose(err['nothing_changes_yaw'], 0.5 * DT * np.arange(1, 6))
    # Yaw wraps: a path a full turn off is right.
    rec.path_pose[..., 2] += 2 * math.pi
    assert np.allclose(path_errors(rec, 0.05)['model_yaw'], 0.0, atol=1e-9)


def test_room_projection_matches_the_rendered_robot():
    room = BaseRoom.from_sim(64)
    assert np.allclose(room.project(np.zeros(2)), [32.0, 32.0])
    from jepa_world_model.sim.robots import make_robot
    with make_robot('mobile_base', image_size=64) as robot:
        for seed in range(3):
            obs = robot.reset(seed=seed)
            img = obs.image.astype(int)
            blue = (img[..., 2] > 150) & (img[..., 0] < 80) & (img[..., 1] < 120)
            yellow = (img[..., 0] > 200) & (img[..., 1] > 180) & (img[..., 2] < 80)
            rows, cols = np.nonzero(blue | yellow)   # the disc with its heading marker
            centre = np.array([cols.mean(), rows.mean()]) + 0.5   # pixel centres
            assert np.allclose(room.project(obs.base_pose[:2]), centre, atol=0.5), seed


def test_base_policy_wanders_bumps_and_backs_off():
    room = small_room()
    policy = DemoBasePolicy(room, seed=0, bump_every=2)
    pose, twist = np.array([-0.8, -0.8, 0.0]), np.zeros(2)
    kinds, backing, hits = [], 0, 0
    for _ in range(600):
        blocked = not room.is_free(pose[:2], room.robot_radius)
        action = policy(pose, twist, blocked)
        assert np.all(action >= room.action_low) and np.all(action <= room.action_high)
        kinds.append(policy.goal_kind)
        hits += blocked
        backing += blocked and action[0] < 0
        new = unicycle_rollout(pose, action, [DT])[0, 0]
        # A stall: the robot does not move into the wall or the pillar.
        moved = room.is_free(new[:2], room.robot_radius - 0.01) or action[0] < 0
        twist = action if moved else np.array([0.0, action[1]])
        pose = new if moved else np.r_[pose[:2], new[2]]
    assert kinds[0] == 'random' and 'bump' in kinds and policy.bumps_planned >= 3
    assert hits > 0 and backing > 0   # it ran into things and backed off


def test_base_plots_and_animation_are_written(tmp_path):
    from jepa_world_model.demo import plots
    from jepa_world_model.demo.base.overlay import animation_frames
    rec = _rich_recording()
    rec.joint_names = ['wheel_left_joint', 'wheel_right_joint']
    rec.q, rec.dq, rec.pred_q = rec.q[:, :2], rec.dq[:, :2], rec.pred_q[..., :2]
    base = circle_recording(steps=60, horizon=4)
    room = small_room()
    err = path_errors(base, 0.05)
    assert plots.plot_error_vs_horizon(err, tmp_path / 'p.png', ylabel='m').stat().st_size > 1000
    assert plots.plot_base_path(rec, base, room, tmp_path / 'top.png').stat().st_size > 1000
    frames = animation_frames(rec, base, room, slice(20, 30), DT)
    assert len(frames) == 10 and frames[0].shape == (256, 256 + 320, 3)
    # The predicted path is drawn in cyan where the robot is.
    u, v = np.round(room.project(base.path_pose[25, 0], 4)).astype(int)
    assert tuple(frames[5][v, u]) == (0, 230, 255)


def test_base_cli_option():
    from jepa_world_model.cli import build_parser
    args = build_parser().parse_args(['demo', '--robot', 'mobile_base'])
    assert args.robot == 'mobile_base'


# ----------------------------------------------------------------------------- live runs

def _save_random_model(tmp_path_factory, config_name):
    """Save a randomly initialised (seed 0) model of config/train/``config_name``.yaml;
    ``(its config, the checkpoint path)``."""
    import torch
    from jepa_world_model.core.checkpoint import save_checkpoint
    from jepa_world_model.core.config import load_config
    from jepa_world_model.core.model.world_model import WorldModel
    cfg = load_config(os.path.join(REPO_ROOT, 'config', 'train', config_name + '.yaml'))
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('model') / f'{config_name}_random.safetensors'
    return cfg, save_checkpoint(path, WorldModel(cfg.model), cfg, 0)


@pytest.fixture(scope='module')
def random_arm_model(tmp_path_factory):
    """A randomly initialised model with the arm's joints, actions and image size."""
    return _save_random_model(tmp_path_factory, 'arm_tiny')[1]


@pytest.fixture(scope='module')
def random_base_model(tmp_path_factory):
    """A randomly initialised model with the base's wheels, (v, w) actions and pose probe."""
    cfg, path = _save_random_model(tmp_path_factory, 'mobile_base_tiny')
    assert cfg.model.has_pose   # ~/predicted_path is published
    return path


@pytest.fixture(scope='module')
def random_tabletop_model(tmp_path_factory):
    """A randomly initialised tabletop model with a consequence read-out (+1 cm in x for the
    block at every horizon) and a grip head (p = 0.5) saved beside it, as shipped."""
    import torch
    from jepa_world_model.core.model.grip_head import GripHoldHead, save_grip_head
    from jepa_world_model.experiments.consequence_readout import (ConsequenceReadout,
                                                                  save_readout)
    cfg, path = _save_random_model(tmp_path_factory, 'tabletop_tiny')
    z_dim, horizon = cfg.model.latent_dim, 8
    readout = ConsequenceReadout.fit(np.random.default_rng(0).normal(
        size=(4, horizon, 2 * z_dim)), np.zeros((4, horizon, 6)), steps=1)
    head = GripHoldHead(z_dim)
    with torch.no_grad():
        readout.net[-1].weight.zero_()
        readout.net[-1].bias.copy_(torch.tensor([1.0, 0, 0, 0, 0, 0]))
        head.linear.weight.zero_()
        head.linear.bias.zero_()
    stem = path.with_suffix('')
    save_readout(f'{stem}_consequence.safetensors', readout,
                 {'horizon': horizon, 'feature': 'predicted', 'step': 0})
    save_grip_head(f'{stem}_grip.safetensors', head, {'horizon': 15})
    return path


DEMO_DOMAIN_MIN, DEMO_DOMAIN_MAX = 20, 101   # Linux-safe domain IDs, as in conftest.py
#: What every demo run writes (the base adds its path plots).
DEMO_ARTIFACTS = ('report.json', 'demo.gif', 'joints.png', 'error_vs_horizon.png',
                  'surprise.png')


def _demo_process(out, model, duration, robot='arm'):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env.pop('PYTHONUNBUFFERED', None)   # the demo must flush its progress lines itself
    # A domain of its own per demo: nodes of an earlier demo that are still shutting down
    # (same namespace) must not feed this one their later stamps.
    session = int(env.get('ROS_DOMAIN_ID', '0'))
    env['ROS_DOMAIN_ID'] = str(random.SystemRandom().choice(
        [d for d in range(DEMO_DOMAIN_MIN, DEMO_DOMAIN_MAX + 1) if d != session]))
    return subprocess.Popen(
        [sys.executable, '-m', 'jepa_world_model.cli', 'demo', '--out', str(out),
         '--duration', str(duration), '--model', str(model), '--gif-seconds', '8',
         '--robot', robot],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def live_demo(test):
    """Mark ``test`` as a live demo run: it needs ROS, times real DDS on a shared machine
    (a timing flake gets two more tries) and is slow."""
    for mark in (pytest.mark.slow, pytest.mark.flaky(reruns=2, reruns_delay=2),
                 pytest.mark.dds_timing, pytest.mark.ros):
        test = mark(test)
    return test


def _finished_demo(out, model, robot, artifacts):
    """Run a 15 s demo into ``out`` to its end; it must exit 0 and write each of
    ``artifacts`` (over 1 kB). Its report (dict) and everything it printed."""
    proc = _demo_process(out, model, 15, robot)
    try:
        output, _ = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    for name in artifacts:
        assert (out / name).stat().st_size > 1000, name
    return json.loads((out / 'report.json').read_text()), output


def _node_processes_using(model):
    """PIDs of node processes whose command line names ``model`` (world_model_node)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if str(model).encode() in cmdline and b'jepa_world_model.ros.' in cmdline:
            pids.append(int(pid))
    return pids


@live_demo
def test_demo_end_to_end(tmp_path, random_arm_model):
    report, output = _finished_demo(tmp_path / 'out', random_arm_model, 'arm', DEMO_ARTIFACTS)
    err = report['prediction_error']
    assert err['horizon_steps'] == list(range(1, 11))
    for key in ('model', 'constant_velocity', 'nothing_changes'):
        assert all(isinstance(v, float) and math.isfinite(v) for v in err[key]), key
    assert min(err['pairs']) > 50
    assert report['run']['sim_seconds'] >= 14.0 and report['run']['predictions'] > 50
    free = report['surprise']['free_motion']
    assert free['count'] > 10 and math.isfinite(free['mean']) and math.isfinite(free['p90'])
    assert 'const-vel' in output and 'free motion' in output
    used = report['command_used']   # the replay reproduces the node's predictions
    assert used['frames'] > 10 and used['neither'] <= 0.1 * used['frames']
    assert not _node_processes_using(random_arm_model)


@live_demo
def test_base_demo_end_to_end(tmp_path, random_base_model):
    report, output = _finished_demo(tmp_path / 'out', random_base_model, 'mobile_base',
                                    DEMO_ARTIFACTS + ('path_error_vs_horizon.png', 'path.png'))
    assert report['robot'] == 'mobile_base'
    assert report['model']['joints'] == ['wheel_left_joint', 'wheel_right_joint']
    assert report['run']['sim_seconds'] >= 14.0 and report['run']['commands_sent'] > 100
    wheels, path = report['prediction_error'], report['path_error']
    assert min(wheels['pairs']) > 50 and min(path['pairs']) > 50
    for key in ('model', 'model_anchored', 'constant_velocity', 'nothing_changes'):
        assert all(isinstance(v, float) and math.isfinite(v) for v in path[key]), key
        assert len(path[key]) == 10
    assert all(math.isfinite(v) for v in wheels['model'] + wheels['constant_velocity'])
    # The robot moved (the driver's Twist reached sim_node) ...
    assert path['nothing_changes'][-1] > 0.05
    # ... and over one step the odometry twist tells how (later the driver turns).
    assert path['constant_velocity'][0] < 0.5 * path['nothing_changes'][0]
    assert report['surprise']['free_motion']['count'] > 10
    assert 'predicted path' in output
    assert not _node_processes_using(random_base_model)


@live_demo
def test_tabletop_demo_end_to_end(tmp_path, random_tabletop_model):
    """The driver pushes and grasps from the ground-truth poses; the report scores the
    read-out beside the model on the recorded objects and draws it."""
    report, output = _finished_demo(tmp_path / 'out', random_tabletop_model, 'tabletop',
                                    DEMO_ARTIFACTS + ('object_motion.png',))
    assert report['robot'] == 'tabletop'
    assert report['model']['joints'] == ['yaw', 'reach', 'lift', 'gripper']
    assert report['run']['sim_seconds'] >= 14.0 and report['run']['commands_sent'] > 100
    assert min(report['prediction_error']['pairs']) > 50
    motion = report['object_motion']
    assert motion['horizon'] == 8 and report['tabletop_frames'] > 100
    assert motion['starts'] == report['tabletop_frames'] - 8
    for name in ('block', 'cube'):
        both = motion[name]['all']
        assert len(both['model_cm']) == 8 and all(math.isfinite(v) for v in both['model_cm'])
    # The read-out says +1 cm in x at every horizon: never better than 1 cm minus no-change.
    block = motion['block']['all']
    assert block['model_cm'][0] >= 1.0 - block['no_change_cm'][0] - 1e-6
    assert isinstance(report['grip']['grasps'], list)
    assert all(g['p_held'] == 0.5 for g in report['grip']['grasps'])
    assert 'block over the next 8 steps' in output or 'block: never moved' in output
    assert not _node_processes_using(random_tabletop_model)


@live_demo
def test_demo_ctrl_c_stops_every_node(tmp_path, random_arm_model):
    proc = _demo_process(tmp_path / 'out', random_arm_model, 60)
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                              daemon=True)
    reader.start()
    seen = []
    try:
        deadline = time.monotonic() + 90
        while not any('predicting after' in line for line in seen):
            assert time.monotonic() < deadline, ''.join(seen)
            try:
                seen.append(lines.get(timeout=1.0))
            except queue.Empty:
                assert proc.poll() is None, ''.join(seen)
        assert _node_processes_using(random_arm_model)   # world_model_node is running
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 5
    while _node_processes_using(random_arm_model) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _node_processes_using(random_arm_model)
