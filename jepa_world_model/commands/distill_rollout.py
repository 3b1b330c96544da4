"""``jepa-world-model distill-rollout``: distil a checkpoint's dynamics ensemble into a small
rollout student for the planner (core/model/rollout_student.py, docs/planner_speed.md).

    jepa-world-model distill-rollout --robot arm --checkpoint models/arm_tiny.safetensors \
        --out models/arm_tiny_rollout.safetensors
    jepa-world-model distill-rollout --robot mobile_base --held-steps 2 \
        --checkpoint models/mobile_base_tiny.safetensors \
        --out models/mobile_base_tiny_rollout.safetensors

Start latents: simulator frames under random commands, encoded by the checkpoint's encoder
(experiments/rollout_states.py); then the teacher's own rollouts as targets. Prints the
report (settings, held-out errors before and after) as JSON; the same goes into the file.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
import json
from pathlib import Path
import sys
from typing import Any

from ..core.training.rollout_distillation import DistillConfig

__all__ = ['add_parser', 'command_for', 'run']

_DEFAULTS = DistillConfig()


def run(args: argparse.Namespace) -> int:
    """Encode start states, distil, write the student; print the report. 2 with one line
    on stderr for a bad setting or a model that does not fit the robot."""
    import torch
    from ..core.model.rollout_student_file import save_student
    from ..core.runtime.inference import WorldModelRuntime
    from ..core.training.rollout_distillation import distil_rollout
    from ..experiments.rollout_states import box, encoded_start_states
    try:
        config = DistillConfig(**{f.name: getattr(args, f.name) for f in fields(DistillConfig)})
        torch.set_num_threads(args.threads)
        runtime = WorldModelRuntime.from_path(str(args.checkpoint))
        starts = encoded_start_states(runtime, args.robot, args.episodes,
                                      args.steps_per_episode)
        low, high = box(args.robot)
        student, report = distil_rollout(runtime.model, starts, low, high, config)
    except ValueError as exc:   # a setting out of range, a model that is not the robot's
        sys.stderr.write(f'jepa-world-model distill-rollout: error: {exc}\n')
        return 2
    report.update({'robot': args.robot, 'episodes': args.episodes,
                   'steps_per_episode': args.steps_per_episode, 'threads': args.threads,
                   'command': command_for(args)})
    save_student(args.out, student, args.checkpoint, report)
    print(json.dumps(report, indent=1))
    return 0


def command_for(args: argparse.Namespace) -> str:
    """The full command line that reproduces ``args`` (every setting spelled out)."""
    words = ['jepa-world-model', 'distill-rollout', '--robot', args.robot,
             '--checkpoint', str(args.checkpoint), '--out', str(args.out)]
    for name in ('episodes', 'steps_per_episode', 'threads') + tuple(
            f.name for f in fields(DistillConfig)):
        words += ['--' + name.replace('_', '-'), str(getattr(args, name))]
    return ' '.join(words)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``distill-rollout`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('distill-rollout', help='distil the dynamics ensemble into a small '
                       'rollout model for the planner (planner_node rollout_model)')
    p.add_argument('--robot', required=True, choices=('arm', 'mobile_base'),
                   help='the simulator that renders the start frames, and the action box')
    p.add_argument('--checkpoint', required=True, type=Path, help='the teacher model')
    p.add_argument('--out', required=True, type=Path, help='the student file to write')
    p.add_argument('--episodes', type=int, default=40, help='simulator episodes of frames')
    p.add_argument('--steps-per-episode', type=int, default=60)
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads (1: the small GEMMs gain little from 2, and 2 threads '
                   'on a loaded CPU ran several times slower)')
    for f in fields(DistillConfig):
        p.add_argument('--' + f.name.replace('_', '-'), type=type(f.default),
                       default=f.default, help=f'(default {f.default})')
    p.set_defaults(func=run)
    return p
