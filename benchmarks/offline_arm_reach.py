"""Goal-image reaching with the arm, in process (no ROS, no real time); prints JSON.

A quick ablation harness next to ``jepa-world-model plan-eval`` (the measurement of record,
docs/closed_loop.md): the same seeded tasks (``ArmTaskFactory``) and planner sizes (CEM
128 x 3 iterations, 16 elites, horizon 8), but the planner runs between simulator steps, so
no plan is late or stale; commands are kept within +-1 rad/s and 0.3 rad/s per step (3 rad/s^2),
and joint limits are left to the simulator. Objectives:

* ``joint_units``: planner_node's image goal on models with an ``image_state_head``: aim at
  the measured joints plus the head's reading difference (core/goals.py, ``Objective.at``);
* ``latent_l1``: L1 between the pooled image parts of the latents (``Objective.fn``);
* ``joint_goal``: the true goal joints (an upper reference).

    python benchmarks/offline_arm_reach.py --model models/arm_tiny.safetensors \\
        --objective joint_units --episodes 30
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from jepa_world_model.core.goals import build_objective, image_goal, joint_state_goal
from jepa_world_model.core.inference import WorldModelRuntime
from jepa_world_model.core.planner import ActionBounds, LatentPlanner, PlannerConfig
from jepa_world_model.experiments.arm_tasks import ArmTaskFactory

OBJECTIVES = ('joint_units', 'latent_l1', 'joint_goal')


def run_episode(runtime: WorldModelRuntime, factory: ArmTaskFactory, seed: int,
                objective: str, budget: int, tolerance: float) -> dict:
    """One seeded reach; returns success, steps and the closest end-effector distance."""
    model = runtime.model
    task = factory.make_task(seed)
    goal = (joint_state_goal(task.q_goal) if objective == 'joint_goal'
            else image_goal(model, runtime.preprocess(task.goal_image)))
    built = build_objective(goal, model)
    planner = LatentPlanner(PlannerConfig(num_samples=128, num_iterations=3, num_elites=16,
                                          horizon=8), 3, ActionBounds([-1.0] * 3, [1.0] * 3))
    obs = factory.sim.reset(seed)
    prev, best, plan_s = np.zeros(3), float('inf'), []
    for step in range(1, budget + 1):
        with torch.inference_mode():
            o = runtime.preprocess(obs.image)
            s = torch.as_tensor(runtime.make_state(obs.q, obs.dq), dtype=torch.float32)[None]
            started = time.perf_counter()
            if objective == 'joint_units':
                z, q_image = model.encode_with_image_joints(o, s)
                z, fn = z[0], built.at(obs.q, q_image[0])
            else:
                z, fn = model.encode(o, s)[0], built.fn
            a_prev = torch.as_tensor(prev, dtype=torch.float32)
            result = planner.plan(z, model.predict, fn, a_prev)
            plan_s.append(time.perf_counter() - started)
        prev = np.clip(result.actions[0].numpy(), prev - 0.3, prev + 0.3)
        obs = factory.sim.step(prev)
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
    try:
        episodes = [run_episode(runtime, factory, seed, args.objective, args.budget,
                                args.tolerance) for seed in range(1, args.episodes + 1)]
    finally:
        factory.close()
    print(json.dumps({'model': args.model, 'objective': args.objective,
                      'episodes': len(episodes),
                      'success_rate': sum(e['success'] for e in episodes) / len(episodes),
                      'per_episode': episodes}, indent=1))


if __name__ == '__main__':
    main()
