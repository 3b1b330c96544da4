"""rosbag2 recording and datasets: exact round trips, alignment rules, damaged bags, the CLI."""

import ast
import dataclasses
import json
import math
from pathlib import Path
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from jepa_world_model.bags.errors import BagDatasetError, BagWriteError
from jepa_world_model.bags.reader import BagDatasetConfig, read_bag_episodes
from jepa_world_model.bags.recording import record, topics_for
from jepa_world_model.bags.writer import BagRecorder, RecorderTopics, typestore
from jepa_world_model.cli import main
from jepa_world_model.commands.training_progress import MetricsLogger
from jepa_world_model.core.training.data import ClipSampler
from jepa_world_model.core.training.synthetic import generate_episodes, JOINT_NAMES, SceneSpec

START = 1_700_000_000_000_000_000      # ns, an arbitrary wall-clock time
DT = 100_000_000                        # 10 Hz
SIZE = 16
IMAGE, JOINTS, CMD = '/camera/image_raw', '/joint_states', '/commands'


@pytest.fixture(scope='module')
def episodes():
    return generate_episodes(3, 8, seed=3, spec=SceneSpec(image_size=SIZE))


def config(**kwargs):
    return BagDatasetConfig(**dict(dict(joint_names=JOINT_NAMES, image_size=SIZE), **kwargs))


def write_frames(rec, ep, stamps, skip_joint=(), cmd_offset_ns=0, cmd_frames=None):
    """Write ``ep`` frame by frame at ``stamps`` (image, joint state, command)."""
    for t, stamp in enumerate(stamps):
        rec.write_image(stamp, ep.images[t])
        if t not in skip_joint:
            rec.write_joint_state(stamp, ep.s[t, :2], ep.s[t, 2:])
        if cmd_frames is None or t in cmd_frames:
            rec.write_action(stamp + cmd_offset_ns, ep.a[t])


def stamps(n, start=START):
    return [start + t * DT for t in range(n)]


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_round_trip_gives_identical_clips(tmp_path, episodes, storage):
    with BagRecorder(tmp_path / 'bag', storage, joint_names=JOINT_NAMES) as rec:
        start = START
        for ep in episodes:      # episodes one after the other, 10 s apart
            start = rec.write_episode(ep, start, DT / 1e9) + 10 * 10 ** 9
    got, report = read_bag_episodes([tmp_path / 'bag'], config())
    assert len(got) == 3 and report.gaps == 2 and report.images_read == 24
    for want, have in zip(episodes, got):
        assert np.array_equal(want.images, have.images)
        np.testing.assert_allclose(have.s, want.s, rtol=0, atol=1e-7)
        np.testing.assert_allclose(have.a, want.a, rtol=0, atol=1e-7)
        assert np.all(np.diff(have.extras['stamp_ns']) == DT)
    picks = np.arange(len(ClipSampler(episodes, 4)))
    a, b = ClipSampler(episodes, 4).gather(picks), ClipSampler(got, 4).gather(picks)
    assert torch.equal(a.o, b.o) and torch.allclose(a.s, b.s) and torch.allclose(a.a, b.a)


def test_recorder_refuses_an_existing_path(tmp_path):
    (tmp_path / 'bag').mkdir()
    with pytest.raises(BagWriteError, match='already exists'):
        BagRecorder(tmp_path / 'bag')


@pytest.fixture(scope='module')
def good_bags(tmp_path_factory, episodes):
    root = tmp_path_factory.mktemp('good')
    for storage in ('mcap', 'sqlite3'):
        with BagRecorder(root / storage, storage, joint_names=JOINT_NAMES) as rec:
            rec.write_episode(episodes[0], START, 0.1)
    return root


