"""``jepa-world-model demo``: the world model predicting a simulated robot live over ROS 2.

1. ``sim_node`` (robot ``arm``, ``mobile_base`` or ``tabletop``, publishes ``/clock``) and
   ``world_model_node`` (autostart, ``use_sim_time``, the robot's model, actions from the
   simulator's ``commands`` or ``cmd_vel`` topic) start as separate processes in namespace
   ``/demo`` on a private ``ROS_DOMAIN_ID``.
2. In this process a driver node moves the robot (:class:`~.arm.policy.DemoArmPolicy`:
   random reaches, and reaches into the obstacle block; :class:`~.base.policy.DemoBasePolicy`:
   wandering, and drives into furniture and walls; the tabletop's recording policy: pushes
   and blind grasps), and a recorder node collects images,
   joint states, predictions, surprise and collision flags (and odometry and predicted
   paths for the base) over DDS.
3. After ``duration`` seconds of simulated time everything stops (also on Ctrl-C, SIGTERM
   or an error; every wait is bounded) and the recording is analysed: prediction error
   by horizon against two baselines, surprise around collisions, plots and an animation.
   The robot-specific parts are in :mod:`.arm`, :mod:`.base` and :mod:`.tabletop` (object
   motion and the grip prediction); the processes and the
   model come from :mod:`jepa_world_model.node_runs`.

docs/demo.md describes the outputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
import os
from pathlib import Path
import signal
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..node_runs.models import check_model, resolve_model, SHIPPED_MODELS
from ..node_runs.processes import child_environment, join_domain, NodeProcess, ros_arguments
from . import analysis
from .arm import demo as arm_demo
from .arm.kinematics import ArmKinematics
from .base import demo as base_demo
from .base.geometry import BaseRoom
from .tabletop import demo as tabletop_demo

__all__ = ['DemoError', 'DemoOptions', 'run_demo']

NAMESPACE = '/demo'
#: Seconds between progress lines.
PROGRESS_EVERY_S = 10.0


class DemoError(RuntimeError):
    """The demo cannot run or did not complete (the message says why and what to do)."""


@dataclass
class DemoOptions:
    """Settings of one demo run (the CLI flags)."""

    out: Path
    robot: str = 'arm'
    duration: float = 60.0          # simulated seconds of predictions to record
    model: Optional[Path] = None    # default: the robot's shipped model
    seed: int = 0
    horizon: int = 10               # predicted steps H
    rate_hz: float = 10.0           # simulator control rate = model step rate
    startup_timeout: float = 120.0  # wall seconds for each node to come up
    gif_seconds: float = 20.0       # length of the animation clip
    animation: str = 'demo.gif'     # or demo.mp4 (needs imageio-ffmpeg)


def _spin_until(executor: Any, procs: List[NodeProcess], done: Callable[[], bool],
                timeout: float, what: str, progress: Optional[Callable[[], None]] = None
                ) -> bool:
    """Spin until ``done()``; DemoError if a node exits, False after ``timeout`` wall s."""
    deadline = time.monotonic() + timeout
    next_report = time.monotonic() + PROGRESS_EVERY_S
    while not done():
        for proc in procs:
            if not proc.running():
                raise DemoError(f'{proc.name} exited with code {proc.proc.returncode} while '
                                f'waiting for {what}; its log ({proc.log_path}) ends:\n'
                                f'{proc.log_tail()}')
        now = time.monotonic()
        if now > deadline:
            return False
        if progress is not None and now >= next_report:
            progress()
            next_report = now + PROGRESS_EVERY_S
        executor.spin_once(timeout_sec=0.05)
    return True


def _make_nodes(opts: DemoOptions, model: Dict[str, Any], geometry: Any, context: Any):
    """``(driver, recorder)`` nodes for ``opts.robot`` (after ensure_ros_libraries)."""
    robot = {'mobile_base': base_demo, 'tabletop': tabletop_demo}.get(opts.robot, arm_demo)
    return robot.make_nodes(geometry, model['joints'], NAMESPACE, opts.seed, context)


def _record(opts: DemoOptions, model: Dict[str, Any], geometry: Any,
            env: Dict[str, str], echo: Callable[[str], None]):
    """Run the nodes; ``(Recording, PathRecording or None, run facts)``; stops every process."""
    import rclpy   # importable: run_demo called ensure_ros_libraries
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    dt = 1.0 / opts.rate_hz
    logs = opts.out / 'logs'
    sim_params = {'robot': opts.robot, 'image_size': model['image_size'],
                  'rate_hz': float(opts.rate_hz), 'seed': opts.seed}
    # Arm actions: the velocity commands the driver sends to the simulator's `commands`
    # (forward_command_controller style); in the same namespace no remap is needed.
    wm_params = {'model_path': model['path'], 'autostart': True, 'use_sim_time': True,
                 'action_source': 'float64_multi_array', 'horizon': opts.horizon,
                 'model_step_period': dt, 'num_threads': 1}
    if opts.robot == 'mobile_base':   # base actions: the Twist on cmd_vel
        sim_extra, wm_extra = base_demo.parameters()
        sim_params.update(sim_extra)
        wm_params.update(wm_extra)
    procs: List[NodeProcess] = []
    context = Context()
    executor = None
    nodes: List[Any] = []
    started = time.monotonic()
    try:
        procs.append(NodeProcess('sim_node', 'jepa_world_model.ros.sim_node',
                                 ros_arguments(NAMESPACE, sim_params), env,
                                 logs / 'sim_node.log'))
        procs.append(NodeProcess('world_model_node', 'jepa_world_model.ros.world_model.node',
                                 ros_arguments(NAMESPACE, wm_params), env,
                                 logs / 'world_model_node.log'))
        rclpy.init(context=context, domain_id=int(env['ROS_DOMAIN_ID']))
        executor = SingleThreadedExecutor(context=context)
        driver, recorder = _make_nodes(opts, model, geometry, context)
        nodes = [driver, recorder]
        for node in nodes:
            executor.add_node(node)
        echo(f'[demo] started sim_node and world_model_node (ROS_DOMAIN_ID '
             f'{env["ROS_DOMAIN_ID"]}, logs in {logs}); waiting for them...')
        for stream, what in (('joint', 'the simulator\'s joint states'),
                             ('pred', 'world_model_node\'s first prediction')):
            if not _spin_until(executor, procs, lambda s=stream: recorder.counts()[s] > 0,
                               opts.startup_timeout, what):
                raise DemoError(f'no {what} within {opts.startup_timeout:.0f} s; see the logs '
                                f'in {logs}')
        t0 = recorder.latest_stamp('pred')
        startup = time.monotonic() - started
        echo(f'[demo] predicting after {startup:.1f} s; recording '
             f'{opts.duration:g} s of simulated time (the robot moves, the model '
             f'predicts)')

        def elapsed() -> float:
            return (recorder.latest_stamp('joint') or t0) - t0

        def progress() -> None:
            counts = recorder.counts()
            echo(f'[demo]   sim {elapsed():5.1f} s: {counts["pred"]} predictions, '
                 f'{counts["surprise"]} surprise values, {driver.sent} commands')

        # Simulated time may run slower than wall time on a loaded machine: cap the wait.
        wall_cap = max(2.0 * opts.duration, opts.duration + 60.0)
        if not _spin_until(executor, procs, lambda: elapsed() >= opts.duration, wall_cap,
                           'the recording', progress):
            echo(f'[demo] warning: only {elapsed():.1f} s of simulated time in '
                 f'{wall_cap:.0f} s of wall time; analysing what was recorded')
        driver.stop()
        _spin_until(executor, procs, lambda: False, 0.3, 'the last messages')
        facts = {'sim_seconds': elapsed(), 'first_prediction_stamp': t0,
                 'startup_wall_seconds': startup, 'commands_sent': driver.sent,
                 'messages': recorder.counts(), 'ros_domain_id': int(env['ROS_DOMAIN_ID'])}
        extra = (recorder.path_recording() if opts.robot == 'mobile_base' else
                 recorder.poses() if opts.robot == 'tabletop' else None)
        return recorder.recording(), extra, facts
    finally:
        for proc in reversed(procs):
            code = proc.stop()
            if code not in (0, None):
                echo(f'[demo] {proc.name} exited with code {code} (log: {proc.log_path})')
        for node in nodes:
            node.destroy_node()
        if executor is not None:
            executor.shutdown(timeout_sec=2.0)
        rclpy.try_shutdown(context=context)


def _analyse(rec: analysis.Recording, extra: Optional[Any], opts: DemoOptions,
             geometry: Any, model_path: str, echo: Callable[[str], None]
             ) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Errors, surprise statistics, plots and the animation; (report parts, files).
    ``extra``: the base's path recording or the tabletop's ground-truth poses."""
    from . import plots
    base = extra if opts.robot == 'mobile_base' else None

    dt = 1.0 / opts.rate_hz
    if len(rec.pred_t) == 0 or len(rec.joint_t) == 0:
        raise DemoError('nothing to analyse: no predictions or joint states were recorded')
    gap = 0.5 * dt   # stamps lie on the simulator's step grid
    errors = analysis.horizon_errors(rec, gap)
    surprise = analysis.surprise_windows(rec, gap)
    out = opts.out
    files = {'joints_png': plots.plot_joint_trajectories(rec, out / 'joints.png', dt),
             'error_png': plots.plot_error_vs_horizon(errors, out / 'error_vs_horizon.png'),
             'surprise_png': plots.plot_surprise(rec, out / 'surprise.png', dt)}
    parts: Dict[str, Any] = {}
    if base is not None:
        parts['path_error'], more = base_demo.analyse_path(rec, base, geometry, out, gap)
        files.update(more)
    if rec.images is not None and len(rec.images):
        start = rec.surprise_t[0] if len(rec.surprise_t) else rec.pred_t[0]
        clip = analysis.choose_clip(rec.image_t, analysis.onsets(rec.flag_t, rec.collision),
                                    opts.gif_seconds, start_s=start)
        if opts.robot == 'tabletop':
            more, frames, plots_more = tabletop_demo.analyse(
                rec, extra, Path(model_path), geometry, dt, len(rec.image_t[clip]), out)
            parts.update(more)
            files.update(plots_more)
            if not frames:   # no read-out to draw: the camera frames alone
                frames = [np.ascontiguousarray(img) for img in rec.images[clip]]
        elif base is not None:
            from .base.overlay import animation_frames as base_frames
            frames = base_frames(rec, base, geometry, clip, dt)
        else:
            from .arm.overlay import animation_frames as arm_frames
            frames = arm_frames(rec, geometry, clip, dt)
        for name in dict.fromkeys([opts.animation, 'demo.gif']):
            try:
                files['animation'] = plots.write_animation(frames, out / name, opts.rate_hz)
            except (ImportError, OSError, RuntimeError, ValueError) as exc:
                # e.g. .mp4 without an ffmpeg plugin: fall back to the GIF.
                echo(f'[demo] warning: could not write {name}: {exc}')
                continue
            echo(f'[demo] animation: {len(frames)} frames of t = '
                 f'{rec.image_t[clip][0]:.1f} .. {rec.image_t[clip][-1]:.1f} s')
            break
    arrays = {k: v for k, v in asdict(rec).items() if v is not None}
    if base is not None:
        arrays.update(base_demo.path_arrays(base))
    np.savez_compressed(out / 'recording.npz', **arrays)
    files['recording'] = out / 'recording.npz'
    predictor = _model_predictor(opts, len(rec.pred_dt))
    replay = (analysis.command_replay(rec, predictor) if predictor is not None else
              {'skipped': 'the model state holds the odometry pose, not recorded per frame'})
    parts.update({'prediction_error': errors, 'surprise': surprise, 'command_used': replay})
    return parts, {k: str(v) for k, v in files.items()}


