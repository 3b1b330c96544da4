"""Cheapest 8-connected paths from every cell of a grid to one goal cell (pure numpy).

The map's cost-to-go (:class:`~.navigation.NavigationField`) was a heap-based Dijkstra in
Python: ~50 ms for the simulated base's 70 x 70 grid, too slow to rebuild inside a plan when
the people the scan shows go into it (:mod:`.people_cost_to_go`). This solves the same
equations, ``d[v] = min over neighbours u of (d[u] + w(v, u))`` with ``d[goal] = 0``, by
Gauss-Seidel sweeps (the fast sweeping idea of Zhao 2005, on a graph): each sweep runs over
the columns (or rows) in one direction and updates a whole column (row) at once from the one
before it, so a path that bends needs a few rounds of the four sweeps rather than one Python
step per cell. With positive step costs the equations have one solution, so the result is
the Dijkstra distances, computed with the same additions (test/test_grid_paths.py compares
them cell by cell).

Step cost, as the Dijkstra it replaces: a step's length (1 or sqrt 2 cells) times the mean of
its two cells' ``enter_cost``; a diagonal step between two occupied cells that touch only at
a corner costs at least the dearest cell (a thin diagonal wall is a wall).
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import numpy as np

__all__ = ['cost_to_go', 'MOVES']

#: The 8 moves ``(d_row, d_col, length in cells)``.
MOVES = tuple((dr, dc, math.hypot(dr, dc)) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
              if (dr, dc) != (0, 0))
#: Rounds of the four sweeps before giving up (a maze-like map could need many; the
#: result is then still an upper bound, but that never happened on a room map).
MAX_ROUNDS = 500


def _span(step: int, size: int) -> Tuple[slice, slice]:
    """Index ranges ``(from, to)`` of the cells that have a neighbour ``step`` away."""
    return slice(max(0, -step), size - max(0, step)), slice(max(0, step), size + min(0, step))


def step_costs(enter_cost: np.ndarray, occupied: np.ndarray
               ) -> Dict[Tuple[int, int], np.ndarray]:
    """``{(dr, dc): [H, W]}``: the cost of the step from ``(r, c)`` to ``(r + dr, c + dc)``,
    inf where that leaves the grid."""
    h, w = enter_cost.shape
    dearest = float(enter_cost.max())
    costs = {}
    for dr, dc, length in MOVES:
        (rows, rows_to), (cols, cols_to) = _span(dr, h), _span(dc, w)
        cost = 0.5 * (enter_cost[rows, cols] + enter_cost[rows_to, cols_to])
        if dr and dc:
            corner = occupied[rows_to, cols] & occupied[rows, cols_to]
            cost = np.where(corner, np.maximum(cost, dearest), cost)
        full = np.full((h, w), np.inf)
        full[rows, cols] = length * cost
        costs[(dr, dc)] = full
    return costs


def _sweep_columns(d: np.ndarray, costs: Dict[Tuple[int, int], np.ndarray],
                   forward: bool) -> None:
    """One pass over the columns of ``d`` [H, W] (in place): left to right when
    ``forward``, each column from the steps into the column before it; else right to left.
    ``costs[(dr, dc)]`` is indexed like ``d`` (rows, columns)."""
    h, w = d.shape
    dc = -1 if forward else 1
    order = range(1, w) if forward else range(w - 2, -1, -1)
    straight, up, down = costs[(0, dc)], costs[(-1, dc)], costs[(1, dc)]
    for c in order:
        prev, col = d[:, c + dc], d[:, c]
        np.minimum(col, prev + straight[:, c], out=col)
        np.minimum(col[1:], prev[:-1] + up[1:, c], out=col[1:])
        np.minimum(col[:-1], prev[1:] + down[:-1, c], out=col[:-1])


def cost_to_go(goal: Tuple[int, int], enter_cost: np.ndarray,
               occupied: np.ndarray) -> np.ndarray:
    """``[H, W]`` cost of the cheapest path from each cell to ``goal`` (``(row, col)``).

    Args:
        enter_cost: ``[H, W]`` cost per cell crossed (> 0).
        occupied: ``[H, W]`` bool, the cells whose corner contacts block a diagonal step.
    """
    costs = step_costs(enter_cost, occupied)
    # Rows are swept as the columns of the transposed grid, with each step's (dr, dc)
    # swapped to match.
    transposed = {(dc, dr): c.T for (dr, dc), c in costs.items()}
    d = np.full(enter_cost.shape, np.inf)
    d[goal] = 0.0
    for _ in range(MAX_ROUNDS):
        before = d.copy()
        for grid, steps in ((d, costs), (d.T, transposed)):
            _sweep_columns(grid, steps, forward=True)
            _sweep_columns(grid, steps, forward=False)
        if np.array_equal(before, d):
            break
    return d
