"""``jepa-world-model``: train, evaluate and inspect world models from the command line.

Examples:
    jepa-world-model train --config config/train/gantry_tiny.yaml --out runs/gantry_tiny
    jepa-world-model train --config config/train/gantry_tiny.yaml --out runs/gantry_tiny --resume
    jepa-world-model record --robot gantry --out bags/gantry --episodes 200 --steps 32
    jepa-world-model inspect --bag bags/robot_run1 --write-config my_robot.yaml
    jepa-world-model train --bag bags/gantry --config config/train/gantry_tiny.yaml --out runs/bag
    jepa-world-model evaluate --checkpoint runs/gantry_tiny/checkpoint.safetensors
    jepa-world-model evaluate --checkpoint models/arm_tiny.safetensors --bag bags/arm_heldout
    jepa-world-model info --checkpoint models/gantry_tiny.safetensors
    jepa-world-model demo --out outputs/demo
    jepa-world-model demo --duration 30 --model runs/arm_tiny/checkpoint.safetensors
    jepa-world-model demo-synthetic --out outputs/demo_synthetic
    jepa-world-model plan-eval --robot mobile_base --episodes 50
    jepa-world-model offline-reach --robot mobile_base --risk scan --map --episodes 30
    jepa-world-model diagnose risk --model models/mobile_base_tiny.safetensors
    jepa-world-model agents-eval --out docs/results/agent_prediction.json
    jepa-world-model distill-rollout --robot arm --checkpoint models/arm_tiny.safetensors \
        --out models/arm_tiny_rollout.safetensors
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from .bags.errors import BagDatasetError, BagWriteError, RecordError
from .commands import (agents_eval, demo, demo_synthetic, diagnose, distill_rollout, evaluate,
                       export, fit_risk, info, inspect, offline_reach, plan_eval, record,
                       train)
from .core.checkpoint import CheckpointError
from .core.config import ConfigError
from .core.model.rollout_student_file import RolloutModelError
from .core.training.trainer import TrainingSetupError

__all__ = ['build_parser', 'main', 'one_line']

#: The sub-command modules (``commands/``), in the order ``--help`` lists them.
COMMANDS = (train, record, inspect, evaluate, info, export, demo, demo_synthetic, plan_eval,
            offline_reach, diagnose, fit_risk, agents_eval, distill_rollout)
#: Failures the user can fix: one line on stderr and exit status 2, never a traceback.
USER_ERRORS = (ConfigError, CheckpointError, OSError, BagDatasetError, BagWriteError,
               RecordError, TrainingSetupError, RolloutModelError)


def build_parser() -> argparse.ArgumentParser:
    """The ``jepa-world-model`` parser; each sub-command sets ``func`` to its ``run``."""
    parser = argparse.ArgumentParser(prog='jepa-world-model', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-v', '--verbose', action='store_true')
    sub = parser.add_subparsers(dest='command', required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``jepa-world-model`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        sys.stderr.write(f'jepa-world-model: error: {one_line(exc)}\n')
        return 2
    except Exception as exc:
        # Anything else is a bug; the user still gets one line, a developer the traceback.
        if args.verbose:
            raise
        sys.stderr.write(f'jepa-world-model: internal error: {type(exc).__name__}: '
                         f'{one_line(exc)} (rerun with -v for the traceback)\n')
        return 1


def one_line(exc: BaseException) -> str:
    """An error message on one line (bag read reports and YAML errors span several)."""
    return ' | '.join(line.strip() for line in str(exc).splitlines() if line.strip())


if __name__ == '__main__':
    sys.exit(main())
