"""``jepa-world-model plan-eval``: closed-loop planning success rates, planner_node driving
sim_node over ROS 2; the experiment itself is :mod:`jepa_world_model.experiments.closed_loop`
(docs/closed_loop.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from ..experiments.closed_loop import run_closed_loop   # no rclpy at import
from ..experiments.conditions import DEFAULT_CONDITIONS, ExperimentError, ExperimentOptions
from ..node_runs.models import ModelChoiceError, SHIPPED_MODELS
from ..sim.people_scenes import SCENES
from .node_runs import exit_status

__all__ = ['add_parser', 'parse_overrides', 'run']


def parse_overrides(items: Optional[List[str]]) -> Dict[str, Any]:
    """``--set NAME=VALUE`` items as {name: YAML-parsed value}; ValueError without '='."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition('=')
        if not sep or not name:
            raise ValueError(f'--set needs NAME=VALUE, got {item!r}')
        out[name.strip()] = yaml.safe_load(value)
    return out


def run(args: argparse.Namespace) -> int:
    """Run the conditions; 2 on an experiment failure (one line on stderr), 130 when
    interrupted (partial results are kept)."""
    def plan_eval() -> None:
        opts = ExperimentOptions(
            robot=args.robot, episodes=args.episodes, out=args.out, model=args.model,
            conditions=args.conditions or [], budget=args.budget, tolerance=args.tolerance,
            seed=args.seed, risk_weight=args.risk_weight,
            disagreement_weight=args.disagreement_weight,
            pixel_checkpoints=tuple(args.pixel_checkpoints),
            planner_overrides=parse_overrides(args.set), blocked_goals=args.blocked_goals,
            time_scale=args.time_scale, lockstep=args.lockstep,
            command_wait=args.command_wait,
            max_minutes=args.max_minutes, report_only=args.report_only, scene=args.scene,
            startup_timeout=args.startup_timeout)
        run_closed_loop(opts)
    return exit_status('plan-eval', plan_eval, (ValueError, ModelChoiceError, ExperimentError))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``plan-eval`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('plan-eval', help='closed-loop planning success rates: planner_node '
                       'driving sim_node over ROS 2 (docs/closed_loop.md)')
    p.add_argument('--robot', default='arm', choices=sorted(DEFAULT_CONDITIONS))
    p.add_argument('--episodes', type=int, default=50, help='episodes per condition')
    p.add_argument('--out', type=Path, default=Path('outputs/closed_loop'))
    p.add_argument('--model', type=Path, help='planner checkpoint (default: the shipped '
                   + ' / '.join(m.file for m in SHIPPED_MODELS.values()) + ')')
    p.add_argument('--conditions', nargs='+', metavar='NAME',
                   help='arm: image joint random pixel (default: all); mobile_base: risk '
                   'no_risk agents risk_agents readout (default: risk no_risk)')
    p.add_argument('--budget', type=int, default=0,
                   help='control steps per episode (default 80 arm, 150 base)')
    p.add_argument('--tolerance', type=float, default=0.0,
                   help='success distance in m (default 0.05 arm end effector, 0.15 base)')
    p.add_argument('--seed', type=int, default=0, help='episode i uses seed + i + 1')
    p.add_argument('--risk-weight', type=float, default=20.0,
                   help='base condition risk: the planner\'s obstacle_weight; readout: '
                   'its clearance_weight')
    p.add_argument('--disagreement-weight', type=float, default=0.0,
                   help='base planner conditions')
    p.add_argument('--pixel-checkpoints', type=int, nargs='+', default=[3],
                   help='pixel planner: control steps after which candidates are scored')
    p.add_argument('--set', action='append', metavar='NAME=VALUE',
                   help='extra planner_node parameter (YAML value), repeatable')
    p.add_argument('--blocked-goals', action='store_true',
                   help='arm: also goals whose straight joint path hits the obstacle')
    p.add_argument('--max-minutes', type=float, default=0.0,
                   help='wall-clock cap per condition (fewer episodes run)')
    p.add_argument('--lockstep', action='store_true',
                   help='faster than real time with the same decisions: sim_node steps as '
                   'soon as the command for its last step arrives (after one control period '
                   'without one, as a real-time run would); all nodes on /clock')
    p.add_argument('--command-wait', type=float, default=0.0, metavar='S',
                   help='with --lockstep: the longest wall-clock wait [s] for a command '
                   '(default: one control period). Longer, with a longer max_plan_time '
                   '(--set), makes a loaded machine plan what an idle one would')
    p.add_argument('--time-scale', type=float, default=1.0, metavar='N',
                   help='sim_node ticks N times per control period (default 1: real time); '
                   'with --lockstep, a command may take 1/N of a control period')
    p.add_argument('--scene', default='default', choices=list(SCENES),
                   help='mobile_base: the people (default: two walkers who give way; crowd: '
                   'five; crossing: two crossing the start-goal line; head_on: one walking at '
                   'the robot along it; stubborn: as head_on, never giving way)')
    p.add_argument('--startup-timeout', type=float, default=120.0)
    p.add_argument('--report-only', action='store_true',
                   help='only redo the summary and figures from OUT/results_*.json')
    p.set_defaults(func=run)
    return p
