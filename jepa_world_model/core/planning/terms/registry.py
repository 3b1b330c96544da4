"""The registry of trajectory terms: objective terms that need only the model and the plan.

A trajectory term is a cost ``fn(z_traj [N, H, Z], a_traj [N, H, A]) -> cost [N]`` with a
weight. Registering one (:func:`trajectory_term`) is all it takes for
:func:`~..goals.build_objective` to add it when its weight is above 0, for ``planner_node``
to declare its ``<name>_weight`` parameter (range [0, 1e6], runtime) and for the docs
table to list it. The terms that need more wiring (risk and disagreement read model heads,
clearance and obstacles read the scene or the scan per plan) are built in
:func:`~..goals.build_objective` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import Any, Callable, Dict, Optional

from ..objectives import ObjectiveFn

__all__ = ['TrajectoryTerm', 'TRAJECTORY_TERMS', 'trajectory_term', 'weight_parameter']

#: Builds the term from the model and its weight (> 0); None when the model cannot
#: provide it (the term is then listed in ``Objective.skipped``).
TermBuilder = Callable[[Any, float], Optional[ObjectiveFn]]

_NAME = re.compile(r'^[a-z][a-z0-9_]*$')
#: Names of the built-in terms (their weights are fields of ObjectiveTerms).
_BUILT_IN = ('goal', 'risk', 'disagreement', 'clearance', 'obstacles', 'obstacle', 'agents',
             'agent')


@dataclass(frozen=True)
class TrajectoryTerm:
    """One registered term: its name, the description of its weight and its builder."""

    name: str
    description: str
    build: TermBuilder


#: ``{name: term}`` in registration order (the order terms are added to the objective).
TRAJECTORY_TERMS: Dict[str, TrajectoryTerm] = {}


def weight_parameter(name: str) -> str:
    """The planner parameter holding term ``name``'s weight."""
    return f'{name}_weight'


def trajectory_term(name: str, description: str) -> Callable[[TermBuilder], TermBuilder]:
    """Register the decorated builder as trajectory term ``name``.

    Args:
        name: Lower-case identifier; the weight parameter is ``<name>_weight``.
        description: What one unit of weight costs (the parameter's description).

    Raises:
        ValueError: A bad or taken name.
    """
    if not _NAME.match(name) or name in _BUILT_IN or name in TRAJECTORY_TERMS:
        raise ValueError(f'objective term name {name!r} is not a free lower-case identifier')

    def register(build: TermBuilder) -> TermBuilder:
        TRAJECTORY_TERMS[name] = TrajectoryTerm(name, description, build)
        return build
    return register
