"""Geodesic cost-to-go over a static occupancy grid, for pose goals (pure numpy/PyTorch).

A short-horizon planner scoring plans by the straight-line distance to the goal drives into
whatever lies on that line and stays there: the local minimum in front of a box. Nav2 splits
the job the same way robots do: a global planner on the static map, a local controller on
top. Here the map only shapes the goal cost. :class:`NavigationField` holds, for every grid
cell, the length of the shortest 8-connected path to the goal (:mod:`.grid_paths`), with cells near
obstacles (within ``inflation`` of an occupied cell, the robot's radius plus a margin) made
``inflated_cost_factor`` times as expensive to cross rather than forbidden, so a robot that
starts or drifts there is led out instead of seeing a flat cost. The planner reads the field
at the predicted positions (bilinear), so the world model still decides what each plan does;
what is *on* the map (walls, furniture) is avoided by the field, and what is not (people) by
the planner's learned clearance and risk terms.

Grid layout follows nav_msgs/OccupancyGrid: ``occupied[row, col]`` is the cell whose centre
is ``origin + ((col + 0.5) * resolution, (row + 0.5) * resolution)`` in the grid's frame.
The grid may lie rotated in the planner's frame (a map in ``map`` with AMCL's rotated
``map -> odom``): ``placement`` takes grid-frame coordinates into the planner's, and every
query point is taken back into the grid frame (one 2 x 2 rotation per point, cheaper than
resampling the grid and rebuilding the field each time localisation moves the map:
benchmarks/bench_rotated_map.py).
"""

from __future__ import annotations

import copy
import functools
import math
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .frames import Planar
from .grid_paths import cost_to_go

__all__ = ['NavigationField', 'inflate', 'distance_to_occupied', 'SAME_GOAL_M']

#: How far (m) :meth:`NavigationField.static_range` looks for the map's nearest obstacle.
STATIC_RANGE_MAX = 1.5
#: A re-placed field keeps its cost-to-go when the goal moved less than this (m) in the grid
#: frame: a goal and a map re-placed by the same transform stay put relative to each other.
SAME_GOAL_M = 1e-6


def inflate(occupied: np.ndarray, radius_cells: float) -> np.ndarray:
    """Cells within ``radius_cells`` (centre to centre) of an occupied cell. [H, W] bool."""
    out = occupied.copy()
    # A radius given in metres over a resolution (0.3 / 0.1 = 2.9999...) means whole cells.
    radius_cells = float(radius_cells) + 1e-6
    reach = int(math.floor(radius_cells))
    rows, cols = np.nonzero(occupied)
    h, w = occupied.shape
    for dr in range(-reach, reach + 1):
        for dc in range(-reach, reach + 1):
            if dr * dr + dc * dc > radius_cells * radius_cells:
                continue
            r, c = rows + dr, cols + dc
            keep = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            out[r[keep], c[keep]] = True
    return out


def distance_to_occupied(occupied: np.ndarray, resolution: float,
                         max_distance: float) -> np.ndarray:
    """Distance [m] from each cell centre to the nearest occupied cell's edge (its centre
    less half a cell), capped at ``max_distance``. [H, W] float."""
    h, w = occupied.shape
    out = np.full((h, w), float(max_distance))
    reach = int(math.ceil(max_distance / resolution))
    offsets = sorted(((math.hypot(dr, dc) * resolution, dr, dc)
                      for dr in range(-reach, reach + 1) for dc in range(-reach, reach + 1)))
    unset = np.ones((h, w), dtype=bool)
    for dist, dr, dc in offsets:
        edge = max(dist - 0.5 * resolution, 0.0)
        if edge >= max_distance or not unset.any():
            break
        if abs(dr) >= h or abs(dc) >= w:
            continue
        # hit[r, c]: the cell (r + dr, c + dc) is occupied.
        hit = np.zeros((h, w), dtype=bool)
        hit[max(-dr, 0):h - max(dr, 0), max(-dc, 0):w - max(dc, 0)] = \
            occupied[max(dr, 0):h + min(dr, 0), max(dc, 0):w + min(dc, 0)]
        new = hit & unset
        out[new] = edge
        unset &= ~new
    return out


