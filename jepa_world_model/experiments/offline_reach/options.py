"""Settings of the offline reaching experiments, one dataclass per robot (no heavy imports:
the CLI reads their defaults for its help)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

__all__ = ['OBJECTIVES', 'RISKS', 'ArmReachOptions', 'BaseReachOptions', 'plan_delay']

#: The arm's goal objectives (``arm.py``'s docstring).
OBJECTIVES = ('joint_units', 'latent_l1', 'joint_goal')
#: The base's risk terms (``base.py``'s docstring).
RISKS = ('none', 'model', 'clearance', 'scan', 'oracle')


@dataclass
class ArmReachOptions:
    """Settings of one arm run (``jepa-world-model offline-reach --robot arm``).

    Attributes:
        model: Checkpoint (None: the arm's shipped model).
        objective: One of :data:`OBJECTIVES`.
        episodes: Seeded tasks ``first_seed .. first_seed + episodes - 1`` (plan-eval's
            seeds 1..N by default).
        first_seed: Seed of the first task.
        budget: Control steps per episode.
        tolerance: Success distance of the end effector [m].
        threads: torch threads.
    """

    model: Optional[Path] = None
    objective: str = 'joint_units'
    episodes: int = 30
    first_seed: int = 1
    budget: int = 80
    tolerance: float = 0.05
    threads: int = 1


@dataclass
class BaseReachOptions:
    """Settings of one base run (``jepa-world-model offline-reach --robot mobile_base``).

    Attributes:
        model: Checkpoint (None: the base's shipped model).
        risk: The plan's risk term, one of :data:`RISKS` (module docstring).
        risk_weight: Its weight.
        min_range: clearance and oracle: ranges from the base centre below this cost [m].
        margin: clearance and oracle: band [m] over which the cost reaches 1.
        disagreement_weight: Weight of the ensemble-disagreement term.
        use_map: Score the goal by the path length on the room's static map.
        map_inflation: Obstacle inflation of that map [m].
        action_repeat: Steps each planned action is held.
        command_delay: 1: each command takes effect one step after its frame, as over ROS
            (sim_node applies the newest command at its next tick); 0: at once.
        plan_delay: planner_node's ``command_delay_steps``: the plan starts from the
            previous command rolled forward this many steps (None: ``command_delay``).
        first_seed: Seed of the first task; episodes: tasks ``first_seed ..
            first_seed + episodes - 1`` (plan-eval: 1..50).
        budget: Control steps per episode.
        tolerance: Success distance to the goal position [m].
        threads: torch threads.
    """

    model: Optional[Path] = None
    risk: str = 'none'
    risk_weight: float = 20.0
    min_range: float = 0.32
    margin: float = 0.1
    disagreement_weight: float = 0.0
    use_map: bool = False
    map_inflation: float = 0.32
    action_repeat: int = 1
    command_delay: int = 0
    plan_delay: Optional[int] = None
    first_seed: int = 1
    episodes: int = 20
    budget: int = 150
    tolerance: float = 0.15
    threads: int = 1


def plan_delay(opts: BaseReachOptions) -> int:
    """The controller's ``command_delay_steps``: ``plan_delay``, else ``command_delay``."""
    return opts.command_delay if opts.plan_delay is None else opts.plan_delay
