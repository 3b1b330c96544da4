"""Planar range scans as planning costs: the obstacle term (pure PyTorch, no ROS).

A 360-degree scan (sensor_msgs/LaserScan, beam ``i`` at ``angle_min + i * increment`` in the
base frame) is pooled into equal sectors holding each sector's nearest return, capped at a
range of interest: the model's range read-out (``WorldModel.predict_ranges``) learns these
sector ranges (the label and the ``tokens`` read-out are
:mod:`jepa_world_model.core.model.range_readout`), and the planner's clearance term
penalises predicted ranges below a minimum.
Near returns are what matter for collisions, so the cap keeps far walls from dominating the
regression.

Two read-outs (``model.scan_source``):

* ``latent``: an MLP on the compact latent z, so it reads predicted latents directly. On the
  simulated base it hardly located the people: the pooled 32-D image part does not keep
  *where* a few-pixel person is (held-out nearest-range error 0.26 m, 17 % within 10 cm).
* ``tokens`` (:class:`SceneRangeReadout`): the scene as the camera shows it now, read from
  the frame's patch tokens (which keep where things are), queried at a robot pose.

How the planner uses a ``tokens`` read-out (:func:`scan_points`, :func:`point_clearance_cost`):
it reads the scan at the robot's *current* pose, where the read-out was trained and is
accurate, turns the sector ranges into obstacle points, and measures each pose the dynamics
predict along a plan against those points. Querying the read-out directly at the predicted
poses failed: the robot's own data never holds a pose inside a person (contact stops it
first), so queried there the read-out answered "clear" and plans drove through people. The
points are taken as they are at planning time, which over a 1.6 s horizon is what a planner
can know about people walking at 0.3-0.6 m/s.

Measured scans are bounded before any tensor is built from them (:func:`pool_beams`): the
obstacle term's cost is [samples, horizon, points], so a scan of 300k beams would take
gigabytes and seconds per plan. Groups of consecutive beams keep their nearest return
(min-pooling: no obstacle is lost, at most half a group's width of bearing error).
:func:`scan_has_information` tells a scan that sees nothing (all NaN: no information) from
one that sees open space (+inf: no return within range, REP 117).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .objectives import ObjectiveFn, risk_objective

__all__ = ['clearance_cost', 'sector_angles', 'scan_points', 'point_clearance_cost',
           'nearest_distance', 'scene_clearance', 'laser_points', 'obstacle_clearance',
           'pool_beams', 'scan_has_information', 'too_close_at_min']


def clearance_cost(ranges_fn: Callable[[Tensor], Tensor], min_range: float,
                   margin: float, static_fn: Optional[Callable[[Tensor], Tensor]] = None
                   ) -> Callable[[Tensor], Tensor]:
    """Per-step shortfall of predicted clearance: ``risk(z_traj [N, H, Z]) -> [N, H]``.

    ``ranges_fn`` maps latents to sector ranges [m] ``[..., R]``; the cost of a step is
    ``(max(0, min_range - nearest) / margin) ** 2``. With ``min_range`` = the robot's radius
    plus ``margin``, that is 0 outside the margin and 1 at contact. Squared so that grazing
    the margin costs little and closing in costs a lot: graded, unlike a collision
    probability, so sampled plans are ranked by how close they pass.

    ``static_fn`` maps latents to the range [m] the static map alone explains at each
    predicted pose ``[..., ]`` (:meth:`~.navigation.NavigationField.static_range`). The
    limit then becomes ``min(min_range, static - margin)``: a near return that the map
    accounts for costs nothing, since the map's cost-to-go already keeps the robot off the
    furniture (two costs for one wall pull plans apart and stall the robot in passages);
    only what the map does not hold, such as a person, costs.
    """
    _check_clearance(min_range, margin)

    def risk(z_traj: Tensor) -> Tensor:
        nearest = ranges_fn(z_traj).amin(dim=-1)
        limit = (min_range if static_fn is None else
                 torch.clamp(static_fn(z_traj) - margin, max=min_range))
        return _shortfall(nearest, limit, margin)

    return risk


def _check_clearance(min_range: float, margin: float) -> None:
    if not (min_range > 0 and margin > 0):
        raise ValueError(f'min_range and margin must be > 0, got {min_range!r}, {margin!r}')


def _shortfall(nearest: Tensor, limit: Any, margin: float) -> Tensor:
    """``(max(0, limit - nearest) / margin) ** 2``: the clearance cost of a range."""
    return (torch.relu(limit - nearest) / margin) ** 2


def sector_angles(sectors: int) -> Tensor:
    """Centre heading [rad] of each sector in the base frame, for a 360-degree scan whose
    first beam points at -pi (sensor_msgs/LaserScan over the full circle). -> [sectors]."""
    return -math.pi + (torch.arange(sectors, dtype=torch.float32) + 0.5) * (2 * math.pi / sectors)


def scan_points(ranges: Tensor, pose: Tensor, range_max: float) -> Tensor:
    """Obstacle points [P, 2] in the pose's frame (odom) from sector ranges [R] read at
    ``pose`` (x, y, yaw); sectors without a return nearer than ``range_max`` give none."""
    angles = sector_angles(ranges.shape[-1]).to(ranges) + pose[2]
    keep = ranges < 0.999 * range_max
    r = ranges[keep]
    return torch.stack([pose[0] + r * torch.cos(angles[keep]),
                        pose[1] + r * torch.sin(angles[keep])], dim=-1)


def nearest_distance(xy: Tensor, points: Tensor) -> Tensor:
    """Distance from each position ``xy [..., 2]`` to the nearest of ``points [P, 2]``:
    ``[...]``.

    As ``|q|^2 - 2 q.p + |p|^2`` through one matrix product, not the ``[..., P, 2]`` table of
    differences: ~10x faster for a 256 x 8 plan against a 360-beam scan (docs/planner_speed.md).
    Both sides are first centred on the points' mean so the expansion does not cancel away
    float32 precision in odometry coordinates far from the origin (error ~1e-4 m).
    """
    centre = points.mean(dim=0)
    q = xy.reshape(-1, 2) - centre
    p = points - centre
    d2 = (q * q).sum(-1, keepdim=True) - 2.0 * (q @ p.T) + (p * p).sum(-1)
    return d2.amin(dim=-1).clamp_min(0.0).sqrt().reshape(xy.shape[:-1])


def point_clearance_cost(points: Tensor, pose_fn: Callable[[Tensor], Tensor],
                         min_range: float, margin: float) -> Callable[[Tensor], Tensor]:
    """Per-step clearance cost from obstacle points: ``risk(z_traj [N, H, Z]) -> [N, H]``.

    The range a scanner at each predicted position would read toward the nearest point,
    costed like :func:`clearance_cost`: ``(max(0, min_range - d) / margin) ** 2``.
    """
    _check_clearance(min_range, margin)

    def risk(z_traj: Tensor) -> Tensor:
        xy = pose_fn(z_traj)[..., :2]                                  # [N, H, 2]
        if points.shape[0] == 0:
            return xy.new_zeros(xy.shape[:-1])
        return _shortfall(nearest_distance(xy, points.to(xy)), min_range, margin)

    return risk


def laser_points(ranges: Any, angle_min: float, angle_increment: float, range_min: float,
                 range_max: float, pose: Any, mount: Any = (0.0, 0.0, 0.0)) -> Tensor:
    """Obstacle points [P, 2] in the pose's frame (odom) from a measured scan.

    ``ranges`` [B]: the beams of a sensor_msgs/LaserScan, beam ``i`` at ``angle_min + i *
    angle_increment`` in the scanner's frame. Beams that are not finite or lie outside
    ``[range_min, range_max)`` give no point (REP 117: +inf is no return, NaN an invalid
    reading), except -inf: REP 117's "too close to measure", a point at ``range_min``.
    ``pose`` (x, y, yaw): the base in the output frame when the scan was taken; ``mount``
    (x, y, yaw): the scanner in the base frame (zeros: at the base's centre).
    """
    r = torch.as_tensor(ranges, dtype=torch.float32).reshape(-1)
    r = torch.where(r == -math.inf, torch.full_like(r, float(range_min)), r)
    x, y, yaw = (float(v) for v in pose)
    mx, my, myaw = (float(v) for v in mount)
    # float64: a large (finite float32) increment times the beam index overflows float32 to
    # inf, and cos(inf) would make a NaN point.
    beam = angle_min + angle_increment * torch.arange(r.shape[0], dtype=torch.float64)
    keep = torch.isfinite(r) & (r >= range_min) & (r < range_max) & torch.isfinite(beam)
    r, beam = r[keep], beam[keep]
    # The scanner's origin and heading in the output frame, then each return from there.
    sx = x + mx * math.cos(yaw) - my * math.sin(yaw)
    sy = y + mx * math.sin(yaw) + my * math.cos(yaw)
    heading = beam + (yaw + myaw)
    return torch.stack([sx + r * torch.cos(heading), sy + r * torch.sin(heading)],
                       dim=-1).float()


def obstacle_clearance(model: Any, min_range: float, margin: float, weight: float
                       ) -> Callable[[Tensor], ObjectiveFn]:
    """The clearance term on measured obstacle points [P, 2] (:func:`laser_points`), built
    per plan: each position the model predicts along a plan is costed by its distance to the
    nearest point, as :func:`point_clearance_cost`.

    This is the local obstacle layer a robot stack builds from its range sensor (Nav2's
    local costmap does the same), scored on the world model's predicted motion: the people
    the map does not hold come from the scanner, not from a read-out of the camera. Unlike
    :func:`scene_clearance`, returns the map explains are kept: measured returns are exact,
    and on the simulated base keeping them gave 96 % of 50 offline goals with no collision
    against 92 % with two furniture collisions when they were left to the map's inflated
    band alone (docs/closed_loop.md).
    """
    _check_clearance(min_range, margin)

    def build(points: Tensor) -> ObjectiveFn:
        points = torch.as_tensor(points, dtype=torch.float32).reshape(-1, 2)
        return risk_objective(point_clearance_cost(points, model.probe_pose, min_range,
                                                   margin), weight)
    return build


def scene_clearance(model: Any, min_range: float, margin: float, weight: float,
                    navigation: Any = None) -> Callable[[Tensor, Tensor], ObjectiveFn]:
    """The clearance term of a ``scan_source: tokens`` model, built per plan from the frame's
    scene code [C] and the current latent [Z]: the scan read there, as obstacle points,
    against the positions predicted along each plan. With a map
    (:class:`~.navigation.NavigationField`), points within ``margin`` of an occupied map
    cell are left to the map's cost-to-go."""
    cap = float(model.cfg.scan_range_max)

    def build(scene: Tensor, z_now: Tensor) -> ObjectiveFn:
        points = scan_points(model.predict_ranges(z_now, scene), model.probe_pose(z_now), cap)
        if navigation is not None and points.shape[0]:
            points = points[navigation.static_range(points) > margin]
        return risk_objective(point_clearance_cost(points, model.probe_pose, min_range,
                                                   margin), weight)
    return build


def scan_has_information(ranges: Any, range_min: float) -> bool:
    """Whether a scan [B] says anything: some beam is a return at or beyond ``range_min``,
    +inf / beyond range_max (no return within range: free space, REP 117) or -inf (too close
    to measure, REP 117: an obstacle at the scanner). NaN (an invalid measurement) and finite
    readings below ``range_min`` say nothing."""
    return bool((too_close_at_min(ranges, range_min) >= range_min).any())


def too_close_at_min(ranges: Any, range_min: float) -> np.ndarray:
    """``ranges`` [B] as float32 with -inf (REP 117: detection too close to measure) set to
    ``range_min``: the nearest the sensor can tell, so the planner keeps clear of it rather
    than taking the beam for no reading (NaN) or free space (+inf)."""
    r = np.asarray(ranges, dtype=np.float32).reshape(-1)
    return np.where(r == -np.inf, np.float32(range_min), r)


def pool_beams(ranges: Any, range_min: float, max_beams: int) -> Tuple[np.ndarray, int]:
    """Min-pool a scan to at most ``max_beams`` readings: ``ranges [B] -> (pooled [G], k)``.

    Groups of ``k = ceil(B / max_beams)`` consecutive beams (the last group may be shorter)
    keep their nearest reading: a return, or +inf (no return within range: free) when that
    is all the group holds; -inf (too close to measure) counts as a return at ``range_min``
    (:func:`too_close_at_min`). Beams that are no reading (NaN, finite below ``range_min``)
    are left out, so they neither hide a return nor make one; a group of nothing but such beams
    is NaN (no reading), never +inf, which would claim free space nobody measured. Group
    ``g`` lies at ``angle_min + (g * k + (k - 1) / 2) * angle_increment`` with increment
    ``k * angle_increment``. With ``B <= max_beams``, ``ranges`` is returned as float32 and
    k = 1.

    Raises:
        ValueError: ``max_beams`` < 1.
    """
    if max_beams < 1:
        raise ValueError(f'max_beams must be >= 1, got {max_beams}')
    r = too_close_at_min(ranges, range_min)
    k = -(-r.size // max_beams)
    if k <= 1:
        return r, 1
    groups = -(-r.size // k)
    readings = np.full(groups * k, np.nan, dtype=np.float32)   # padding: no reading
    with np.errstate(invalid='ignore'):
        readings[:r.size] = np.where(r >= range_min, r, np.float32(np.nan))
    readings = readings.reshape(groups, k)
    seen = ~np.isnan(readings)
    pooled = np.where(seen, readings, np.float32(np.inf)).min(axis=1)
    pooled[~seen.any(axis=1)] = np.nan
    return pooled, k
