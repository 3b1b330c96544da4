"""Settings of the offline reaching experiments, one dataclass per robot, checked when made
(no heavy imports: the CLI reads their defaults for its help)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ...core.runtime.backend_names import BACKENDS
from ..conditions import ExperimentError

__all__ = ['OBJECTIVES', 'RISKS', 'BACKENDS', 'ELITE_FRACTION', 'ReachOptions', 'ArmReachOptions',
           'BaseReachOptions', 'plan_delay', 'elites']

#: The arm's goal objectives (``arm.py``'s docstring).
OBJECTIVES = ('joint_units', 'latent_l1', 'joint_goal')
#: The base's risk terms (``base.py``'s docstring).
RISKS = ('none', 'model', 'clearance', 'scan', 'oracle')
#: planner_node's rollout_dtype values (core/model/rollout_step.py COMPUTE_DTYPES; kept here
#: as names so that reading the defaults for the CLI's help imports no torch).
ROLLOUT_DTYPES = ('float32', 'bfloat16')
#: Elites per sample when ``num_elites`` is not given: config/ros/planner.yaml's 8 of 64
#: (the base conditions' too).
ELITE_FRACTION = 1 / 8


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ExperimentError(message)


@dataclass
class ReachOptions:
    """What the runs of both robots take; ExperimentError for a count below 1 or a
    negative tolerance."""

    #: Checkpoint (None: the robot's shipped model).
    model: Optional[Path] = None
    #: Seeded tasks first_seed .. first_seed + episodes - 1 (plan-eval's seeds 1..N).
    episodes: int = 30
    first_seed: int = 1
    #: Control steps per episode.
    budget: int = 80
    #: Success distance [m]: the arm's end effector, the base's position.
    tolerance: float = 0.05
    #: torch threads.
    threads: int = 1
    #: CEM action sequences per iteration (the planner's ``num_samples``).
    num_samples: int = 64
    #: Lowest-cost samples per refit (None: ``num_samples`` x :data:`ELITE_FRACTION`).
    num_elites: Optional[int] = None
    #: planner_node's ``rollout_dtype``: 'float32' or 'bfloat16' (core/model/rollout_step.py).
    rollout_dtype: str = 'float32'
    #: planner_node's ``inference_backend``, one of :data:`BACKENDS` (core/runtime): what
    #: runs the encoder and every dynamics step of a plan (docs/deployment.md).
    inference_backend: str = 'torch'
    #: planner_node's ``rollout_model``: a rollout student file for the plans' rollouts
    #: ('': the dynamics ensemble; core/runtime/planning_step.py).
    rollout_model: str = ''

    def __post_init__(self) -> None:
        for name in ('episodes', 'budget', 'threads'):
            _require(getattr(self, name) >= 1, f'{name} must be at least 1, got '
                     f'{getattr(self, name)}')
        _require(self.tolerance >= 0, f'tolerance must be >= 0, got {self.tolerance}')
        # CEM needs the current mean and at least one sample around it.
        _require(self.num_samples >= 2, f'num_samples must be at least 2, got '
                 f'{self.num_samples}')
        _require(self.rollout_dtype in ROLLOUT_DTYPES, f'rollout_dtype must be one of '
                 f'{ROLLOUT_DTYPES}, not {self.rollout_dtype!r}')
        _require(self.inference_backend in BACKENDS, f'inference_backend must be one of '
                 f'{BACKENDS}, not {self.inference_backend!r}')
        # The onnxruntime backends run their own float32 (or int8) graphs.
        _require(self.inference_backend == 'torch' or self.rollout_dtype == 'float32',
                 f'rollout_dtype {self.rollout_dtype} needs inference_backend torch, not '
                 f'{self.inference_backend}')
        if self.num_elites is not None:
            _require(1 <= self.num_elites <= self.num_samples,
                     f'num_elites must be in 1..num_samples ({self.num_samples}), got '
                     f'{self.num_elites}')


@dataclass
class ArmReachOptions(ReachOptions):
    """Settings of one arm run (``jepa-world-model offline-reach --robot arm``)."""

    #: One of :data:`OBJECTIVES`.
    objective: str = 'joint_units'

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.objective in OBJECTIVES,
                 f'objective must be one of {OBJECTIVES}, not {self.objective!r}')


@dataclass
class BaseReachOptions(ReachOptions):
    """Settings of one base run (``jepa-world-model offline-reach --robot mobile_base``);
    success also needs no collision before the goal."""

    episodes: int = 20
    budget: int = 150
    tolerance: float = 0.15
    #: The base conditions' CEM 64 x 2 (plan-eval, 80 ms budget); the arm's is 128 x 3.
    num_samples: int = 64
    #: The plans' risk term, one of :data:`RISKS` (``base.py``'s docstring), and its weight.
    risk: str = 'none'
    risk_weight: float = 20.0
    #: clearance and oracle: ranges from the base centre below ``min_range`` [m] cost, up
    #: to 1 over the band ``margin`` [m].
    min_range: float = 0.32
    margin: float = 0.1
    #: Weight of the ensemble-disagreement term.
    disagreement_weight: float = 0.0
    #: Score the goal by the path length on the room's static map, inflated this much [m].
    use_map: bool = False
    map_inflation: float = 0.32
    #: With ``use_map``: the scan's unexplained returns (people) marked in the map's
    #: cost-to-go, rebuilt at most every this many plans (0: off; ControllerSettings'
    #: ``people_cost_to_go_every``).
    people_cost_to_go_every: int = 0
    #: Steps each planned action is held.
    action_repeat: int = 1
    #: 1: each command takes effect one step after its frame, as over ROS (sim_node
    #: applies the newest command at its next tick); 0: at once.
    command_delay: int = 0
    #: planner_node's ``command_delay_steps``: the plan starts from the previous command
    #: rolled forward this many steps (None: ``command_delay``).
    plan_delay: Optional[int] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.risk in RISKS, f'risk must be one of {RISKS}, not {self.risk!r}')
        _require(self.people_cost_to_go_every >= 0, 'people_cost_to_go_every must be >= 0, '
                 f'got {self.people_cost_to_go_every}')
        _require(self.command_delay in (0, 1),
                 f'command_delay must be 0 or 1, got {self.command_delay}')


def elites(opts: ReachOptions) -> int:
    """The planner's ``num_elites``: the given value, else ``num_samples`` x
    :data:`ELITE_FRACTION` (at least 1)."""
    if opts.num_elites is not None:
        return opts.num_elites
    return max(1, round(opts.num_samples * ELITE_FRACTION))


def plan_delay(opts: BaseReachOptions) -> int:
    """The controller's ``command_delay_steps``: ``plan_delay``, else ``command_delay``."""
    return opts.command_delay if opts.plan_delay is None else opts.plan_delay
