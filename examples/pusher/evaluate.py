"""Closed-loop goals on the Pusher arm over ROS 2, with the package's plan-eval harness.

    python examples/pusher/evaluate.py --model outputs/pusher/run/checkpoint.safetensors \\
        --planner-params outputs/pusher/pusher_planner.yaml --out outputs/pusher/eval

Per condition, child processes on a private ROS_DOMAIN_ID in namespace ``/pusher``:
``pusher_node`` (this example's robot), and for the planner conditions ``planner_node``
with the parameters ``inspect`` wrote (plus ``model_path``, ``use_sim_time`` and
``autostart``; ``~/recommended_commands`` remapped onto the robot's ``commands``) and
``world_model_node`` on the same topics (its ``~/predicted_joint_trajectory`` messages are
counted). The harness's supervisor, drivers and episode loop
(``jepa_world_model.experiments.episodes``) run the seeded episodes: reset (episode i has
seed ``seed + i + 1``), goal, enable, every step scored, disable.

Conditions: ``joint`` (goal joint positions on ``~/goal_joint_state``), ``image`` (the goal
configuration's camera frame on ``~/goal_image``), ``random`` (uniform random torques within
the planner's limits, new every step). Success: the finger tips within ``--tolerance`` m of
the goal configuration's at the LAST step of the budget (reaching and leaving fails).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path
import sys
import time
from typing import Any, Dict, List

import numpy as np
import yaml

from jepa_world_model.commands.plan_eval import parse_overrides
from jepa_world_model.experiments.conditions import ExperimentError
from jepa_world_model.experiments.results import summarise, write_json
from jepa_world_model.node_runs.processes import (child_environment, join_domain,
                                                  NodeProcess, ros_arguments)
from jepa_world_model.ros_env import ensure_ros_libraries

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pusher_robot import ARM_JOINTS   # noqa: E402

NAMESPACE = '/pusher'
CONTROL_PERIOD_S = 0.05               # Pusher-v5's step (5 x 10 ms)
DISTANCE_EDGES = (0.15, 0.3, 0.5, float('inf'))
GOALS = {'joint': 'joint_state', 'image': 'image'}


def planner_parameters(path: Path, model: Path, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """inspect's planner_node parameters plus what the launch line would add, then
    ``overrides`` (``--set``)."""
    data = yaml.safe_load(Path(path).read_text())
    params = dict(data['/**/planner_node']['ros__parameters'])
    params.update({'model_path': str(model.resolve()), 'use_sim_time': True,
                   'autostart': True})
    params.update(overrides)
    return params


def world_model_parameters(model: Path) -> Dict[str, Any]:
    """world_model_node on an effort arm: the commands topic, the 0.05 s model step."""
    return {'model_path': str(model.resolve()), 'model_step_period': CONTROL_PERIOD_S,
            'action_source': 'float64_multi_array', 'horizon': 8, 'use_sim_time': True,
            'autostart': True, 'max_skew': 0.01}


def run_condition(name: str, args: argparse.Namespace, env: Dict[str, str],
                  factory: Any) -> Dict[str, Any]:
    """Start the nodes, run the episodes, stop everything; the condition's report."""
    from std_msgs.msg import Float64MultiArray   # noqa: F401 (ROS imports after the bootstrap)
    from trajectory_msgs.msg import JointTrajectory
    from jepa_world_model.experiments.episodes import (PlannerDriver, RandomDriver,
                                                       reset_episode, run_episode, Session)
    logs = args.out / 'logs' / name
    robot_params = {'image_size': args.image_size, 'seed': args.seed,
                    'rate_hz': 1.0 / args.command_wait if args.lockstep else 20.0,
                    'step_on_command': args.lockstep}
    limits = planner_parameters(args.planner_params, args.model, args.overrides)
    planner = limits if name in GOALS else None
    procs: List[NodeProcess] = []
    episodes, started = [], time.monotonic()
    session = None
    predictions = [0]
    try:
        procs.append(NodeProcess('pusher_node', 'pusher_node',
                                 ros_arguments(NAMESPACE, robot_params), env,
                                 logs / 'pusher_node.log'))
        if planner is not None:
            procs.append(NodeProcess(
                'planner_node', 'jepa_world_model.ros.planner.node',
                ros_arguments(NAMESPACE, planner, {'~/recommended_commands': 'commands'}),
                env, logs / 'planner_node.log'))
            procs.append(NodeProcess(
                'world_model_node', 'jepa_world_model.ros.world_model.node',
                ros_arguments(NAMESPACE, world_model_parameters(args.model)), env,
                logs / 'world_model_node.log'))
        session = Session('arm', NAMESPACE, ARM_JOINTS, procs, int(env['ROS_DOMAIN_ID']),
                          simulator='pusher_node')
        sup = session.sup
        sup.create_subscription(JointTrajectory,
                                f'{NAMESPACE}/world_model_node/predicted_joint_trajectory',
                                lambda msg: predictions.__setitem__(0, predictions[0] + 1), 10)
        if not session.spin_until(lambda: len(sup.ticks) > 0, args.startup_timeout,
                                  'waiting for pusher_node'):
            raise ExperimentError(f'no robot tick within {args.startup_timeout:.0f} s')
        if planner is not None:
            if not session.spin_until(lambda: sup.status is not None, args.startup_timeout,
                                      'waiting for planner_node'):
                raise ExperimentError(f'planner_node not active within '
                                      f'{args.startup_timeout:.0f} s; see {logs}')
            driver: Any = PlannerDriver(session, GOALS[name])
            driver.enable(False)
        else:
            driver = RandomDriver(session, *command_limits(limits, args.planner_params))
        up_s = time.monotonic() - started
        print(f'[pusher] {name}: nodes up after {up_s:.1f} s', flush=True)
        for i in range(args.episodes):
            task, start = reset_episode(session, factory.make_task, lambda t: t.q,
                                        lambda task: task.q_start)

            def distance(tick, task=task):
                return float(np.linalg.norm(factory.ee_position(tick.q) - task.ee_goal))

            result = run_episode(session, driver, task, start, i, args.budget,
                                 CONTROL_PERIOD_S, args.tolerance, distance,
                                 collision_fails=False, success_at_end=True)
            result.goal = {'q_goal': np.round(task.q_goal, 4).tolist(),
                           'ee_goal': np.round(task.ee_goal, 4).tolist()}
            episodes.append(result)
            print(f'[pusher] {name} {i + 1}/{args.episodes} seed {task.seed}: '
                  f'{"success" if result.success else "failed"}, {result.start_distance:.2f}'
                  f' -> {result.final_distance:.3f} m; '
                  f'{sum(e.success for e in episodes)}/{len(episodes)}', flush=True)
    finally:
        for proc in reversed(procs):
            proc.stop()
        if session is not None:
            session.close()
    report = {'condition': name, 'goal': GOALS.get(name, 'random torques'),
              'seeds': [e.seed for e in episodes],
              'summary': summarise(episodes, args.budget, DISTANCE_EDGES),
              'final_distance_m': [round(float(e.final_distance), 4) for e in episodes],
              'world_model_predictions': predictions[0] if planner is not None else None,
              'wall_s': round(time.monotonic() - started, 1), 'nodes_up_s': round(up_s, 1),
              'planner_node': planner}
    write_json(args.out / f'results_{name}.json', report, episodes)
    return report


