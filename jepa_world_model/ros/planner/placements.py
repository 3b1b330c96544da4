"""Where ``planner_node``'s goal and map were placed, and placing them again.

A pose goal or a map given in another frame than ``path_frame_id`` (a Nav2 goal and a
map_server map in ``map``) is placed in the path frame with TF's transform when it arrives.
:class:`Placements` remembers how, and before each plan asks TF again: when localisation
moved the frame (``map -> odom``) so that the goal or the map would move by more than
:data:`~...core.planning.relocation.RELOCATE_DISTANCE_M`, both are placed anew
(:meth:`~...core.planning.controller.PlanningController.relocate`: the warm start stays, and
the map's cost-to-go is re-placed rather than rebuilt when goal and map are in the same
frame). A transform TF cannot give right now leaves everything where it was (TfFrames warns,
throttled). ROS-free apart from the frames it is handed.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

from ...core.planning.frames import FrameLookupError, FrameSource, Planar
from ...core.planning.goals import Goal
from ...core.planning.relocation import (goal_moved, map_corners, PlacedPose,
                                         placement_moved, replaced_goal, replaced_map)
from ...core.planning.static_map import StaticMap
from .goal_repeats import REPEAT_TOLERANCE

__all__ = ['Placements']


class Placements:
    """The placed pose goal of a planner (the map carries its own placement).

    Args:
        log: Called with one line per re-placement (info level).
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._goal: Optional[Tuple[Goal, PlacedPose]] = None

    def goal_set(self, goal: Goal, placed: Optional[PlacedPose]) -> None:
        """The controller now plans toward ``goal``, placed as ``placed`` (None: given in
        the path frame, nothing to re-place)."""
        self._goal = (goal, placed) if placed is not None else None

    def placed_goal(self, current: Optional[Goal]) -> Optional[PlacedPose]:
        """How ``current`` was placed, while it is the goal recorded here."""
        return self._goal[1] if self._goal is not None and self._goal[0] is current else None

    def given_again(self, current: Optional[Goal], goal: Goal,
                    placed: Optional[PlacedPose]) -> bool:
        """Whether ``goal`` (placed as ``placed``) is ``current`` given again in the same
        frame: the same pose there and heading weight. A goal re-published in ``map`` is
        then a repeat even after TF moved ``map`` a little (below the thresholds) since
        ``current`` was placed."""
        prior = self.placed_goal(current)
        return placed is not None and prior is not None and prior.frame == placed.frame \
            and max(abs(a - b) for a, b in zip(prior.pose, placed.pose)) <= REPEAT_TOLERANCE \
            and current.yaw_weight == goal.yaw_weight

    def _lookup(self, frames: FrameSource, path_frame: str, frame: str) -> Optional[Planar]:
        try:
            return frames.into(path_frame, frame)
        except FrameLookupError:
            return None   # TfFrames warned (throttled); keep the old placement

    def update(self, controller: Any, static_map: Optional[StaticMap],
               frames: Optional[FrameSource], path_frame: str
               ) -> Tuple[Optional[StaticMap], bool]:
        """Place the controller's goal and ``static_map`` again where TF moved their frame.

        Returns the map now in use (``static_map`` itself, or re-placed) and whether goal or
        map were placed again. Raises GoalError
        (from the controller) when the re-placed goal lies outside the map; nothing changed.
        """
        if frames is None:
            return static_map, False
        goal, placed = controller.goal, self.placed_goal(controller.goal)
        new_goal, new_map = goal, static_map
        if placed is not None:
            into = self._lookup(frames, path_frame, placed.frame)
            if into is not None and goal_moved(goal, placed, into):
                new_goal, placed = replaced_goal(goal, placed, into), \
                    PlacedPose(placed.frame, placed.pose, into)
        if static_map is not None and static_map.frame_id != path_frame:
            into = self._lookup(frames, path_frame, static_map.frame_id)
            if into is not None and placement_moved(static_map.placement, into,
                                                    map_corners(static_map)):
                new_map = replaced_map(static_map, into)
        if new_goal is goal and new_map is static_map:
            return static_map, False
        if new_goal is not None:
            controller.relocate(new_goal, new_map)
        else:
            controller.set_map(new_map)
        if new_goal is not goal:
            self._goal = (new_goal, placed)
        self._log(self._describe(goal, new_goal, static_map, new_map))
        return new_map, True

    @staticmethod
    def _describe(goal: Optional[Goal], new_goal: Optional[Goal],
                  old_map: Optional[StaticMap], new_map: Optional[StaticMap]) -> str:
        parts = []
        if new_goal is not goal:
            parts.append(f'goal to ({float(new_goal.target[0]):.3f}, '
                         f'{float(new_goal.target[1]):.3f})')
        if new_map is not old_map:
            p = new_map.placement
            parts.append(f'map {new_map.frame_id} to ({p.x:.3f}, {p.y:.3f}, {p.yaw:.4f} rad)')
        return 'localisation moved the frame: placed ' + ' and '.join(parts) + ' again'
