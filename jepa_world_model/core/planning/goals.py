"""Goals for latent planning and the planner objective of each goal kind.

When a goal counts as reached, and the safety figures of a plan, are in :mod:`.goal_checks`.

Four kinds of goal, each scored on the predicted latents ``z_traj`` [N, H, Z]:

* ``joint_state``: target joint positions [J], compared with the joint positions the state
  probe reads from each predicted latent (:func:`~.objectives.state_goal_objective`). A
  continuous joint (``model.continuous_joints``) is compared the short way round
  (``atan2(sin d, cos d)``, :func:`joint_difference`), here and in every joint-unit image
  goal below: a goal at +pi - 0.1 is 0.2 rad from -pi + 0.1, not 6.08.
* ``pose``: target base pose (x, y and optionally yaw), compared with ``model.probe_pose``.
  The heading enters as (cos, sin), so its squared error ``2 - 2 cos(dyaw)`` never wraps.
* ``latent``: a captured goal latent [Z] (the observation at capture time); L1 distance on
  the whole latent, as V-JEPA 2-AC scores image goals.
* ``image``: a goal image's latent. Only the image part of ``z`` is compared
  (``model.image_part``): a goal image comes without proprioception, so the state part of its
  latent would be made up. Models with an ``image_state_head`` score image goals in joint
  units instead (see :class:`Objective`): the head reads the goal image's joint positions, and
  the planner steers the predicted joints toward ``q_now + head(goal) - head(now)``. Reading
  both images through the same head cancels most of its error as the arm nears the goal, the
  way image-based visual servoing closes the loop on a feature difference. Models with
  ``kinematics`` (core/model/kinematics.py) score image goals in metres at their goal links
  instead: the link read-out gives the goal image's link positions, and the planner steers
  ``FK(q)`` of the predicted joints toward ``FK(q_now) + links(goal) - links(now)``. A camera
  shows where a link is better than the angle of every joint (a roll joint turns a round link
  in place), and the links are what a reaching task asks for (docs/your_robot.md).

With a static map (:class:`~.navigation.NavigationField`), pose goals are scored by the
map's path length to the goal instead of the straight-line distance, so plans are drawn
around furniture rather than into it.

Optional extra terms (:class:`~.objective_terms.ObjectiveTerms`): a risk penalty from
``model.probe_risk`` (models with a risk probe), a clearance penalty on the model's range
read-out (models with ``scan_sectors``; :func:`~.scan.clearance_cost`), the same penalty on a
range scanner's measured returns (pose models; :func:`~.scan.obstacle_clearance`) and an
ensemble-disagreement penalty (models with ``dynamics_ensemble_size > 1``). A weight set
for a term the model cannot provide is left out and reported in :attr:`Objective.skipped`.

Goal latents come from the EMA target encoder: predicted latents are trained to match the
target encoder's, so that is the space the planner's distances live in. Pure PyTorch, no ROS.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .goal_types import (finite_vector, Goal, GOAL_KINDS, GoalError, joint_difference,
                         JointDifference)
from .image_readings import (has_image_state_head, has_link_readout, image_joint_goal,
                             image_link_goal, link_goal_objective, read_displacement)
from .navigation import NavigationField
from .objectives import (ensemble_disagreement_objective, latent_goal_objective, ObjectiveFn,
                         path_length_objective, risk_objective, state_goal_objective,
                         sum_objectives)
from .objective_terms import Objective, ObjectiveTerms
from .agent_term import agent_clearance
from .scan import clearance_cost, obstacle_clearance, scene_clearance
from .terms import TRAJECTORY_TERMS

__all__ = ['GOAL_KINDS', 'GoalError', 'Goal', 'joint_state_goal', 'pose_goal', 'latent_goal',
           'image_goal', 'ObjectiveTerms', 'Objective', 'build_objective', 'has_risk_probe',
           'ensemble_size', 'has_image_state_head', 'image_joint_goal', 'read_displacement',
           'finite_vector', 'joint_difference', 'JointDifference', 'has_link_readout',
           'link_goal_objective', 'image_link_goal']


def has_risk_probe(model: Any) -> bool:
    """True when ``model.probe_risk`` can be called (models trained with risk labels)."""
    return getattr(model, 'risk_probe', None) is not None and hasattr(model, 'probe_risk')


def ensemble_size(model: Any) -> int:
    """Number of dynamics ensemble members (1 without an ensemble)."""
    return int(getattr(model.cfg, 'dynamics_ensemble_size', 1))


def _has_pose(model: Any) -> bool:
    return bool(getattr(model, 'has_pose', getattr(model, 'pose_probe', None) is not None))


def joint_state_goal(q: Sequence[float], weights: Optional[Sequence[float]] = None) -> Goal:
    """Goal joint positions ``q`` [J] (model joint order); ``weights`` [J] >= 0."""
    target = finite_vector(q, 'goal joint positions')
    w = None if weights is None else finite_vector(weights, 'joint weights', target.numel())
    if w is not None and bool((w < 0).any()):
        raise GoalError(f'joint weights must be >= 0, got {w.tolist()}')
    return Goal('joint_state', target, w)


def pose_goal(x: float, y: float, yaw: Optional[float] = None, yaw_weight: float = 1.0) -> Goal:
    """Goal base pose; ``yaw`` None (or ``yaw_weight`` 0) leaves the heading free."""
    use_yaw = yaw is not None and yaw_weight > 0
    target = finite_vector([x, y, yaw if use_yaw else 0.0], 'goal pose')
    if not (math.isfinite(yaw_weight) and yaw_weight >= 0):
        raise GoalError(f'yaw_weight must be finite and >= 0, got {yaw_weight!r}')
    return Goal('pose', target, yaw_weight=float(yaw_weight) if use_yaw else 0.0)


def latent_goal(z_goal: Tensor) -> Goal:
    """A captured latent [Z] (target encoder) as the goal."""
    return Goal('latent', finite_vector(z_goal, 'goal latent'))


@torch.no_grad()
def image_goal(model: Any, o: Tensor) -> Goal:
    """Encode goal image ``o`` [1, 3, S, S] in [0, 1]; the goal is its image part [Zi].

    The encoder needs some ``s`` for models with proprioception; zeros are passed, which only
    affects the state part of the latent, the part this goal ignores. Models with an
    ``image_state_head`` also read the goal's joint positions from the image (``joints``).
    """
    state_dim = int(model.cfg.state_dim)
    s = (torch.zeros(o.shape[0], state_dim, dtype=o.dtype, device=o.device)
         if state_dim else None)
    z = model.encode(o, s, target=True)
    joints = (finite_vector(model.read_image_joints(o)[0], 'goal image joints')
              if has_image_state_head(model) else None)
    links = None
    if has_link_readout(model):
        read = model.encode_with_image_links(o, s)[1][0]
        links = finite_vector(read, 'goal image links').reshape(read.shape)
    return Goal('image', finite_vector(model.image_part(z)[0], 'goal image latent'),
                joints=joints, links=links)


def _check_fits(goal: Goal, model: Any) -> None:
    cfg = model.cfg
    if goal.kind not in GOAL_KINDS:
        raise GoalError(f'unknown goal kind {goal.kind!r}; use one of {GOAL_KINDS}')
    if goal.kind == 'joint_state':
        slices = getattr(cfg, 'state_slices', None)
        has_positions = ('position' in slices) if slices is not None else bool(cfg.joint_names)
        if not has_positions or model.state_probe is None:
            raise GoalError('joint goals need a model with joint positions in its state')
        if goal.target.numel() != len(cfg.joint_names):
            raise GoalError(f'joint goal has {goal.target.numel()} positions, the model has '
                            f'{len(cfg.joint_names)} joints {list(cfg.joint_names)}')
    elif goal.kind == 'pose' and not _has_pose(model):
        raise GoalError('pose goals need a model with a pose output (pose probe or pose in '
                        'the state)')
    elif goal.kind == 'latent' and goal.target.numel() != cfg.latent_dim:
        raise GoalError(f'goal latent has {goal.target.numel()} values, the model latent has '
                        f'{cfg.latent_dim}')
    elif goal.kind == 'image' and goal.target.numel() != cfg.image_latent_dim:
        raise GoalError(f'goal image latent has {goal.target.numel()} values, expected '
                        f'{cfg.image_latent_dim}')


def _pose_features(pose: Tensor) -> Tensor:
    """(x, y, yaw) [..., 3] -> (x, y, cos yaw, sin yaw) [..., 4]."""
    return torch.cat([pose[..., :2], torch.cos(pose[..., 2:3]), torch.sin(pose[..., 2:3])],
                     dim=-1)


class _EnsembleMembers:
    """Per-member step functions over one shared ``predict_ensemble`` call.

    ``ensemble_disagreement_objective`` calls every member on the same ``(z, a)`` tensors;
    computing all members once and handing out slices costs E member passes instead of E^2.
    The cache is keyed on tensor identity and holds the last inputs, so it is never stale.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self._key: Optional[Tuple[Tensor, Tensor]] = None
        self._preds: Optional[Tensor] = None

    def step(self, member: int):
        def fn(z: Tensor, a: Tensor) -> Tensor:
            if self._key is None or self._key[0] is not z or self._key[1] is not a:
                self._preds, self._key = self.model.predict_ensemble(z, a), (z, a)
            return self._preds[member]
        return fn


