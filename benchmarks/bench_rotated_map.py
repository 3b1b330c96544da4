"""A map under a rotated ``map -> odom``: the two ways to use it, timed; prints JSON.

* ``query transform`` (what the planner does): the grid stays in ``map``; every point the
  planner reads the cost-to-go at is rotated into the grid frame
  (:meth:`NavigationField._into_grid`). Cost per plan: the extra time of
  ``field.distance`` on the points of one planner iteration (``samples x horizon``
  positions) over the same read of an unrotated field; nothing when localisation moves the
  map (the cost-to-go is re-placed, :meth:`NavigationField.placed`).
* ``resample`` (the alternative): the grid resampled into ``odom`` (nearest neighbour over the
  rotated grid's bounding box), then the cost-to-go built again on it; nothing per plan, but
  both each time localisation moves the map.

    python benchmarks/bench_rotated_map.py --cells 200 --samples 64 --horizon 8
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Callable, Dict

import numpy as np
import torch

from jepa_world_model.core.planning.frames import Planar
from jepa_world_model.core.planning.navigation import NavigationField


def resample_nearest(occupied: np.ndarray, resolution: float, origin: np.ndarray,
                     placement: Planar) -> tuple:
    """[H, W] grid (map frame) -> ([H', W'] grid, origin) axis-aligned in the placement's
    target frame, nearest neighbour; outside the map: free."""
    h, w = occupied.shape
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64) * resolution + origin
    placed = placement.apply(corners)
    low, high = placed.min(0), placed.max(0)
    cols, rows = np.ceil((high - low) / resolution).astype(int)
    xs = low[0] + (np.arange(cols) + 0.5) * resolution
    ys = low[1] + (np.arange(rows) + 0.5) * resolution
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    back = placement.inverse().apply(grid)
    c = np.floor((back[:, 0] - origin[0]) / resolution).astype(int)
    r = np.floor((back[:, 1] - origin[1]) / resolution).astype(int)
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    out = np.zeros(rows * cols, dtype=bool)
    out[inside] = occupied[r[inside], c[inside]]
    return out.reshape(rows, cols), low


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cells', type=int, default=200, help='map side (cells)')
    parser.add_argument('--samples', type=int, default=64)
    parser.add_argument('--horizon', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n, res = args.cells, 0.05
    occupied = rng.random((n, n)) < 0.05
    origin = np.array([-0.5 * n * res, -0.5 * n * res])
    turned = Planar(0.7, -0.3, 0.6)
    plain = NavigationField(occupied, res, origin, (0.0, 0.0), 0.2)
    rotated = NavigationField(occupied, res, origin, turned.apply(np.zeros((1, 2)))[0], 0.2,
                              placement=turned)
    points = torch.as_tensor(rng.uniform(-1, 1, (args.samples, args.horizon, 2)),
                             dtype=torch.float32)
    results: Dict[str, float] = {
        'distance_unrotated_ms': median_ms(lambda: plain.distance(points), args.repeats),
        'distance_rotated_ms': median_ms(lambda: rotated.distance(points), args.repeats),
        'replace_field_ms': median_ms(lambda: rotated.placed(
            Planar(0.72, -0.3, 0.61), turned.apply(np.zeros((1, 2)))[0]), args.repeats),
    }
    results['per_plan_iteration_extra_ms'] = (results['distance_rotated_ms']
                                              - results['distance_unrotated_ms'])
    start = time.perf_counter()
    grid, low = resample_nearest(occupied, res, origin, turned)
    results['resample_ms'] = 1e3 * (time.perf_counter() - start)
    start = time.perf_counter()
    NavigationField(grid, res, low, (0.0, 0.0), 0.2)
    results['rebuild_field_ms'] = 1e3 * (time.perf_counter() - start)
    results['resampled_cells'] = int(grid.size)
    print(json.dumps({'map_cells': n * n, 'resolution_m': res, 'points': args.samples
                      * args.horizon, 'yaw_rad': turned.yaw, 'threads': 1,
                      'machine': platform.processor() or platform.machine(),
                      **{k: round(v, 4) if isinstance(v, float) else v
                         for k, v in results.items()}}, indent=1))


if __name__ == '__main__':
    main()
