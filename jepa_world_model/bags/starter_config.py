"""A starter training config and planner_node parameters from an inspected recording
(``jepa-world-model inspect --write-config / --write-planner-params``).

The training config is a full ``ExperimentConfig`` (``core/config.py``; validated here with
the package's own loader rules, so it trains without edits): a small model like the shipped
arm's (``config/train/arm_tiny.yaml``, ~15 minutes on 2 cores for 3000 steps), the robot's
joints and command size, and a ``data.bag`` section with the topics, the measured skew, the
recommended ``action_alignment`` and the bag paths. The planner parameters take their
command limits, joint limits and timing from the data, so the planner never asks for a
command or a joint position the model has not seen.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml

from ..core.config import ConfigError, ExperimentConfig, from_dict
from ..core.planning.command_interfaces import guess_interface, unit_of
from .errors import BagDatasetError
from .inspection import BagInspection

__all__ = ['training_config', 'planner_parameters', 'config_text', 'planner_text',
           'CONTINUOUS_LIMIT']

#: Joint limit written for a joint that looks continuous: no practical limit (the planner
#: takes one limit per action joint or none at all; docs/datasets.md, "inspect").
CONTINUOUS_LIMIT = 1000.0
#: Planning rate cap: a plan every frame of a 30 Hz camera is more than 2 cores sustain.
MAX_PLAN_RATE_HZ = 10.0
#: The model: as config/train/arm_tiny.yaml (3000 steps in ~15 minutes on 2 cores).
_MODEL = {'image_size': 64, 'patch_size': 8, 'patch_stem': 'conv', 'embed_dim': 64,
          'depth': 2, 'num_heads': 4, 'image_latent_dim': 32, 'proprio_latent_dim': 16,
          'predictor_embed_dim': 64, 'dynamics_ensemble_size': 3, 'image_state_head': True,
          'image_state_source': 'tokens'}
_OPTIM = {'steps': 3000, 'batch_size': 32, 'lr': 0.002, 'warmup_steps': 20}


def _required(insp: BagInspection) -> None:
    """Refuse when the bags lack what training needs."""
    if not insp.image_topic or not insp.joint_state_topic or not insp.joints:
        raise BagDatasetError('the bags need a camera topic (sensor_msgs/Image or '
                              'CompressedImage) and a sensor_msgs/JointState topic with '
                              'positions to train on; ' + '; '.join(insp.warnings))


def _frame_period(insp: BagInspection) -> float:
    """Seconds between the frames training will use (the camera, resampled to the command
    rate when the camera is more than 1.5 times faster)."""
    camera = insp.topic(insp.image_topic)
    period = camera.median_interval_s if camera else 0.0
    command = insp.topic(insp.command.topic) if insp.command else None
    if command and command.median_interval_s > 1.5 * period > 0:
        return command.median_interval_s
    return period or 0.1


def _round_up(value: float, step: float) -> float:
    return math.ceil(value / step - 1e-9) * step


def training_config(insp: BagInspection, image_size: int = 64,
                    robot_description: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The training config (a plain dict, as the YAML holds it) for the inspected bags.

    ``robot_description``: ``{'urdf', 'base_link', 'goal_links'}`` (the URDF path as the
    config will name it, relative to the config's folder) to aim image goals at links
    (``model.kinematics``, core/model/kinematics.py); its link read-out is trained with the
    joint read-out's weight.

    Raises:
        BagDatasetError: No camera or joint-state topic, or a config the loader refuses.
    """
    _required(insp)
    joints = [j.name for j in insp.joints]
    camera = insp.topic(insp.image_topic)
    period = _frame_period(insp)
    bag: Dict[str, Any] = {
        'paths': [str(Path(p).resolve()) for p in insp.bags],
        'image_topic': insp.image_topic, 'joint_state_topic': insp.joint_state_topic}
    if insp.command and insp.command.width:
        twist = 'Twist' in insp.command.type
        bag.update(action_source='topic', action_topic=insp.command.topic,
                   action_fields=list(insp.command.fields) if twist else [],
                   # diff_drive_controller stops after 0.5 s without cmd_vel; forward command
                   # controllers hold the last command.
                   command_timeout_s=0.5 if twist else 0.0,
                   action_alignment=insp.alignment.get('action_alignment', 'at_or_before'),
                   action_alignment_window_s=insp.alignment.get('action_alignment_window_s',
                                                                0.0))
        action_dim = insp.command.width
        names = ([f.replace('.', '_') for f in insp.command.fields] if twist else
                 [f'{j}_command' for j in joints] if action_dim == len(joints) else
                 [f'command_{i}' for i in range(action_dim)])
    else:
        bag['action_source'] = 'joint_state_delta'
        action_dim, names = len(joints), [f'{j}_delta' for j in joints]
    if camera and period > 1.5 * camera.median_interval_s > 0:
        bag['frame_rate'] = round(1.0 / period, 3)
    skew = insp.joint_state_skew_s.get('p99', 0.0)
    # Every frame keeps its joint state, but never one further than 0.1 s away.
    bag['max_skew_s'] = min(0.1, max(0.005, _round_up(1.5 * skew, 0.001)))
    bag['max_gap_s'] = max(0.5, round(2.5 * period, 3))
    # Joints that look continuous enter the state and every read-out as (cos, sin).
    model = dict(_MODEL, image_size=image_size, joint_names=joints,
                 continuous_joints=[j for j in joints if j in insp.continuous_joints],
                 use_joint_velocity=insp.joint_velocities, action_dim=action_dim,
                 action_names=names)
    loss = {'image_state': 2.0}
    if robot_description:
        loss['image_links'] = 2.0
    config = {'model': model, 'loss': loss, 'optim': dict(_OPTIM),
              'data': {'clip_length': 4, 'source': 'rosbag', 'validation_fraction': 0.1,
                       'bag': bag},
              'train': {'seed': 0, 'num_threads': 2, 'log_every': 50,
                        'checkpoint_every': 250}}
    if robot_description:
        config['robot_description'] = dict(robot_description)
    try:    # the loader's own checks: what we write is what `train --config` accepts
        from_dict(ExperimentConfig, config)
    except ConfigError as exc:
        raise BagDatasetError(f'the starter config for these bags is not valid: {exc}') from exc
    return config


