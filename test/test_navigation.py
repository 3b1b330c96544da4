"""Tests of core.navigation: the map's cost-to-go field and what it does for a planner.

The grids are small (at most 40 x 40 cells of 0.1 m), so every field is built in
milliseconds; expected values are computed from geometry (Euclidean and octile distances,
the shortest way through a gap), not read back from the field.
"""

import math

import numpy as np
import pytest
import torch

from jepa_world_model.core.planning.navigation import (distance_to_occupied, inflate,
                                                       NavigationField)
from jepa_world_model.core.planning.planner import ActionBounds, LatentPlanner, PlannerConfig

RES = 0.1


pytestmark = pytest.mark.usefixtures('one_torch_thread')


def centre(row, col, origin=(0.0, 0.0), res=RES):
    """(x, y) of the centre of cell (row, col) in the OccupancyGrid layout."""
    return (origin[0] + (col + 0.5) * res, origin[1] + (row + 0.5) * res)


def read(field, xy):
    """field.distance at one point, as a float."""
    return float(field.distance(torch.tensor(xy, dtype=torch.float64)))


def test_empty_grid_field_is_euclidean_up_to_the_octile_overestimate():
    """On an empty grid the field at every cell centre lies between the Euclidean distance
    and the 8-connected (octile) one, at most ~8.3 % above Euclidean, equal along the axes
    and diagonals; it is not scaled by any cost factor."""
    h, w, goal_rc = 23, 31, (7, 12)
    field = NavigationField(np.zeros((h, w), bool), RES, (0.0, 0.0), centre(*goal_rc),
                            inflation=0.3)
    rows, cols = np.mgrid[0:h, 0:w]
    dr, dc = np.abs(rows - goal_rc[0]), np.abs(cols - goal_rc[1])
    euclid = RES * np.hypot(dr, dc)
    octile = RES * (np.maximum(dr, dc) + (math.sqrt(2) - 1) * np.minimum(dr, dc))
    grid = field.distance_grid
    assert grid[goal_rc] == 0.0
    np.testing.assert_allclose(grid, octile, rtol=1e-9, atol=1e-12)
    assert np.all(grid >= euclid - 1e-12)
    far = euclid > 0
    ratio = grid[far] / euclid[far]
    assert ratio.max() <= 1.0825 and ratio.max() > 1.07     # the worst case, ~22.5 degrees
    along_axis = (dr == 0) | (dc == 0) | (dr == dc)
    np.testing.assert_allclose(grid[along_axis], euclid[along_axis], rtol=1e-9, atol=1e-12)


def wall_with_gap():
    """40 x 40 grid with a wall at col 20 (x 2.0..2.1) from y 0 to 3.5; the gap is above."""
    occupied = np.zeros((40, 40), bool)
    occupied[:35, 20] = True
    return occupied


def octile(a, b):
    """8-connected path length [m] between cells a and b on a free grid."""
    dr, dc = abs(a[0] - b[0]), abs(a[1] - b[1])
    return RES * (max(dr, dc) + (math.sqrt(2) - 1) * min(dr, dc))


def test_wall_with_a_gap_makes_the_distance_the_way_around():
    """A point just behind the wall is 1.5 m from the goal in a straight line, but its field
    value is the shortest 8-connected path through a gap cell (computed here from octile
    distances), longer than the shortest Euclidean way through the gap; on the goal's side
    of the wall, and without the wall, it is the straight-line distance."""
    start_rc, goal_rc = (10, 14), (10, 29)
    start, goal = centre(*start_rc), centre(*goal_rc)             # (1.45, 1.05), (2.95, 1.05)
    field = NavigationField(wall_with_gap(), RES, (0.0, 0.0), goal, inflation=0.0)
    straight = math.dist(start, goal)
    via_gap_cells = min(octile(start_rc, (r, 20)) + octile((r, 20), goal_rc)
                        for r in range(35, 40))
    via_gap_euclid = min(math.dist(start, (x, 3.5)) + math.dist((x, 3.5), goal)
                         for x in np.linspace(2.0, 2.1, 101))
    value = read(field, start)
    assert value > 3.0 * straight
    assert value == pytest.approx(via_gap_cells, rel=1e-6)
    assert via_gap_euclid < value
    same_side = centre(10, 25)
    assert read(field, same_side) == pytest.approx(math.dist(same_side, goal), abs=1e-6)
    empty = NavigationField(np.zeros((40, 40), bool), RES, (0.0, 0.0), goal, inflation=0.0)
    assert read(empty, start) == pytest.approx(straight, abs=1e-6)


