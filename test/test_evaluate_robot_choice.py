"""``evaluate`` without ``--bag`` never scores a checkpoint on another robot's generated
episodes silently (issue #15): a robot it cannot generate is refused with one line and exit
2 naming ``--bag``; a robot it recognises by joint names and action size is named on
stderr and in the report, with the hint to pass ``--bag`` when the checkpoint was trained on
recordings."""

import json

import pytest

from jepa_world_model import cli
from jepa_world_model.core.checkpoint import save_checkpoint
from jepa_world_model.core.model.world_model import WorldModel
from tiny_models import tiny_config

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def _bag_trained(path, joint_names):
    """A tiny checkpoint whose embedded config says it was trained on rosbag recordings."""
    config = tiny_config(joint_names=list(joint_names))
    config.data.source = 'rosbag'
    return save_checkpoint(path, WorldModel(config.model), config, step=3)


def test_a_robot_that_cannot_be_generated_is_refused_naming_bag(tmp_path, capsys):
    ckpt = _bag_trained(tmp_path / 'arm2.safetensors', ['shoulder', 'wrist'])
    assert cli.main(['evaluate', '--checkpoint', str(ckpt)]) == 2
    out, err = capsys.readouterr()
    assert out == '' and len(err.strip().splitlines()) == 1
    assert "['shoulder', 'wrist']" in err and '--bag DIR' in err


def test_a_recognised_robot_is_named_with_the_bag_hint(tmp_path, capsys):
    """Joint names the gantry's: scored on gantry scenes, and the user is told so."""
    ckpt = _bag_trained(tmp_path / 'gantry_like.safetensors', ['joint_x', 'joint_y'])
    assert cli.main(['evaluate', '--checkpoint', str(ckpt), '--episodes', '2',
                     '--steps', '8']) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report['generated']['robot'] == 'gantry'
    assert report['generated']['matched_by'] == 'joint names and action size'
    assert 'scored on generated gantry episodes' in err
    assert "joints ['joint_x', 'joint_y'] and 2 actions" in err
    assert 'pass --bag DIR' in err


def test_evaluate_bag_of_another_robot_without_flag_topics(tmp_path, capsys):
    """The issue's path: a bag-trained checkpoint of a new robot, evaluated on its own bag
    that has no /collision or /contact topic: prediction against both baselines, surprise
    left out and the flags listed as absent."""
    from jepa_world_model.bags.writer import BagRecorder
    from jepa_world_model.core.training.synthetic import generate_episodes, SceneSpec
    with BagRecorder(tmp_path / 'bag', joint_names=['shoulder', 'wrist']) as rec:
        start = 10 ** 18
        for ep in generate_episodes(3, 12, seed=2, spec=SceneSpec(image_size=32)):
            start = rec.write_episode(ep, start, 0.1) + 5 * 10 ** 9
    ckpt = _bag_trained(tmp_path / 'arm2.safetensors', ['shoulder', 'wrist'])
    assert cli.main(['evaluate', '--checkpoint', str(ckpt), '--bag',
                     str(tmp_path / 'bag')]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['episodes'] == 3 and report['flags_absent'] == ['/collision', '/contact']
    prediction = report['prediction']
    assert len(prediction['const_vel_latent_l1']) == len(prediction['copy_latent_l1']) == 4