def build_objective(goal: Goal, model: Any, terms: ObjectiveTerms = ObjectiveTerms(),
                    navigation: Optional[NavigationField] = None) -> Objective:
    """The planner objective for ``goal`` on ``model``, lower is better.

    ``navigation``: a static map's cost-to-go to this goal's position; pose goals then use
    its path length instead of the straight-line distance (other goal kinds ignore it).

    Raises:
        GoalError: The goal does not fit the model (kind, sizes, missing pose output), or a
            weight is negative.
    """
    _check_fits(goal, model)
    if min(terms.risk_weight, terms.disagreement_weight, terms.clearance_weight,
           terms.obstacle_weight, terms.agent_weight) < 0:
        raise GoalError('risk_weight, disagreement_weight, clearance_weight, '
                        'obstacle_weight and agent_weight must be >= 0')
    unknown = sorted(set(dict(terms.weights)) - set(TRAJECTORY_TERMS))
    if unknown or min([w for _, w in terms.weights], default=0.0) < 0:
        raise GoalError(f'term weights {dict(terms.weights)} must be >= 0 and name registered '
                        f'terms {list(TRAJECTORY_TERMS)}')
    for name in ('clearance_min_range', 'clearance_margin'):
        value = getattr(terms, name)
        if not (math.isfinite(value) and value > 0):
            raise GoalError(f'{name} must be finite and > 0, got {value!r}')
    difference = joint_difference(model)
    if goal.kind == 'joint_state':
        goal_fn = state_goal_objective(model.probe_joint_positions, goal.target, goal.weights,
                                       difference=difference)
    elif goal.kind == 'pose' and navigation is not None:
        off = math.dist(navigation.goal_xy.tolist(), goal.target[:2].tolist())
        if off > navigation.resolution:
            raise GoalError(f'the map cost-to-go was built for a goal {off:.2f} m away from '
                            'this pose goal')
        goal_fn = path_length_objective(model.probe_pose, navigation.distance,
                                        goal.target[2], goal.yaw_weight)
    elif goal.kind == 'pose':
        w = torch.tensor([1.0, 1.0, goal.yaw_weight, goal.yaw_weight])
        goal_fn = state_goal_objective(lambda z: _pose_features(model.probe_pose(z)),
                                       _pose_features(goal.target), w)
    elif goal.kind == 'latent':
        goal_fn = latent_goal_objective(goal.target, p=1)
    elif goal.links is not None:   # aimed at the read goal links (no current reading yet)
        goal_fn = link_goal_objective(model, goal.links)
    elif goal.joints is not None and model.cfg.image_state_source == 'latent':
        def goal_fn(z_traj: Tensor, a_traj: Tensor) -> Tensor:
            q_pred = model.image_joint_positions(z_traj)      # [N, H, J]
            return (difference(q_pred, goal.joints.to(q_pred)) ** 2).sum(-1).sum(-1)
    else:
        image_fn = latent_goal_objective(goal.target, p=1)

        def goal_fn(z_traj: Tensor, a_traj: Tensor) -> Tensor:
            return image_fn(model.image_part(z_traj), a_traj)

    parts: List[Tuple[float, ObjectiveFn]] = [(1.0, goal_fn)]
    used, skipped = ['goal'], []
    if terms.risk_weight > 0:
        if has_risk_probe(model):
            parts.append((1.0, risk_objective(lambda z: model.probe_risk(z).amax(dim=-1),
                                              terms.risk_weight)))
            used.append('risk')
        else:
            skipped.append('risk')
    scene_term = None
    if terms.clearance_weight > 0:
        if getattr(model, 'scan_head', None) is not None:
            if model.cfg.scan_source == 'tokens':
                scene_term = scene_clearance(model, terms.clearance_min_range,
                                             terms.clearance_margin, terms.clearance_weight,
                                             navigation)
            else:   # a read-out of z itself: read along the predicted latents
                static = (None if navigation is None else
                          lambda z: navigation.static_range(model.probe_pose(z)[..., :2]))
                parts.append((1.0, risk_objective(clearance_cost(
                    model.predict_ranges, terms.clearance_min_range, terms.clearance_margin,
                    static), terms.clearance_weight)))
            used.append('clearance')
        else:
            skipped.append('clearance')
    obstacle_term = None
    if terms.obstacle_weight > 0:
        if _has_pose(model):
            obstacle_term = obstacle_clearance(model, terms.clearance_min_range,
                                               terms.clearance_margin, terms.obstacle_weight)
            used.append('obstacles')
        else:
            skipped.append('obstacles')
    agent_term = None
    if terms.agent_weight > 0:   # predicted people along the plan (agent_term.py)
        if _has_pose(model):
            agent_term = agent_clearance(model, terms.clearance_min_range,
                                         terms.clearance_margin, terms.agent_weight,
                                         terms.agent_spread_scale)
            used.append('agents')
        else:
            skipped.append('agents')
    if terms.disagreement_weight > 0:
        size = ensemble_size(model)
        if size > 1:
            members = _EnsembleMembers(model)
            parts.append((1.0, ensemble_disagreement_objective(
                [members.step(e) for e in range(size)], terms.disagreement_weight)))
            used.append('disagreement')
        else:
            skipped.append('disagreement')
    for name, term in TRAJECTORY_TERMS.items():
        weight = terms.weight(name)
        if weight > 0:
            fn = term.build(model, weight)
            (skipped if fn is None else used).append(name)
            if fn is not None:
                parts.append((1.0, fn))

    def combine(first: ObjectiveFn) -> ObjectiveFn:
        return first if len(parts) == 1 else sum_objectives([(1.0, first)] + parts[1:])

    def anchored(q_now: Tensor, reading_now: Tensor) -> ObjectiveFn:
        if goal.links is not None:
            return combine(link_goal_objective(model, image_link_goal(model, goal, q_now,
                                                                      reading_now)))
        return combine(state_goal_objective(
            model.probe_joint_positions,
            image_joint_goal(goal, q_now, reading_now, difference), difference=difference))

    with_reading = goal.kind == 'image' and goal.reading is not None
    return Objective(combine(goal_fn), tuple(used), tuple(skipped),
                     anchored if with_reading else None, scene_term, obstacle_term,
                     agent_term)
