"""One plan of ``planner_node``: the goal check, the plan, and the checks that stop it.

:meth:`PlanStep.run` encodes a synchronised observation, says whether the goal is reached
(measured joints or odometry when the goal is of that kind, else the target-encoder latent),
plans toward it with :class:`~jepa_world_model.core.planner.LatentPlanner`, and raises
:class:`PlanStop` when the plan must not be followed: it took longer than ``max_plan_time``
(``overrun``), or its predicted risk or ensemble disagreement is over its limit
(``risk_too_high``, ``uncertainty_too_high``). The figures behind those decisions are kept
for diagnostics (``last``, ``plan_ms``).

``max_plan_time`` is a deadline the planner checks while it runs (before every model step),
so a plan that cannot finish in time stops about then, instead of holding the node (its
status, diagnostics and parameter changes) for as long as it takes. :func:`rollout_cost`
measures the model at configure so that settings whose samples alone cannot fit the budget
are refused (:func:`~.planner_parameters.validate_updates`); :func:`warm_up` runs under a
deadline of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from ..core.goal_checks import assess_plan, goal_reached
from ..core.goals import ensemble_size, Goal, has_risk_probe
from ..core.inference import WorldModelRuntime
from ..core.plan_budget import measure_rollout_cost, RolloutCost
from ..core.planner import hold_action, LatentPlanner
from ..core.scan import laser_points
from ..core.streams import WindowStats
from .planner_inputs import Observation
from .planner_parameters import goal_tolerance

__all__ = ['PlanStop', 'PlanOutcome', 'PlanStep', 'obstacle_points', 'warm_up',
           'rollout_cost', 'unusable_stops', 'WARM_UP_BUDGET_S']

#: Seconds the configure-time warm-up plan may take; enough to initialise every kernel.
WARM_UP_BUDGET_S = 2.0


class PlanStop(Exception):
    """A safety stop: ``status`` for ~/status, ``reason`` (counter) and text for diagnostics."""

    def __init__(self, status: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class PlanOutcome:
    """A plan to follow: ``actions`` [H, A], its ``cost``, base ``poses`` [H + 1, 3] or None."""

    actions: np.ndarray
    cost: float
    poses: Optional[np.ndarray]


class PlanStep:
    """Plans from observations and keeps the figures of the latest one for diagnostics."""

    def __init__(self) -> None:
        self.last: Dict[str, Any] = {}
        self.plan_ms = WindowStats(1000)

    def run(self, runtime: WorldModelRuntime, planner: LatentPlanner, goal: Goal,
            objective: Any, s: Any, obs: Observation, prev: np.ndarray, started: float,
            with_poses: bool) -> Optional[PlanOutcome]:
        """Plan from ``obs`` toward ``goal``; None when the goal is reached.

        Args:
            runtime: The loaded model.
            planner: The planner (warm-started from its previous plan).
            goal: The goal; ``objective`` is the objective built from it.
            objective: The goal's objective (``objective.fn`` is the cost).
            s: The planner settings.
            obs: The synchronised observation.
            prev: [A] the previous command: the centre of the trust region.
            started: ``time.perf_counter()`` when the tick started: the plan stops at
                ``started + max_plan_time``.
            with_poses: Also predict the base poses along the plan (``~/planned_path``).

        Raises:
            PlanStop: The plan overran ``max_plan_time`` (or was stopped at it), or is too
                risky or too uncertain.
        """
        model, q = runtime.model, obs.q
        with torch.inference_mode():
            # Image goals with a head reading are judged and aimed in joint units (goals.py);
            # the reading of the current frame comes from the same encoder pass as z.
            # A clearance term on a scene read-out reads the frame's scene the same way.
            q_image = scene = None
            if goal.kind == 'image' and goal.joints is not None and q.size:
                z, q_image = model.encode_with_image_joints(obs.o, obs.s)
                z, q_image = z[0], q_image[0]
            elif objective.needs_scene:
                z, scene = model.encode_with_scene(obs.o, obs.s)
                z, scene = z[0], scene[0]
            else:
                z = model.encode(obs.o, obs.s)[0]
            # Measured joints and odometry beat probes for the goal check; the target encoder
            # only runs when the check needs a latent.
            measured = {'joint_state': q.size > 0, 'pose': obs.pose is not None,
                        'image': q_image is not None}
            z_obs = (None if measured.get(goal.kind)
                     else model.encode(obs.o, obs.s, target=True)[0])
            reached, dist = goal_reached(goal, goal_tolerance(s), model, z_obs, q=(
                q if goal.kind == 'joint_state' and q.size else None), pose=obs.pose,
                image_joints=q_image)
            self.last['goal_distance'] = dist
            if reached:
                return None
            a_prev = torch.as_tensor(prev, dtype=runtime.dtype, device=runtime.device)
            obstacles = (obstacle_points(model, z, obs, s.scan_mount)
                         if objective.needs_obstacles else None)
            # objective.at() is objective.fn unless there is a reading to aim with, a scene
            # or obstacles; those are read at the frame's own z.
            fn = objective.at(q, q_image, scene, z, obstacles)
            # The command planned now takes effect only after the one being executed (prev)
            # has run on: plan from where that leaves the robot, not from where it is now.
            z_plan = hold_action(model.predict, z, a_prev, s.command_delay_steps)
            result = planner.plan(z_plan, model.predict, fn, a_prev,
                                  deadline=started + s.max_plan_time)
            elapsed = time.perf_counter() - started
            self.plan_ms.add(elapsed * 1e3)
            if result.cut_short:
                raise PlanStop('overrun', 'plan_overrun', 'plan stopped at max_plan_time '
                               f'{s.max_plan_time * 1e3:.1f} ms after {elapsed * 1e3:.1f} ms, '
                               f'{result.iterations} of {planner.config.num_iterations} '
                               'iterations done')
            if elapsed > s.max_plan_time:
                raise PlanStop('overrun', 'plan_overrun', f'plan took {elapsed * 1e3:.1f} ms > '
                               f'max_plan_time {s.max_plan_time * 1e3:.1f} ms')
            figures = assess_plan(model, z_plan, result.latents, result.actions)
            self.last.update(cost=result.cost, risk=figures.risk,
                             disagreement=figures.disagreement)
            if s.max_risk > 0 and figures.risk is not None and figures.risk > s.max_risk:
                raise PlanStop('risk_too_high', 'plan_risk', f'predicted risk '
                               f'{figures.risk:.3f} > max_risk {s.max_risk}')
            if s.max_disagreement > 0 and figures.disagreement is not None \
                    and figures.disagreement > s.max_disagreement:
                raise PlanStop('uncertainty_too_high', 'plan_uncertainty', 'ensemble '
                               f'disagreement {figures.disagreement:.3f} > max_disagreement '
                               f'{s.max_disagreement}')
            poses = (model.probe_pose(torch.cat([z_plan[None], result.latents])).float()
                     .cpu().numpy() if with_poses else None)
        return PlanOutcome(result.actions.float().cpu().numpy(), float(result.cost), poses)


def obstacle_points(model: Any, z: torch.Tensor, obs: Observation,
                    mount: Any) -> torch.Tensor:
    """The returns of ``obs.scan`` as points [P, 2] in the odometry frame: placed at the
    odometry pose of the frame (models with the pose in their state) or else at the pose
    the model reads from ``z``.

    Raises:
        PlanStop: ``stale_inputs`` when there is no scan (obstacle_weight on a model
            without a pose output never builds the term, so this is a missing input).
    """
    scan = obs.scan
    if scan is None:
        raise PlanStop('stale_inputs', 'scan_stale', 'the obstacle term has no scan')
    pose = obs.pose if obs.pose is not None else model.probe_pose(z).float().cpu().numpy()
    return laser_points(scan.ranges, scan.angle_min, scan.angle_increment, scan.range_min,
                        scan.range_max, pose, mount).to(z.device, z.dtype)


def warm_up(planner: LatentPlanner, runtime: WorldModelRuntime,
            budget: float = WARM_UP_BUDGET_S) -> None:
    """Run one throw-away plan: the first plan initialises kernels, keep that out of the
    first tick. It stops after ``budget`` seconds (the first model steps have initialised
    the kernels by then); the planner is reset after it."""
    z = torch.zeros(runtime.latent_dim, device=runtime.device, dtype=runtime.dtype)
    with torch.inference_mode():
        planner.plan(z, runtime.model.predict, lambda zt, a: zt.abs().sum((1, 2)),
                     deadline=time.perf_counter() + budget)
    planner.reset()


def rollout_cost(runtime: WorldModelRuntime) -> Optional[RolloutCost]:
    """The measured cost of the model's batched step, for the ``max_plan_time`` check at
    configure and at every parameter change; None when the model cannot run it (the
    warm-up plan then fails configure with the reason)."""
    z = torch.zeros(runtime.latent_dim, device=runtime.device, dtype=runtime.dtype)
    try:
        with torch.inference_mode():
            return measure_rollout_cost(runtime.model.predict, z, runtime.action_dim)
    except (RuntimeError, ValueError):
        return None


def unusable_stops(s: Any, model: Any) -> List[str]:
    """Terms of the stops that are set (``max_risk``, ``max_disagreement``) but that the
    model has no output for, so they can never trigger."""
    return [term for term, limit, has in (
        ('risk', s.max_risk, has_risk_probe(model)),
        ('disagreement', s.max_disagreement, ensemble_size(model) > 1)) if limit > 0 and not has]