def test_a_diagonal_wall_blocks_like_a_straight_one():
    """A wall of cells touching at their corners (a thin diagonal wall as a map draws it)
    should cost about as much to cross as one whose cells share edges."""
    thin = np.zeros((40, 40), bool)
    thin[np.arange(40), np.arange(40)] = True
    thick = thin.copy()
    thick[np.arange(39), np.arange(1, 40)] = True
    start, goal = centre(30, 10), centre(10, 30)
    crossing = [read(NavigationField(occupied, RES, (0.0, 0.0), goal, inflation=0.0), start)
                for occupied in (thin, thick)]
    assert crossing[1] > 4.0 * math.dist(start, goal)
    assert crossing[0] > 0.5 * crossing[1]


def descend(grid, cell, steps=200):
    """Cells visited following the steepest 8-neighbour descent of ``grid`` from ``cell``
    until no neighbour is lower."""
    h, w = grid.shape
    visited = [cell]
    for _ in range(steps):
        r, c = cell
        best, nxt = min((grid[r + dr, c + dc], (r + dr, c + dc))
                        for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                        if (dr or dc) and 0 <= r + dr < h and 0 <= c + dc < w)
        if best >= grid[cell]:
            break
        cell = nxt
        visited.append(cell)
    return visited


def test_field_decreases_along_the_way_around_the_wall():
    """Following the field downhill from behind the wall (best 8-neighbour each step) goes
    through the gap, never through an occupied cell, and ends at the goal."""
    occupied = wall_with_gap()
    field = NavigationField(occupied, RES, (0.0, 0.0), centre(10, 29), inflation=0.15)
    visited = descend(field.distance_grid, (10, 14))
    cell = visited[-1]
    assert all(np.diff([field.distance_grid[v] for v in visited]) < 0)
    assert cell == (10, 29)
    assert not any(occupied[v] for v in visited)
    assert max(r for r, _ in visited) >= 35                       # went through the gap


def test_inflate_marks_the_disc_of_cells_within_the_radius():
    """One occupied cell inflated by 1.5 cells gives its 3 x 3 block; by 2 cells, the 13
    cells with dr^2 + dc^2 <= 4; clipped at the border; radius 0 changes nothing."""
    occupied = np.zeros((9, 9), bool)
    occupied[4, 4] = True
    assert inflate(occupied, 1.5).sum() == 9
    assert inflate(occupied, 1.5)[3:6, 3:6].all()
    disc = inflate(occupied, 2.0)
    rows, cols = np.nonzero(disc)
    assert len(rows) == 13 and np.all((rows - 4) ** 2 + (cols - 4) ** 2 <= 4)
    corner = np.zeros((9, 9), bool)
    corner[0, 0] = True
    assert inflate(corner, 1.0).sum() == 3
    np.testing.assert_array_equal(inflate(occupied, 0.0), occupied)


