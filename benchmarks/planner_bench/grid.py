"""Timing ``PlanningController.act()`` over a trace, per search size and thread count.

For each configuration: a fresh controller (planner_node's configure: build, then one
``warm_up()`` plan), ``warmup`` untimed-for-the-percentiles ``act()`` calls (their time is
reported as warm-up), ``repeats`` timed calls with nothing wrapped (``median_ms``,
``p99_ms``), then ``breakdown_repeats`` calls with the parts timed
(:mod:`.section_clock`). The trace is replayed in order and cycled; at each new episode the
goal is set (not timed: planner_node sets a goal when one arrives, not per plan).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch

from jepa_world_model.core.planning import Command, PlanningController

from .rigs import build_controller, Search, search_settings, settings_summary, Trace
from .section_clock import instrumented, OTHER, ROLLOUTS, SectionClock

__all__ = ['Replay', 'summarise_ms', 'expected_rollout_calls', 'time_configuration',
           'top_parts', 'HOW_MEASURED', 'OTHER']

HOW_MEASURED = {
    'median_ms, p99_ms': 'wall time (time.perf_counter) of PlanningController.act(observation) '
                         'from the preprocessed frame to the limited command, nothing '
                         'wrapped, over the timed calls after warm-up; max_plan_time and the '
                         'goal tolerance are off so every call plans to the end',
    'warm_up': 'warm_up_plan_ms: PlanningController.warm_up() (planner_node runs it at '
               'configure); first_act_ms: the first act() after it; warmup_total_s: both '
               'and the other warm-up acts',
    'breakdown': 'a separate pass of act() calls with instance attributes wrapped by timers '
                 '(benchmarks/planner_bench/section_clock.py); each part is exclusive '
                 '(time inside nested parts is not counted twice), mean_ms per act(), '
                 'share of the summed parts; other = act() time outside every named part '
                 '(input checks, scan to points, plan risk/disagreement figures, poses, '
                 'conversions). objective:<terms> is the part built at the goal (the terms '
                 'listed), objective:obstacles the scan term built per plan, objective_sum '
                 'the sum of the parts, objective_setup building them per plan. rollouts: '
                 'batched model step calls inside the search (count per act)',
}


class Replay:
    """Feeds a trace's observations to a controller in order, round and round, setting
    each episode's goal (and map) when the episode changes."""

    def __init__(self, controller: PlanningController, trace: Trace) -> None:
        self.controller, self.trace = controller, trace
        self._index, self._episode = 0, None
        self.stops: Dict[str, int] = {}

    def step(self, act: Optional[Callable] = None) -> float:
        """One ``act()`` (``act``: a wrapped one) on the next observation; its wall
        seconds. A stop is answered with the stop command, as planner_node does."""
        trace, controller = self.trace, self.controller
        episode = trace.episodes[self._index]
        if episode != self._episode:
            controller.reset()
            controller.set_goal(trace.goals[episode], trace.static_map)
            self._episode = episode
        obs = trace.observations[self._index]
        self._index = (self._index + 1) % len(trace.observations)
        act = controller.act if act is None else act
        start = time.perf_counter()
        outcome = act(obs, start)
        elapsed = time.perf_counter() - start
        if not isinstance(outcome, Command):
            self.stops[outcome.status] = self.stops.get(outcome.status, 0) + 1
            controller.stop(obs.q)
        return elapsed


def summarise_ms(seconds: List[float]) -> Dict[str, float]:
    """median / p99 / mean / min / max in ms of wall times in seconds."""
    ms = np.asarray(seconds) * 1e3
    return {'median_ms': round(float(np.median(ms)), 3),
            'p99_ms': round(float(np.percentile(ms, 99)), 3),
            'mean_ms': round(float(ms.mean()), 3), 'min_ms': round(float(ms.min()), 3),
            'max_ms': round(float(ms.max()), 3), 'count': int(ms.size)}