def planner_parameters(insp: BagInspection) -> Dict[str, Any]:
    """planner_node parameters (``/**/planner_node: ros__parameters: ...``) for the bags.

    ``command_interface`` comes from the command topic's type and name where they tell
    (core/planning/command_interfaces.py; else ``velocity``). Command limits are the
    recorded command range per dimension (widened to hold zero, the stop);
    ``acceleration_max`` is the recorded 99th-percentile rate of change; joint limits (for
    velocity commands only) are the recorded position range (:data:`CONTINUOUS_LIMIT` for
    continuous joints).
    """
    _required(insp)
    joints = [j.name for j in insp.joints]
    period = _frame_period(insp)
    rate = min(1.0 / period, MAX_PLAN_RATE_HZ)
    params: Dict[str, Any] = {
        'model_path': '', 'model_step_period': round(period, 6),
        'plan_rate_hz': round(rate, 3), 'max_plan_time': round(0.8 / rate, 4),
        'image_transport': 'compressed' if insp.image.get('type', '').endswith(
            'CompressedImage') else 'raw',
        'max_skew': min(0.1, max(0.005, _round_up(
            1.5 * insp.joint_state_skew_s.get('p99', 0.0), 0.001)))}
    if insp.command and insp.command.width:
        low, high = _box(insp.command.minimum, insp.command.maximum)
        acc = [max(_round_up(float(v), 0.001), 1e-3) for v in insp.command.change_rate_p99]
    else:   # joint_state_delta: actions are position steps per frame
        low, high, acc = [-0.1] * len(joints), [0.1] * len(joints), [1.0]
    interface = (guess_interface(insp.command.topic, insp.command.type) if insp.command
                 else None) or 'velocity'
    params.update(command_interface=interface, command_min=low, command_max=high,
                  acceleration_max=acc,
                  init_std=round(max(1e-3, 0.25 * sum(h - lo for lo, h in zip(low, high))
                                     / len(low)), 4))
    if insp.command and 'Twist' in insp.command.type:
        params.update(output='cmd_vel', action_fields=list(insp.command.fields),
                      use_twist_stamped=insp.command.type.endswith('TwistStamped'))
        return {'/**/planner_node': {'ros__parameters': params}}
    params['output'] = 'float64_multi_array'
    if len(low) == len(joints):
        params['action_joint_names'] = joints
    if len(low) == len(joints) and interface == 'velocity':   # the limiter bounds velocities
        params['joint_position_min'] = [-CONTINUOUS_LIMIT if j.continuous else
                                        _round_down3(j.position_min) for j in insp.joints]
        params['joint_position_max'] = [CONTINUOUS_LIMIT if j.continuous else
                                        _round_up(j.position_max, 0.001) for j in insp.joints]
    return {'/**/planner_node': {'ros__parameters': params}}


