"""Success rates of closed-loop planning in the simulator (``jepa-world-model plan-eval``,
whose arguments are in ``commands/plan_eval.py``).

For every condition (:mod:`.conditions`) ``sim_node`` and, for planner conditions,
``planner_node`` start as child processes (``python -m ... --ros-args``) in namespace
``/plan_eval`` on a private ``ROS_DOMAIN_ID`` and talk over real DDS; the planner runs on
``use_sim_time`` and its ``~/recommended_commands`` (arm) or ``~/recommended_cmd_vel`` (base)
is remapped onto the simulator's command topic. An in-process supervisor node
(:mod:`.supervisor`) runs the seeded episodes (:mod:`.episodes`): reset the simulator
(episode i has seed ``seed + i + 1`` in every condition, so all conditions get the same
tasks), set the goal, enable the planner, score every tick until success or the step budget,
disable.

Outputs in ``--out``: ``results_<label>.json`` per condition (settings, summary, every
episode), ``summary_<robot>.json`` (one row per condition found in the folder) and the
figures ``<robot>_success_vs_budget.png``, ``<robot>_planning_time.png`` and
``<robot>_distance_over_time.png`` (:mod:`.plots`). docs/closed_loop.md has the results.

By default ``sim_node`` runs in real time (one step of 1 / rate_hz simulated seconds per
1 / rate_hz wall seconds), so an episode of B steps takes about B / rate_hz wall seconds.
With ``lockstep`` it steps as soon as the command for its last step arrives (one control
period of wall time at most, the deadline real time gives that command), so an episode takes
B times the planner's response time; the planner's timers follow /clock and its
``max_plan_time`` is wall time in both modes, so it decides the same. ``time_scale`` N makes
sim_node tick N times per control period (the planner must then answer within 1/N of it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import re
import signal
import threading
import time
from typing import Any, Callable, Dict, List

import numpy as np

from ..node_runs.models import check_model, resolve_model
from ..node_runs.processes import child_environment, join_domain, NodeProcess, ros_arguments
from .conditions import (CONDITIONS, Condition, condition_label, ExperimentError,
                         ExperimentOptions, JOINTS, planner_parameters, random_limits,
                         sim_parameters)
from .results import read_results, summarise, write_json

__all__ = ['NAMESPACE', 'run_closed_loop']

NAMESPACE = '/plan_eval'
#: Start-distance bins [m] of the success breakdown.
DISTANCE_EDGES = {'arm': (0.15, 0.3, 0.5, 0.8, float('inf')),
                  'mobile_base': (0.8, 1.2, 1.6, 2.0, float('inf'))}
SUCCESS_TEXT = {
    'arm': 'end effector (site ee) within {tol} m of the goal configuration\'s end effector '
           'at some control step <= {budget} ({seconds:g} s) after the goal is given; '
           'collisions are counted, not disqualifying',
    'mobile_base': 'odometry position within {tol} m of the goal position at some control '
                   'step <= {budget} ({seconds:g} s), with no ~/collision flag before or '
                   'at that step',
}


def _print(line: str) -> None:
    print(line, flush=True)


def _resolve_model(opts: ExperimentOptions) -> Path:
    path = resolve_model(opts.model, opts.robot)
    joints = JOINTS[opts.robot]
    check_model(path, tuple(joints), 3 if opts.robot == 'arm' else 2, opts.robot)
    return Path(path)


def _safe(label: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.,-]+', '_', label).strip('_')


def _task_facts(task: Any) -> Dict[str, Any]:
    keep = ('q_start', 'q_goal', 'ee_start', 'ee_goal', 'target_pos', 'start_pose',
            'goal_xy', 'people_xy', 'path_length', 'straight_line_free', 'joint_path_free')
    return {k: np.round(np.asarray(getattr(task, k)), 4).tolist() if isinstance(
        getattr(task, k), np.ndarray) else getattr(task, k) for k in keep if hasattr(task, k)}


def _make_driver(condition: Condition, opts: ExperimentOptions, session: Any, factory: Any):
    from .episodes import PixelDriver, PlannerDriver, RandomDriver
    if condition.driver == 'planner':
        return PlannerDriver(session, condition.goal)
    if condition.driver == 'random':
        return RandomDriver(session, *random_limits(opts))
    from .pixel_planner import PixelGreedyPlanner, PixelPlannerConfig
    return PixelDriver(session, PixelGreedyPlanner(
        factory.sim, PixelPlannerConfig(checkpoints=tuple(opts.pixel_checkpoints))))


def _run_condition(opts: ExperimentOptions, condition: Condition, model: Path,
                   env: Dict[str, str], echo: Callable[[str], None]) -> Dict[str, Any]:
    """Start the nodes, run the episodes, stop everything; the condition's report."""
    from .episodes import reset_episode, run_episode, Session
    label = condition_label(condition, opts, model)
    logs = opts.out / 'logs' / _safe(label)
    sim_params = sim_parameters(opts)
    params = planner_parameters(opts, condition, model) if condition.driver == 'planner' \
        else None
    procs: List[NodeProcess] = []
    session = factory = None
    episodes = []
    started = time.monotonic()
    interrupted = False
    try:
        procs.append(NodeProcess('sim_node', 'jepa_world_model.ros.sim_node',
                                 ros_arguments(NAMESPACE, sim_params), env,
                                 logs / 'sim_node.log'))
        if params is not None:
            remap = ({'~/recommended_commands': 'commands'} if opts.robot == 'arm'
                     else {'~/recommended_cmd_vel': 'cmd_vel'})
            procs.append(NodeProcess('planner_node', 'jepa_world_model.ros.planner.node',
                                     ros_arguments(NAMESPACE, params, remap), env,
                                     logs / 'planner_node.log'))
        session = Session(opts.robot, NAMESPACE, JOINTS[opts.robot], procs,
                          int(env['ROS_DOMAIN_ID']))
        sup = session.sup
        if opts.robot == 'arm':
            from .arm_tasks import ArmGoalSpec, ArmTaskFactory
            factory = ArmTaskFactory(sim_params['image_size'], opts.control_period,
                                     ArmGoalSpec(free_joint_path=not opts.blocked_goals))
            make = (lambda seed: factory.make_task(seed, render=condition.goal == 'image'))
            start_of, expected = (lambda t: t.q), (lambda task: task.q_start)
        else:
            from .base_tasks import BaseTaskFactory
            factory = BaseTaskFactory(opts.control_period, scene=opts.scene)
            make = factory.make_task
            start_of, expected = (lambda t: t.pose[:2]), (lambda task: task.start_pose[:2])
        if not session.spin_until(lambda: len(sup.ticks) > 0, opts.startup_timeout,
                                  'waiting for sim_node'):
            raise ExperimentError(f'no simulator tick within {opts.startup_timeout:.0f} s')
        if params is not None:
            if not session.spin_until(lambda: sup.status is not None, opts.startup_timeout,
                                      'waiting for planner_node'):
                raise ExperimentError(f'planner_node did not become active within '
                                      f'{opts.startup_timeout:.0f} s; see {logs}')
        driver = _make_driver(condition, opts, session, factory)
        if params is not None:
            driver.enable(False)
        echo(f'[plan-eval] {label}: nodes up after {time.monotonic() - started:.1f} s '
             f'(logs in {logs})')
        run_start = time.monotonic()
        try:
            for i in range(opts.episodes):
                if opts.max_minutes and time.monotonic() - run_start > 60.0 * opts.max_minutes:
                    echo(f'[plan-eval] {label}: stopping after {i} episodes (--max-minutes '
                         f'{opts.max_minutes:g})')
                    break
                task, start = reset_episode(session, make, start_of, expected)
                if opts.robot == 'arm':
                    def distance(tick, task=task):
                        return float(np.linalg.norm(factory.ee_position(tick.q) - task.ee_goal))
                else:
                    def distance(tick, task=task):
                        return float(np.hypot(*(tick.pose[:2] - task.goal_xy)))
                result = run_episode(session, driver, task, start, i, opts.budget,
                                     opts.control_period, opts.tolerance, distance,
                                     collision_fails=opts.robot == 'mobile_base')
                result.goal = _task_facts(task)
                episodes.append(result)
                wins = sum(e.success for e in episodes)
                outcome = (f'success at step {result.steps_to_success}' if result.success
                           else f'failed ({result.steps} steps)')
                echo(f'[plan-eval] {label} {i + 1}/{opts.episodes} seed {task.seed}: {outcome}, '
                     f'{result.start_distance:.2f} -> {result.final_distance:.3f} m, '
                     f'collision steps {result.collision_steps}; {wins}/{len(episodes)} so far')
        except KeyboardInterrupt:   # keep what was measured, then stop
            interrupted = True
            echo(f'[plan-eval] {label}: interrupted after {len(episodes)} episodes')
        run_wall = time.monotonic() - run_start
        if params is not None and not interrupted:   # fresh /diagnostics after the last plan
            sup.diagnostics = {}
            session.spin_until(lambda: bool(sup.diagnostics), 3.0, 'waiting for diagnostics')
    finally:
        for proc in reversed(procs):
            code = proc.stop()
            if code not in (0, None):
                echo(f'[plan-eval] {proc.name} exited with code {code} (log: {proc.log_path})')
        diagnostics = dict(session.sup.diagnostics) if session is not None else {}
        if session is not None:
            session.close()
        if factory is not None:
            factory.close()
    steps_run = sum(e.steps for e in episodes)
    budget_s = opts.budget * opts.control_period
    report = {
        'robot': opts.robot, 'label': label, 'condition': condition.name,
        'description': condition.description,
        'settings': {
            'episodes_requested': opts.episodes, 'budget_steps': opts.budget,
            'control_period_s': opts.control_period, 'budget_s': budget_s,
            'success_tolerance_m': opts.tolerance,
            'success_criterion': SUCCESS_TEXT[opts.robot].format(
                tol=opts.tolerance, budget=opts.budget, seconds=budget_s),
            'seeds': [e.seed for e in episodes], 'model': str(model),
            'sim_node': sim_params, 'planner_node': params,
            'goals': ('arm configurations, contact-free, within 0.9 of the joint ranges, end '
                      'effector >= 0.15 m from the start, '
                      + ('any joint path' if opts.blocked_goals else
                         'contact-free straight joint-space path from the start'))
            if opts.robot == 'arm' else 'base positions: free (robot disc + 0.1 m), >= 0.8 m '
            'from the start and the people\'s start positions, reachable on a 5 cm grid',
            'pixel_checkpoints': list(opts.pixel_checkpoints)
            if condition.driver == 'pixel' else None,
            'random_limits': random_limits(opts) if condition.driver == 'random' else None},
        'summary': summarise(episodes, opts.budget, DISTANCE_EDGES[opts.robot]),
        'run': {'wall_s': time.monotonic() - started, 'episodes_wall_s': run_wall,
                'sim_steps': steps_run,
                'real_time_factor': steps_run * opts.control_period / max(run_wall, 1e-9),
                'time_scale': opts.time_scale, 'lockstep': opts.lockstep,
                'command_wait': opts.command_wait,
                'ros_domain_id': int(env['ROS_DOMAIN_ID'])},
        'planner_diagnostics': diagnostics or None,
        'interrupted': interrupted,
    }
    path = write_json(opts.out / f'results_{_safe(label)}.json', report, episodes)
    echo(f'[plan-eval] {label}: {report["summary"]["successes"]}/{len(episodes)} successes; '
         f'wrote {path}')
    if interrupted:
        raise KeyboardInterrupt
    return report