def expected_rollout_calls(settings: Any, held_steps: int = 1) -> int:
    """Batched model calls of one complete plan: every iteration's samples and the final
    mean, ``horizon x action_repeat / held_steps`` calls each (one chunk: num_samples <=
    chunk_size; ``held_steps``: model steps a rollout student covers per call)."""
    steps = settings.horizon * settings.action_repeat // held_steps
    return settings.num_iterations * steps + steps


def _breakdown(replay: Replay, acts: int) -> Dict[str, Any]:
    """The parts of ``acts`` act() calls (see :mod:`.section_clock`)."""
    clock = SectionClock()
    walls = []
    with instrumented(replay.controller, clock) as timed_act:
        for _ in range(acts):
            walls.append(replay.step(timed_act))
    total_s = sum(clock.seconds.values())
    parts = {}
    for name, seconds in sorted(clock.seconds.items(), key=lambda kv: -kv[1]):
        parts[name] = {'mean_ms': round(seconds / acts * 1e3, 4),
                       'share': round(seconds / total_s, 4) if total_s > 0 else 0.0,
                       'calls_per_act': round(clock.calls[name] / acts, 3)}
    return {'acts': acts, 'act_mean_ms': round(sum(walls) / acts * 1e3, 4),
            'parts_sum_ms': round(total_s / acts * 1e3, 4),
            'rollout_calls_per_act': round(clock.calls.get(ROLLOUTS, 0) / acts, 3),
            'parts': parts}


def time_configuration(controller_runtime: Any, node_settings: Any, trace: Trace,
                       search: Search, threads: int, warmup: int, repeats: int,
                       breakdown_repeats: int) -> Dict[str, Any]:
    """Warm-up, timed calls and breakdown of one (search, threads) configuration.

    Args:
        controller_runtime: The loaded ``WorldModelRuntime``.
        node_settings: planner_node's settings for the goal (``rigs.node_settings``).
        trace: What to plan from.
        search: The search size.
        threads: torch CPU threads.
        warmup, repeats, breakdown_repeats: act() calls of each phase (repeats >= 1).
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        settings = search_settings(node_settings, search)
        controller = build_controller(controller_runtime, settings)
        start = time.perf_counter()
        controller.warm_up()
        warm_up_plan_s = time.perf_counter() - start
        replay = Replay(controller, trace)
        first_act_s = replay.step()
        for _ in range(max(0, warmup - 1)):
            replay.step()
        warmup_total_s = time.perf_counter() - start
        timed = [replay.step() for _ in range(repeats)]
        stops = dict(replay.stops)
        breakdown = _breakdown(replay, breakdown_repeats) if breakdown_repeats else None
    finally:
        torch.set_num_threads(previous_threads)
    result = {'samples': search.samples, 'elites': search.elites, 'horizon': search.horizon,
              'iterations': search.iterations, 'threads': threads,
              **summarise_ms(timed),
              'warm_up': {'warm_up_plan_ms': round(warm_up_plan_s * 1e3, 3),
                          'first_act_ms': round(first_act_s * 1e3, 3),
                          'warmup_acts': max(1, warmup),
                          'warmup_total_s': round(warmup_total_s, 3)},
              'stops_during_timing': stops,
              'expected_rollout_calls_per_act': expected_rollout_calls(
                  settings, getattr(controller._step, 'held_steps', 1)),
              'settings': settings_summary(settings),
              'breakdown': breakdown}
    if breakdown is not None:
        result['instrumentation_overhead_ms'] = round(
            breakdown['act_mean_ms'] - result['mean_ms'], 3)
    return result


def top_parts(configuration: Dict[str, Any], count: int = 5) -> List[Dict[str, Any]]:
    """The ``count`` largest parts of a configuration's breakdown by share."""
    parts = (configuration.get('breakdown') or {}).get('parts', {})
    ranked = sorted(parts.items(), key=lambda kv: -kv[1]['share'])[:count]
    return [{'part': name, **figures} for name, figures in ranked]
