"""This planner next to two other designs, per decision, on the arm's image goals.

* ``this``: planner_node's controller on the pooled latent (:mod:`.grid`).
* ``token_predictor``: the V-JEPA 2-AC design, a predictor over the frame's patch tokens.
  The frame is encoded by the shipped model's ViT, its tokens projected to the predictor
  width, and the same CEM (:class:`LatentPlanner`, same samples / elites / horizon /
  iterations, same action box) rolls out ``bench_world_model.token_predictor`` (2 blocks at
  the shipped predictor width over all patches plus an action token; random weights, it
  stands for the cost) and scores the L1 distance to a goal frame's tokens, V-JEPA 2-AC's
  energy. V-JEPA 2-AC's predictor is 24 blocks over every past frame's tokens: this is a
  lower bound on its cost.
* ``pixel``: the oracle pixel planner (``experiments/pixel_planner``): one greedy step over a
  grid of joint-velocity commands, each simulated on a copy of the scene and rendered.
  ``own``: its plan-eval settings (3 speeds per joint: 27 candidates, scored after 3
  control periods); ``equal``: the grid whose size is nearest the sample count (``k`` speeds
  per joint, ``k^3`` candidates). It searches one step, not ``horizon x iterations``.

Ratios are medians per decision over ``this``'s median. ``steps_per_decision``: latent
steps predicted (CEM: samples x iterations x horizon, plus the mean's rollout) or control
periods simulated (pixel: each moving candidate up to its last checkpoint), and
``median_ms_per_1000_steps`` the cost of a thousand of them.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

import numpy as np
import torch
from torch import nn

from bench_world_model import token_predictor
from jepa_world_model.core.planning.objectives import latent_goal_objective
from jepa_world_model.core.planning.planner import ActionBounds, LatentPlanner, PlannerConfig
from jepa_world_model.core.runtime.inference import WorldModelRuntime
from jepa_world_model.experiments.arm_tasks import ArmTaskFactory
from jepa_world_model.experiments.pixel_planner import PixelGreedyPlanner, PixelPlannerConfig
from jepa_world_model.ros.planner.parameters import command_bounds

from .grid import summarise_ms, time_configuration
from .rigs import Search, Trace

__all__ = ['TokenStep', 'time_token_planner', 'time_pixel_planner', 'compare']


class TokenStep:
    """A step over patch tokens in the planner's flat latent: ``z`` [B, P * D] holds the
    P tokens of width D; an action token (a linear map of ``a`` [B, A]) joins them, the
    predictor runs over the P + 1 tokens and the P patch tokens are returned, [B, P * D]."""

    def __init__(self, model_cfg: Any) -> None:
        torch.manual_seed(0)
        self.patches, self.width = model_cfg.num_patches, model_cfg.predictor_embed_dim
        self.predictor = token_predictor(model_cfg)
        self.action_token = nn.Linear(model_cfg.action_dim, self.width).eval()

    def __call__(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        tokens = z.reshape(z.shape[0], self.patches, self.width)
        x = torch.cat([tokens, self.action_token(a)[:, None]], dim=1)
        return self.predictor(x)[:, :self.patches].reshape(z.shape[0], -1)


def time_token_planner(runtime: WorldModelRuntime, trace: Trace, search: Search,
                       bounds: ActionBounds, warmup: int, repeats: int) -> Dict[str, Any]:
    """Per decision: encode the frame's tokens, project them, plan with the token step."""
    cfg = runtime.model.cfg
    step = TokenStep(cfg)
    project = nn.Linear(cfg.embed_dim, cfg.predictor_embed_dim).eval()
    frames = [obs.o for obs in trace.observations]
    with torch.inference_mode():
        # Which frame is the goal does not change the cost: the trace's last one.
        z_goal = project(runtime.model.patch_tokens(frames[-1], target=True)).reshape(-1)
        planner = LatentPlanner(PlannerConfig(num_samples=search.samples,
                                              num_elites=search.elites,
                                              horizon=search.horizon,
                                              num_iterations=search.iterations),
                                cfg.action_dim, bounds)
        objective = latent_goal_objective(z_goal, p=1)
        times = []
        for i in range(warmup + repeats):
            start = time.perf_counter()
            z0 = project(runtime.model.patch_tokens(frames[i % len(frames)]))[0].reshape(-1)
            planner.plan(z0, step, objective)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return {'latent_values': cfg.num_patches * cfg.predictor_embed_dim,
            'predictor_blocks': len(step.predictor), **summarise_ms(times)}


