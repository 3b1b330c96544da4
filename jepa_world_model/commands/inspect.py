"""``jepa-world-model inspect``: what a rosbag2 recording holds before training on it
(topics, rates, gaps, camera, joint ranges and continuous joints, the command topic, the
frame -> command delay and the ``action_alignment`` it calls for), and optionally a starter
training config and planner parameters (``bags/inspection.py``, ``bags/starter_config.py``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..core.atomic_files import atomic_write_text
from ..core.config import (ConfigError, ExperimentConfig, from_dict,
                           resolve_robot_description)
from ..episode_sources import bag_module

__all__ = ['add_parser', 'run', 'format_text']


def run(args: argparse.Namespace) -> int:
    """Inspect ``--bag``; print the report (text or ``--json``); write the files asked for."""
    for path in (args.write_config, args.write_planner_params):
        if path is not None and path.exists() and not args.force:
            raise ConfigError(f'{path} exists: choose another path or pass --force')
    inspection = bag_module('inspection')
    starter = bag_module('starter_config')
    insp = inspection.inspect_bags(args.bag, args.image_topic or '',
                                   args.joint_state_topic or '', args.action_topic or '',
                                   args.stamp_source)
    written = {}
    if args.urdf is not None and args.write_config is None:
        raise ConfigError('--urdf writes the config\'s robot_description: pass --write-config')
    if args.write_config is not None:
        description = _robot_description(args, [j.name for j in insp.joints],
                                         args.write_config.parent)
        config = starter.training_config(insp, args.image_size, description)
        atomic_write_text(args.write_config, starter.config_text(insp, config))
        written['config'] = str(args.write_config)
    if args.write_planner_params is not None:
        params = starter.planner_parameters(insp)
        atomic_write_text(args.write_planner_params, starter.planner_text(insp, params))
        written['planner_params'] = str(args.write_planner_params)
    if args.json:
        print(json.dumps(dict(insp.to_dict(), written=written), indent=2))
    else:
        print('\n'.join(format_text(insp) + [f'wrote {k}: {v}' for k, v in written.items()]))
    return 0


def _robot_description(args: argparse.Namespace, joint_names: List[str],
                       config_dir: Path) -> Optional[Dict[str, Any]]:
    """``robot_description`` for the config from ``--urdf`` (None without), checked now
    against the bag's joints (``joint_names``) rather than at ``train``.

    Raises:
        ConfigError: No ``--goal-link``, or a URDF that does not hold the links or moves them
            with joints the bag does not record.
    """
    if args.urdf is None:
        return None
    if not args.goal_link:
        raise ConfigError('--urdf needs at least one --goal-link (the link image goals aim at, '
                          'e.g. the end effector)')
    description = {'urdf': os.path.relpath(args.urdf.resolve(), config_dir.resolve()),
                   'base_link': args.base_link, 'goal_links': list(args.goal_link)}
    config = from_dict(ExperimentConfig, {'robot_description': description,
                                          'model': {'joint_names': joint_names}})
    resolve_robot_description(config, config_dir)
    return description


def format_text(insp: Any) -> List[str]:
    """The human-readable report of a ``BagInspection``, one line per item."""
    lines = [f'bags: {len(insp.bags)}'] + [f'  {b}' for b in insp.bags] + ['topics:']
    width = max([len(t.topic) for t in insp.topics] + [5])
    for t in insp.topics:
        lines.append(f'  {t.topic:<{width}}  {t.type}  {t.count} msgs  {t.rate_hz:.1f} Hz  '
                     f'max interval {t.max_interval_s:.3f} s  gaps {t.gaps}  pauses '
                     f'{t.pauses}  ({t.timed_by} stamps)')
    if insp.image_topic:
        size = (f'{insp.image.get("width")}x{insp.image.get("height")}'
                if 'width' in insp.image else 'size unknown')
        kind = insp.image.get('encoding') or insp.image.get('format', '')
        lines.append(f'camera: {insp.image_topic}  {size}  {kind}')
    if insp.joint_state_topic:
        lines.append(f'joints: {insp.joint_state_topic}  velocities '
                     f'{"yes" if insp.joint_velocities else "no"}  efforts '
                     f'{"yes" if insp.joint_efforts else "no"}')
        for j in insp.joints:
            flag = f'  CONTINUOUS ({j.wraps} wrap-arounds)' if j.continuous else ''
            lines.append(f'  {j.name}  {j.position_min:.3f} .. {j.position_max:.3f}  '
                         f'|velocity| <= {j.velocity_abs_max:.3f}{flag}')
    if insp.command:
        c = insp.command
        lines.append(f'command: {c.topic}  {c.type}  {c.width} values')
        lines += [f'  {f}  {lo:.3f} .. {hi:.3f}'
                  for f, lo, hi in zip(c.fields, c.minimum, c.maximum)]
    for name, stats in (('frame -> nearest joint state', insp.joint_state_skew_s),
                        ('frame -> following command', insp.command_delay_s)):
        if stats.get('count'):
            lines.append(f'{name}: median {stats["median"] * 1e3:.1f} ms, p90 '
                         f'{stats["p90"] * 1e3:.1f} ms, max {stats["max"] * 1e3:.1f} ms '
                         f'({stats["count"]})')
    if insp.alignment:
        a = insp.alignment
        window = (f', window {a["action_alignment_window_s"]:.3f} s'
                  if a['action_alignment'] == 'after_frame' else '')
        lines.append(f'action_alignment: {a["action_alignment"]}{window} ({a["reason"]})')
    lines += ['warnings:'] + [f'  - {w}' for w in insp.warnings] if insp.warnings else []
    return lines


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``inspect`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('inspect', help='what a rosbag2 holds; a starter config from it')
    p.add_argument('--bag', nargs='+', action='extend', required=True, metavar='DIR',
                   help='bags (or directories of bags); repeatable')
    p.add_argument('--image-topic', help='default: the busiest Image/CompressedImage topic')
    p.add_argument('--joint-state-topic', help='default: the busiest JointState topic')
    p.add_argument('--action-topic', help='default: the busiest Float64MultiArray, '
                   'Float32MultiArray, Twist or TwistStamped topic')
    p.add_argument('--stamp-source', choices=['header', 'receive'], default='header',
                   help='as data.bag.stamp_source')
    p.add_argument('--image-size', type=int, default=64, help='model.image_size of the config')
    p.add_argument('--json', action='store_true', help='print the report as JSON')
    p.add_argument('--write-config', type=Path, metavar='PATH',
                   help='write a starter training config (YAML) here')
    p.add_argument('--write-planner-params', type=Path, metavar='PATH',
                   help='write planner_node parameters (YAML) here')
    p.add_argument('--urdf', type=Path, metavar='FILE',
                   help="the robot's URDF: the config gets a robot_description so that image "
                        'goals are read and aimed at --goal-link (docs/your_robot.md)')
    p.add_argument('--base-link', default='base_link', help='with --urdf: the frame link '
                   'positions are in (default base_link)')
    p.add_argument('--goal-link', action='append', metavar='LINK',
                   help='with --urdf: a link image goals aim at; repeatable')
    p.add_argument('--force', action='store_true', help='overwrite the files written')
    p.set_defaults(func=run)
    return p
