"""Cube materials of the tabletop robot: a look that goes with the physics (issue #13 item 1).

Whether a grasp holds is decided by the cube's mass and friction against the gripper's
capped squeeze (``TabletopSim.GRIP_FORCE``). When every cube looked the same, no camera
could tell a cube that will hold from one that will slip before lifting it (the grip-hold
AUC of docs/tabletop.md was capped by that). Here each episode's cube is made of one of a
few materials, each with its own colour AND its own mass and friction *ranges*, so the look
predicts the outcome well but not perfectly, as with real objects: a steel cube is heavy, a
waxed plastic one slippery, but a light wooden cube held near its edge can still slip.

The ranges were chosen from a measured map of the scripted grasp's hold rate over mass and
friction (docs/simulation.md, "Cube materials"): the line between holding and slipping runs
about mass = 0.35 kg x friction, and each material's box sits on one side of it except for
the overlaps named in ``CubeMaterial.note``.

The material's name is ground truth for evaluation only (``/ground_truth/cube_material``),
never a model or planner input.
"""

from dataclasses import dataclass
import math
from typing import Tuple

import numpy as np

__all__ = ['CubeMaterial', 'CUBE_MATERIALS', 'material_names', 'draw_material']


@dataclass(frozen=True)
class CubeMaterial:
    """One material: its name, colour and the ranges its cube's physics is drawn from.

    Attributes:
        name: Label on ``/ground_truth/cube_material``.
        rgba: Colour of the cube geom (red, green, blue, alpha in [0, 1]).
        mass_range: Cube mass [kg], drawn log-uniformly between these bounds.
        friction_range: Sliding friction coefficient, drawn uniformly.
        note: What the ranges make the scripted grasp do (measured, see module notes).
    """

    name: str
    rgba: Tuple[float, float, float, float]
    mass_range: Tuple[float, float]
    friction_range: Tuple[float, float]
    note: str = ''

    def __post_init__(self) -> None:
        for label, (low, high) in (('mass_range', self.mass_range),
                                   ('friction_range', self.friction_range)):
            if not 0.0 < low <= high:
                raise ValueError(f'material {self.name!r}: {label} must be 0 < low <= high, '
                                 f'got {(low, high)}')
        if len(self.rgba) != 4 or not all(0.0 <= c <= 1.0 for c in self.rgba):
            raise ValueError(f'material {self.name!r}: rgba needs 4 values in [0, 1], '
                             f'got {self.rgba}')


#: The materials, drawn with equal probability. Colours differ in hue and brightness from
#: each other and from the table (beige), the block (green), the distractor (yellow) and the
#: arm (blue, orange, purple, dark grey fingers).
CUBE_MATERIALS = (
    CubeMaterial('rubber', (0.07, 0.07, 0.07, 1.0), (0.05, 0.2), (0.75, 1.0),
                 'light and grippy: holds'),
    CubeMaterial('wood', (0.60, 0.36, 0.12, 1.0), (0.12, 0.3), (0.45, 0.8),
                 'straddles the line: mostly holds, the heavier ones slip'),
    CubeMaterial('steel', (0.70, 0.74, 0.80, 1.0), (0.4, 1.0), (0.3, 0.6),
                 'heavy: slips'),
    CubeMaterial('waxed_plastic', (0.85, 0.08, 0.08, 1.0), (0.05, 0.12), (0.08, 0.2),
                 'light but slippery: mostly slips, the lightest may hold'),
)


def material_names(materials=CUBE_MATERIALS) -> Tuple[str, ...]:
    """Names of ``materials`` in order (the index a read-out uses)."""
    return tuple(m.name for m in materials)


def draw_material(rng: np.random.Generator, materials=CUBE_MATERIALS
                  ) -> Tuple[CubeMaterial, float, float]:
    """(material, mass [kg], friction) of one episode's cube, drawn from ``rng``: the
    material uniformly, then its mass log-uniformly and its friction uniformly."""
    if not materials:
        raise ValueError('no cube materials to draw from')
    material = materials[int(rng.integers(len(materials)))]
    low, high = material.mass_range
    mass = math.exp(rng.uniform(math.log(low), math.log(high)))
    friction = float(rng.uniform(*material.friction_range))
    return material, float(mass), friction
