"""``jepa-world-model diagnose goals|risk|continuous-joints``: offline checks, no ROS: the
planner's objectives on the closed-loop experiment's tasks (docs/closed_loop.md, "Offline
diagnostics"), and the image head on a continuous joint (docs/datasets.md).

* ``goals``: goal-image objectives along each arm task's straight joint path
  (:mod:`jepa_world_model.experiments.goal_diagnostics`); writes ``--out`` (JSON) and its
  ``.png`` and prints the summary;
* ``risk``: whether a base model's risk term ranks colliding plans above free ones
  (:mod:`jepa_world_model.experiments.risk_diagnostics`); prints the report and writes it to
  ``--out`` when given;
* ``continuous-joints``: the image head's reading error on a continuous joint against a
  limited one, with and without ``model.continuous_joints``
  (:mod:`jepa_world_model.experiments.continuous_joints`);
* ``tabletop-objects`` / ``grip-hold``: object positions read from predicted latents, and
  the grip-hold head, on held-out tabletop bags (docs/tabletop.md;
  :mod:`jepa_world_model.experiments.tabletop_objects`, ``grip_hold``);
* ``data-efficiency``: the JEPA objective against a pixel objective on fractions of the
  tabletop recordings, several seeds (:mod:`jepa_world_model.experiments.data_efficiency`);
* ``agent-term``: the base's plan-eval results with and without the predicted-people term
  (:mod:`jepa_world_model.experiments.agent_term_report`);
* ``backend-quality``: offline-reach reports of several inference backends side by side,
  paired seed by seed with torch (:mod:`jepa_world_model.experiments.backend_quality`);
* ``hold-drift``: what mobile-base models predict for standing still, against the simulator
  (:mod:`jepa_world_model.experiments.hold_drift`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any, Dict, Optional

__all__ = ['add_parser', 'run_goals', 'run_risk', 'run_continuous_joints', 'run_link_reading',
           'run_tabletop', 'run_data_efficiency', 'run_agent_term', 'run_backend_quality',
           'run_hold_drift']


def _write_json(report: Dict[str, Any], path: Optional[Path]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1))


def _print_json(report: Dict[str, Any]) -> None:
    json.dump(report, sys.stdout, indent=1)
    print()


def run_goals(args: argparse.Namespace) -> int:
    """The goal-objective profiles of ``args.model`` (one or more checkpoints)."""
    from ..experiments import goal_diagnostics   # MuJoCo and torch only when run
    report = goal_diagnostics.run(args.model, args.episodes, args.seed)
    _write_json(report, args.out)
    goal_diagnostics.plot_profiles(report['summary'], args.out.with_suffix('.png'))
    _print_json(report['summary'])
    return 0


def run_risk(args: argparse.Namespace) -> int:
    """The risk term's ranking of colliding and free plans for ``args.model``."""
    from ..experiments import risk_diagnostics
    report = risk_diagnostics.run(args.model, args.starts, seed=args.seed)
    _write_json(report, args.out)
    _print_json(report)
    return 0


def run_continuous_joints(args: argparse.Namespace) -> int:
    """The continuous-joint reading experiment (prints and writes its JSON)."""
    from ..experiments import continuous_joints
    return continuous_joints.run(args, 'jepa-world-model ' + ' '.join(sys.argv[1:]))


def run_link_reading(args: argparse.Namespace) -> int:
    """The link-reading diagnostic (prints and writes its JSON)."""
    from ..experiments import link_reading
    return link_reading.run_cli(args, 'jepa-world-model ' + ' '.join(sys.argv[1:]))


def run_tabletop(args: argparse.Namespace) -> int:
    """The tabletop experiments (``tabletop-objects``, ``grip-hold``)."""
    from ..experiments import grip_hold, tabletop_objects
    module = tabletop_objects if args.diagnostic == 'tabletop-objects' else grip_hold
    return module.run_cli(args, 'jepa-world-model ' + ' '.join(sys.argv[1:]))


def run_data_efficiency(args: argparse.Namespace) -> int:
    """The data-efficiency sweep (trains every missing run; writes its JSON and figure)."""
    from ..experiments import data_efficiency
    return data_efficiency.run_cli(args, 'jepa-world-model ' + ' '.join(sys.argv[1:]))