def command_limits(params: Dict[str, Any], source: Any) -> tuple:
    """(low, high) command limits from planner parameters: ``command_min``/``command_max``
    as ``inspect`` writes them, or the deprecated ``velocity_min``/``velocity_max`` of files
    written before the rename. ExperimentError naming ``source`` when neither is there."""
    low, high = (params.get(f'command_{end}', params.get(f'velocity_{end}'))
                 for end in ('min', 'max'))
    if low is None or high is None:
        raise ExperimentError(f'{source} has no command_min/command_max')
    return low, high


def main(argv: List[str] | None = None) -> int:
    """Run the conditions; write ``OUT/summary.json``."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', type=Path, required=True)
    p.add_argument('--planner-params', type=Path, required=True,
                   help='the file `inspect --write-planner-params` wrote')
    p.add_argument('--out', type=Path, default=Path('outputs/pusher/eval'))
    p.add_argument('--conditions', nargs='+', default=['joint', 'image', 'random'],
                   choices=['joint', 'image', 'random'])
    p.add_argument('--episodes', type=int, default=20)
    p.add_argument('--budget', type=int, default=60, help='control steps (0.05 s each)')
    p.add_argument('--tolerance', type=float, default=0.05, help='finger-tip distance [m]')
    p.add_argument('--goal-steps', type=int, default=20,
                   help='random-torque steps from the start to the goal pose')
    p.add_argument('--seed', type=int, default=1000, help='episode i uses seed + i + 1')
    p.add_argument('--image-size', type=int, default=64)
    p.add_argument('--lockstep', action='store_true',
                   help="pusher_node's step_on_command: it steps when the command for its "
                   'last step arrives, or after --command-wait wall seconds without one')
    p.add_argument('--command-wait', type=float, default=0.05,
                   help='lockstep: wall seconds the robot waits for a command (0.05: real '
                   'time; longer emulates a faster computer on a loaded one)')
    p.add_argument('--set', action='append', metavar='NAME=VALUE',
                   help='planner_node parameter over the inspect file (YAML value)')
    p.add_argument('--startup-timeout', type=float, default=120.0)
    args = p.parse_args(argv)
    args.overrides = parse_overrides(args.set)
    if not args.model.is_file() or not args.planner_params.is_file():
        p.error(f'--model {args.model} and --planner-params {args.planner_params} must exist')
    ensure_ros_libraries()   # before anything imports rclpy
    env = child_environment(os.environ)
    join_domain(env, os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(HERE), env.get('PYTHONPATH')]))
    env.setdefault('MUJOCO_GL', 'egl')
    from pusher_tasks import PusherTaskFactory
    factory = PusherTaskFactory(args.image_size, args.goal_steps)
    reports = {}
    try:
        for name in args.conditions:
            reports[name] = run_condition(name, args, env, factory)
    finally:
        factory.close()
    summary = {
        'date': datetime.date.today().isoformat(), 'command': ' '.join(sys.argv),
        'success_criterion': f'finger tips (tips_arm) within {args.tolerance} m of the goal '
                             f'configuration\'s at the last of {args.budget} control steps '
                             f'({args.budget * CONTROL_PERIOD_S:g} s)',
        'conditions': {n: {'successes': r['summary']['successes'],
                           'episodes': r['summary']['episodes'],
                           'success_rate': r['summary']['success_rate'],
                           'wilson95': r['summary']['success_rate_wilson95'],
                           'reached_ever': r['summary']['reached_ever'],
                           'final_distance_m_p50': r['summary']['final_distance']['p50'],
                           'response_ms_p50': r['summary']['response_ms']['p50'],
                           'world_model_predictions': r['world_model_predictions'],
                           'wall_s': r['wall_s'], 'seeds': r['seeds']}
                       for n, r in reports.items()},
        'settings': {'episodes': args.episodes, 'budget_steps': args.budget,
                     'tolerance_m': args.tolerance, 'goal_steps': args.goal_steps,
                     'seed': args.seed, 'lockstep': args.lockstep,
                     'command_wait_s': args.command_wait, 'planner_overrides': args.overrides}}
    (args.out / 'summary.json').write_text(json.dumps(summary, indent=1, default=str))
    for n, row in summary['conditions'].items():
        lo, hi = row['wilson95']
        print(f'[pusher] {n:<7} {row["successes"]}/{row["episodes"]} '
              f'[{lo * 100:.0f}, {hi * 100:.0f}] %, final distance p50 '
              f'{row["final_distance_m_p50"]} m', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
