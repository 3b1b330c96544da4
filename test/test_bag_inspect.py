"""``jepa-world-model inspect`` on bags of a robot the package has never seen (issue #15
items 1 and 3): topics, rates and gaps, a 640x480 JPEG camera, continuous joints, the
frame -> command delay and the alignment it calls for, and a starter config that loads with
the package's loader and trains, and planner parameters the planner accepts."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
import yaml

from jepa_world_model.bags.inspection import inspect_bags
from jepa_world_model.bags.reader import BagDatasetConfig, read_bag_episodes
from jepa_world_model.bags.starter_config import (CONTINUOUS_LIMIT, planner_parameters,
                                                  planner_text, training_config)
from jepa_world_model.cli import main
from jepa_world_model.core.config import ExperimentConfig, load_config
from jepa_world_model.episode_sources import load_episodes

from robot_bags import COMPRESSED_TOPIC, ELBOW_RANGE, joint_positions, JOINTS, write_robot_bag

DELAY = 4_000_000       # ns: each command 4 ms after its frame, as `ros2 bag record` has it


@pytest.fixture(scope='module')
def robot_bag(tmp_path_factory):
    """640x480 JPEG camera, commands 4 ms after their frames, frames 5-7 of episode 0
    missing (one gap), 3 episodes (two pauses)."""
    path = tmp_path_factory.mktemp('robot') / 'bag'
    recorded = write_robot_bag(path, cmd_delay_ns=DELAY, compressed=True,
                               dropped_frames=(5, 6, 7))
    return path, recorded


@pytest.fixture(scope='module')
def inspection(robot_bag):
    return inspect_bags([robot_bag[0]])


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_topics_rates_gaps_and_the_camera(inspection):
    camera = inspection.topic(COMPRESSED_TOPIC)
    assert inspection.image_topic == COMPRESSED_TOPIC
    assert camera.type == 'sensor_msgs/msg/CompressedImage' and camera.count == 36 - 3
    assert camera.rate_hz == pytest.approx(10.0, rel=1e-6)
    assert (camera.gaps, camera.pauses) == (1, 2)           # the missing frames; the resets
    assert camera.max_interval_s == pytest.approx(3.1)
    joints = inspection.topic('/joint_states')
    assert (joints.count, joints.gaps, joints.pauses) == (36, 0, 2)
    assert inspection.image == {'type': 'sensor_msgs/msg/CompressedImage', 'format': 'jpeg',
                                'height': 480, 'width': 640}
    assert inspection.joint_state_skew_s['median'] == pytest.approx(0.002)


def test_continuous_joints_are_flagged_and_limited_ones_are_not(inspection):
    joints = {j.name: j for j in inspection.joints}
    assert list(joints) == JOINTS and inspection.joint_velocities
    assert joints['shoulder'].wraps >= 3 and joints['shoulder'].continuous   # wraps at pi
    wheel = joints['wheel']                                  # unwrapped, 19.8 rad of range
    assert wheel.wraps == 0 and wheel.continuous
    assert wheel.position_max - wheel.position_min > 2 * math.pi
    elbow = joints['elbow']
    assert not elbow.continuous and elbow.wraps == 0
    assert ELBOW_RANGE[0] <= elbow.position_min < elbow.position_max <= ELBOW_RANGE[1]
    assert inspection.continuous_joints == ['shoulder', 'wheel']
    assert any('shoulder looks continuous' in w for w in inspection.warnings)


def test_commands_after_frames_are_measured_and_read_as_after_frame(robot_bag, inspection):
    """The delay is measured; after_frame with the recommended window gives every frame the
    command computed from it, at_or_before the one before it."""
    path, recorded = robot_bag
    c = inspection.command
    assert (c.topic, c.type, c.width) == ('/commands', 'std_msgs/msg/Float64MultiArray', 3)
    assert inspection.command_delay_s['median'] == pytest.approx(DELAY / 1e9)
    assert inspection.command_delay_s['count'] == 36 - 3   # commands after a missing frame
    align = inspection.alignment
    assert align['action_alignment'] == 'after_frame'
    assert DELAY / 1e9 < align['action_alignment_window_s'] <= 0.05
    cfg = dict(joint_names=JOINTS, image_size=16, image_topic=COMPRESSED_TOPIC,
               max_skew_s=0.01, max_gap_s=1.0)
    after, _ = read_bag_episodes([path], BagDatasetConfig(
        **cfg, action_alignment='after_frame',
        action_alignment_window_s=align['action_alignment_window_s']))
    before, report = read_bag_episodes([path], BagDatasetConfig(**cfg))
    for ep_after, ep_before, (frame_t, cmds) in zip(after[1:], before[1:], recorded[1:]):
        assert np.array_equal(ep_after.extras['stamp_ns'], frame_t)
        assert np.allclose(ep_after.a, cmds)                  # its own command
        assert np.allclose(ep_before.a[1:], cmds[:-1]) and not ep_before.a[0].any()


@pytest.fixture(scope='module')
def written(tmp_path_factory, robot_bag):
    """``inspect --write-config --write-planner-params --json`` on the robot bag."""
    out = tmp_path_factory.mktemp('written')
    config, params = out / 'robot.yaml', out / 'planner.yaml'
    argv = ['inspect', '--bag', str(robot_bag[0]), '--write-config', str(config),
            '--write-planner-params', str(params), '--json']
    return config, params, argv


def test_written_config_loads_with_the_package_loader_and_reads_the_bag(written, robot_bag,
                                                                        capsys):
    config, params, argv = written
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['written'] == {'config': str(config), 'planner_params': str(params)}
    assert report['alignment']['action_alignment'] == 'after_frame'
    cfg = load_config(config)
    assert isinstance(cfg, ExperimentConfig) and cfg.data.source == 'rosbag'
    assert cfg.model.joint_names == JOINTS and cfg.model.action_dim == 3
    bag = cfg.data.bag
    assert (bag.image_topic, bag.action_topic) == (COMPRESSED_TOPIC, '/commands')
    assert bag.action_alignment == 'after_frame' and bag.paths == [str(robot_bag[0].resolve())]
    assert '# WARNING: joint shoulder looks continuous' in config.read_text()
    episodes, read = load_episodes(cfg)          # exactly what `train` reads
    assert read['frames'] == 36 - 3 and read['frames_without_command'] == 0
    assert read['frames_without_joint_state'] == 0 and len(episodes) == 3
    # The detected continuous joints are the model's: each enters s as (cos q, sin q).
    assert cfg.model.continuous_joints == ['shoulder', 'wheel']
    assert episodes[0].s.shape[1] == cfg.model.state_dim == 5 + 3
    q = joint_positions(0, 0)                    # episode 0's first frame
    assert np.allclose(episodes[0].s[0], [np.cos(q[0]), np.sin(q[0]), np.cos(q[1]),
                                          np.sin(q[1]), q[2], 0.5, 0.5, 0.5], atol=1e-6)
    assert main(argv) == 2                       # both files exist now: never overwritten
    assert 'exists' in capsys.readouterr().err
    assert main(argv + ['--force']) == 0


@pytest.mark.slow
def test_written_config_trains_without_edits(tmp_path, written, keep_threads):
    """A tiny run (2 steps) of `train --config` on the written file, unchanged (~25 s on a
    busy 2-core machine: the starter model is the arm's, batch 32)."""
    config, _, argv = written
    if not config.exists():
        assert main(argv) == 0
    run = tmp_path / 'run'
    assert main(['train', '--config', str(config), '--out', str(run), '--steps', '2']) == 0
    trained = json.loads((run / 'report.json').read_text())
    assert trained['step'] == 2 and trained['bag_read']['frames_without_command'] == 0
    assert trained['bag_read']['frames'] == 36 - 3 and 'prediction' in trained
    assert (run / 'checkpoint.safetensors').is_file()


def test_commands_stamped_with_their_frames_keep_at_or_before(tmp_path):
    path = tmp_path / 'bag'
    write_robot_bag(path, episodes=2, steps=6, size=(48, 64))
    insp = inspect_bags([path])
    assert insp.image == {'type': 'sensor_msgs/msg/Image', 'encoding': 'rgb8',
                          'height': 48, 'width': 64}
    assert insp.command_delay_s['median'] == 0
    assert insp.alignment['action_alignment'] == 'at_or_before'
    assert training_config(insp)['data']['bag']['action_alignment'] == 'at_or_before'


def test_twist_commands_give_a_cmd_vel_planner_and_twist_fields(tmp_path):
    path = tmp_path / 'bag'
    write_robot_bag(path, episodes=2, steps=6, size=(32, 32), twist=True)
    insp = inspect_bags([path])
    assert insp.command.fields == ['linear.x', 'angular.z'] and insp.command.width == 2
    bag = training_config(insp)['data']['bag']
    assert bag['action_fields'] == ['linear.x', 'angular.z'] and bag['command_timeout_s'] > 0
    p = planner_parameters(insp)['/**/planner_node']['ros__parameters']
    assert p['output'] == 'cmd_vel' and p['use_twist_stamped']
    assert p['action_fields'] == ['linear.x', 'angular.z'] and 'joint_position_min' not in p


@pytest.mark.ros
def test_planner_parameters_come_from_the_data_and_pass_the_planner_checks(inspection):
    from jepa_world_model.ros.planner.parameters import (PlannerFacts, PlannerSettings,
                                                         validate_updates)
    written = planner_parameters(inspection)
    text = yaml.safe_dump(written)        # what the file holds, read back as ROS would
    p = yaml.safe_load(text)['/**/planner_node']['ros__parameters']
    facts = PlannerFacts(action_dim=3, joint_names=tuple(JOINTS))
    assert validate_updates(p, PlannerSettings(), facts) is None
    c = inspection.command
    for d in range(3):       # the recorded commands fit; zero (the stop) too
        assert p['command_min'][d] <= min(c.minimum[d], 0) < max(c.maximum[d], 0) <= \
            p['command_max'][d]
        assert p['command_max'][d] - p['command_min'][d] < \
            max(c.maximum[d], 0) - min(c.minimum[d], 0) + 0.01
    assert p['action_joint_names'] == JOINTS and p['image_transport'] == 'compressed'
    assert p['joint_position_min'][:2] == [-CONTINUOUS_LIMIT] * 2
    elbow = inspection.joints[2]
    assert elbow.position_min - 0.001 <= p['joint_position_min'][2] <= elbow.position_min
    assert elbow.position_max <= p['joint_position_max'][2] <= elbow.position_max + 0.001
    assert p['model_step_period'] == pytest.approx(0.1) and p['plan_rate_hz'] == 10.0
    assert validate_updates(dict(p, command_min=[0.1] * 3), PlannerSettings(), facts)


@pytest.mark.ros
def test_an_effort_command_topic_writes_effort_limits_without_position_limits(inspection):
    """Commands on /forward_effort_controller/commands: command_interface effort, the
    recorded range as command_min/max (N m), no joint position limits (they bound velocity
    commands), and the planner accepts the file."""
    from jepa_world_model.ros.planner.parameters import (PlannerFacts, PlannerSettings,
                                                         validate_updates)
    effort = dataclasses.replace(inspection, command=dataclasses.replace(
        inspection.command, topic='/forward_effort_controller/commands'))
    written = planner_parameters(effort)
    p = yaml.safe_load(yaml.safe_dump(written))['/**/planner_node']['ros__parameters']
    assert p['command_interface'] == 'effort' and p['output'] == 'float64_multi_array'
    assert 'joint_position_min' not in p and len(p['command_min']) == 3
    facts = PlannerFacts(action_dim=3, joint_names=tuple(JOINTS))
    assert validate_updates(p, PlannerSettings(), facts) is None
    assert 'command_interface: effort (from the command topic)' in planner_text(effort, written)
    assert 'N m (N)' in planner_text(effort, written)
    # The generated bag's /commands topic does not say: velocity, and the note says so.
    assert planner_parameters(inspection)['/**/planner_node']['ros__parameters'][
        'command_interface'] == 'velocity'
    assert 'not told by the command topic' in planner_text(inspection,
                                                           planner_parameters(inspection))


def test_cli_text_report_and_clean_errors(tmp_path, robot_bag, capsys):
    assert main(['inspect', '--bag', str(robot_bag[0])]) == 0
    out = capsys.readouterr().out
    assert '640x480' in out and 'CONTINUOUS' in out and 'action_alignment: after_frame' in out
    existing = tmp_path / 'exists.yaml'
    existing.write_text('keep: me\n')
    assert main(['inspect', '--bag', str(robot_bag[0]), '--write-config', str(existing)]) == 2
    assert 'exists' in capsys.readouterr().err and existing.read_text() == 'keep: me\n'
    assert main(['inspect', '--bag', str(robot_bag[0]), '--action-topic', '/nope']) == 2
    err = capsys.readouterr().err
    assert 'command topic /nope is not in the bags' in err and '/joint_states' in err
    assert main(['inspect', '--bag', str(tmp_path)]) == 2
    assert 'no metadata.yaml' in capsys.readouterr().err


ROBOT_URDF = '''<robot name="r"><link name="base_link"/><link name="upper"/><link name="tool"/>
  <joint name="shoulder" type="continuous"><parent link="base_link"/><child link="upper"/>
    <axis xyz="0 0 1"/></joint>
  <joint name="elbow" type="revolute"><parent link="upper"/><child link="tool"/>
    <origin xyz="0.3 0 0"/><axis xyz="0 1 0"/></joint></robot>'''


def test_a_urdf_writes_the_robot_description_checked_against_the_bag(tmp_path, robot_bag,
                                                                     capsys):
    """``--urdf --goal-link`` puts a robot_description (URDF path relative to the config) and
    the link read-out's loss in the config; it loads into the model's kinematics. A link the
    bag's joints cannot place is refused before anything is written."""
    (tmp_path / 'robot').mkdir()
    urdf = tmp_path / 'robot' / 'r.urdf'
    urdf.write_text(ROBOT_URDF)
    config = tmp_path / 'cfg' / 'train.yaml'
    config.parent.mkdir()
    base = ['inspect', '--bag', str(robot_bag[0]), '--write-config', str(config)]
    assert main(base + ['--urdf', str(urdf), '--goal-link', 'tool']) == 0
    written = yaml.safe_load(config.read_text())
    assert written['robot_description'] == {'urdf': '../robot/r.urdf', 'base_link': 'base_link',
                                            'goal_links': ['tool']}
    assert written['loss']['image_links'] == 2.0
    cfg = load_config(config)
    assert [j.name for j in cfg.model.kinematics.joints] == ['shoulder', 'elbow']
    capsys.readouterr()
    other = tmp_path / 'cfg' / 'other.yaml'
    bad = ['inspect', '--bag', str(robot_bag[0]), '--write-config', str(other), '--urdf',
           str(urdf)]
    assert main(bad) == 2 and 'needs at least one --goal-link' in capsys.readouterr().err
    assert main(bad + ['--goal-link', 'gripper']) == 2
    assert "no link 'gripper'" in capsys.readouterr().err
    urdf.write_text(ROBOT_URDF.replace('"elbow"', '"knee"'))
    assert main(bad + ['--goal-link', 'tool']) == 2
    assert "'knee' moves a goal link" in capsys.readouterr().err and not other.exists()
    assert main(['inspect', '--bag', str(robot_bag[0]), '--urdf', str(urdf)]) == 2
    assert 'pass --write-config' in capsys.readouterr().err