def summary_table(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One row of headline figures per condition."""
    rows = []
    for data in results:
        s = data['summary']
        rows.append({
            'label': data['label'], 'episodes': s['episodes'],
            'success_rate': s['success_rate'], 'wilson95': s['success_rate_wilson95'],
            'median_steps_to_success': s['steps_to_success']['p50'],
            'median_final_distance_m': s['final_distance']['p50'],
            'reached_ever': s['reached_ever'], 'collision_episodes': s['collision_episodes'],
            'overrun_fraction': s['overrun_fraction'],
            'response_ms_p50': s['response_ms']['p50'], 'response_ms_p99': s['response_ms']['p99'],
            'plan_ms_p50': s['plan_ms']['p50'], 'plan_ms_p99': s['plan_ms']['p99'],
            'planner_plan_ms_p50': (data.get('planner_diagnostics') or {}).get('plan_ms.p50'),
            'planner_plan_ms_p99': (data.get('planner_diagnostics') or {}).get('plan_ms.p99'),
            'real_time_factor': data['run']['real_time_factor']})
    return rows


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def write_summary(opts: ExperimentOptions, echo: Callable[[str], None] = _print
                  ) -> Dict[str, Any]:
    """Summary table and figures of every ``results_*.json`` of ``opts.robot`` in
    ``opts.out`` (also ``summary_<robot>.json``)."""
    from .plots import plot_all
    results = read_results(opts.out, opts.robot)
    figures = plot_all(results, opts.out, prefix=f'{opts.robot}_')
    summary = {'robot': opts.robot, 'conditions': summary_table(results), 'figures': figures}
    (opts.out / f'summary_{opts.robot}.json').write_text(json.dumps(summary, indent=1,
                                                                    default=str))
    for row in summary['conditions']:
        lo, hi = row['wilson95']
        echo(f'[plan-eval] {row["label"]:<28} {row["success_rate"] * 100:5.1f} % '
             f'[{lo * 100:.0f}, {hi * 100:.0f}] of {row["episodes"]}')
    return summary


def run_closed_loop(opts: ExperimentOptions, echo: Callable[[str], None] = _print
                    ) -> Dict[str, Any]:
    """Run every condition of ``opts``; the summary (also ``summary_<robot>.json``)."""
    if opts.report_only:
        return write_summary(opts, echo)
    from ..ros_env import ensure_ros_libraries
    ensure_ros_libraries()   # before anything imports rclpy: it may re-execute the interpreter
    model = _resolve_model(opts)
    env = child_environment(os.environ)
    join_domain(env, os.environ)
    os.environ.setdefault('MUJOCO_GL', 'egl')
    opts.out.mkdir(parents=True, exist_ok=True)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if in_main else None
    try:
        for name in opts.conditions:
            _run_condition(opts, CONDITIONS[name], model, env, echo)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return write_summary(opts, echo)
