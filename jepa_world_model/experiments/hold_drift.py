"""``jepa-world-model diagnose hold-drift``: what a mobile-base model predicts for standing
still.

A planner that waits for a person scores its waiting plans by the world model's rollout
under zero commands. The simulated base stops within one control step of a zero command; a
model that was never shown one (the ``seek`` recordings always carry exploration noise)
may predict the base to keep turning. From states the ``seek`` policy visits (seeded
episodes, one state every ``--every`` steps), each model's dynamics ensemble is rolled out
under ``--steps`` zero commands and its read-out pose compared with the pose read at the
start; the simulator, given the same zero commands from the same state, says what really
happens (then the episode goes on from there). Reports, per model and for the simulator,
the position [m] and heading [rad] change as :func:`.results.stats` (p50, p90, p99, ...).

No ROS; MuJoCo and torch. JSON on stdout and in ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from .results import stats

__all__ = ['add_arguments', 'run', 'measure']


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The sub-command's flags."""
    p.add_argument('--model', type=Path, nargs='+', required=True,
                   help='mobile-base checkpoints to compare')
    p.add_argument('--episodes', type=int, default=6, help='seeded seek episodes')
    p.add_argument('--seed', type=int, default=100, help='first episode seed')
    p.add_argument('--every', type=int, default=10, help='steps between measured states')
    p.add_argument('--length', type=int, default=60, help='steps per episode')
    p.add_argument('--steps', type=int, default=32,
                   help='zero-command steps rolled out (32 = the long-horizon plan, 3.2 s)')
    p.add_argument('--out', type=Path, help='JSON file to write')


def measure(runtimes: Dict[str, Any], episodes: int, seed: int, every: int, length: int,
            steps: int) -> Dict[str, Any]:
    """Predicted and true pose change under ``steps`` zero commands, per runtime
    (:class:`~..core.runtime.inference.WorldModelRuntime` of a pose model) by name, over
    the states every ``every`` steps of ``episodes`` seek episodes."""
    import torch
    from ..core.model.joint_angles import wrap_angle
    from ..core.runtime.planning_step import planning_step
    from ..sim.exploration import make_policy
    from ..sim.robots import MobileBaseSim
    if min(episodes, every, length, steps) < 1:
        raise ValueError('episodes, every, length and steps must all be >= 1')
    first = next(iter(runtimes.values()))
    sim = MobileBaseSim(image_size=first.image_size, control_dt=0.1)
    zero = np.zeros(2)
    true_move, true_turn = [], []
    predicted: Dict[str, Dict[str, List[float]]] = {n: {'move': [], 'turn': []} for n in runtimes}
    steppers = {n: planning_step(rt, 'float32', '', 1) for n, rt in runtimes.items()}
    try:
        for episode in range(episodes):
            obs = sim.reset(seed + episode)
            policy = make_policy('seek', sim, seed + episode)
            for t in range(1, length + 1):
                obs = sim.step(policy(obs))
                if t % every:
                    continue
                for name, rt in runtimes.items():
                    s = rt.make_state(None, obs.dq, obs.base_pose)
                    with torch.inference_mode():
                        z = rt.encoder.encode(rt.preprocess(obs.image),
                                              torch.as_tensor(s, dtype=torch.float32)[None])
                        start = rt.model.probe_pose(z)[0].float().cpu().numpy()
                        a = torch.zeros(1, rt.action_dim, dtype=z.dtype)
                        for _ in range(steps):
                            z = steppers[name](z, a)
                        end = rt.model.probe_pose(z)[0].float().cpu().numpy()
                    predicted[name]['move'].append(float(np.linalg.norm(end[:2] - start[:2])))
                    predicted[name]['turn'].append(abs(float(wrap_angle(end[2] - start[2]))))
                before = np.asarray(obs.base_pose, dtype=np.float64).copy()
                for _ in range(steps):
                    obs = sim.step(zero)
                true_move.append(float(np.linalg.norm(obs.base_pose[:2] - before[:2])))
                true_turn.append(abs(float(wrap_angle(obs.base_pose[2] - before[2]))))
    finally:
        sim.close()
    return {'states': len(true_move),
            'simulator': {'position_change_m': stats(true_move),
                          'heading_change_rad': stats(true_turn)},
            'models': {n: {'position_change_m': stats(p['move']),
                           'heading_change_rad': stats(p['turn'])}
                       for n, p in predicted.items()}}


def run(args: argparse.Namespace) -> int:
    """Load the models, measure, print and write the report."""
    import datetime
    import json
    from .offline_reach.options import BaseReachOptions
    from .offline_reach.runtime import load_runtime
    runtimes = {str(path): load_runtime(path, BaseReachOptions()) for path in args.model}
    report = {'what': 'pose change under zero commands: the models\' dynamics ensembles '
                      'against the simulator, from states of seek episodes',
              'command': 'jepa-world-model ' + ' '.join(sys.argv[1:]),
              'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
              'episode_seeds': list(range(args.seed, args.seed + args.episodes)),
              'every': args.every, 'length': args.length, 'zero_steps': args.steps,
              **measure(runtimes, args.episodes, args.seed, args.every, args.length,
                        args.steps)}
    text = json.dumps(report, indent=1)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)
    return 0