def time_pixel_planner(image_size: int, period: float, speeds: List[float], seed: int,
                       warmup: int, repeats: int) -> Dict[str, Any]:
    """Per decision of the pixel planner in closed loop on the seeded episode's scene."""
    factory = ArmTaskFactory(image_size=image_size, control_dt=period)
    try:
        task = factory.make_task(seed)
        config = PixelPlannerConfig(speeds=tuple(speeds))
        planner = PixelGreedyPlanner(factory.sim, config)
        planner.set_goal(task.goal_image)
        obs = factory.sim.reset(seed)
        times = []
        for i in range(warmup + repeats):
            start = time.perf_counter()
            plan = planner.plan(obs.q, obs.dq)
            if i >= warmup:
                times.append(time.perf_counter() - start)
            obs = factory.sim.step(plan.action)
    finally:
        factory.close()
    return {'candidates': int(len(planner.candidates)), 'speeds': [round(s, 3) for s in speeds],
            'checkpoints': list(config.checkpoints), 'renders': planner.renders_per_plan,
            **summarise_ms(times)}


def _ratio(other: Dict[str, Any], this: Dict[str, Any]) -> float:
    return round(other['median_ms'] / this['median_ms'], 2)


def _sample_steps(search: Search, action_repeat: int = 1) -> int:
    """Steps predicted per CEM decision: every sample of every iteration, and the mean."""
    steps = search.horizon * action_repeat
    return search.samples * search.iterations * steps + steps


def _per_step(figures: Dict[str, Any], steps: int) -> Dict[str, Any]:
    """``figures`` with the steps of one decision and the median per thousand of them."""
    return {**figures, 'steps_per_decision': steps,
            'median_ms_per_1000_steps': round(figures['median_ms'] / steps * 1e3, 3)}


def compare(runtime: WorldModelRuntime, settings: Any, trace: Trace, searches: List[Search],
            threads: int, warmup: int, repeats: int, slow_repeats: int) -> Dict[str, Any]:
    """The three planners at each search size (``slow_repeats`` decisions for the other
    two, which take far longer)."""
    previous = torch.get_num_threads()
    out = []
    try:
        for search in searches:
            this = time_configuration(runtime, settings, trace, search, threads, warmup,
                                      repeats, 0)
            torch.set_num_threads(threads)
            # The bounds in effect (command_min/max, or their deprecated velocity_ names).
            low, high = command_bounds(settings)
            limits_low = np.broadcast_to(low, (runtime.action_dim,))
            limits_high = np.broadcast_to(high, (runtime.action_dim,))
            bounds = ActionBounds(list(limits_low), list(limits_high))
            token = time_token_planner(runtime, trace, search, bounds, 1, slow_repeats)
            k = max(2, round(search.samples ** (1 / 3)))
            period = 1.0 / settings.plan_rate_hz
            seed = min(trace.goals)
            pixel_own = time_pixel_planner(runtime.image_size, period,
                                           list(PixelPlannerConfig().speeds), seed, 1,
                                           slow_repeats)
            pixel_equal = time_pixel_planner(runtime.image_size, period,
                                             list(np.linspace(-1.0, 1.0, k)), seed, 1,
                                             slow_repeats)
            this = _per_step({k_: this[k_] for k_ in ('median_ms', 'p99_ms', 'mean_ms',
                                                      'count')},
                             _sample_steps(search, settings.action_repeat))
            token = _per_step(token, _sample_steps(search))
            # Simulated control periods: each moving candidate up to its last checkpoint.
            pixel_own, pixel_equal = (
                _per_step(p, (p['candidates'] - 1) * max(p['checkpoints']))
                for p in (pixel_own, pixel_equal))
            out.append({
                'samples': search.samples, 'elites': search.elites,
                'horizon': search.horizon, 'iterations': search.iterations,
                'threads': threads, 'this': this,
                'token_predictor': token, 'pixel_own_settings': pixel_own,
                'pixel_equal_samples': pixel_equal,
                'ratios_to_this': {'token_predictor': _ratio(token, this),
                                   'pixel_own_settings': _ratio(pixel_own, this),
                                   'pixel_equal_samples': _ratio(pixel_equal, this)}})
    finally:
        torch.set_num_threads(previous)
    return {'how_measured': __doc__.strip(), 'results': out}
