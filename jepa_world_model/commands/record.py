"""``jepa-world-model record``: drive a simulated robot with an exploration policy and write
a rosbag2, then print the bag's summary and the settings a training config needs to read it
back (``bags/recording.py``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..core.config import ExperimentConfig, load_config
from ..episode_sources import bag_module

__all__ = ['add_parser', 'run']


def run(args: argparse.Namespace) -> int:
    """Record ``--episodes`` episodes of ``--steps`` frames into ``--out``."""
    recording = bag_module('recording')
    cfg = load_config(args.config) if args.config else ExperimentConfig()
    size = args.image_size or cfg.model.image_size
    robot = recording.make_robot(args.robot, size)
    try:
        topics = recording.topics_for(args.robot, robot, cfg.data.bag, args.action_topic or '')
        summary = recording.record(
            robot, lambda seed: recording.make_policy(args.policy, robot, seed), args.out,
            args.episodes, args.steps, topics, args.storage, args.seed,
            info={'robot': args.robot, 'policy': args.policy})
    finally:
        robot.close()
    # The settings a training config needs to read this bag back.
    summary['train_config'] = {
        'model': {'image_size': size, 'joint_names': list(robot.joint_names),
                  'action_dim': len(robot.action_names),
                  'action_names': list(robot.action_names)},
        'data': {'source': 'rosbag', 'bag': {
            'image_topic': topics.image, 'joint_state_topic': topics.joint_states,
            'action_source': 'topic', 'action_topic': topics.action,
            'action_fields': list(topics.action_fields)}}}
    print(json.dumps(summary, indent=2))
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``record`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('record', help='record a simulated robot into a rosbag2')
    p.add_argument('--robot', default='gantry', help='gantry, arm or mobile_base')
    p.add_argument('--out', required=True, type=Path, help='bag directory to create')
    p.add_argument('--episodes', type=int, default=10)
    p.add_argument('--steps', type=int, default=32, help='frames per episode')
    p.add_argument('--policy', default='random', help='exploration policy')
    p.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--image-size', type=int, help='default: the config\'s model.image_size')
    p.add_argument('--config', type=Path, help='take topics and image size from this config')
    p.add_argument('--action-topic', help='default: data.bag.action_topic, /cmd_vel for bases')
    p.set_defaults(func=run)
    return p