def test_inflated_cells_cost_the_factor_per_metre():
    """Where every cell is inflated, the field is the factor times the free-space distance;
    occupied cells cost ten times more again."""
    occupied = np.zeros((5, 20), bool)
    occupied[0, 0] = True
    goal, probe = centre(4, 19), centre(4, 9)
    free = read(NavigationField(occupied, RES, (0.0, 0.0), goal, inflation=0.0), probe)
    assert free == pytest.approx(1.0, abs=1e-6)
    for factor in (3.0, 10.0):
        field = NavigationField(occupied, RES, (0.0, 0.0), goal, inflation=2.0,
                                inflated_cost_factor=factor)
        assert field.inflated.all()
        assert read(field, probe) == pytest.approx(factor * free, rel=1e-6)
    # Leaving the occupied corner cell: half a step at 10 * factor, the rest at factor.
    field = NavigationField(occupied, RES, (0.0, 0.0), centre(0, 1), inflation=2.0,
                            inflated_cost_factor=2.0)
    assert field.distance_grid[0, 0] == pytest.approx(0.5 * RES * (20.0 + 2.0))


def test_a_band_near_an_obstacle_costs_more_and_leads_out():
    """A route past a block reads more with an inflated band than without (less than the
    factor times that: most of it is free); from a cell in the band, descending the field
    leaves the band within two steps, never enters the block, and ends at the goal."""
    occupied = np.zeros((20, 40), bool)
    occupied[8:12, 19:21] = True                                  # a block on the way
    start, goal_rc = centre(10, 5), (10, 35)
    goal = centre(*goal_rc)
    plain = read(NavigationField(occupied, RES, (0.0, 0.0), goal, inflation=0.0), start)
    banded = NavigationField(occupied, RES, (0.0, 0.0), goal, inflation=0.25,
                             inflated_cost_factor=10.0)
    assert banded.inflated[10, 17:23].all() and not banded.inflated[10, 16]
    assert plain * 1.02 < read(banded, start) < 10.0 * plain
    path = descend(banded.distance_grid, (10, 18))
    assert path[-1] == goal_rc
    assert not banded.inflated[path[2]] and not any(banded.inflated[p] for p in path[2:])
    assert not any(occupied[p] for p in path)


def test_inflation_reaches_whole_cells_despite_round_off():
    """An inflation of 0.3 m on a 0.1 m grid (or 0.3 m on 0.05 m) should mark the cells 3
    (or 6) cells away, not lose the outermost ring to the division's round-off."""
    occupied = np.zeros((1, 20), bool)
    occupied[0, 0] = True
    for res, cells in ((0.1, 3), (0.05, 6)):
        field = NavigationField(occupied, res, (0.0, 0.0), (0.95 * 20 * res, 0.5 * res),
                                inflation=0.3)
        assert field.inflated[0].sum() == cells + 1, res


def test_bad_inputs_and_a_goal_off_the_map_raise():
    """Goals outside the grid (each side, with an offset origin) and malformed grids or
    parameters raise ValueError."""
    grid = np.zeros((10, 20), bool)
    origin = (-1.0, 2.0)                                          # x in [-1, 1), y in [2, 3)
    NavigationField(grid, RES, origin, (-0.99, 2.01), 0.1)
    NavigationField(grid, RES, origin, (0.99, 2.99), 0.1)
    for goal in ((-1.01, 2.5), (1.0, 2.5), (0.0, 1.99), (0.0, 3.0), (5.0, 5.0)):
        with pytest.raises(ValueError, match='outside the map'):
            NavigationField(grid, RES, origin, goal, 0.1)
    for args in ((np.zeros(10, bool), RES, 0.1, 10.0), (np.zeros((0, 3), bool), RES, 0.1, 10.0),
                 (grid, 0.0, 0.1, 10.0), (grid, float('nan'), 0.1, 10.0),
                 (grid, RES, -0.1, 10.0), (grid, RES, 0.1, 0.5)):
        occupied, res, inflation, factor = args
        with pytest.raises(ValueError):
            NavigationField(occupied, res, (0.0, 0.0), (0.05, 0.05), inflation, factor)


def test_cell_uses_row_for_y_and_col_for_x():
    """On a non-square grid with an offset origin, cell() maps x to the column and y to the
    row, and None outside the grid."""
    field = NavigationField(np.zeros((10, 20), bool), RES, (-1.0, 2.0), (0.0, 2.5), 0.0)
    assert field.shape == (10, 20)
    assert field.cell((-0.95, 2.85)) == (8, 0)
    assert field.cell((0.95, 2.05)) == (0, 19)
    assert field.cell((1.01, 2.5)) is None and field.cell((0.0, 1.9)) is None


