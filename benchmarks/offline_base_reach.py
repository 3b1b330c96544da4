"""Mobile-base pose goals, in process (no ROS, no real time); prints JSON.

An ablation harness next to ``jepa-world-model plan-eval`` (the measurement of record,
docs/closed_loop.md): the same seeded tasks (``BaseTaskFactory``) and the base conditions'
planner (CEM 64 x 2 iterations, 8 elites, horizon 8, disagreement weight 5, v in [-0.5, 0.8]
m/s, w in [-1.5, 1.5] rad/s, at most 2 m/s^2 and 6 rad/s^2), run between simulator steps.
Success: within 0.15 m of the goal within 150 steps and no collision before.

The risk term of a plan, per ``--risk``:

* ``none``: no risk term;
* ``model``: the model's risk probe on the predicted latents (planner_node's risk term);
* ``oracle``: the simulator's geometry on the *predicted* poses: 1 where the robot's disc
  (plus 5 cm) would overlap a wall, a static obstacle or a person at the people's current
  positions. It asks how far this planner gets with a perfect collision read-out and the
  model's own predicted motion.

    python benchmarks/offline_base_reach.py --risk oracle --risk-weight 20 --episodes 20
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Callable

import numpy as np
import torch

from jepa_world_model.core.goals import build_objective, ObjectiveTerms, pose_goal
from jepa_world_model.core.inference import WorldModelRuntime
from jepa_world_model.core.objectives import risk_objective, sum_objectives
from jepa_world_model.core.planner import ActionBounds, LatentPlanner, PlannerConfig
from jepa_world_model.experiments.base_tasks import BaseTaskFactory
from jepa_world_model.sim.robots import MobileBaseSim

LOW, HIGH = np.array([-0.5, -1.5]), np.array([0.8, 1.5])
MAX_CHANGE = np.array([0.2, 0.6])          # per 0.1 s step: 2 m/s^2, 6 rad/s^2
MARGIN = 0.05                               # m added to the robot's radius by the oracle


def oracle_risk(model, sim: MobileBaseSim) -> Callable[[torch.Tensor], torch.Tensor]:
    """``risk(z_traj [N, H, Z]) -> [N, H]``: 1 where the predicted pose is in collision."""
    circles = torch.as_tensor(sim.obstacle_circles, dtype=torch.float32)
    reach = sim.ROBOT_RADIUS + MARGIN

    def risk(z_traj: torch.Tensor) -> torch.Tensor:
        xy = model.probe_pose(z_traj)[..., :2]
        people = torch.as_tensor(sim.people_positions(), dtype=torch.float32)
        wall = (xy.abs() > sim.ROOM_HALF_EXTENT - reach).any(-1)
        furniture = (torch.linalg.vector_norm(xy[..., None, :] - circles[:, :2], dim=-1)
                     < circles[:, 2] + reach).any(-1)
        person = (torch.linalg.vector_norm(xy[..., None, :] - people, dim=-1)
                  < sim.PERSON_RADIUS + reach).any(-1)
        return (wall | furniture | person).to(z_traj.dtype)
    return risk


def run_episode(runtime: WorldModelRuntime, factory: BaseTaskFactory, sim: MobileBaseSim,
                seed: int, args: argparse.Namespace) -> dict:
    """One seeded episode; returns success, first collision step, steps, final distance."""
    model = runtime.model
    task = factory.make_task(seed)
    model_risk = args.risk_weight if args.risk == 'model' else 0.0
    built = build_objective(pose_goal(task.goal_xy[0], task.goal_xy[1]), model,
                            ObjectiveTerms(model_risk, args.disagreement_weight))
    objective = built.fn
    if args.risk == 'oracle':
        objective = sum_objectives([(1.0, built.fn), (1.0, risk_objective(
            oracle_risk(model, sim), args.risk_weight))])
    planner = LatentPlanner(PlannerConfig(num_samples=64, num_iterations=2, num_elites=8,
                                          horizon=8), 2, ActionBounds(LOW, HIGH))
    obs = sim.reset(seed)
    prev, collided, plan_s = np.zeros(2), None, []
    distance = float('inf')
    for step in range(1, args.budget + 1):
        with torch.inference_mode():
            s = runtime.make_state(None, obs.dq, obs.base_pose)
            started = time.perf_counter()
            z = model.encode(runtime.preprocess(obs.image),
                             torch.as_tensor(s, dtype=torch.float32)[None])[0]
            result = planner.plan(z, model.predict, objective,
                                  torch.as_tensor(prev, dtype=torch.float32))
            plan_s.append(time.perf_counter() - started)
        prev = np.clip(result.actions[0].numpy(), prev - MAX_CHANGE, prev + MAX_CHANGE)
        obs = sim.step(prev)
        if obs.collision and collided is None:
            collided = step
        distance = float(np.linalg.norm(np.asarray(obs.base_pose[:2]) - task.goal_xy))
        if distance <= args.tolerance:
            break
    return {'seed': seed, 'success': bool(distance <= args.tolerance and collided is None),
            'first_collision_step': collided, 'steps': step, 'final_distance': distance,
            'straight_line_free': bool(task.straight_line_free),
            'plan_ms_p50': 1e3 * float(np.median(plan_s))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='models/mobile_base_tiny.safetensors')
    parser.add_argument('--risk', choices=('none', 'model', 'oracle'), default='none')
    parser.add_argument('--risk-weight', type=float, default=20.0)
    parser.add_argument('--disagreement-weight', type=float, default=5.0)
    parser.add_argument('--episodes', type=int, default=20, help='seeds 1..N (plan-eval\'s)')
    parser.add_argument('--budget', type=int, default=150)
    parser.add_argument('--tolerance', type=float, default=0.15)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runtime = WorldModelRuntime.from_path(args.model)
    factory = BaseTaskFactory()
    sim = MobileBaseSim(image_size=runtime.image_size, control_dt=0.1)
    try:
        episodes = [run_episode(runtime, factory, sim, seed, args)
                    for seed in range(1, args.episodes + 1)]
    finally:
        sim.close()
        factory.close()
    print(json.dumps({'model': args.model, 'risk': args.risk,
                      'risk_weight': args.risk_weight if args.risk != 'none' else 0.0,
                      'episodes': len(episodes),
                      'success_rate': sum(e['success'] for e in episodes) / len(episodes),
                      'collision_episodes': sum(e['first_collision_step'] is not None
                                                for e in episodes),
                      'per_episode': episodes}, indent=1))


if __name__ == '__main__':
    main()
