"""Planning toward a goal with a world model: the controller a robot's loop calls.

:class:`~.controller.PlanningController` turns observations into limited commands (or a
stop and why): the goal and its objective, the warm start, the roll-forward of the command
in flight, the plan deadline, the plan's safety checks and the command limits.
``planner_node`` and the offline harnesses run the same controller. Pure PyTorch/numpy: no
ROS imports (``test/test_import_direction.py`` guards it).
"""

from .commands import Command, limit_plan, Stop
from .controller import NoGoalError, PlanningController, rollout_cost, WARM_UP_BUDGET_S
from .observation import Observation, ObservationError, obstacle_points, ScanReading
from .settings import ControllerSettings
from .static_map import MapGoalError, navigation_for, StaticMap

__all__ = ['Command', 'Stop', 'limit_plan', 'ControllerSettings', 'NoGoalError',
           'PlanningController', 'rollout_cost', 'WARM_UP_BUDGET_S', 'Observation',
           'ObservationError', 'ScanReading', 'obstacle_points', 'MapGoalError',
           'navigation_for', 'StaticMap']