@pytest.fixture(scope='module')
def offset_field():
    """Field on a 12 x 17 grid with an obstacle, origin (-1.0, 2.0), goal at a cell centre."""
    occupied = np.zeros((12, 17), bool)
    occupied[3:9, 8] = True
    origin = (-1.0, 2.0)
    return NavigationField(occupied, RES, origin, centre(5, 14, origin), inflation=0.1)


def test_lookup_equals_the_grid_at_cell_centres(offset_field):
    """distance() at every cell centre returns distance_grid[row, col] (row = y, col = x)."""
    rows, cols = np.mgrid[0:12, 0:17]
    xy = torch.tensor([centre(r, c, (-1.0, 2.0)) for r, c in zip(rows.ravel(), cols.ravel())],
                      dtype=torch.float64)
    values = offset_field.distance(xy).numpy()
    np.testing.assert_allclose(values, offset_field.distance_grid.ravel(), rtol=1e-6,
                               atol=1e-9)
    batched = offset_field.distance(xy.reshape(12, 17, 2))
    assert batched.shape == (12, 17)


def test_lookup_is_bilinear_and_continuous(offset_field):
    """Between four centres the value is their bilinear mix; along a fine line across the
    map the value never jumps more than the steepest cell-to-cell slope allows."""
    grid, origin = offset_field.distance_grid, (-1.0, 2.0)
    x0, y0 = centre(2, 3, origin)
    tx, ty = 0.3, 0.8
    expected = ((1 - ty) * ((1 - tx) * grid[2, 3] + tx * grid[2, 4])
                + ty * ((1 - tx) * grid[3, 3] + tx * grid[3, 4]))
    value = read(offset_field, (x0 + tx * RES, y0 + ty * RES))
    assert value == pytest.approx(expected, rel=1e-6)
    s = torch.linspace(0, 1, 2001, dtype=torch.float64)
    line = torch.stack([-0.98 + 1.66 * s, 2.03 + 1.1 * s], dim=-1)
    values = offset_field.distance(line)
    steepest = max(np.abs(np.diff(grid, axis=0)).max(), np.abs(np.diff(grid, axis=1)).max())
    step = float((line[1] - line[0]).abs().sum()) / RES
    assert float((values[1:] - values[:-1]).abs().max()) <= steepest * step + 1e-9


def test_points_outside_the_grid_read_the_nearest_border_cell(offset_field):
    """Far left reads the left column at that row's centre; beyond a corner the corner cell."""
    grid, origin = offset_field.distance_grid, (-1.0, 2.0)
    _, y = centre(6, 0, origin)
    assert read(offset_field, (-50.0, y)) == pytest.approx(grid[6, 0], rel=1e-6)
    assert read(offset_field, (-1.0, y)) == pytest.approx(grid[6, 0], rel=1e-6)
    x, _ = centre(0, 10, origin)
    assert read(offset_field, (x, -7.0)) == pytest.approx(grid[0, 10], rel=1e-6)
    assert read(offset_field, (9.0, 9.0)) == pytest.approx(grid[11, 16], rel=1e-6)
    assert read(offset_field, (-9.0, -9.0)) == pytest.approx(grid[0, 0], rel=1e-6)


def test_nan_positions_do_not_crash_the_lookup(offset_field):
    """A diverging rollout gives NaN poses; the planner scores NaN costs as +inf, so the
    lookup should return NaN rather than raise."""
    values = offset_field.distance(torch.tensor([[float('nan'), 2.5], [0.0, 2.5]]))
    assert torch.isnan(values[0]) and torch.isfinite(values[1])


# --- Toy system: a point robot planning with the field as its goal cost -------------------

