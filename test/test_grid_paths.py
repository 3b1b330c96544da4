"""core/planning/grid_paths.py: the swept cost-to-go equals a plain Dijkstra, cell by cell."""

import heapq
import math

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from jepa_world_model.core.planning.grid_paths import cost_to_go, MOVES, step_costs


def dijkstra(goal, enter_cost, occupied):
    """The reference: a heap Dijkstra over the same steps (what NavigationField ran before)."""
    h, w = enter_cost.shape
    dearest = float(enter_cost.max())
    dist = np.full((h, w), np.inf)
    dist[goal] = 0.0
    queue = [(0.0, goal)]
    while queue:
        d, (r, c) = heapq.heappop(queue)
        if d > dist[r, c]:
            continue
        for dr, dc, length in MOVES:
            rr, cc = r + dr, c + dc
            if 0 <= rr < h and 0 <= cc < w:
                cost = 0.5 * (enter_cost[r, c] + enter_cost[rr, cc])
                if dr and dc and occupied[rr, c] and occupied[r, cc]:
                    cost = max(cost, dearest)
                nd = d + length * cost
                if nd < dist[rr, cc]:
                    dist[rr, cc] = nd
                    heapq.heappush(queue, (nd, (rr, cc)))
    return dist


def random_grid(rng, h, w):
    occupied = rng.random((h, w)) < rng.uniform(0.0, 0.45)
    band = rng.random((h, w)) < 0.3
    enter = np.where(occupied, 100.0, np.where(band, 10.0, 1.0)) * 0.05
    return enter, occupied


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), h=st.integers(1, 30), w=st.integers(1, 30))
def test_equals_dijkstra_on_random_grids(seed, h, w):
    rng = np.random.default_rng(seed)
    enter, occupied = random_grid(rng, h, w)
    goal = (int(rng.integers(h)), int(rng.integers(w)))
    assert np.array_equal(cost_to_go(goal, enter, occupied), dijkstra(goal, enter, occupied))


def test_a_winding_corridor_needs_many_rounds_and_still_matches():
    """A serpentine maze: the cheapest path turns back on itself across the whole grid, the
    worst case for sweeps in fixed directions."""
    h, w = 41, 41
    occupied = np.zeros((h, w), dtype=bool)
    for i, r in enumerate(range(2, h - 1, 4)):
        occupied[r, :] = True
        occupied[r, (w - 2) if i % 2 == 0 else 1] = False   # the gap alternates sides
    enter = np.where(occupied, 100.0, 1.0)
    goal = (0, 0)
    d = cost_to_go(goal, enter, occupied)
    assert np.array_equal(d, dijkstra(goal, enter, occupied))
    # The far corner is reached through every gap, not through the walls.
    assert d[h - 1, w - 1] > 5 * (h + w)


def test_step_costs_are_symmetric_and_a_corner_of_two_walls_blocks_a_diagonal():
    occupied = np.array([[False, True], [True, False]])
    enter = np.where(occupied, 100.0, 1.0)
    costs = step_costs(enter, occupied)
    for dr, dc, _ in MOVES:
        there, back = costs[(dr, dc)], costs[(-dr, -dc)]
        h, w = enter.shape
        for r in range(h):
            for c in range(w):
                rr, cc = r + dr, c + dc
                if 0 <= rr < h and 0 <= cc < w:
                    assert there[r, c] == back[rr, cc]
                else:
                    assert math.isinf(there[r, c])
    # (0, 0) -> (1, 1) squeezes between the two occupied corner cells: priced as a wall.
    assert costs[(1, 1)][0, 0] == pytest.approx(math.sqrt(2) * 100.0)
    # Cheapest is then through one wall cell (2 x 50.5), never the free diagonal (sqrt 2).
    assert cost_to_go((1, 1), enter, occupied)[0, 0] == pytest.approx(101.0)


def test_unreachable_cells_stay_infinite_only_off_a_connected_grid():
    enter = np.ones((3, 3))
    d = cost_to_go((1, 1), enter, np.zeros((3, 3), dtype=bool))
    assert np.isfinite(d).all() and d[1, 1] == 0.0
    assert d[0, 0] == pytest.approx(math.sqrt(2)) and d[0, 1] == pytest.approx(1.0)