class NavigationField:
    """Path length [m] to a goal from every cell of an occupancy grid.

    Args:
        occupied: ``[H, W]`` bool, True where the map is occupied.
        resolution: Cell size [m].
        origin: ``(x, y)`` [m] of the grid's corner (cell (0, 0)'s outer corner), in the
            grid's frame.
        goal_xy: ``(x, y)`` [m] of the goal, in the planner's frame.
        inflation: Distance [m] from occupied cells that is expensive to cross (typically
            the robot's radius plus a safety margin).
        inflated_cost_factor: How many times a metre in the inflated band costs.
        placement: Grid frame -> planner frame (None: the same frame). Goals and query
            points are in the planner's frame.
        expensive: ``[H, W]`` bool, more cells to cost like the inflated band (not
            obstacles: crossing them is dear, not forbidden), e.g. people seen by the scan
            (:mod:`.people_cost_to_go`); None: none.

    Raises:
        ValueError: Empty or non-2-D grid, non-positive resolution, a negative inflation, a
            factor below 1, or a goal outside the grid.
    """

    def __init__(self, occupied: np.ndarray, resolution: float, origin: Sequence[float],
                 goal_xy: Sequence[float], inflation: float,
                 inflated_cost_factor: float = 10.0,
                 placement: Optional[Planar] = None,
                 expensive: Optional[np.ndarray] = None) -> None:
        occupied = np.asarray(occupied, dtype=bool)
        if occupied.ndim != 2 or occupied.size == 0:
            raise ValueError(f'occupied must be a non-empty [H, W] grid, got {occupied.shape}')
        if expensive is not None and np.shape(expensive) != occupied.shape:
            raise ValueError(f'expensive must be {occupied.shape} like occupied, got '
                             f'{np.shape(expensive)}')
        if not (math.isfinite(resolution) and resolution > 0):
            raise ValueError(f'resolution must be finite and > 0, got {resolution!r}')
        if not (math.isfinite(inflation) and inflation >= 0):
            raise ValueError(f'inflation must be finite and >= 0, got {inflation!r}')
        if not (math.isfinite(inflated_cost_factor) and inflated_cost_factor >= 1):
            raise ValueError(f'inflated_cost_factor must be >= 1, got {inflated_cost_factor!r}')
        self.resolution = float(resolution)
        self.origin = np.asarray(origin, dtype=np.float64).reshape(2)
        self._place(placement or Planar(), goal_xy)
        self.shape: Tuple[int, int] = occupied.shape
        goal = self.cell(self.goal_xy)
        if goal is None:
            raise ValueError(f'goal {self.goal_xy.tolist()} lies outside the map')
        self.inflated = inflate(occupied, inflation / self.resolution)
        if expensive is not None:
            self.inflated |= np.asarray(expensive, dtype=bool)
        step_cost = np.where(self.inflated, float(inflated_cost_factor), 1.0)
        step_cost[occupied] = 10.0 * float(inflated_cost_factor)
        self.distance_grid = cost_to_go(goal, step_cost * self.resolution, occupied)
        self._table = torch.as_tensor(self.distance_grid, dtype=torch.float32)
        self._occupied = occupied

    def _place(self, placement: Planar, goal_xy: Sequence[float]) -> None:
        self.placement = placement
        self._to_grid = placement.inverse()
        self.goal_xy = np.asarray(goal_xy, dtype=np.float64).reshape(2)
        self._goal_in_grid = self._to_grid.apply(self.goal_xy)[0]

    def placed(self, placement: Planar, goal_xy: Sequence[float]
               ) -> Optional['NavigationField']:
        """This field with the grid at ``placement`` and the goal at ``goal_xy`` (planner
        frame), sharing its cost-to-go, when the goal stays within :data:`SAME_GOAL_M` of
        where it was in the grid frame (a goal and a map both in ``map``, re-placed after a
        localisation correction); else None (the cost-to-go must be built again)."""
        moved = copy.copy(self)
        moved._place(placement, goal_xy)
        if float(np.hypot(*(moved._goal_in_grid - self._goal_in_grid))) > SAME_GOAL_M:
            return None
        return moved

    @functools.cached_property
    def _static_table(self) -> Tensor:
        """Per-cell :meth:`static_range`, built on first use: planners without a clearance
        term never need it."""
        return torch.as_tensor(distance_to_occupied(self._occupied, self.resolution,
                                                    STATIC_RANGE_MAX), dtype=torch.float32)

    def cell(self, xy: Sequence[float]) -> Tuple[int, int] | None:
        """``(row, col)`` of the cell holding ``xy`` (planner frame), or None outside the
        grid."""
        row, col, inside = self.cells_of(np.asarray(xy, dtype=np.float64).reshape(1, 2))
        return (int(row[0]), int(col[0])) if inside[0] else None

    def cells_of(self, xy: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(row [P], col [P], inside [P])`` of the cells holding points ``xy`` [P, 2]
        (planner frame); ``inside`` False where a point lies outside the grid."""
        col, row = np.floor((self._to_grid.apply(xy) - self.origin)
                            / self.resolution).astype(int).T
        inside = (row >= 0) & (row < self.shape[0]) & (col >= 0) & (col < self.shape[1])
        return row, col, inside

    def distance(self, xy: Tensor) -> Tensor:
        """Cost-to-go [m] at positions xy [..., 2] (bilinear between cell centres; points
        outside the grid read the nearest border cell; a NaN position reads NaN, which the
        planner scores as the worst cost). -> [...]."""
        return self._lookup(self._table, xy)

    def static_range(self, xy: Tensor) -> Tensor:
        """Distance [m] from positions xy [..., 2] to the map's nearest occupied cell (capped
        at ``STATIC_RANGE_MAX``): what a range scanner there would read if only the map's
        obstacles existed. -> [...]."""
        return self._lookup(self._static_table, xy)

    def _lookup(self, table: Tensor, xy: Tensor) -> Tensor:
        """Bilinear read of a per-cell ``table`` at xy [..., 2] (planner frame). -> [...]."""
        table = table.to(device=xy.device, dtype=xy.dtype)
        h, w = self.shape
        origin = torch.as_tensor(self.origin, device=xy.device, dtype=xy.dtype)
        bad = torch.isnan(xy).any(dim=-1)
        xy = self._into_grid(torch.nan_to_num(xy, nan=0.0))
        idx = (xy - origin) / self.resolution - 0.5            # [..., 2] as (col, row)
        col = idx[..., 0].clamp(0, w - 1)
        row = idx[..., 1].clamp(0, h - 1)
        c0 = col.floor().clamp(max=max(w - 2, 0))
        r0 = row.floor().clamp(max=max(h - 2, 0))
        tc, tr = col - c0, row - r0
        c0, r0 = c0.long(), r0.long()
        c1, r1 = (c0 + 1).clamp(max=w - 1), (r0 + 1).clamp(max=h - 1)
        top = table[r0, c0] * (1 - tc) + table[r0, c1] * tc
        bottom = table[r1, c0] * (1 - tc) + table[r1, c1] * tc
        return torch.where(bad, torch.full_like(tr, math.nan), top * (1 - tr) + bottom * tr)

    def _into_grid(self, xy: Tensor) -> Tensor:
        """Points [..., 2] of the planner's frame in the grid's frame (unchanged when the
        grid is not rotated or moved: the common case costs nothing)."""
        to_grid = self._to_grid
        if to_grid == Planar():
            return xy
        c, s = math.cos(to_grid.yaw), math.sin(to_grid.yaw)
        x, y = xy[..., 0], xy[..., 1]
        return torch.stack((c * x - s * y + to_grid.x, s * x + c * y + to_grid.y), dim=-1)
