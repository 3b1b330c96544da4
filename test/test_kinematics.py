"""Forward kinematics from a URDF (core/model/kinematics.py) and the config and checkpoint
that carry it (``robot_description`` -> ``model.kinematics``)."""

import math

from hypothesis import given, strategies as st
import pytest
import torch

from jepa_world_model.core.checkpoint import load_checkpoint, save_checkpoint
from jepa_world_model.core.config import (ConfigError, load_config, save_config,
                                          resolve_robot_description, to_dict)
from jepa_world_model.core.model.kinematics import (ForwardKinematics, KinematicJoint,
                                                    KinematicsConfig, kinematics_from_urdf)
from jepa_world_model.core.model.world_model import WorldModel
from tiny_models import JOINTS, tiny_config

pytestmark = pytest.mark.usefixtures('one_torch_thread')

L1, L2 = 0.4, 0.3


def planar_urdf(extra: str = '', second_type: str = 'revolute') -> str:
    """A planar two-link arm on a 0.1 m pedestal: joint_a and joint_b turn about z, the tool
    sits L2 beyond joint_b on a fixed joint."""
    return f'''<?xml version="1.0"?>
<robot name="planar">
  <link name="base_link"/><link name="upper"/><link name="lower"/><link name="tool"/>
  <link name="camera"/>
  <joint name="joint_a" type="revolute"><parent link="base_link"/><child link="upper"/>
    <origin xyz="0 0 0.1" rpy="0 0 0"/><axis xyz="0 0 1"/></joint>
  <joint name="joint_b" type="{second_type}"><parent link="upper"/><child link="lower"/>
    <origin xyz="{L1} 0 0"/><axis xyz="0 0 1"/></joint>
  <joint name="tool_joint" type="fixed"><parent link="lower"/><child link="tool"/>
    <origin xyz="{L2} 0 0"/></joint>
  <joint name="camera_joint" type="fixed"><parent link="base_link"/><child link="camera"/>
    <origin xyz="1 0 0"/></joint>
  {extra}
</robot>'''


def planar_tool(qa, qb):
    """The tool's position by hand: two links in the z = 0.1 plane."""
    return [L1 * math.cos(qa) + L2 * math.cos(qa + qb),
            L1 * math.sin(qa) + L2 * math.sin(qa + qb), 0.1]


def test_urdf_chain_keeps_only_the_paths_to_the_goal_links():
    cfg = kinematics_from_urdf(planar_urdf(), 'base_link', ['tool', 'upper'], JOINTS)
    assert [j.name for j in cfg.joints] == ['joint_a', 'joint_b', 'tool_joint']
    assert [j.parent for j in cfg.joints] == [-1, 0, 1]
    assert cfg.goal_joints == [2, 0] and cfg.moving_joints() == ['joint_a', 'joint_b']
    # the base link itself as a goal link sits at the origin
    base = kinematics_from_urdf(planar_urdf(), 'base_link', ['base_link'], JOINTS)
    assert base.goal_joints == [-1]
    torch.testing.assert_close(ForwardKinematics(base, JOINTS)(torch.zeros(2)),
                               torch.zeros(1, 3))


@given(st.floats(-math.pi, math.pi), st.floats(-math.pi, math.pi))
def test_forward_kinematics_matches_the_planar_arm_by_hand(qa, qb):
    fk = ForwardKinematics(kinematics_from_urdf(planar_urdf(), 'base_link', ['tool', 'upper'],
                                                JOINTS), JOINTS)
    p = fk(torch.tensor([qa, qb], dtype=torch.float64))
    torch.testing.assert_close(p[0], torch.tensor(planar_tool(qa, qb), dtype=torch.float64))
    torch.testing.assert_close(p[1], torch.tensor([0.0, 0.0, 0.1], dtype=torch.float64))


def test_batched_prismatic_origin_rotation_and_model_joint_order():
    """A prismatic joint slides along its axis; an origin's rpy turns what follows; q is in
    the model's joint order, whatever the URDF's; batches of any shape broadcast."""
    cfg = kinematics_from_urdf(planar_urdf(second_type='prismatic'), 'base_link', ['tool'],
                               JOINTS)
    fk = ForwardKinematics(cfg, ['joint_b', 'joint_a'])
    q = torch.tensor([[[0.2, 0.0], [0.0, math.pi / 2]]])                    # [1, 2, J]
    p = fk(q)
    assert p.shape == (1, 2, 1, 3)
    # slide 0.2 along z (the axis), arm straight along x
    torch.testing.assert_close(p[0, 0, 0], torch.tensor([L1 + L2, 0.0, 0.3]))
    torch.testing.assert_close(p[0, 1, 0], torch.tensor([0.0, L1 + L2, 0.1]), atol=1e-6,
                               rtol=0)
    turned = KinematicsConfig('base_link', ['tool'], [
        KinematicJoint('joint_a', 'fixed', -1, [0.0, 0.0, 0.0], [0.0, 0.0, math.pi / 2]),
        KinematicJoint('t', 'fixed', 0, [1.0, 0.0, 0.0])], [1])
    torch.testing.assert_close(ForwardKinematics(turned, JOINTS)(torch.zeros(2))[0],
                               torch.tensor([0.0, 1.0, 0.0]), atol=1e-6, rtol=0)


def test_forward_kinematics_is_differentiable():
    fk = ForwardKinematics(kinematics_from_urdf(planar_urdf(), 'base_link', ['tool'], JOINTS),
                           JOINTS)
    q = torch.tensor([0.3, -0.4], requires_grad=True)
    fk(q)[0, 0].backward()
    # d x / d qa = -L1 sin qa - L2 sin(qa + qb)
    assert q.grad[0].item() == pytest.approx(-L1 * math.sin(0.3) - L2 * math.sin(-0.1),
                                             abs=1e-5)