def run_agent_term(args: argparse.Namespace) -> int:
    """The scan-only / prediction-only / both comparison from plan-eval results."""
    from ..experiments import agent_term_report
    return agent_term_report.run(args)


def run_backend_quality(args: argparse.Namespace) -> int:
    """Success per inference backend, paired with torch's (docs/planner_quality.md)."""
    from ..experiments import backend_quality
    return backend_quality.run(args)


def run_hold_drift(args: argparse.Namespace) -> int:
    """Predicted against true pose change under zero commands (prints and writes JSON)."""
    from ..experiments import hold_drift
    return hold_drift.run(args)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``diagnose`` and its ``goals`` and ``risk`` sub-commands to ``sub``."""
    p = sub.add_parser('diagnose', help='offline checks of the planner\'s objectives, no ROS: '
                       'goal images along the arm\'s path (goals), the base\'s risk term as a '
                       'ranking of plans (risk)')
    which = p.add_subparsers(dest='diagnostic', required=True)
    goals = which.add_parser('goals', help='goal-image objectives along the straight joint '
                             'path of the arm tasks')
    goals.add_argument('--model', type=Path, nargs='+', required=True,
                       help='arm checkpoints to compare')
    goals.add_argument('--episodes', type=int, default=50, help='tasks of seeds seed + 1 ..')
    goals.add_argument('--seed', type=int, default=0)
    goals.add_argument('--out', type=Path, required=True,
                       help='JSON file to write (and the figure next to it, .png)')
    goals.set_defaults(func=run_goals)
    risk = which.add_parser('risk', help='does the base model\'s risk term rank colliding '
                            'plans above free ones?')
    risk.add_argument('--model', type=Path, required=True, help='mobile-base checkpoint')
    risk.add_argument('--starts', type=int, default=80, help='seeded start poses')
    risk.add_argument('--seed', type=int, default=0)
    risk.add_argument('--out', type=Path, help='JSON file to write')
    risk.set_defaults(func=run_risk)
    continuous = which.add_parser('continuous-joints', help='the image head on a continuous '
                                  'joint vs a limited one, with and without continuous_joints')
    from ..experiments.continuous_joints import add_arguments
    add_arguments(continuous)
    continuous.set_defaults(func=run_continuous_joints)
    links = which.add_parser('link-reading', help='how far from its true place a goal link '
                             'is read from a frame: FK of the joint read-out vs the link '
                             'read-out (models with kinematics)')
    from ..experiments.link_reading import add_arguments as link_arguments
    link_arguments(links)
    links.set_defaults(func=run_link_reading)
    from ..experiments import grip_hold, tabletop_objects
    for name, module, text in (
            ('tabletop-objects', tabletop_objects, 'object positions read from predicted '
             'latents vs no-change and constant velocity (tabletop bags)'),
            ('grip-hold', grip_hold, 'will the grip hold? held-out AUC of the grip head')):
        parser = which.add_parser(name, help=text)
        module.add_arguments(parser)
        parser.set_defaults(func=run_tabletop)
    efficiency = which.add_parser('data-efficiency', help='JEPA vs pixel objective on '
                                  'fractions of the tabletop recordings (trains every run)')
    from ..experiments.data_efficiency import add_arguments as efficiency_arguments
    efficiency_arguments(efficiency)
    efficiency.set_defaults(func=run_data_efficiency)
    agent_term = which.add_parser('agent-term', help='the base\'s plan-eval results with and '
                                  'without the predicted-people term, as one report')
    from ..experiments.agent_term_report import add_arguments as agent_term_arguments
    agent_term_arguments(agent_term)
    agent_term.set_defaults(func=run_agent_term)
    backends = which.add_parser('backend-quality', help='offline-reach success per inference '
                                'backend, paired seed by seed with torch')
    from ..experiments.backend_quality import add_arguments as backend_arguments
    backend_arguments(backends)
    backends.set_defaults(func=run_backend_quality)
    drift = which.add_parser('hold-drift', help='what mobile-base models predict for zero '
                             'commands, against the simulator')
    from ..experiments.hold_drift import add_arguments as drift_arguments
    drift_arguments(drift)
    drift.set_defaults(func=run_hold_drift)
    return p
