"""``jepa-world-model demo``: the world model predicting the simulated arm (or base) live
over ROS 2, with its prediction error and surprise reported (docs/demo.md,
``demo/run_demo.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .node_runs import exit_status

__all__ = ['add_parser', 'run']


def run(args: argparse.Namespace) -> int:
    """Run the demo; 2 on a demo failure (one line on stderr), 130 when interrupted."""
    from ..demo.run_demo import DemoError, DemoOptions, run_demo   # imports ROS lazily
    from ..node_runs.models import ModelChoiceError
    opts = DemoOptions(out=args.out, robot=args.robot, duration=args.duration,
                       model=args.model, seed=args.seed, horizon=args.horizon,
                       gif_seconds=args.gif_seconds, startup_timeout=args.startup_timeout,
                       animation='demo.mp4' if args.mp4 else 'demo.gif')
    return exit_status('demo', lambda: run_demo(opts), (DemoError, ModelChoiceError))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``demo`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('demo', help='run world_model_node against a simulated robot over ROS 2 '
                       'and report its prediction error and surprise (docs/demo.md)')
    p.add_argument('--out', type=Path, default=Path('outputs/demo'))
    p.add_argument('--robot', default='arm', choices=['arm', 'mobile_base', 'tabletop'])
    p.add_argument('--duration', type=float, default=60.0,
                   help='simulated seconds to record once the model predicts (default 60)')
    p.add_argument('--model', type=Path,
                   help='checkpoint (default: the robot\'s shipped model, e.g. '
                   'models/arm_tiny.safetensors)')
    p.add_argument('--seed', type=int, default=0, help='simulator and policy seed')
    p.add_argument('--horizon', type=int, default=10, help='predicted steps H (0.1 s each)')
    p.add_argument('--gif-seconds', type=float, default=20.0, help='animation clip length')
    p.add_argument('--startup-timeout', type=float, default=120.0,
                   help='wall seconds each node may take to come up')
    p.add_argument('--mp4', action='store_true',
                   help='write demo.mp4 instead of demo.gif (needs imageio-ffmpeg)')
    p.set_defaults(func=run)
    return p
