"""One condition's episodes over ROS 2: the session, the drivers and the episode loop.

For each episode: the driver stops (planner disabled / zero command), ``sim_node``'s
``~/reset`` starts the next seeded episode, the task is rebuilt in-process from the seed the
reset reports, the loop waits for the first tick at the task's start state, the driver
begins (goal + enable, or its own commands), and every tick is scored until success or the
step budget. Steps are counted from tick stamps (simulated time), so a late or lost
message cannot stretch the budget.

Imports rclpy (through :mod:`.supervisor`): import after ``ensure_ros_libraries``.
"""

from __future__ import annotations

from collections import Counter
import re
import time
from typing import Any, Callable, List, Optional, Sequence

import numpy as np
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
import rclpy
from std_srvs.srv import SetBool, Trigger

from ..node_runs.processes import NodeProcess
from .conditions import ExperimentError
from .results import EpisodeResult
from .supervisor import Supervisor, Tick

__all__ = ['ExperimentError', 'Session', 'PlannerDriver', 'RandomDriver', 'PixelDriver',
           'reset_episode', 'run_episode']

SERVICE_TIMEOUT_S = 10.0
TICK_TIMEOUT_S = 5.0       # wall seconds without a tick: the simulator stalled
START_MATCH = 1e-2         # rad or m: the first tick of an episode is at the task start
GOAL_REPUBLISH_S = 0.5     # republish a goal the planner has not taken after this long
RANDOM_STREAM = 0x7A4D