def _model_predictor(opts: DemoOptions, horizon: int) -> Optional[Callable[..., np.ndarray]]:
    """``predict(image, q, dq, action)``: the node's joint rollout, replayed here; None for
    models whose state holds the odometry pose (the recording has no pose per frame)."""
    import torch
    from ..core.runtime.inference import WorldModelRuntime
    torch.set_num_threads(1)   # as the node: one thread on a shared CPU
    runtime = WorldModelRuntime.from_path(str(resolve_model(opts.model, opts.robot)))
    if runtime.needs_pose:
        return None

    def predict(image, q, dq, action):
        state = runtime.make_state(q, dq)
        result = runtime.step(image, state, np.asarray(action, float), horizon)
        return result.positions if result.positions is not None else result.velocities
    return predict


def _tabletop_robot(image_size: int) -> Any:
    """The tabletop simulator in this process: the driver's kinematics and the camera
    model the object paths are drawn with (never rendered or stepped here)."""
    from ..sim.tabletop import TabletopSim
    robot = TabletopSim(image_size=image_size)
    robot.reset(0, render=False)   # the camera does not move between episodes
    return robot


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _print(line: str) -> None:
    print(line, flush=True)   # progress must show up at once also through a pipe or tee


def run_demo(opts: DemoOptions, echo: Callable[[str], None] = _print) -> Dict[str, Any]:
    """Run the whole demo; returns the report (also written to ``opts.out/report.json``).

    Raises:
        ModelChoiceError: missing or unsuitable model (``node_runs.models``).
        DemoError: a node that fails to start or dies, no data.
        KeyboardInterrupt: Ctrl-C or SIGTERM (after every process was stopped).
    """
    from ..ros_env import ensure_ros_libraries
    try:   # before anything else: it may re-execute this interpreter
        ensure_ros_libraries()
    except RuntimeError as exc:
        raise DemoError(str(exc)) from None
    if opts.robot not in SHIPPED_MODELS:
        raise DemoError(f'the demo supports the robots {sorted(SHIPPED_MODELS)}, not '
                        f'{opts.robot!r}')
    if opts.duration <= 0 or opts.horizon < 1 or opts.rate_hz <= 0:
        raise DemoError('duration, horizon and rate must be positive')
    started = time.monotonic()
    env = child_environment(os.environ)
    join_domain(env, os.environ)   # this process's nodes talk to its children
    make_geometry = {'mobile_base': BaseRoom.from_sim,
                     'tabletop': _tabletop_robot}.get(opts.robot, ArmKinematics)
    geometry = make_geometry(64)   # ArmKinematics, BaseRoom or TabletopSim: drawing, driving
    joints = base_demo.JOINTS if opts.robot == 'mobile_base' else geometry.joint_names
    model = check_model(resolve_model(opts.model, opts.robot), tuple(joints),
                        len(geometry.action_low), opts.robot)
    if model['image_size'] != geometry.image_size:
        if hasattr(geometry, 'close'):
            geometry.close()
        geometry = make_geometry(model['image_size'])
    opts.out = Path(opts.out)
    opts.out.mkdir(parents=True, exist_ok=True)
    echo(f'[demo] model {model["path"]} (step {model["step"]}), robot {opts.robot}, '
         f'{opts.duration:g} s, horizon {opts.horizon} x {1.0 / opts.rate_hz:g} s')
    in_main = threading.current_thread() is threading.main_thread()
    # SIGINT too: a process started in the background of a non-interactive shell (CI, nohup,
    # `cmd &`) inherits SIGINT as ignored, and then `kill -INT` would not stop the demo.
    previous = ({sig: signal.signal(sig, _raise_interrupt)
                 for sig in (signal.SIGTERM, signal.SIGINT)} if in_main else {})
    try:
        try:
            rec, extra, facts = _record(opts, model, geometry, env, echo)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        parts, files = _analyse(rec, extra, opts, geometry, model['path'], echo)
    finally:
        if hasattr(geometry, 'close'):   # the tabletop's simulator (its renderer)
            geometry.close()
    facts.update({'wall_seconds': time.monotonic() - started, 'frames': len(rec.image_t),
                  'joint_states': len(rec.joint_t), 'predictions': len(rec.pred_t),
                  'surprise_samples': len(rec.surprise_t),
                  'collision_steps': int(np.sum(rec.collision)),
                  'contact_steps': int(np.sum(rec.contact))})
    report = {'robot': opts.robot, 'model': model,
              'settings': {'duration_s': opts.duration, 'rate_hz': opts.rate_hz,
                           'horizon': opts.horizon, 'model_step_period': 1.0 / opts.rate_hz,
                           'seed': opts.seed, 'namespace': NAMESPACE},
              'run': facts, **parts, 'files': files}
    report = analysis.json_safe(report)
    (opts.out / 'report.json').write_text(json.dumps(report, indent=2))
    for line in analysis.format_summary(report['prediction_error'], report['surprise']):
        echo(line)
    if 'path_error' in report:
        for line in base_demo.format_path_summary(report['path_error']):
            echo(line)
    if opts.robot == 'tabletop':
        for line in tabletop_demo.format_summary(report):
            echo(line)
    used = report['command_used']
    if used.get('frames'):
        echo(f'[demo] command held by world_model_node\'s rollouts, replayed on '
             f'{used["frames"]} frames where it matters: the one for the frame '
             f'{used["fresh"]}, the previous one {used["previous"]} (it arrives after the '
             f'image; the surprise re-predicts with the applied one), neither '
             f'{used["neither"]}')
    echo(f'[demo] wrote {opts.out / "report.json"}, ' + ', '.join(
        Path(p).name for p in files.values()) + f' in {facts["wall_seconds"]:.0f} s')
    return report
