"""Start latents for distilling a rollout student (core/training/rollout_distillation.py):
frames the simulator renders under piecewise-constant random commands, encoded by the
teacher's online encoder (the encoder a plan starts from), so no bags are needed.

The episodes are seeded from :data:`FIRST_SEED` on, far from the evaluation seeds
(offline-reach and plan-eval use 1..N), so a student is never distilled on the scenes it
is scored on. The planner's action boxes (``ACTION_BOXES``) are the offline-reach ones:
the arm's +-1 rad/s and the base's v in [-0.5, 0.8] m/s, w in [-1.5, 1.5] rad/s.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from ..core.runtime.inference import WorldModelRuntime

__all__ = ['ACTION_BOXES', 'FIRST_SEED', 'ROBOTS', 'encoded_start_states']

FIRST_SEED = 100_000
ROBOTS = ('arm', 'mobile_base')
#: (low, high) per robot: the boxes offline-reach plans in (offline_reach/arm.py, base.py).
ACTION_BOXES = {'arm': ([-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]),
                'mobile_base': ([-0.5, -1.5], [0.8, 1.5])}


def _sim(robot: str, image_size: int):
    from ..sim.robots import ArmSim, MobileBaseSim   # MuJoCo only when run
    if robot == 'arm':
        return ArmSim(image_size=image_size)
    return MobileBaseSim(image_size=image_size)


def encoded_start_states(runtime: WorldModelRuntime, robot: str, episodes: int, steps: int,
                         seed: int = FIRST_SEED, batch: int = 64) -> Tensor:
    """``[episodes x (steps + 1), Z]`` latents of simulator frames (reset, then ``steps``
    random commands held 2-8 steps each, in the robot's action box).

    Raises:
        ValueError: an unknown robot, counts below 1, or a model whose action size is not
            the robot's.
    """
    if robot not in ROBOTS:
        raise ValueError(f'robot must be one of {ROBOTS}, got {robot!r}')
    if episodes < 1 or steps < 0:
        raise ValueError(f'need episodes >= 1 and steps >= 0, got {episodes}, {steps}')
    low, high = (np.asarray(v) for v in ACTION_BOXES[robot])
    if low.size != runtime.action_dim:
        raise ValueError(f'the {robot} commands {low.size} actions, the model '
                         f'{runtime.action_dim}')
    sim = _sim(robot, runtime.image_size)
    frames, states = [], []
    try:
        for episode in range(episodes):
            rng = np.random.default_rng(seed + episode)
            obs = sim.reset(seed + episode)
            action, left = np.zeros(low.size), 0
            for t in range(steps + 1):
                frames.append(runtime.preprocess(obs.image))
                states.append(_state(runtime, obs))
                if t == steps:
                    break
                if left <= 0:
                    action, left = rng.uniform(low, high), int(rng.integers(2, 9))
                left -= 1
                obs = sim.step(action)
    finally:
        sim.close()
    return _encode(runtime, torch.cat(frames), torch.stack(states), batch)


def _state(runtime: WorldModelRuntime, obs) -> Tensor:
    """The model's state vector [S] of one observation (the pose when the model takes it)."""
    q = None if obs.base_pose is not None else obs.q
    s = runtime.make_state(q, obs.dq, obs.base_pose if runtime.needs_pose else None)
    return torch.as_tensor(s, dtype=runtime.dtype)


def _encode(runtime: WorldModelRuntime, o: Tensor, s: Tensor, batch: int) -> Tensor:
    """Online-encoder latents of ``o [N, 3, S, S]``, ``s [N, S]`` in batches: ``[N, Z]``."""
    model = runtime.model
    out = []
    with torch.inference_mode():
        for i in range(0, o.shape[0], batch):
            state = s[i:i + batch] if s.shape[-1] else None
            out.append(model.encode(o[i:i + batch], state).float())
    return torch.cat(out).clone()


def box(robot: str) -> Tuple[Tensor, Tensor]:
    """The robot's action box as two float tensors ``[A]``."""
    low, high = ACTION_BOXES[robot]
    return torch.tensor(low), torch.tensor(high)
