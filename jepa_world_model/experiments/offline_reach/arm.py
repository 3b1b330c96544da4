"""Goal-image reaching with the arm, in process (no ROS, no real time).

A quick ablation harness next to ``jepa-world-model plan-eval`` (the measurement of record,
docs/closed_loop.md): the same seeded tasks (``ArmTaskFactory``) and planner sizes (CEM
128 x 3 iterations, 16 elites, horizon 8; ``--num-samples`` changes the samples, the elites
follow at 1 in 8), but planner_node's planning controller
(``core/planning``) runs between simulator steps, so no plan is late or stale; commands are
kept within +-1 rad/s and 0.3 rad/s per step (3 rad/s^2), joint limits are left to the
simulator, and the controller's goal check is off (success is the simulator's). Objectives:

* ``joint_units``: planner_node's image goal on models with an ``image_state_head``: aim at
  the measured joints plus the head's reading difference (core/planning/goals.py,
  ``Objective.at``);
* ``latent_l1``: L1 between the pooled image parts of the latents (the image goal without
  the head's reading);
* ``joint_goal``: the true goal joints (an upper reference).

    jepa-world-model offline-reach --robot arm --objective joint_units --episodes 30
"""

from __future__ import annotations

from dataclasses import replace
import time
from typing import Any, Dict

import numpy as np
import torch

from ...core.planning.command_limits import CommandLimits
from ...core.planning.goals import Goal, image_goal, joint_state_goal
from ...core.runtime.inference import WorldModelRuntime
from ...core.planning.planner import PlannerConfig
from ...core.planning import Command, ControllerSettings, Observation, PlanningController
from ...node_runs.models import resolve_model
from ..arm_tasks import ArmTaskFactory
from ..conditions import ExperimentError
from .options import ArmReachOptions, elites
from .runtime import load_runtime
from .summary import plan_timing, summarise_episodes

__all__ = ['make_controller', 'run_arm_reach']

CONTROL_DT = 0.1                            # s per simulator step and per plan


def make_controller(runtime: WorldModelRuntime, opts: ArmReachOptions) -> PlanningController:
    """plan-eval's arm planner (3 iterations, horizon 8) with ``opts``' samples and elites
    (default 64 and 8, as plan-eval); +-1 rad/s, 3 rad/s^2; no goal check (tolerance None:
    success is the simulator's end-effector distance)."""
    config = PlannerConfig(num_samples=opts.num_samples, num_iterations=3,
                           num_elites=elites(opts), horizon=8)
    limits = CommandLimits.create([-1.0], [1.0], [3.0], action_dim=runtime.action_dim)
    # No plan deadline (max_plan_time None): offline results must not depend on the CPU.
    return PlanningController(runtime, config, limits, ControllerSettings(
        period=CONTROL_DT, tolerance=None, max_plan_time=None,
        rollout_dtype=opts.rollout_dtype, rollout_model=opts.rollout_model))


def episode_goal(runtime: WorldModelRuntime, task: Any, objective: str) -> Goal:
    """The goal of ``objective``: the true joints, or the goal image (``latent_l1``: its
    latent alone, without the head's joint reading)."""
    if objective == 'joint_goal':
        return joint_state_goal(task.q_goal)
    goal = image_goal(runtime.model, runtime.preprocess(task.goal_image))
    return replace(goal, joints=None) if objective == 'latent_l1' else goal


def run_episode(controller: PlanningController, factory: ArmTaskFactory, seed: int,
                objective: str, budget: int, tolerance: float) -> dict:
    """One seeded reach; returns success, steps and the closest end-effector distance."""
    runtime = controller.runtime
    task = factory.make_task(seed)
    controller.reset()
    controller.set_goal(episode_goal(runtime, task, objective))
    obs = factory.sim.reset(seed)
    best, plan_s = float('inf'), []
    for step in range(1, budget + 1):
        o = runtime.preprocess(obs.image)
        s = torch.as_tensor(runtime.make_state(obs.q, obs.dq), dtype=torch.float32)[None]
        started = time.perf_counter()
        outcome = controller.act(Observation(o, s, np.asarray(obs.q, dtype=np.float64), None),
                                 started)
        plan_s.append(time.perf_counter() - started)
        command = outcome if isinstance(outcome, Command) else controller.stop()
        obs = factory.sim.step(command.a)
        best = min(best, float(np.linalg.norm(factory.ee_position(obs.q) - task.ee_goal)))
        if best <= tolerance:
            return {'seed': seed, 'success': True, 'steps': step, 'min_distance': best,
                    **plan_timing(plan_s)}
    return {'seed': seed, 'success': False, 'steps': budget, 'min_distance': best,
            **plan_timing(plan_s)}


def run_arm_reach(opts: ArmReachOptions) -> Dict[str, Any]:
    """Run the episodes; the report (settings, success rate, every episode).

    Raises:
        ExperimentError: ``joint_units`` on a model without an ``image_state_head``, or
            an ``inference_backend`` that cannot run here (:func:`.runtime.load_runtime`).
        ModelChoiceError: no such model file, or the shipped one is not installed.
    """
    model = resolve_model(opts.model, 'arm')
    runtime = load_runtime(model, opts)
    if opts.objective == 'joint_units' and runtime.model.image_state_head is None:
        raise ExperimentError('joint_units needs a model with an image_state_head')
    factory = ArmTaskFactory()
    controller = make_controller(runtime, opts)
    seeds = range(opts.first_seed, opts.first_seed + opts.episodes)
    try:
        episodes = [run_episode(controller, factory, seed, opts.objective, opts.budget,
                                opts.tolerance) for seed in seeds]
    finally:
        factory.close()
    return {'model': str(model), 'inference_backend': opts.inference_backend,
            'rollout_dtype': opts.rollout_dtype, 'rollout_model': opts.rollout_model,
            'objective': opts.objective,
            'num_samples': opts.num_samples, 'num_elites': elites(opts),
            'first_seed': opts.first_seed, 'episodes': len(episodes),
            'success_rate': sum(e['success'] for e in episodes) / len(episodes),
            'summary': summarise_episodes(episodes), 'per_episode': episodes}