def _damage(path, how):
    data = path.read_bytes()
    if how == 'truncated':
        path.write_bytes(data[:len(data) // 2])
    elif how == 'garbage':
        path.write_bytes(bytes(len(data)))
    elif how == 'flipped':       # damage the middle, keep the file's start and end intact
        mid = bytearray(data)
        for k in range(len(data) // 2, len(data) // 2 + 4000):
            mid[k] ^= 0xFF
        path.write_bytes(bytes(mid))


@pytest.mark.parametrize('storage, how', [('mcap', 'truncated'), ('mcap', 'garbage'),
                                          ('sqlite3', 'truncated'), ('sqlite3', 'garbage'),
                                          ('sqlite3', 'flipped'), ('mcap', 'flipped'),
                                          ('mcap', 'metadata')])
def test_corrupt_or_truncated_bag_names_the_file(tmp_path, good_bags, storage, how):
    import shutil
    bag = tmp_path / storage
    shutil.copytree(good_bags / storage, bag)
    if how == 'metadata':
        (bag / 'metadata.yaml').write_text('rosbag2_bagfile_information: [unclosed')
    else:
        _damage(next(p for p in bag.iterdir() if p.suffix in ('.mcap', '.db3')), how)
    with pytest.raises(BagDatasetError, match='cannot read bag') as err:
        read_bag_episodes([bag], config())
    assert str(bag) in str(err.value)


def test_not_a_bag_directory(tmp_path):
    with pytest.raises(BagDatasetError, match='no metadata.yaml'):
        read_bag_episodes([tmp_path], config())


def test_missing_topic_lists_the_topics_present(good_bags):
    with pytest.raises(BagDatasetError) as err:
        read_bag_episodes([good_bags / 'mcap'], config(image_topic='/front/image'))
    msg = str(err.value)
    assert '/front/image is not in the bag' in msg
    assert all(t in msg for t in (IMAGE, JOINTS, CMD, 'sensor_msgs/msg/Image'))


def test_action_size_must_match_the_model(good_bags):
    with pytest.raises(BagDatasetError, match='action_dim 3'):
        read_bag_episodes([good_bags / 'mcap'], config(action_dim=3))


def test_a_directory_of_bags_reads_each(good_bags):
    got, report = read_bag_episodes([good_bags], config())
    assert report.bags == 2 and len(got) == 2
    assert np.array_equal(got[0].images, got[1].images)


def test_out_of_order_stamps_are_sorted_and_duplicates_dropped(tmp_path, episodes):
    ep = episodes[0]
    order = [0, 1, 3, 2, 4, 5, 5, 6, 7]          # frame 3 logged before 2; frame 5 twice
    with BagRecorder(tmp_path / 'bag', joint_names=JOINT_NAMES) as rec:
        for k, t in enumerate(order):             # receive times in write order
            rec.write_image(START + t * DT, ep.images[t], log_time_ns=START + k * DT)
        write_frames_no_images(rec, ep)
    (got,), report = read_bag_episodes([tmp_path / 'bag'], config())
    assert report.out_of_order[IMAGE] == 1 and report.duplicates[IMAGE] == 1
    assert np.array_equal(got.images, ep.images) and np.allclose(got.s, ep.s)
    assert np.allclose(got.a, ep.a)


def write_frames_no_images(rec, ep):
    for t, stamp in enumerate(stamps(len(ep))):
        rec.write_joint_state(stamp, ep.s[t, :2], ep.s[t, 2:])
        rec.write_action(stamp, ep.a[t])


def test_a_gap_splits_the_episode_and_short_pieces_are_dropped(tmp_path, episodes):
    ep = episodes[0]
    times = stamps(8)
    times[5:] = [t + 10 ** 9 for t in times[5:]]      # a 1.1 s pause before frame 5
    with BagRecorder(tmp_path / 'bag', joint_names=JOINT_NAMES) as rec:
        write_frames(rec, ep, times)
    (first, second), report = read_bag_episodes([tmp_path / 'bag'], config())
    assert report.gaps == 1 and (len(first), len(second)) == (5, 3)
    assert np.array_equal(first.images, ep.images[:5]) and np.allclose(second.s, ep.s[5:])
    assert np.allclose(first.a, ep.a[:5]) and np.allclose(second.a, ep.a[5:])
    got, report = read_bag_episodes([tmp_path / 'bag'], config(min_episode_length=4))
    assert len(got) == 1 and report.episodes_too_short == 1
    assert report.frames_in_short_episodes == 3


def test_frames_without_a_joint_state_within_skew_are_skipped(tmp_path, episodes):
    ep = episodes[0]
    with BagRecorder(tmp_path / 'bag', joint_names=JOINT_NAMES) as rec:
        write_frames(rec, ep, stamps(8), skip_joint=(2, 4, 6))
        rec.write_joint_state(START + 4 * DT + 30_000_000, ep.s[4, :2], ep.s[4, 2:])
        # Frame 4's joint state comes 30 ms late: within the 50 ms skew, still paired.
        # Frame 6's lies 60 ms away: too far, so the frame is skipped, not misaligned.
        rec.write_joint_state(START + 6 * DT + 60_000_000, ep.s[6, :2], ep.s[6, 2:])
    (got,), report = read_bag_episodes([tmp_path / 'bag'], config())
    keep = [0, 1, 3, 4, 5, 7]
    assert report.frames_without_joint_state == 2 and report.gaps == 0
    assert np.array_equal(got.images, ep.images[keep]) and np.allclose(got.s, ep.s[keep])
    assert np.allclose(got.a, ep.a[keep])
    assert list(got.extras['stamp_ns']) == [stamps(8)[k] for k in keep]


def test_joint_state_delta_actions_need_no_command_topic(tmp_path, episodes):
    ep = episodes[1]
    with BagRecorder(tmp_path / 'bag', joint_names=JOINT_NAMES) as rec:
        for t, stamp in enumerate(stamps(len(ep))):
            rec.write_image(stamp, ep.images[t])
            rec.write_joint_state(stamp, ep.s[t, :2], ep.s[t, 2:])
    (got,), _ = read_bag_episodes([tmp_path / 'bag'], config(action_source='joint_state_delta'))
    q = ep.s[:, :2]
    assert np.allclose(got.a[:-1], q[1:] - q[:-1], atol=1e-7) and not got.a[-1].any()
    with pytest.raises(BagDatasetError, match='/commands is not in the bag'):
        read_bag_episodes([tmp_path / 'bag'], config())


def test_action_is_the_latest_command_at_or_before_the_frame(tmp_path, episodes):
    ep = episodes[0]
    with BagRecorder(tmp_path / 'bag', joint_names=JOINT_NAMES) as rec:
        # Each command is sent 30 ms after its frame, so it first counts for the next frame.
        write_frames(rec, ep, stamps(8), cmd_offset_ns=30_000_000, cmd_frames=(0, 1, 2, 3))
    (got,), report = read_bag_episodes([tmp_path / 'bag'], config())
    assert not got.a[0].any() and np.allclose(got.a[1:5], ep.a[:4])
    assert np.allclose(got.a[5:], ep.a[3])            # held: no newer command
    assert report.frames_without_command == 1
    (got,), report = read_bag_episodes([tmp_path / 'bag'], config(command_timeout_s=0.2))
    assert np.allclose(got.a[1:6], np.vstack([ep.a[:4], ep.a[3:4]]))
    assert not got.a[6:].any() and report.frames_without_command == 3


def test_twist_stamped_commands_with_action_fields(tmp_path, episodes):
    ep = episodes[2]
    topics = RecorderTopics(action='/cmd_vel', action_type='twist_stamped',
                            action_fields=['linear.x', 'angular.z'])
    with BagRecorder(tmp_path / 'bag', 'sqlite3', topics, JOINT_NAMES) as rec:
        rec.write_episode(ep, START, 0.1)
    cfg = config(action_topic='/cmd_vel', action_fields=['linear.x', 'angular.z'])
    (got,), _ = read_bag_episodes([tmp_path / 'bag'], cfg)
    assert np.allclose(got.a, ep.a)
    with pytest.raises(BagDatasetError, match='set action_fields'):
        read_bag_episodes([tmp_path / 'bag'], config(action_topic='/cmd_vel'))


def test_undecodable_images_are_skipped_and_counted(tmp_path, episodes):
    ep = episodes[0]
    with BagRecorder(tmp_path / 'bag', joint_names=JOINT_NAMES) as rec:
        write_frames(rec, ep, stamps(8))
        bad = typestore().types['sensor_msgs/msg/Image'](
            header=rec._header(START + 8 * DT, 'camera'), height=SIZE, width=SIZE,
            encoding='yuv422', is_bigendian=0, step=2 * SIZE,
            data=np.zeros(2 * SIZE * SIZE, np.uint8))
        rec.write_message(IMAGE, 'sensor_msgs/msg/Image', bad, START + 8 * DT)
    (got,), report = read_bag_episodes([tmp_path / 'bag'], config())
    assert report.images_read == 9 and report.decode_failures == 1 and len(got) == 8


def test_frame_rate_resamples_and_images_are_resized(tmp_path, episodes):
    ep = episodes[0]
    with BagRecorder(tmp_path / 'bag', joint_names=JOINT_NAMES) as rec:
        write_frames(rec, ep, stamps(8))
    (got,), report = read_bag_episodes([tmp_path / 'bag'], config(frame_rate=5.0, image_size=8))
    assert len(got) == 4 and report.frames_resampled_out == 4
    assert got.images.shape == (4, 8, 8, 3) and np.allclose(got.s, ep.s[::2])


class FakeBase:
    """A duck-typed simulator robot (the jepa_world_model.sim API) with a planar base."""

    joint_names = ['wheel_left', 'wheel_right']
    action_names = ['linear.x', 'angular.z']
    action_low, action_high = np.array([-1.0, -2.0]), np.array([1.0, 2.0])
    dt = 0.05

    def reset(self, seed):
        self.t, self.seed = 0, seed
        return self._obs()

    def step(self, action):
        self.t += 1
        return self._obs()

    def _obs(self):
        image = np.full((SIZE, SIZE, 3), 10 * self.t + self.seed, np.uint8)
        return SimpleNamespace(time=self.t * self.dt, image=image, q=np.full(2, self.t * 0.1),
                               dq=np.ones(2), contact=self.t == 2, collision=False,
                               base_pose=[self.t * 0.1, 0.0, 0.2], base_twist=[1.0, 0.0, 0.1])


def test_record_drives_a_simulator_robot_into_a_bag(tmp_path):
    robot = FakeBase()
    topics = topics_for('mobile_base', robot)
    assert topics.action_type == 'twist_stamped' and topics.odometry == '/odom'
    chosen = []

    def policy_factory(seed):
        def policy(obs):
            chosen.append(np.array([0.5, 3.0]) * (len(chosen) % 3 - 1))   # 3.0 gets clipped
            return chosen[-1]
        return policy

    summary = record(robot, policy_factory, tmp_path / 'bag', 2, 6, topics, start_ns=START)
    assert summary['messages']['/odom'] == 12 and summary['messages']['/contact'] == 12
    cfg = BagDatasetConfig(joint_names=robot.joint_names, image_size=SIZE,
                           action_topic='/cmd_vel', action_fields=topics.action_fields)
    got, report = read_bag_episodes([tmp_path / 'bag'], cfg)
    assert len(got) == 2 and report.gaps == 1
    want = np.clip(np.array(chosen), robot.action_low, robot.action_high).reshape(2, 6, 2)
    assert np.allclose(got[0].a, want[0]) and np.allclose(got[1].a, want[1])
    assert got[1].images[3, 0, 0, 0] == 30 + 1 and np.allclose(got[0].s[:, 0], np.arange(6) / 10)


@pytest.mark.parametrize('name', ['arm', 'mobile_base'])
def test_record_a_mujoco_robot_round_trips(tmp_path, name):
    robots = pytest.importorskip('jepa_world_model.sim.robots')
    from jepa_world_model.bags.recording import make_policy
    seen = []

    def policy_factory(seed):
        inner = make_policy('random', robot, seed)

        def policy(obs):
            seen.append((obs, np.clip(inner(obs), robot.action_low, robot.action_high)))
            return seen[-1][1]
        return policy

    with robots.make_robot(name, image_size=SIZE) as robot:
        topics = topics_for(name, robot)
        summary = record(robot, policy_factory, tmp_path / 'bag', 2, 5, topics, seed=7)
    assert summary['messages'][topics.collision] == 10
    cfg = BagDatasetConfig(joint_names=list(robot.joint_names), image_size=SIZE,
                           action_topic=topics.action, action_fields=topics.action_fields)
    got, _ = read_bag_episodes([tmp_path / 'bag'], cfg)
    assert len(got) == 2
    obs = [o for o, _ in seen]
    assert np.array_equal(np.concatenate([ep.images for ep in got]),
                          np.stack([o.image for o in obs]))
    np.testing.assert_allclose(np.concatenate([ep.s for ep in got]),
                               np.stack([np.concatenate([o.q, o.dq]) for o in obs]), atol=1e-6)
    np.testing.assert_allclose(np.concatenate([ep.a for ep in got]),
                               np.stack([a for _, a in seen]), atol=1e-6)


def test_base_scan_is_recorded_and_read_as_a_label(tmp_path):
    """The base's range scan goes into the bag as a LaserScan and comes back, per frame, as
    the 'scan' extra; a bag without the topic fails with the topics listed."""
    robots = pytest.importorskip('jepa_world_model.sim.robots')
    from jepa_world_model.bags.recording import make_policy
    scans = []

    def policy_factory(seed):
        inner = make_policy('seek', robot, seed)

        def policy(obs):
            scans.append(obs.scan.copy())
            return inner(obs)
        return policy

    with robots.make_robot('mobile_base', image_size=SIZE) as robot:
        topics = topics_for('mobile_base', robot)
        assert topics.scan == '/scan'
        summary = record(robot, policy_factory, tmp_path / 'bag', 2, 5, topics, seed=3)
    assert summary['messages']['/scan'] == 10
    cfg = BagDatasetConfig(joint_names=list(robot.joint_names), image_size=SIZE,
                           use_joint_position=False, action_topic=topics.action,
                           action_fields=topics.action_fields, scan_topic='/scan')
    got, _ = read_bag_episodes([tmp_path / 'bag'], cfg)
    np.testing.assert_allclose(np.concatenate([ep.extras['scan'] for ep in got]),
                               np.stack(scans), atol=1e-6)
    with pytest.raises(BagDatasetError, match='/laser is not in the bag'):
        read_bag_episodes([tmp_path / 'bag'], dataclasses.replace(cfg, scan_topic='/laser'))


def test_bags_package_does_not_import_ros():
    root = Path(__file__).resolve().parent.parent / 'jepa_world_model' / 'bags'
    for path in root.glob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ''] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split('.')[0]
                assert top not in ('rclpy', 'cv_bridge') and not top.endswith('_msgs'), \
                    f'{path.name} imports {name}'
                assert 'ros' not in name.split('.'), f'{path.name} imports {name}'


TINY = {'model': {'image_size': 32, 'patch_size': 8, 'embed_dim': 32, 'depth': 1,
                  'num_heads': 2, 'image_latent_dim': 8, 'proprio_latent_dim': 4,
                  'predictor_embed_dim': 16, 'predictor_depth': 1, 'predictor_num_heads': 2,
                  'dynamics_hidden_dim': 32, 'idm_hidden_dim': 16,
                  'joint_names': JOINT_NAMES, 'action_dim': 2},
        'optim': {'steps': 3, 'batch_size': 4, 'warmup_steps': 1},
        'data': {'clip_length': 4, 'validation_fraction': 0.25},
        # One thread: tiny ops on a shared 2-core machine are ~50x slower with two.
        'train': {'log_every': 1, 'checkpoint_every': 100, 'num_threads': 1}}


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_cli_record_then_train_from_the_bag(tmp_path, capsys, keep_threads):
    bag, run, cfg = tmp_path / 'bag', tmp_path / 'run', tmp_path / 'tiny.yaml'
    cfg.write_text(yaml.safe_dump(TINY))
    assert main(['record', '--robot', 'gantry', '--out', str(bag), '--episodes', '4',
                 '--steps', '8', '--config', str(cfg), '--storage', 'sqlite3']) == 0
    recorded = json.loads(capsys.readouterr().out)
    assert recorded['frames'] == 32 and recorded['train_config']['data']['source'] == 'rosbag'
    assert main(['record', '--out', str(bag)]) == 2
    assert 'already exists' in capsys.readouterr().err
    assert main(['train', '--bag', str(bag), '--config', str(cfg), '--out', str(run)]) == 0
    report = json.loads((run / 'report.json').read_text())
    assert report['step'] == 3 and report['data_source'] == 'rosbag'
    assert report['episodes'] == {'train': 3, 'validation': 1}
    assert report['bag_read']['frames'] == 32 and 'prediction' in report
    saved = yaml.safe_load((run / 'config.yaml').read_text())
    assert saved['data']['source'] == 'rosbag'
    assert saved['data']['bag']['paths'] == [str(bag.resolve())]
    assert len((run / 'metrics.jsonl').read_text().splitlines()) == 3


def test_cli_reports_bag_problems_cleanly(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / 'tiny.yaml'
    cfg.write_text(yaml.safe_dump(TINY))
    assert main(['train', '--bag', str(tmp_path), '--config', str(cfg), '--out',
                 str(tmp_path / 'run')]) == 2
    assert 'no metadata.yaml' in capsys.readouterr().err
    for module in ('jepa_world_model.sim', 'jepa_world_model.sim.robots'):
        monkeypatch.setitem(sys.modules, module, None)      # as if MuJoCo were missing
    assert main(['record', '--robot', 'arm', '--out', str(tmp_path / 'b')]) == 2
    assert 'jepa_world_model.sim.robots is not importable' in capsys.readouterr().err


def test_metrics_logger_sends_losses_and_collapse_metrics_to_tensorboard(tmp_path):
    scalars = []
    writer = SimpleNamespace(add_scalar=lambda tag, v, step: scalars.append((tag, v, step)),
                             close=lambda: None)
    logger = MetricsLogger(tmp_path, writer_factory=lambda log_dir: writer)
    logger({'step': 4, 'total': 1.0, 'variance': 0.5, 'effective_rank': 3.0, 'lr': 0.1})
    assert scalars == [('loss/total', 1.0, 5), ('loss/variance', 0.5, 5),
                       ('collapse/effective_rank', 3.0, 5), ('train/lr', 0.1, 5)]


def test_odometry_and_flags_become_label_extras_and_train_the_pose_probe(tmp_path):
    """Odometry -> base_pose, Bool topics -> 0/1 extras; the pose probe then gets a loss."""
    from jepa_world_model.bags.reader import BagDatasetConfig, read_bag_episodes
    from jepa_world_model.cli import main
    bag = tmp_path / 'base'
    assert main(['record', '--robot', 'mobile_base', '--out', str(bag), '--episodes', '2',
                 '--steps', '8', '--policy', 'scripted', '--seed', '3']) == 0
    cfg = BagDatasetConfig(image_topic='/camera/image_raw', joint_state_topic='/joint_states',
                           action_topic='/cmd_vel', action_fields=['linear.x', 'angular.z'],
                           odometry_topic='/odom', flag_topics=['/collision', '/contact'],
                           joint_names=['wheel_left_joint', 'wheel_right_joint'],
                           image_size=32)
    episodes, _ = read_bag_episodes([bag], cfg)
    assert len(episodes) == 2
    for ep in episodes:
        pose = ep.extras['base_pose']
        assert pose.shape == (len(ep), 3) and np.isfinite(pose).all()
        assert np.abs(pose[:, 2]).max() <= np.pi + 1e-6
        assert set(np.unique(ep.extras['collision'])) <= {0.0, 1.0}
        assert ep.extras['contact'].shape == (len(ep),)
    # Poses move with the base: the robot drove somewhere.
    assert np.ptp(episodes[0].extras['base_pose'][:, :2], axis=0).max() > 0.01
    from jepa_world_model.core.config import ExperimentConfig, from_dict
    from jepa_world_model.core.training.trainer import Trainer
    tiny = from_dict(ExperimentConfig, {
        'model': dict(image_size=32, patch_size=8, embed_dim=16, depth=1, num_heads=2,
                      image_latent_dim=8, proprio_latent_dim=4, predictor_embed_dim=16,
                      predictor_num_heads=2, dynamics_hidden_dim=32, pose_probe=True,
                      joint_names=['wheel_left_joint', 'wheel_right_joint']),
        'optim': {'steps': 2, 'batch_size': 4}, 'train': {'num_threads': 1}})
    trainer = Trainer(tiny, episodes)
    before = trainer.model.pose_probe.weight.detach().clone()
    trainer.run()
    assert not torch.equal(before, trainer.model.pose_probe.weight)
    # pose_in_state: the same bag read for a base model whose s holds wheel velocities and
    # the odometry pose (core/model/state_layout.py) instead of unbounded wheel angles.
    import dataclasses
    pose_cfg = dataclasses.replace(cfg, use_joint_position=False, pose_in_state=True)
    pose_eps, _ = read_bag_episodes([bag], pose_cfg)
    for ep, plain in zip(pose_eps, episodes):
        pose = ep.extras['base_pose']
        assert ep.s.shape == (len(ep), 6)
        assert np.allclose(ep.s[:, :2], plain.s[:, 2:4])           # wheel velocities
        assert np.allclose(ep.s[:, 2:4], pose[:, :2], atol=1e-5)   # x, y
        assert np.allclose(ep.s[:, 4], np.cos(pose[:, 2]), atol=1e-5)
        assert np.allclose(ep.s[:, 5], np.sin(pose[:, 2]), atol=1e-5)
    with pytest.raises(BagDatasetError, match='odometry_topic'):
        dataclasses.replace(cfg, pose_in_state=True, odometry_topic='')


def test_repeated_bag_flags_all_count():
    """`train --bag A --bag B C` trains on A, B and C: a repeated flag adds bags instead of
    replacing the earlier ones (which once silently halved a training set)."""
    from jepa_world_model.cli import build_parser
    args = build_parser().parse_args(['train', '--config', 'c.yaml', '--out', 'x', '--bag', 'a',
                                      '--bag', 'b', 'c'])
    assert args.bag == ['a', 'b', 'c']


def test_scan_labels_follow_rep_117():
    """Training labels of a LaserScan: -inf (too close to measure) is range_min, +inf (no
    return), NaN (invalid) and readings outside [range_min, range_max] are range_max."""
    from jepa_world_model.bags.message_streams import add_scan, MessageStreams
    streams = MessageStreams()
    msg = SimpleNamespace(ranges=[-math.inf, math.inf, math.nan, 0.05, 1.5, 9.0],
                          range_min=0.1, range_max=5.0)
    add_scan(streams, msg, 7, Path('bag'))
    np.testing.assert_allclose(streams.scans[0], [0.1, 5.0, 5.0, 5.0, 1.5, 5.0])
    assert streams.scan_t == [7]
