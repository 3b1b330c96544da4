"""Analytic planar scans for the agent tests: a 360-beam scanner among discs (people) in a
square room with walls at +-HALF m, and that room's static map. Not a test module."""

import math

import numpy as np

from jepa_world_model.core.agents.scan_detection import StaticMask

BEAMS = 360
ANGLE_MIN = -math.pi
INCREMENT = 2 * math.pi / BEAMS
HALF = 2.0   # room: walls at +-2 m
RADIUS = 0.16


def room_mask(tolerance=0.15):
    resolution = 0.05
    n = int(2 * (HALF + 0.25) / resolution)
    centres = -(HALF + 0.25) + (np.arange(n) + 0.5) * resolution
    x, y = np.meshgrid(centres, centres)
    occupied = (np.abs(x) > HALF) | (np.abs(y) > HALF)
    return StaticMask(occupied, resolution, (-(HALF + 0.25), -(HALF + 0.25)), tolerance)


def cast(pose, discs, walls=True):
    """Ranges [BEAMS] from ``pose`` (x, y, yaw) to discs (x, y, r) and the room's walls."""
    x, y, yaw = pose
    ranges = np.full(BEAMS, np.inf)
    for i in range(BEAMS):
        a = yaw + ANGLE_MIN + i * INCREMENT
        d = np.array([math.cos(a), math.sin(a)])
        best = math.inf
        if walls:
            for axis in (0, 1):
                if abs(d[axis]) > 1e-9:
                    for wall in (-HALF, HALF):
                        t = (wall - (x, y)[axis]) / d[axis]
                        if t > 0:
                            best = min(best, t)
        for cx, cy, r in discs:
            oc = np.array([x - cx, y - cy])
            b = oc @ d
            c = oc @ oc - r * r
            disc = b * b - c
            if disc >= 0 and -b - math.sqrt(disc) > 0:
                best = min(best, -b - math.sqrt(disc))
        ranges[i] = best if best < 10.0 else np.inf
    return ranges
