"""``jepa-world-model offline-reach``: reaching with planner_node's planning controller in
process, no ROS (the experiments are :mod:`jepa_world_model.experiments.offline_reach`);
prints the report as JSON on stdout."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any, Dict, Union

from ..experiments.conditions import ExperimentError
from ..experiments.offline_reach.options import (ArmReachOptions, BaseReachOptions,
                                                 OBJECTIVES, RISKS)
from ..node_runs.models import ModelChoiceError

__all__ = ['add_parser', 'options_for', 'run', 'SHARED', 'ARM_ONLY', 'BASE_ONLY']

#: Options both experiments take (argparse dest = field name); a robot's default when absent.
SHARED = ('model', 'episodes', 'first_seed', 'budget', 'tolerance', 'threads')
#: Options of one robot's experiment only.
ARM_ONLY = ('objective',)
BASE_ONLY = ('risk', 'risk_weight', 'min_range', 'margin', 'disagreement_weight', 'use_map',
             'map_inflation', 'action_repeat', 'command_delay', 'plan_delay')
ARM, BASE = ArmReachOptions(), BaseReachOptions()   # their defaults, for the help


def _flag(name: str) -> str:
    return '--map' if name == 'use_map' else '--' + name.replace('_', '-')


def options_for(args: argparse.Namespace) -> Union[ArmReachOptions, BaseReachOptions]:
    """The experiment's options: the values given in ``args`` over the robot's defaults.

    Raises:
        ExperimentError: an option of the other robot's experiment was given.
    """
    arm = args.robot == 'arm'
    own, other = (ARM_ONLY, BASE_ONLY) if arm else (BASE_ONLY, ARM_ONLY)
    wrong = [_flag(name) for name in other if getattr(args, name) is not None]
    if wrong:
        raise ExperimentError(f'{", ".join(wrong)}: not an option of --robot {args.robot}')
    given: Dict[str, Any] = {name: getattr(args, name) for name in SHARED + own
                             if getattr(args, name) is not None}
    return ArmReachOptions(**given) if arm else BaseReachOptions(**given)


def run(args: argparse.Namespace) -> int:
    """Run the robot's experiment and print its report; 2 with one line on stderr when it
    cannot run (an option of the other robot, a missing model, a model lacking a term)."""
    try:
        opts = options_for(args)
        if args.robot == 'arm':   # late imports: MuJoCo and the model only when run
            from ..experiments.offline_reach.arm import run_arm_reach as experiment
        else:
            from ..experiments.offline_reach.base import run_base_reach as experiment
        report = experiment(opts)
    except (ExperimentError, ModelChoiceError) as exc:
        sys.stderr.write(f'jepa-world-model offline-reach: error: {exc}\n')
        return 2
    print(json.dumps(report, indent=1))
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``offline-reach`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser(
        'offline-reach', help='reaching with planner_node\'s planning controller in process, '
        'no ROS: the arm toward goal images, the base toward pose goals; prints JSON '
        '(docs/closed_loop.md)')
    p.add_argument('--robot', default='arm', choices=['arm', 'mobile_base'])
    p.add_argument('--model', type=Path,
                   help='checkpoint (default: the robot\'s shipped model)')
    p.add_argument('--episodes', type=int,
                   help=f'seeded tasks first_seed .. first_seed + N - 1, plan-eval\'s '
                   f'(default {ARM.episodes} arm, {BASE.episodes} base)')
    p.add_argument('--first-seed', type=int, help=f'default {ARM.first_seed}')
    p.add_argument('--budget', type=int, help=f'control steps per episode (default '
                   f'{ARM.budget} arm, {BASE.budget} base)')
    p.add_argument('--tolerance', type=float, help=f'success distance in m (default '
                   f'{ARM.tolerance:g} arm end effector, {BASE.tolerance:g} base)')
    p.add_argument('--threads', type=int, help=f'torch threads (default {ARM.threads})')
    arm = p.add_argument_group('--robot arm')
    arm.add_argument('--objective', choices=OBJECTIVES,
                     help=f'joint_units: planner_node\'s image goal read by the '
                     f'image_state_head; latent_l1: the image latents alone; joint_goal: the '
                     f'true goal joints (default {ARM.objective})')
    base = p.add_argument_group('--robot mobile_base')
    base.add_argument('--risk', choices=RISKS, help=f'the plans\' risk term (default '
                      f'{BASE.risk})')
    base.add_argument('--risk-weight', type=float, help=f'default {BASE.risk_weight:g}')
    base.add_argument('--min-range', type=float,
                      help=f'clearance and oracle: ranges from the base centre below this '
                      f'cost (m, default {BASE.min_range:g})')
    base.add_argument('--margin', type=float,
                      help=f'clearance and oracle: band (m) over which the cost reaches 1 '
                      f'(default {BASE.margin:g})')
    base.add_argument('--disagreement-weight', type=float,
                      help=f'default {BASE.disagreement_weight:g}')
    base.add_argument('--map', dest='use_map', action='store_true', default=None,
                      help='score the goal by the path length on the static map')
    base.add_argument('--map-inflation', type=float, help=f'default {BASE.map_inflation:g}')
    base.add_argument('--action-repeat', type=int, help=f'default {BASE.action_repeat}')
    base.add_argument('--command-delay', type=int, choices=(0, 1),
                      help=f'1: each command takes effect one step after its frame, as over '
                      f'ROS (sim_node applies the newest command at its next tick); default '
                      f'{BASE.command_delay}')
    base.add_argument('--plan-delay', type=int,
                      help='planner_node\'s command_delay_steps: the plan starts from the '
                      'previous command rolled forward this many steps (default: '
                      '--command-delay)')
    p.set_defaults(func=run)
    return p
