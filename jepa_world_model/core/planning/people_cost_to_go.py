"""The map's cost-to-go with the people the scan shows in it (pure numpy/PyTorch, no ROS).

The static map's cost-to-go (:class:`~.navigation.NavigationField`) does not know about
people, so among walking people it keeps pointing through them: on the simulated base the
remaining failures were deadlocks where a person who gave way stood on the cheapest path
and the robot backed off instead of going round (docs/agents.md). Nav2 feeds its global
planner a costmap whose obstacle layer marks what the range sensor sees; this is that layer
for the map field: scan returns the static map does not explain (farther than ``explained``
from its nearest occupied cell) mark their cells, a band of ``people_band`` around them
costs like the map's inflated band (dear to cross, not forbidden), and the cost-to-go is
built again. Why a band and not obstacles: marked as occupied and inflated like the map
(0.32 m), the robot waiting 0.32 m from a person sat inside the band, the goal cost's
slope there (10x) outweighed the obstacle term and two offline episodes ran into a person
(docs/results/people_cost_to_go.json).

A rebuild takes ~5 ms for the base's 70 x 70 grid (:mod:`.grid_paths`; the Python Dijkstra
it replaced took 30-60 ms). The field is rebuilt at most every ``every`` plans, and only
when the marked cells changed since the field in use. Between rebuilds plans read the last
one. Pose goals read :meth:`distance` exactly as they read the static field's, so the
objective is built once per goal.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .navigation import inflate, NavigationField

__all__ = ['PeopleCostToGo', 'EXPLAINED_M', 'PEOPLE_BAND_M']

#: Band [m] around a person's returns that paths pay to cross (the simulated base's
#: radius; navigation_for gives map_inflation less the obstacle term's margin).
PEOPLE_BAND_M = 0.22
#: A return within this distance [m] of an occupied map cell is the map's (a wall seen by
#: the scanner lies on the cells' edge, up to one cell and the beam's bearing error off).
EXPLAINED_M = 0.1


class PeopleCostToGo:
    """A map's cost-to-go to one goal, rebuilt with the unexplained scan returns marked.

    Args:
        static: The static map's field (built for this goal, map and inflation).
        occupied: ``[H, W]`` bool, the map's occupied cells ``static`` was built from.
        inflation: The map's band [m] around its occupied cells that paths avoid.
        every: Rebuild at most once per this many :meth:`observe` calls (>= 1).
        explained: Returns within this distance [m] of the map's obstacles are left out.
        people_band: Band [m] around the people's returns that costs like the map's
            inflated band.

    Raises:
        ValueError: ``every`` below 1, or a grid that does not fit ``static``.
    """

    def __init__(self, static: NavigationField, occupied: np.ndarray, inflation: float,
                 every: int, explained: float = EXPLAINED_M,
                 people_band: float = PEOPLE_BAND_M) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f'every must be an int >= 1, got {every!r}')
        occupied = np.asarray(occupied, dtype=bool)
        if occupied.shape != static.shape:
            raise ValueError(f'occupied is {occupied.shape}, the field {static.shape}')
        self.static = static
        self.current = static
        self._occupied = occupied
        self._inflation = float(inflation)
        self._every = every
        self._explained = float(explained)
        self._people_band = float(people_band)
        self._marked = np.zeros(static.shape, dtype=bool)   # the cells ``current`` holds
        self._since = every                                 # the first observe may rebuild
        #: How many times the field was rebuilt (for tests and diagnostics).
        self.rebuilds = 0

    # What build_objective and the terms read of a field: the goal, the cell size, the
    # path length (people included) and the static map's own range (people excluded).
    @property
    def goal_xy(self) -> np.ndarray:
        """[2] the goal (planner frame)."""
        return self.static.goal_xy

    @property
    def resolution(self) -> float:
        """Cell size [m]."""
        return self.static.resolution

    @property
    def shape(self) -> Tuple[int, int]:
        """``(H, W)`` of the grid."""
        return self.static.shape

    @property
    def people_band(self) -> float:
        """Band [m] around the people's returns that costs like the map's inflated band."""
        return self._people_band

    @property
    def marked(self) -> np.ndarray:
        """``[H, W]`` bool: the cells the field in use marks as people (a copy)."""
        return self._marked.copy()

    def distance(self, xy: Tensor) -> Tensor:
        """Cost-to-go [m] at positions xy [..., 2] on the latest rebuild. -> [...]."""
        return self.current.distance(xy)

    def static_range(self, xy: Tensor) -> Tensor:
        """Distance [m] to the static map's nearest obstacle (people are not the map's).
        -> [...]."""
        return self.static.static_range(xy)

    def reset(self) -> None:
        """Back to the static field (a new start: the people seen before are gone)."""
        self.current = self.static
        self._marked = np.zeros(self.static.shape, dtype=bool)
        self._since = self._every

    def unexplained(self, points: Any) -> np.ndarray:
        """The scan returns ``points`` [P, 2] (planner frame) the static map does not
        explain. -> [Q, 2] float64."""
        xy = torch.as_tensor(points, dtype=torch.float32).reshape(-1, 2)
        xy = xy[torch.isfinite(xy).all(dim=-1)]
        if xy.shape[0] == 0:
            return np.zeros((0, 2))
        keep = self.static.static_range(xy) > self._explained
        return xy[keep].double().cpu().numpy()

    def cells(self, points: np.ndarray) -> np.ndarray:
        """``[H, W]`` bool: the grid cells holding ``points`` [P, 2] (planner frame);
        points outside the grid mark nothing."""
        marked = np.zeros(self.shape, dtype=bool)
        if len(points) == 0:
            return marked
        row, col, inside = self.static.cells_of(np.asarray(points, dtype=np.float64))
        marked[row[inside], col[inside]] = True
        return marked

    def observe(self, points: Optional[Any]) -> bool:
        """One plan's scan returns ``points`` [P, 2] (planner frame; None: no scan, nothing
        changes). Rebuilds the cost-to-go when ``every`` plans have passed since the last
        rebuild and the marked cells differ from those in use. Returns whether it rebuilt.
        """
        if points is None:
            return False
        self._since += 1
        if self._since < self._every:
            return False
        marked = self.cells(self.unexplained(points))
        if np.array_equal(marked, self._marked):
            return False
        self._since = 0
        self._marked = marked
        if not marked.any():
            self.current = self.static
        else:
            self.current = NavigationField(
                self._occupied, self.resolution, self.static.origin, self.goal_xy,
                self._inflation, placement=self.static.placement,
                expensive=inflate(marked, self._people_band / self.resolution))
        self.rebuilds += 1
        return True
