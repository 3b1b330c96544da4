"""``jepa-world-model offline-reach``: reaching with planner_node's planning controller in
process, no ROS (the experiments are :mod:`jepa_world_model.experiments.offline_reach`);
prints the report as JSON on stdout (and writes it to ``--out``).

``--num-samples 64 128 256`` runs the experiment once per sample count, in turn, and prints
``{"points": [report, ...]}``; ``--collect REPORT ...`` runs nothing and gathers such
reports into the quality-per-compute table (``--out``) and figure (``--plot``) of
:mod:`jepa_world_model.experiments.compute_sweep`.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
import json
from pathlib import Path
import sys
from typing import Any, Dict, List, Optional, Union

from ..experiments.conditions import ExperimentError
from ..experiments.offline_reach.options import (ArmReachOptions, BACKENDS, BaseReachOptions,
                                                 OBJECTIVES, RISKS, ROLLOUT_DTYPES)
from ..node_runs.models import ModelChoiceError

__all__ = ['add_parser', 'options_for', 'sweep_options', 'command_for', 'run', 'SHARED',
           'ARM_ONLY', 'BASE_ONLY']

#: Options both experiments take (argparse dest = field name); a robot's default when absent.
#: ``num_samples`` is one too, given as a list (:func:`sweep_options`).
SHARED = ('model', 'episodes', 'first_seed', 'budget', 'tolerance', 'threads', 'num_elites',
          'rollout_dtype', 'inference_backend', 'rollout_model')
#: Options of one robot's experiment only.
ARM_ONLY = ('objective',)
BASE_ONLY = ('risk', 'risk_weight', 'min_range', 'margin', 'disagreement_weight', 'use_map',
             'map_inflation', 'people_cost_to_go_every', 'action_repeat', 'command_delay',
             'plan_delay')
ARM, BASE = ArmReachOptions(), BaseReachOptions()   # their defaults, for the help


def _flag(name: str) -> str:
    return '--map' if name == 'use_map' else '--' + name.replace('_', '-')


Options = Union[ArmReachOptions, BaseReachOptions]


def options_for(args: argparse.Namespace, num_samples: Optional[int] = None) -> Options:
    """The experiment's options: the values given in ``args`` over the robot's defaults,
    with ``num_samples`` (None: the robot's default).

    Raises:
        ExperimentError: an option of the other robot's experiment was given, or a bad value.
    """
    arm = args.robot == 'arm'
    own, other = (ARM_ONLY, BASE_ONLY) if arm else (BASE_ONLY, ARM_ONLY)
    wrong = [_flag(name) for name in other if getattr(args, name) is not None]
    if wrong:
        raise ExperimentError(f'{", ".join(wrong)}: not an option of --robot {args.robot}')
    given: Dict[str, Any] = {name: getattr(args, name) for name in SHARED + own
                             if getattr(args, name) is not None}
    if num_samples is not None:
        given['num_samples'] = num_samples
    return ArmReachOptions(**given) if arm else BaseReachOptions(**given)


def sweep_options(args: argparse.Namespace) -> List[Options]:
    """One options per ``--num-samples`` value (the robot's default when none), all checked
    before any runs.

    Raises:
        ExperimentError: as :func:`options_for`, for any of them.
    """
    return [options_for(args, n) for n in (getattr(args, 'num_samples', None) or [None])]


def command_for(robot: str, opts: Options) -> str:
    """The ``jepa-world-model offline-reach`` command line that runs ``opts``: the robot,
    every value that differs from the robot's default, and always ``--num-samples``."""
    default = ARM if robot == 'arm' else BASE
    words = ['jepa-world-model', 'offline-reach', '--robot', robot]
    for name in SHARED + (ARM_ONLY if robot == 'arm' else BASE_ONLY) + ('num_samples',):
        value = getattr(opts, name)
        if value == getattr(default, name) and name != 'num_samples':
            continue
        if name == 'use_map':
            words.append('--map')   # a switch: only ever turned on
        else:
            words += [_flag(name), f'{value:g}' if isinstance(value, float) else str(value)]
    return ' '.join(words)


def _write(report: Dict[str, Any], out: Optional[Path]) -> None:
    text = json.dumps(report, indent=1)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + '\n', encoding='utf-8')
    print(text)


def _collect(args: argparse.Namespace) -> Dict[str, Any]:
    """The quality-per-compute summary of the ``--collect`` reports (and its figure)."""
    from ..experiments.compute_sweep import collect_reports, plot_quality_vs_samples
    summary = collect_reports(args.collect)
    if args.plot is not None:
        plot_quality_vs_samples(summary, args.plot)
    return summary


def _experiments(args: argparse.Namespace) -> Dict[str, Any]:
    """Run the robot's experiment once per sample count; one report, or ``points``."""
    points = sweep_options(args)
    if args.robot == 'arm':   # late imports: MuJoCo and the model only when run
        from ..experiments.offline_reach.arm import run_arm_reach as experiment
    else:
        from ..experiments.offline_reach.base import run_base_reach as experiment
    reports = []
    for opts in points:
        started = datetime.now(timezone.utc)
        report = experiment(opts)
        reports.append({'command': command_for(args.robot, opts), 'robot': args.robot,
                        'date': started.isoformat(timespec='seconds'), **report})
    return reports[0] if len(reports) == 1 else {'points': reports}


def run(args: argparse.Namespace) -> int:
    """Run the robot's experiment and print its report; 2 with one line on stderr when it
    cannot run (an option of the other robot, a missing model, a model lacking a term)."""
    try:
        if args.collect:
            report = _collect(args)
        elif args.plot is not None:
            raise ExperimentError('--plot: only with --collect')
        else:
            report = _experiments(args)
    except (ExperimentError, ModelChoiceError) as exc:
        sys.stderr.write(f'jepa-world-model offline-reach: error: {exc}\n')
        return 2
    _write(report, args.out)
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
    p.add_argument('--num-samples', type=int, nargs='+', metavar='N',
                   help=f'CEM samples per iteration; several: one run each, in turn (default '
                   f'{ARM.num_samples} arm, {BASE.num_samples} base)')
    p.add_argument('--num-elites', type=int,
                   help='lowest-cost samples per refit (default: num_samples / 8, '
                   'config/ros/planner.yaml\'s 8 of 64)')
    p.add_argument('--rollout-dtype', choices=ROLLOUT_DTYPES,
                   help="planner_node's rollout_dtype (default float32)")
    p.add_argument('--inference-backend', choices=BACKENDS,
                   help="planner_node's inference_backend: what runs the encoder and the "
                   "plans' dynamics steps; the onnxruntime ones export the model once into "
                   "the cache (docs/deployment.md; default torch)")
    p.add_argument('--rollout-model', type=str,
                   help="planner_node's rollout_model: a rollout student distilled from the "
                   "model (jepa-world-model distill-rollout) for the plans' rollouts "
                   "(default '': the dynamics ensemble; docs/planner_speed.md)")
    p.add_argument('--out', type=Path, help='also write the JSON report to this file')
    p.add_argument('--collect', type=Path, nargs='+', metavar='REPORT',
                   help='run nothing: gather offline-reach reports (JSON) into one table of '
                   'success against samples per condition (docs/planner_quality.md)')
    p.add_argument('--plot', type=Path, help='with --collect: draw that table (PNG)')
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
    base.add_argument('--people-cost-to-go-every', type=int,
                      help='with --map: mark the scan returns the map does not explain '
                      '(people) in its cost-to-go, rebuilt at most every this many plans '
                      f'(planner_node\'s people_cost_to_go_every; default '
                      f'{BASE.people_cost_to_go_every}: off)')
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