START, GOAL = (1.2, 2.0), (3.0, 2.0)


def cup():
    """4 m x 4 m map with a U-shaped obstacle open toward the start: back wall at x 2.4..2.6,
    arms at y 1.2..1.4 and 2.6..2.8 from x 1.6; the goal lies behind the back wall."""
    occupied = np.zeros((40, 40), bool)
    occupied[12:28, 24:26] = True
    occupied[12:14, 16:26] = True
    occupied[26:28, 16:26] = True
    return occupied


def toy_step(z, a):
    """Planner's model of the robot: z = (x, y), moves 0.1 * a per step."""
    return z + 0.1 * a


def drive(objective, occupied, field, steps=100, seed=0):
    """Closed loop: replan every step, execute the first action. A move that would end in an
    occupied cell (or at its segment's midpoint) is refused: the robot stays and it counts as
    a collision. Returns (final position, collisions, executed positions)."""
    planner = LatentPlanner(PlannerConfig(horizon=8, num_samples=64, num_iterations=3,
                                          num_elites=8, seed=seed), 2,
                            ActionBounds([-1.0, -1.0], [1.0, 1.0]))
    z, goal, collisions, path = torch.tensor(START), torch.tensor(GOAL), 0, []
    for _ in range(steps):
        nxt = toy_step(z, planner.plan(z, toy_step, objective).first_action)
        cells = [field.cell(p.numpy()) for p in (nxt, (z + nxt) / 2)]
        if any(c is None or occupied[c] for c in cells):
            collisions += 1
        else:
            z = nxt
            path.append(z)
        if float(torch.dist(z, goal)) < 0.1:
            break
    return z, collisions, path


def test_planner_with_the_field_goes_around_the_cup_and_straight_line_gets_stuck():
    """Same seeded CEM planner and robot: scored by the squared field distance it reaches
    the goal behind the cup without touching an occupied cell; scored by the squared
    straight-line distance it drives into the cup and stays stuck against the back wall."""
    occupied = cup()
    field = NavigationField(occupied, RES, (0.0, 0.0), GOAL, inflation=0.15)
    goal = torch.tensor(GOAL)

    def by_field(z_traj, a_traj):
        return (field.distance(z_traj) ** 2).sum(-1)

    def straight(z_traj, a_traj):
        return ((z_traj - goal) ** 2).sum(-1).sum(-1)

    z, collisions, path = drive(by_field, occupied, field)
    assert float(torch.dist(z, goal)) < 0.1
    assert collisions == 0
    assert not any(occupied[field.cell(p.numpy())] for p in path)
    assert len(path) < 60
    # It went around an arm (|y - 2| > 0.8 somewhere), not through the cup.
    assert max(abs(float(p[1]) - 2.0) for p in path) > 0.8

    z, collisions, path = drive(straight, occupied, field)
    assert float(torch.dist(z, goal)) > 0.5
    assert 2.0 < float(z[0]) < 2.4 and 1.4 < float(z[1]) < 2.6   # inside the cup
    assert collisions > 50


def test_static_range_is_the_distance_to_the_nearest_occupied_cell():
    """static_range reads the distance from a position to the nearest occupied cell's edge:
    0.5 m from a wall reads about 0.5, far from everything it is capped."""
    occupied = np.zeros((40, 40), bool)
    occupied[:, 0] = True                                        # a wall at x in [0, 0.1)
    field = NavigationField(occupied, RES, (0.0, 0.0), (3.5, 2.0), inflation=0.0)
    near = float(field.static_range(torch.tensor([0.6, 2.0])))
    assert near == pytest.approx(0.5, abs=0.03)
    far = float(field.static_range(torch.tensor([3.9, 2.0])))
    assert far == pytest.approx(min(3.8, 1.5), abs=0.03)
    grid = distance_to_occupied(occupied, RES, 1.0)
    assert grid[5, 0] == 0.0 and grid[5, 3] == pytest.approx(0.25) and grid[5, 30] == 1.0