class Session:
    """One rclpy context with the supervisor node, spun here; knows the child processes."""

    def __init__(self, robot: str, namespace: str, joint_names: Sequence[str],
                 procs: List[NodeProcess], domain_id: int, simulator: str = 'sim_node') -> None:
        """Initialise rclpy on ``domain_id`` and create the supervisor (``simulator``: the
        robot node's name, see :class:`~.supervisor.Supervisor`)."""
        self.procs = procs
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.sup = Supervisor(robot, namespace, joint_names, context=self.context,
                              simulator=simulator)
        self.executor.add_node(self.sup)

    def check_processes(self, what: str) -> None:
        """ExperimentError when a child process has exited."""
        for proc in self.procs:
            if not proc.running():
                raise ExperimentError(f'{proc.name} exited with code {proc.proc.returncode} '
                                      f'while {what}; its log ({proc.log_path}) ends:\n'
                                      f'{proc.log_tail()}')

    def spin_until(self, done: Callable[[], bool], timeout: float, what: str) -> bool:
        """Spin until ``done()``; False after ``timeout`` wall seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            self.check_processes(what)
            if time.monotonic() > deadline:
                return False
            self.executor.spin_once(timeout_sec=0.02)
        return True

    def drain(self, callbacks: int = 60) -> None:
        """Run up to ``callbacks`` ready callbacks without waiting: after the loop was busy
        (a slow in-process planner) the backlog is taken before the subscriptions' queues
        (depth 10) overflow and drop ticks."""
        for _ in range(callbacks):
            self.executor.spin_once(timeout_sec=0.0)

    def call(self, client: Any, request: Any, what: str,
             timeout: float = SERVICE_TIMEOUT_S) -> Any:
        """Call a service and wait for its response (ExperimentError after ``timeout``)."""
        if not self.spin_until(client.service_is_ready, timeout, f'waiting for {what}'):
            raise ExperimentError(f'{what} service not available within {timeout:.0f} s')
        future = client.call_async(request)
        if not self.spin_until(future.done, timeout, f'calling {what}'):
            raise ExperimentError(f'{what} did not answer within {timeout:.0f} s')
        return future.result()

    def close(self) -> None:
        """Destroy the node and shut the context down (bounded)."""
        self.sup.destroy_node()
        self.executor.shutdown(timeout_sec=2.0)
        rclpy.try_shutdown(context=self.context)


class PlannerDriver:
    """``planner_node`` drives: the goal on its topic, ``~/enable`` on and off."""

    def __init__(self, session: Session, goal: str) -> None:
        self.session, self.goal = session, goal
        self._task: Any = None
        self._published = 0.0
        self.republished = 0

    def _publish_goal(self) -> None:
        sup, task = self.session.sup, self._task
        if self.goal == 'image':
            sup.publish_goal_image(task.goal_image)
        elif self.goal == 'joint_state':
            sup.publish_goal_joint_state(task.q_goal)
        else:
            sup.publish_goal_pose(task.goal_xy)
        self._published = time.monotonic()

    def enable(self, on: bool) -> None:
        """``~/enable``; ExperimentError when refused."""
        response = self.session.call(self.session.sup.enable_client, SetBool.Request(data=on),
                                     'planner_node/enable')
        if not response.success:
            raise ExperimentError(f'planner_node refused enable={on}: {response.message}')

    def begin(self, task: Any) -> None:
        """Goal first (taken while disabled), then enable."""
        self._task, self.republished = task, 0
        self._publish_goal()
        self.enable(True)

    def on_tick(self, tick: Tick) -> None:
        """Republish a goal the planner has not taken (``no_goal``) after a while."""
        if self.session.sup.status == 'no_goal' and \
                time.monotonic() - self._published > GOAL_REPUBLISH_S:
            self.republished += 1
            self._publish_goal()

    def end(self) -> None:
        """Disable: the planner publishes one zero command."""
        self.enable(False)

    def plan_ms(self) -> List[float]:
        """No in-process plans."""
        return []


class RandomDriver:
    """Uniform random velocity commands within ``[low, high]``, a new one every tick."""

    def __init__(self, session: Session, low: Sequence[float], high: Sequence[float]) -> None:
        self.session = session
        self.low, self.high = np.asarray(low, float), np.asarray(high, float)
        self.rng = np.random.default_rng(0)

    def begin(self, task: Any) -> None:
        """Seed from the episode: the same seed gives the same command sequence."""
        self.rng = np.random.default_rng([int(task.seed), RANDOM_STREAM])
        self.session.sup.publish_command(self.rng.uniform(self.low, self.high))

    def on_tick(self, tick: Tick) -> None:
        """A new random command."""
        self.session.sup.publish_command(self.rng.uniform(self.low, self.high))

    def end(self) -> None:
        """Stop the robot."""
        self.session.sup.publish_command(np.zeros_like(self.low))

    def plan_ms(self) -> List[float]:
        """No plans."""
        return []


class PixelDriver:
    """The oracle pixel planner plans from the newest tick's joint state."""

    def __init__(self, session: Session, planner: Any) -> None:
        self.session, self.planner = session, planner
        self._plan_ms: List[float] = []

    def begin(self, task: Any) -> None:
        """Take the goal image (the factory's simulator already holds the episode scene)."""
        self.planner.set_goal(task.goal_image)
        self._plan_ms = []

    def on_tick(self, tick: Tick) -> None:
        """Plan and send the first action."""
        plan = self.planner.plan(tick.q, tick.dq)
        self._plan_ms.append(plan.seconds * 1e3)
        self.session.sup.publish_command(plan.action)

    def end(self) -> None:
        """Stop the robot."""
        self.session.sup.publish_command(np.zeros(self.planner.candidates.shape[1]))

    def plan_ms(self) -> List[float]:
        """Compute time of each plan of the episode [ms]."""
        return list(self._plan_ms)