def _round_down3(value: float) -> float:
    return math.floor(value * 1e3 + 1e-9) / 1e3


def _box(minimum: Sequence[float], maximum: Sequence[float]) -> tuple:
    """Command bounds holding zero and some room in every dim (rounded outward to 1e-3)."""
    low = [min(0.0, _round_down3(v)) for v in minimum]
    high = [max(0.0, _round_up(v, 0.001)) for v in maximum]
    for d in range(len(low)):
        if not low[d] < high[d]:    # a dim never commanded: the planner still needs room
            low[d], high[d] = low[d] - 1e-3, high[d] + 1e-3
    return [float(v) for v in low], [float(v) for v in high]


def _comment(lines: List[str]) -> str:
    return ''.join(f'# {line}\n' if line else '#\n' for line in lines)


def config_text(insp: BagInspection, config: Dict[str, Any]) -> str:
    """The YAML of ``config`` under a comment saying where it came from and what to check."""
    notes = [f'Starter training config written by `jepa-world-model inspect` from '
             f'{len(insp.bags)} bag(s).',
             'Train: jepa-world-model train --config THIS_FILE --out runs/my_robot',
             f'action_alignment: {insp.alignment.get("action_alignment", "at_or_before")} '
             f'({insp.alignment.get("reason", "no command topic")})']
    notes += [f'WARNING: {w}' for w in insp.warnings]
    if insp.continuous_joints:
        notes.append(f'Continuous joints {insp.continuous_joints} (range > 2 pi or wrap-'
                     f'arounds): model.continuous_joints reads them as (cos, sin), angles in '
                     f'(-pi, pi]; remove a name there if that joint has limits.')
    return _comment(notes) + yaml.safe_dump(config, sort_keys=False)


def planner_text(insp: BagInspection, params: Dict[str, Any]) -> str:
    """The YAML of the planner parameters under a comment on how each value was chosen."""
    p = params['/**/planner_node']['ros__parameters']
    guessed = insp.command is not None and guess_interface(insp.command.topic,
                                                           insp.command.type) is not None
    camera = insp.image_topic
    if p.get('image_transport') == 'compressed' and camera.endswith('/compressed'):
        camera = camera[:-len('/compressed')]     # the launch file appends it
    notes = ['planner_node parameters written by `jepa-world-model inspect`; load with',
             '  ros2 launch jepa_world_model planner.launch.py params_file:=THIS_FILE \\',
             f'    model_path:=runs/my_robot/checkpoint.safetensors image_topic:={camera} \\',
             f'    joint_states_topic:={insp.joint_state_topic}',
             f'command_interface: {p.get("command_interface")} ('
             f'{"from the command topic" if guessed else "not told by the command topic: check"}'
             f'); command_min/max: the recorded command range per dim, in '
             f'{unit_of(p.get("command_interface", "velocity"))};',
             'acceleration_max: the recorded 99th-percentile change per second; '
             'joint_position_min/max: the recorded joint range',
             f'(+-{CONTINUOUS_LIMIT:g} for continuous joints: ignored, the planner applies no '
             'position limit to a model\'s continuous_joints).']
    if p.get('output') == 'float64_multi_array' and 'action_joint_names' not in p:
        notes.append('WARNING: the command has another size than the joint state: set '
                     'action_joint_names (the joint each command dim moves).')
    return _comment(notes) + yaml.safe_dump(params, sort_keys=False)
