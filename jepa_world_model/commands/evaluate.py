"""``jepa-world-model evaluate``: probe and prediction scores of a checkpoint.

On ``--bag`` recordings (``bags/evaluate.py``: baselines and surprise at events), else on
generated episodes of the checkpoint's robot: the gantry's scenes (``core/training/synthetic.py``),
or a temporary recording of the arm or mobile_base simulator. A checkpoint of any other
robot needs ``--bag``; that, like every other failure, is one line on stderr (exit 2).
The robot is recognised by the checkpoint's joint names and action size, so a line on
stderr (and ``generated.matched_by``) says which robot's episodes scored it. ``--plots DIR``
adds figures and their numbers (``bags/evaluation_plots.py``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any, Dict

from ..core.checkpoint import load_checkpoint
from ..core.config import ConfigError, ModelConfig
from ..core.training.evaluation import prediction_report, probe_report
from ..core.training.synthetic import generate_episodes, JOINT_NAMES as GANTRY_JOINTS, SceneSpec
from ..episode_sources import bag_module

__all__ = ['add_parser', 'is_gantry_model', 'run']


def run(args: argparse.Namespace) -> int:
    """Probe and prediction scores: on ``--bag`` recordings, else on generated episodes of
    the checkpoint's robot (the gantry's scenes, or a temporary simulator recording)."""
    if args.episodes < 1:
        raise ConfigError(f'--episodes must be >= 1, got {args.episodes}')
    loaded = load_checkpoint(args.checkpoint)
    cfg = loaded.config
    samples: Dict[str, Any] = {}   # surprise values per flag, for --plots
    if args.bag:
        report = bag_module('evaluate').evaluate_on_bags(args.checkpoint, args.bag, loaded=loaded,
                                                         samples=samples)
    elif is_gantry_model(cfg.model):
        steps = args.steps or cfg.data.synthetic_steps
        _check_eval_steps(steps, 6)     # horizons 1..5 (prediction_report)
        spec = SceneSpec(image_size=cfg.model.image_size)
        fit = generate_episodes(args.episodes, steps, args.seed, spec)
        held_out = generate_episodes(args.episodes, steps, args.seed + 1, spec)
        report = {'checkpoint': str(args.checkpoint), 'step': loaded.step,
                  'generated': {'robot': 'gantry', 'episodes': args.episodes,
                                'steps': steps, 'seed': args.seed},
                  'probes_image_latent': probe_report(loaded.model, fit, held_out),
                  'prediction': prediction_report(loaded.model, held_out)}
        _note_generated_robot('gantry', cfg, report)
    else:
        evaluate = bag_module('evaluate')
        robot = evaluate.simulated_robot_for(cfg.model)
        if robot is None:
            raise ConfigError(
                f'{args.checkpoint}: episodes of its robot (joints {cfg.model.joint_names}, '
                f'{cfg.model.action_dim} actions) cannot be generated here; pass --bag DIR '
                f'with recordings of that robot')
        steps = args.steps or 40
        _check_eval_steps(steps, max(10, cfg.data.clip_length))   # horizons 1..8 + 1
        report = evaluate.evaluate_on_simulator(args.checkpoint, loaded, robot, args.episodes,
                                                steps, args.seed, args.policy, samples=samples)
        _note_generated_robot(robot, cfg, report)
    if args.plots is not None:
        from ..bags.evaluation_plots import write_plots   # matplotlib only when asked
        try:
            report['plots'] = {'dir': str(args.plots),
                               'files': write_plots(report, samples, args.plots)['files']}
        except OSError as exc:
            raise ConfigError(f'--plots {args.plots}: cannot write the figures: {exc}') from None
    print(json.dumps(report, indent=2))
    return 0


def is_gantry_model(model: ModelConfig) -> bool:
    """True when ``core/training/synthetic.py``'s generated episodes fit ``model``:
    the gantry's joints and 2-D action, and s = [positions, velocities]."""
    return (list(model.joint_names) == list(GANTRY_JOINTS) and model.action_dim == 2
            and model.use_joint_position and model.use_joint_velocity
            and not model.pose_in_state)


def _note_generated_robot(robot: str, cfg: Any, report: Any) -> None:
    """Say on stderr, and in the report, which robot's generated episodes scored the
    checkpoint and why: it is chosen by the checkpoint's joint names and action size, which
    another robot (trained from its own bags) can share by chance."""
    matched = (f'its joints {list(cfg.model.joint_names)} and {cfg.model.action_dim} actions '
               f'are those of the {robot}')
    report['generated']['matched_by'] = 'joint names and action size'
    trained_on = ('it was trained on rosbag recordings: if they come from another robot, '
                  'pass --bag DIR with recordings of it' if cfg.data.source == 'rosbag'
                  else 'it was trained on generated scenes')
    sys.stderr.write(f'evaluate: no --bag, scored on generated {robot} episodes: {matched}; '
                     f'{trained_on}\n')


def _check_eval_steps(steps: int, minimum: int) -> None:
    if steps < minimum:
        raise ConfigError(f'--steps must be at least {minimum} for the evaluated horizons, '
                          f'got {steps}')


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``evaluate`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('evaluate', help='probe and prediction scores on recorded (--bag) or '
                       'generated episodes')
    p.add_argument('--checkpoint', required=True, type=Path)
    p.add_argument('--bag', nargs='+', action='extend', metavar='DIR',
                   help='evaluate on these bags (or directories of bags), read with the '
                   'checkpoint\'s data.bag topics; without it, on generated episodes of the '
                   'checkpoint\'s robot (gantry scenes, or the arm / mobile_base simulator)')
    p.add_argument('--episodes', type=int, default=40, help='generated episodes')
    p.add_argument('--steps', type=int, help='frames per generated episode (default: '
                   'data.synthetic_steps for the gantry, 40 for simulated robots)')
    p.add_argument('--policy', default='noisy', help='exploration policy of a simulated robot')
    p.add_argument('--seed', type=int, default=1000)
    p.add_argument('--plots', type=Path, metavar='DIR', help='also write figures into DIR: '
                   'prediction error per horizon against the copy and constant-velocity '
                   'baselines, surprise histograms at collision/contact onsets vs free motion '
                   '(when the episodes have them), and plots.json with their numbers')
    p.set_defaults(func=run)
    return p
