"""How the planning controller plans and commands, besides the search and the limits.

:class:`ControllerSettings` gathers the timing (control period, model step, plan deadline,
command delay), the objective terms and goal tolerance, the plan's safety stops, the output
shape (trajectory or single command, base poses) and the map settings. The search itself is
a :class:`~.planner.PlannerConfig`, the limits a :class:`~.command_limits.CommandLimits`.
Pure Python, no ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Optional, Tuple

from ..model.rollout_step import compute_dtype
from .goal_checks import GoalTolerance
from .objective_terms import ObjectiveTerms

__all__ = ['ControllerSettings']


@dataclass(frozen=True)
class ControllerSettings:
    """How the controller plans and commands, besides the search and the command limits.

    The defaults are planner_node's (config/ros/planner.yaml, 10 plans per second); the test
    test/test_parameter_defaults.py keeps them equal.

    Attributes:
        period: Seconds between two :meth:`~PlanningController.act` calls: the time the
            first command has to change (the acceleration limit's dt).
        model_step_period: Seconds per model step (trajectory point spacing).
        max_plan_time: Seconds from ``started`` a plan may take; a plan still running then
            is stopped (``overrun``). None: no deadline (offline runs that must not depend
            on the machine's speed).
        command_delay_steps: Model steps the command in flight is rolled forward before
            planning (how long a new command waits to take effect).
        terms: Weights of the optional objective terms.
        tolerance: When the goal counts as reached; None: never (the caller judges
            success, e.g. an offline harness scoring with the simulator).
        max_risk: Stop when the plan's predicted event probability exceeds this; 0: off.
        max_disagreement: Stop when the plan's ensemble disagreement exceeds this; 0: off.
        trajectory: Commands are trajectories: the whole plan is held to the limits.
        with_poses: Predict the base poses along the plan (``Command.poses``).
        action_joints: The model joint (index into ``q``) each action dim moves; None when
            the actions move no measured joint (a base's twist).
        scan_mount: Pose (x, y, yaw) of the range scanner in the base frame.
        use_map: Score pose goals by the path length on the map when there is one.
        map_inflation: Band (m) around occupied map cells that paths avoid.
        map_occupied_threshold: Map cells at or above this occupancy (0-100) are obstacles.
        people_cost_to_go_every: Mark the scan returns the map does not explain (people) in
            the map's cost-to-go, rebuilt at most every this many plans
            (:mod:`.people_cost_to_go`); 0: off, the static map's cost-to-go alone.
        rollout_dtype: dtype of the planner's model step ('float32', or 'bfloat16': about
            twice the matrix throughput on CPUs with bfloat16 instructions, predictions
            within ~1 % of the increment; core/model/rollout_step.py).
        image_reading_smoothing: Image goals aimed through a head reading: weight in [0, 1)
            of the previous frames in an exponential average of the head's error
            (:class:`~.image_readings.ReadingSmoother`); 0: each frame's reading as is.
        rollout_model: A rollout student file distilled from the loaded model for the
            search's rollouts ('': the dynamics ensemble; core/runtime/planning_step.py).
    """

    period: float = 0.1
    model_step_period: float = 0.1
    max_plan_time: Optional[float] = 0.08
    command_delay_steps: int = 0
    terms: ObjectiveTerms = ObjectiveTerms()
    tolerance: Optional[GoalTolerance] = GoalTolerance()
    max_risk: float = 0.0
    max_disagreement: float = 0.0
    trajectory: bool = False
    with_poses: bool = False
    action_joints: Optional[Tuple[int, ...]] = None
    scan_mount: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    use_map: bool = True
    map_inflation: float = 0.32
    map_occupied_threshold: int = 50
    people_cost_to_go_every: int = 0
    rollout_dtype: str = 'float32'
    rollout_model: str = ''
    image_reading_smoothing: float = 0.0

    def __post_init__(self) -> None:
        """Raise ValueError naming the first unusable value."""
        for name in ('period', 'model_step_period'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'{name} must be finite and > 0, got {value!r}')
        if self.max_plan_time is not None and not self.max_plan_time > 0:
            raise ValueError(f'max_plan_time must be > 0 or None, got {self.max_plan_time!r}')
        if isinstance(self.command_delay_steps, bool) or \
                not isinstance(self.command_delay_steps, int) or self.command_delay_steps < 0:
            raise ValueError('command_delay_steps must be an int >= 0, got '
                             f'{self.command_delay_steps!r}')
        compute_dtype(self.rollout_dtype)
        if not isinstance(self.rollout_model, str):
            raise ValueError(f'rollout_model must be a path or empty, got {self.rollout_model!r}')
        if not 0.0 <= self.image_reading_smoothing < 1.0:
            raise ValueError('image_reading_smoothing must be in [0, 1), got '
                             f'{self.image_reading_smoothing!r}')
        every = self.people_cost_to_go_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise ValueError(f'people_cost_to_go_every must be an int >= 0, got {every!r}')
        if len(self.scan_mount) != 3:
            raise ValueError(f'scan_mount must be (x, y, yaw), got {self.scan_mount!r}')
