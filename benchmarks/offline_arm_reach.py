"""Goal-image reaching with the arm, in process (no ROS, no real time); prints JSON.

A quick ablation harness next to ``jepa-world-model plan-eval`` (the measurement of record,
docs/closed_loop.md): the same seeded tasks (``ArmTaskFactory``) and planner sizes (CEM
128 x 3 iterations, 16 elites, horizon 8), but planner_node's planning controller
(``core/planning``) runs between simulator steps, so no plan is late or stale; commands are
kept within +-1 rad/s and 0.3 rad/s per step (3 rad/s^2), joint limits are left to the
simulator, and the controller's goal check is off (success is the simulator's). Objectives:

* ``joint_units``: planner_node's image goal on models with an ``image_state_head``: aim at
  the measured joints plus the head's reading difference (core/goals.py, ``Objective.at``);
* ``latent_l1``: L1 between the pooled image parts of the latents (the image goal without
  the head's reading);
* ``joint_goal``: the true goal joints (an upper reference).

    python benchmarks/offline_arm_reach.py --model models/arm_tiny.safetensors \\
        --objective joint_units --episodes 30
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import time
from typing import Any

import numpy as np
import torch

from jepa_world_model.core.command_limits import CommandLimits
from jepa_world_model.core.goals import Goal, image_goal, joint_state_goal
from jepa_world_model.core.inference import WorldModelRuntime
from jepa_world_model.core.planner import PlannerConfig
from jepa_world_model.core.planning import (Command, ControllerSettings, Observation,
                                            PlanningController)
from jepa_world_model.experiments.arm_tasks import ArmTaskFactory

OBJECTIVES = ('joint_units', 'latent_l1', 'joint_goal')
CONTROL_DT = 0.1                            # s per simulator step and per plan


def make_controller(runtime: WorldModelRuntime) -> PlanningController:
    """plan-eval's arm planner sizes; +-1 rad/s, 3 rad/s^2; no goal check (tolerance None:
    success is the simulator's end-effector distance)."""
    config = PlannerConfig(num_samples=128, num_iterations=3, num_elites=16, horizon=8)
    limits = CommandLimits.create([-1.0], [1.0], [3.0], action_dim=runtime.action_dim)
    return PlanningController(runtime, config, limits,
                              ControllerSettings(period=CONTROL_DT, tolerance=None))


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
                    'plan_ms_p50': 1e3 * float(np.median(plan_s))}
    return {'seed': seed, 'success': False, 'steps': budget, 'min_distance': best,
            'plan_ms_p50': 1e3 * float(np.median(plan_s))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='models/arm_tiny.safetensors')
    parser.add_argument('--objective', choices=OBJECTIVES, default='joint_units')
    parser.add_argument('--episodes', type=int, default=30, help='seeds 1..N (plan-eval\'s)')
    parser.add_argument('--budget', type=int, default=80)
    parser.add_argument('--tolerance', type=float, default=0.05)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runtime = WorldModelRuntime.from_path(args.model)
    if args.objective == 'joint_units' and runtime.model.image_state_head is None:
        parser.error('joint_units needs a model with an image_state_head')
    factory = ArmTaskFactory()
    controller = make_controller(runtime)
    try:
        episodes = [run_episode(controller, factory, seed, args.objective, args.budget,
                                args.tolerance) for seed in range(1, args.episodes + 1)]
    finally:
        factory.close()
    print(json.dumps({'model': args.model, 'objective': args.objective,
                      'episodes': len(episodes),
                      'success_rate': sum(e['success'] for e in episodes) / len(episodes),
                      'per_episode': episodes}, indent=1))


if __name__ == '__main__':
    main()
