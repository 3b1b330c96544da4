"""Offline check of a base model's risk term: does it rank candidate plans by collision?

The planner's risk term scores a candidate action sequence by the risk probe on the
latents the dynamics predict for it (``sum_t max_label probe_risk(z_t)``, as
:func:`~jepa_world_model.core.planning.goals.build_objective`). This module asks whether that score
is higher for the sequences that really collide. For each seed: reset the
``MobileBaseSim``, drive ``warmup`` random steps (forward 0.8 m/s, random turn rate) so that
some starts are near walls, obstacles or people; skip starts already in collision; encode
the frame; score each constant action of a small grid held for ``horizon`` steps; then
replay the same seed and warm-up (the simulator is deterministic) and hold that action in
the simulator to see whether it collides.

Reported: plans, colliding plans, mean predicted risk of colliding and free plans, the AUC
over all plans (probability that a colliding plan scores higher than a free one; 0.5 is
chance) and the mean AUC within starts that have both kinds (the ranking the planner uses).

``jepa-world-model diagnose risk --model M --starts 80 [--out F]``
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence

os.environ.setdefault('MUJOCO_GL', 'egl')   # headless rendering; must precede mujoco import

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..sim.robots import MobileBaseSim  # noqa: E402

__all__ = ['ACTIONS', 'pairwise_auc', 'run']

#: Candidate (v [m/s], w [rad/s]) held for the horizon.
ACTIONS = [np.array(a) for a in itertools.product((-0.4, 0.0, 0.4, 0.8), (-1.2, 0.0, 1.2))]


def pairwise_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties count half; NaN without both kinds."""
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    if pos.size == 0 or neg.size == 0:
        return float('nan')
    diff = pos[:, None] - neg[None, :]
    return float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))


def _warm_up(sim: MobileBaseSim, seed: int, turns: np.ndarray) -> Any:
    obs = sim.reset(seed, render=False)
    for w in turns:
        obs = sim.step(np.array([0.8, w]), render=False)
    return obs


def run(model: Path, starts: int = 80, horizon: int = 8, warmup: int = 30, seed: int = 0
        ) -> Dict[str, Any]:
    """The figures of the module docstring for checkpoint ``model``."""
    from ..core.runtime.inference import WorldModelRuntime
    torch.set_num_threads(1)
    runtime = WorldModelRuntime.from_path(str(model))
    m = runtime.model
    sim = MobileBaseSim(runtime.image_size, 0.1)
    rng = np.random.default_rng(seed)
    scores: List[float] = []
    hits: List[bool] = []
    within: List[float] = []
    used = 0
    try:
        for episode in range(seed + 1, seed + starts + 1):
            turns = rng.uniform(-1.0, 1.0, size=int(rng.integers(0, warmup + 1)))
            obs = _warm_up(sim, episode, turns)
            if obs.collision:
                continue
            obs = sim.step(np.zeros(2))   # rendered frame of the start
            turns = np.append(turns, np.nan)
            state = runtime.make_state(obs.q, obs.dq, pose=obs.base_pose)
            with torch.inference_mode():
                z0 = m.encode(runtime.preprocess(obs.image),
                              torch.as_tensor(state, dtype=torch.float32)[None])
            start_scores, start_hits = [], []
            for action in ACTIONS:
                a = torch.as_tensor(action, dtype=torch.float32)[None, None]
                with torch.inference_mode():
                    z = m.rollout(z0, a.repeat(1, horizon, 1))
                    start_scores.append(float(m.probe_risk(z).amax(dim=-1).sum()))
                sim.reset(episode, render=False)
                for w in turns:
                    sim.step(np.zeros(2) if np.isnan(w) else np.array([0.8, w]), render=False)
                start_hits.append(any(sim.step(action, render=False).collision
                                      for _ in range(horizon)))
            used += 1
            scores += start_scores
            hits += start_hits
            s, h = np.array(start_scores), np.array(start_hits)
            if h.any() and (~h).any():
                within.append(pairwise_auc(s[h], s[~h]))
    finally:
        sim.close()
    s, h = np.array(scores), np.array(hits, dtype=bool)
    return {'model': str(model), 'starts': used, 'plans': int(h.size),
            'colliding_plans': int(h.sum()), 'horizon': horizon,
            'mean_risk_colliding': float(s[h].mean()) if h.any() else None,
            'mean_risk_free': float(s[~h].mean()) if (~h).any() else None,
            'auc_all': pairwise_auc(s[h], s[~h]),
            'auc_within_start': float(np.mean(within)) if within else None,
            'starts_with_both': len(within)}