def reset_episode(session: Session, make_task: Callable[[int], Any],
                  start_of: Callable[[Tick], np.ndarray], expected: Callable[[Any], np.ndarray]
                  ) -> Any:
    """Reset the simulator; ``(task, first tick)`` of the new episode.

    Args:
        make_task: seed -> task.
        start_of: The tick's start-state vector (q, or the position).
        expected: The task's start-state vector.
    """
    sup = session.sup
    response = session.call(sup.reset_client, Trigger.Request(), 'sim_node/reset')
    match = re.search(r'seed (\d+)', response.message)
    if not response.success or match is None:
        raise ExperimentError(f'sim_node/reset failed: {response.message!r}')
    task = make_task(int(match.group(1)))
    want = expected(task)
    found: List[Tick] = []

    def started() -> bool:
        for tick in sup.take_ticks():
            if found or np.max(np.abs(start_of(tick) - want)) < START_MATCH:
                found.append(tick)
        return bool(found)

    if not session.spin_until(started, TICK_TIMEOUT_S, 'waiting for the reset state'):
        raise ExperimentError(f'no tick at the start state of seed {task.seed} within '
                              f'{TICK_TIMEOUT_S:.0f} s')
    sup.ticks.extendleft(reversed(found[1:]))   # later ticks stay queued for the episode
    return task, found[0]


def run_episode(session: Session, driver: Any, task: Any, start: Tick, index: int,
                budget: int, dt: float, tolerance: float,
                distance: Callable[[Tick], float], collision_fails: bool,
                success_at_end: bool = False) -> EpisodeResult:
    """Drive one episode from tick ``start``; its :class:`EpisodeResult`.

    Success: ``distance(tick) <= tolerance`` at some step <= ``budget``; with
    ``collision_fails`` only when no collision was flagged up to that step. With
    ``success_at_end`` the episode always runs the whole budget and succeeds only when the
    distance at its last step is within the tolerance (reaching the goal and leaving it is
    a failure); ``steps_to_success`` is then the step from which it stayed within.
    """
    sup = session.sup
    sup.start_recording(time_commands=isinstance(driver, PlannerDriver))
    driver.begin(task)
    trace: List[float] = []
    positions: List[List[float]] = []   # the base's (x, y) per step, for stand-offs
    reached = success_step = None
    collisions = contacts = steps = 0
    first_collision: Optional[int] = None
    done = False
    try:
        while not done:
            if not session.spin_until(lambda: len(sup.ticks) > 0, TICK_TIMEOUT_S,
                                      'running an episode'):
                raise ExperimentError(f'no simulator tick for {TICK_TIMEOUT_S:.0f} s')
            session.drain()
            ticks = sup.take_ticks()
            for tick in ticks:
                step = int(round((tick.stamp - start.stamp) / dt))
                if step < 1 or step <= steps:
                    continue
                steps = step
                dist = distance(tick)
                trace.append(dist)
                if tick.pose is not None:
                    positions.append([round(float(v), 4) for v in tick.pose[:2]])
                contacts += tick.contact
                if tick.collision:
                    collisions += 1
                    first_collision = step if first_collision is None else first_collision
                if reached is None and dist <= tolerance:
                    reached = step
                within = dist <= tolerance and not (
                    collision_fails and first_collision is not None)
                if success_at_end:   # the step from which it stayed within, if it did
                    success_step = (success_step or step) if within else None
                elif success_step is None and within:
                    success_step = step
                if (success_step is not None and not success_at_end) or step >= budget:
                    done = True
                    break
            if not done:
                driver.on_tick(ticks[-1])
    finally:
        driver.end()
        sup.stop_recording()
    return EpisodeResult(
        episode=index, seed=task.seed, success=success_step is not None,
        steps_to_success=success_step, steps=steps, start_distance=task.start_distance,
        final_distance=trace[-1] if trace else float('nan'),
        min_distance=min(trace) if trace else float('nan'), reached_step=reached,
        collision_steps=collisions, contact_steps=contacts,
        statuses=dict(Counter(sup.statuses)), response_ms=[round(v, 2) for v in sup.response_ms],
        plan_ms=[round(v, 2) for v in driver.plan_ms()],
        distance_trace=[round(float(d), 4) for d in trace], position_trace=positions)
