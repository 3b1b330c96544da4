"""What :func:`~.goals.build_objective` returns: the weights of the optional terms
(:class:`ObjectiveTerms`) and the built objective with the parts that are completed per plan
from the current observation (:class:`Objective`). Pure PyTorch, no ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

from torch import Tensor

from .objectives import ObjectiveFn, sum_objectives

__all__ = ['ObjectiveTerms', 'Objective']


@dataclass(frozen=True)
class ObjectiveTerms:
    """Weights of the optional terms (0 leaves a term out).

    Attributes:
        risk_weight: Cost per unit of predicted event probability, summed over the horizon
            (the most likely of the model's risk labels at each step).
        disagreement_weight: Cost per unit of ensemble variance, summed over the horizon.
        clearance_weight: Cost per unit of :func:`~.scan.clearance_cost` (the squared
            shortfall of the nearest predicted range, 1 at contact), summed over the horizon.
        obstacle_weight: The same cost against measured obstacle points (a range scanner's
            returns, :func:`~.scan.obstacle_clearance`) given per plan to
            :meth:`Objective.at`.
        agent_weight: The same cost against the people the planner predicts from the scan,
            time-indexed: each planned position against the agents' predicted positions at
            that time (:mod:`.agent_term`), given per plan to :meth:`Objective.at`.
        agent_spread_scale: The agent term's limit grows by this many metres per metre of
            the forecast's spread (0: the predicted positions taken as certain; 1 stalled
            the simulated base behind people who give way, docs/agents.md).
        clearance_min_range: Predicted ranges [m] below this cost (scanner at the base's
            centre: the robot's radius plus ``clearance_margin``).
        clearance_margin: Width [m] of the band below ``clearance_min_range`` over which
            the per-step cost rises from 0 to 1.
        weights: ``((name, weight), ...)`` of registered trajectory terms
            (:data:`~.terms.TRAJECTORY_TERMS`, e.g. ``smoothness``).
    """

    risk_weight: float = 0.0
    disagreement_weight: float = 0.0
    clearance_weight: float = 0.0
    obstacle_weight: float = 0.0
    agent_weight: float = 0.0
    agent_spread_scale: float = 0.0
    clearance_min_range: float = 0.32
    clearance_margin: float = 0.1
    weights: Tuple[Tuple[str, float], ...] = ()

    def weight(self, name: str) -> float:
        """The weight of registered trajectory term ``name`` (:mod:`.terms`); 0 if unset."""
        return dict(self.weights).get(name, 0.0)


@dataclass(frozen=True)
class Objective:
    """A built objective ``fn(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]``.

    Attributes:
        fn: The objective.
        terms: Terms in use, e.g. ``('goal', 'risk')``.
        skipped: Weighted terms the model cannot provide (no risk probe, one member).
        anchored: For image goals with a head reading (``Goal.joints``): builds the
            objective from the measured joints and the current image's reading (see
            :meth:`at`). None for every other goal.
        scene_term: For terms that read the current frame's scene (the clearance term of a
            ``scan_source: tokens`` model): builds that term from the scene code [C]
            (:meth:`WorldModel.encode_with_scene`) and the current latent [Z]. ``fn`` leaves
            it out; :meth:`at` adds it.
        obstacle_term: For ``obstacle_weight``: builds that term from measured obstacle
            points [P, 2] in the plan's pose frame; :meth:`at` adds it.
        agent_term: For ``agent_weight``: builds that term from the agents at the plan's
            step times (:class:`~.agent_term.AgentPaths`); :meth:`at` adds it.
    """

    fn: ObjectiveFn
    terms: Tuple[str, ...]
    skipped: Tuple[str, ...]
    anchored: Optional[Callable[[Tensor, Tensor], ObjectiveFn]] = None
    scene_term: Optional[Callable[[Tensor, Tensor], ObjectiveFn]] = None
    obstacle_term: Optional[Callable[[Tensor], ObjectiveFn]] = None
    agent_term: Optional[Callable[[Any], ObjectiveFn]] = None

    @property
    def needs_scene(self) -> bool:
        """Whether :meth:`at` must be given the current frame's scene code."""
        return self.scene_term is not None

    @property
    def needs_obstacles(self) -> bool:
        """Whether :meth:`at` must be given measured obstacle points."""
        return self.obstacle_term is not None

    @property
    def needs_agents(self) -> bool:
        """Whether :meth:`at` must be given the agents along the plan."""
        return self.agent_term is not None

    def at(self, q_now: Any = None, q_image_now: Any = None,
           scene: Optional[Tensor] = None, z_now: Optional[Tensor] = None,
           obstacles: Any = None, agents: Any = None) -> ObjectiveFn:
        """The objective for a plan from the current observation.

        Image goals with head readings (``Goal.joints``) aim the predicted joint positions at
        ``q_now + goal.joints - q_image_now``: ``q_now`` [J] the measured joints,
        ``q_image_now`` [J] what the head reads in the current image (tensors or arrays).
        Without a reading, and for every other goal, the goal part is that of ``fn``.
        ``scene`` [C] and ``z_now`` [Z]: the current frame's scene code and latent, required
        when :attr:`needs_scene`. ``obstacles`` [P, 2]: measured obstacle points in the
        pose frame (may be empty), required when :attr:`needs_obstacles`. ``agents``: the
        agents at the plan's step times (:class:`~.agent_term.AgentPaths`, may hold none),
        required when :attr:`needs_agents`.

        Raises:
            ValueError: The objective needs a scene, obstacles or agents and none was given.
        """
        fn = self.fn
        if self.anchored is not None and q_now is not None and q_image_now is not None:
            fn = self.anchored(q_now, q_image_now)
        parts = [(1.0, fn)]
        if self.scene_term is not None:
            if scene is None or z_now is None:
                raise ValueError('this objective reads the current scene (clearance on a '
                                 "scan_source 'tokens' model): pass the frame's scene and z")
            parts.append((1.0, self.scene_term(scene, z_now)))
        if self.obstacle_term is not None:
            if obstacles is None:
                raise ValueError('this objective has an obstacle term: pass the measured '
                                 'obstacle points')
            parts.append((1.0, self.obstacle_term(obstacles)))
        if self.agent_term is not None:
            if agents is None:
                raise ValueError('this objective has an agent term: pass the agents along '
                                 'the plan')
            parts.append((1.0, self.agent_term(agents)))
        return fn if len(parts) == 1 else sum_objectives(parts)