@pytest.mark.parametrize('urdf,links,joints,match', [
    ('<robot', ['tool'], JOINTS, 'does not parse'),
    ('<model/>', ['tool'], JOINTS, 'root element'),
    (planar_urdf(), ['gripper'], JOINTS, "no link 'gripper'"),
    (planar_urdf(), ['tool'], ['joint_a'], "'joint_b' moves a goal link but is not"),
    (planar_urdf(), [], JOINTS, 'at least one goal link'),
    (planar_urdf(second_type='floating'), ['tool'], JOINTS, "type 'floating'"),
    (planar_urdf().replace('<axis xyz="0 0 1"/></joint>\n  <joint name="tool_joint"',
                           '<axis xyz="0 0 1"/><mimic joint="joint_a"/></joint>\n'
                           '  <joint name="tool_joint"'), ['tool'], JOINTS, 'mimic'),
    (planar_urdf().replace('xyz="1 0 0"', 'xyz="1 nan 0"'), ['camera'], JOINTS, 'finite'),
    (planar_urdf().replace('xyz="1 0 0"', 'xyz="1 0"'), ['camera'], JOINTS, '3 finite'),
    ('<!DOCTYPE r [<!ENTITY a "b">]><robot/>', ['tool'], JOINTS, 'entities'),
    (planar_urdf(extra='<joint name="again" type="fixed"><parent link="camera"/>'
                 '<child link="upper"/></joint>'), ['tool'], JOINTS, 'two parent joints'),
])
def test_bad_urdfs_are_refused_with_a_clear_error(urdf, links, joints, match):
    with pytest.raises(ConfigError, match=match):
        kinematics_from_urdf(urdf, 'base_link', links, joints)


def test_a_link_not_below_the_base_link_is_refused():
    with pytest.raises(ConfigError, match="not below 'upper'"):
        kinematics_from_urdf(planar_urdf(), 'upper', ['camera'], JOINTS)


def test_hand_written_kinematics_are_validated():
    with pytest.raises(ConfigError, match='parent must be'):
        KinematicsConfig('base', ['x'], [KinematicJoint('j', 'fixed', 3)], [0])
    with pytest.raises(ConfigError, match='one goal_joints entry'):
        KinematicsConfig('base', ['x'], [KinematicJoint('j')], [])
    with pytest.raises(ConfigError, match='at most 64'):
        KinematicsConfig('base', [f'l{i}' for i in range(65)], [], [-1] * 65)
    with pytest.raises(ConfigError, match='non-zero axis'):
        KinematicsConfig('base', ['x'], [KinematicJoint('j', 'revolute', axis=[0, 0, 0])], [0])
    with pytest.raises(ConfigError, match='not in joint_names'):
        tiny_config(kinematics=KinematicsConfig(
            'base', ['x'], [KinematicJoint('elbow', 'revolute')], [0]))


def write_config(folder, urdf_text, extra=''):
    (folder / 'arm.urdf').write_text(urdf_text)
    path = folder / 'train.yaml'
    path.write_text('model:\n  joint_names: [joint_a, joint_b]\n  action_dim: 2\n'
                    'robot_description:\n  urdf: arm.urdf\n  goal_links: [tool]\n' + extra)
    return path


def test_robot_description_fills_the_model_kinematics_and_survives_save_and_load(tmp_path):
    """The URDF path is taken from the config's folder; the resolved config carries the chain,
    so it loads again (and a checkpoint rebuilds) without the URDF."""
    path = write_config(tmp_path, planar_urdf())
    config = load_config(path)
    assert config.model.kinematics.goal_links == ['tool']
    assert [j.name for j in config.model.kinematics.joints] == ['joint_a', 'joint_b',
                                                                'tool_joint']
    save_config(config, tmp_path / 'resolved.yaml')
    again = load_config(tmp_path / 'resolved.yaml')
    assert to_dict(again) == to_dict(config)
    config = tiny_config(kinematics=config.model.kinematics)
    torch.manual_seed(0)
    model = WorldModel(config.model)
    model.link_readout.set_normalization(torch.tensor([[0.0, 0.0], [1.0, -1.0]]))
    ckpt = save_checkpoint(tmp_path / 'm.safetensors', model, config, step=3)
    (tmp_path / 'arm.urdf').unlink()
    loaded = load_checkpoint(ckpt).model
    q = torch.tensor([[0.3, 0.2]])
    torch.testing.assert_close(loaded.link_positions(q)[0, 0],
                               torch.tensor(planar_tool(0.3, 0.2)))
    torch.testing.assert_close(loaded.link_readout.link_std, model.link_readout.link_std)


def test_robot_description_errors_name_the_config(tmp_path):
    path = write_config(tmp_path, planar_urdf().replace('joint_b', 'knee'))
    with pytest.raises(ConfigError, match="train.yaml: .*'knee' moves a goal link"):
        load_config(path)
    (tmp_path / 'arm.urdf').unlink()
    with pytest.raises(ConfigError, match='cannot read robot_description.urdf'):
        load_config(path)
    path.write_text('robot_description:\n  urdf: arm.urdf\n')
    with pytest.raises(ConfigError, match='needs goal_links'):
        load_config(path)
    config = tiny_config()
    resolve_robot_description(config)          # no urdf: nothing to do
    assert not config.model.kinematics.enabled
