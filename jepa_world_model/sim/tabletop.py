"""``TabletopSim``: a cylindrical arm with a parallel gripper, a block to push, a cube to grasp
and a distractor that moves on its own (issue #13, sim/assets/tabletop.xml).

Joints (``joint_names``): ``yaw`` [rad] turns the boom, ``reach`` [m] slides the carriage out
along it, ``lift`` [m] lowers (negative) or raises the hand, ``gripper`` [m] is each finger's
opening (0 closed, 0.05 wide open). Actions are velocities for all four (rad/s, m/s, m/s,
m/s; ros2_control velocity interfaces), so a zero command means "stay" for every joint,
gripper included: the gripper's velocity moves the set-point of a force-capped position servo
(kept within ``GRIP_WINDUP`` of the fingers, so it opens at once when told to), and a closed
gripper keeps squeezing while its command is zero. The squeeze is at most ``GRIP_FORCE``
newtons, so whether a grasped cube stays in the hand depends on the cube's mass and friction,
drawn per episode: some grasps hold and some slip, as on a real robot with unknown objects.
The cube is made of one of a few materials (sim/tabletop_materials.py), each with its own
colour and its own mass and friction ranges, so how the cube looks predicts, imperfectly,
whether it will hold.

Object poses (``SimObservation.objects``), the cube's material (``SimObservation.labels``)
and its mass and friction are ground truth for evaluation read-outs only: no model or
planner input ever sees them.
"""

import math
from typing import Dict, Tuple

import numpy as np

from .base import MAX_SAMPLING_TRIES, SimRobot
from .tabletop_materials import CUBE_MATERIALS, draw_material

__all__ = ['TabletopSim', 'OBJECT_NAMES']

#: Movable things whose poses ``SimObservation.objects`` reports, in this order.
OBJECT_NAMES = ('block', 'cube', 'distractor')


class TabletopSim(SimRobot):
    """Tabletop manipulation: push the block, grasp and lift the cube (see module notes)."""

    name = 'tabletop'
    xml_file = 'tabletop.xml'
    joint_names = ('yaw', 'reach', 'lift', 'gripper')
    action_names = ('yaw_velocity', 'reach_velocity', 'lift_velocity', 'gripper_velocity')
    camera = 'front'
    # Grasp contacts need short steps: at 5 ms a squeezed cube jitters out of the fingers.
    max_timestep = 0.002
    #: Most squeezing force of the gripper's position servo [N] (tabletop.xml forcerange).
    GRIP_FORCE = 6.0
    #: Fastest gripper command [m/s] (open to closed in 0.5 s).
    GRIPPER_SPEED = 0.1
    #: Largest gap [m] between the gripper's set-point and its fingers: the servo's gain
    #: (300 N/m) times this is GRIP_FORCE, so a blocked close squeezes with the full force
    #: without winding the set-point up.
    GRIP_WINDUP = 0.02
    #: The cube's materials (colour, mass and friction ranges), one drawn per episode.
    CUBE_MATERIALS = CUBE_MATERIALS
    #: Block sliding friction range (pushes go further on a slippery block).
    BLOCK_FRICTION_RANGE = (0.3, 0.9)
    #: Where objects start: radius from the yaw axis [m] and bearing [rad], inside the reach.
    OBJECT_RADIUS_RANGE = (0.26, 0.48)
    OBJECT_BEARING_RANGE = (-0.8, 0.8)
    #: Carriage offset on the boom [m]: the hand is at radius CARRIAGE_OFFSET + reach.
    CARRIAGE_OFFSET = 0.18
    #: The distractor's box (x_min, x_max, y_min, y_max) [m] and top speed [m/s].
    DISTRACTOR_BOX = (0.52, 0.66, -0.30, 0.30)
    DISTRACTOR_SPEED = 0.15

    def __init__(self, image_size: int = 64, control_dt: float = 0.1) -> None:
        """See :class:`~.base.SimRobot`."""
        super().__init__(image_size, control_dt)
        m = self.model
        ranges = m.actuator_ctrlrange
        self.action_low = np.append(ranges[:3, 0], -self.GRIPPER_SPEED)
        self.action_high = np.append(ranges[:3, 1], self.GRIPPER_SPEED)
        self._grip_range = ranges[3].copy()
        self._grip_target = 0.0
        self.joint_limits = np.array([m.joint(n).range for n in self.joint_names])
        self._mirror_qadr = m.joint('gripper_mirror').qposadr[0]
        self._free_qadr = {n: m.joint(f'{n}_joint').qposadr[0] for n in ('block', 'cube')}
        self._bodies = np.array([m.body(n).id for n in OBJECT_NAMES])
        self._cube_body = m.body('cube').id
        self._cube_geom, self._block_geom = m.geom('cube_geom').id, m.geom('block_geom').id
        self._distractor = m.body_mocapid[m.body('distractor').id]
        self._distractor_velocity = np.zeros(2)
        self.cube_mass = float(m.body_mass[self._cube_body])
        self.cube_friction = float(m.geom_friction[self._cube_geom][0])
        self.cube_material = ''

    # ------------------------------------------------------------------ public helpers

    def hand_position(self, q: np.ndarray) -> np.ndarray:
        """``(x, y)`` of the hand [m] for joint positions ``q`` (``joint_names`` order)."""
        radius = self.CARRIAGE_OFFSET + float(q[1])
        return radius * np.array([math.cos(float(q[0])), math.sin(float(q[0]))])

    def joints_for(self, xy: np.ndarray) -> Tuple[float, float]:
        """``(yaw, reach)`` that put the hand over ``xy``, clipped to the joint limits."""
        yaw = float(np.clip(math.atan2(xy[1], xy[0]), *self.joint_limits[0]))
        reach = float(np.clip(np.hypot(xy[0], xy[1]) - self.CARRIAGE_OFFSET,
                              *self.joint_limits[1]))
        return yaw, reach

    def sample_waypoint(self, rng: np.random.Generator) -> np.ndarray:
        """Random joint positions within 90 % of the limits (the gripper anywhere)."""
        low, high = self.joint_limits[:, 0], self.joint_limits[:, 1]
        mid, half = 0.5 * (low + high), 0.5 * (high - low)
        return rng.uniform(mid - 0.9 * half, mid + 0.9 * half)

    def object_poses(self) -> Dict[str, np.ndarray]:
        """Name -> ``(7,)`` world pose ``(x, y, z, qw, qx, qy, qz)`` of each movable thing."""
        return {n: np.concatenate([self.data.xpos[b], self.data.xquat[b]])
                for n, b in zip(OBJECT_NAMES, self._bodies)}

    # ------------------------------------------------------------------ subclass hooks

    def _sample_xy(self) -> np.ndarray:
        radius = self.rng.uniform(*self.OBJECT_RADIUS_RANGE)
        bearing = self.rng.uniform(*self.OBJECT_BEARING_RANGE)
        return radius * np.array([math.cos(bearing), math.sin(bearing)])

    def _randomise(self) -> None:
        m, d = self.model, self.data
        material, self.cube_mass, self.cube_friction = draw_material(self.rng,
                                                                     self.CUBE_MATERIALS)
        self.cube_material = material.name
        m.body_mass[self._cube_body] = self.cube_mass
        m.geom_friction[self._cube_geom][0] = self.cube_friction
        m.geom_rgba[self._cube_geom] = material.rgba
        m.geom_friction[self._block_geom][0] = float(self.rng.uniform(*self.BLOCK_FRICTION_RANGE))
        block = self._sample_xy()
        for _ in range(MAX_SAMPLING_TRIES):   # the cube starts clear of the block
            cube = self._sample_xy()
            if np.linalg.norm(cube - block) > 0.17:
                break
        for name, xy, half_height in (('block', block, 0.025), ('cube', cube, 0.03)):
            adr = self._free_qadr[name]
            yaw = self.rng.uniform(-math.pi, math.pi)
            d.qpos[adr:adr + 7] = [xy[0], xy[1], half_height,
                                   math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
        x0, x1, y0, y1 = self.DISTRACTOR_BOX
        d.mocap_pos[self._distractor] = [self.rng.uniform(x0, x1), self.rng.uniform(y0, y1), 0.04]
        heading = self.rng.uniform(-math.pi, math.pi)
        self._distractor_velocity = self.DISTRACTOR_SPEED * np.array(
            [math.cos(heading), math.sin(heading)])
        # The arm starts high (clear of both objects) with the gripper open.
        for i, n in enumerate(self.joint_names):
            low, high = self.joint_limits[i]
            margin = 0.1 * (high - low)
            value = {'lift': self.rng.uniform(-0.06, 0.0),
                     'gripper': self.rng.uniform(0.03, 0.05)}.get(
                         n, self.rng.uniform(low + margin, high - margin))
            d.qpos[self._qadr[i]] = value
        d.qpos[self._mirror_qadr] = d.qpos[self._qadr[3]]
        d.ctrl[:] = 0.0
        self._grip_target = d.ctrl[3] = float(d.qpos[self._qadr[3]])

    def _before_substep(self, action: np.ndarray) -> None:
        """Velocity servos take the first three commands; the gripper's velocity moves its
        position servo's set-point (see the module notes)."""
        d = self.data
        d.ctrl[:3] = action[:3]
        opening = float(d.qpos[self._qadr[3]])
        target = self._grip_target + float(action[3]) * self.model.opt.timestep
        low = max(self._grip_range[0], opening - self.GRIP_WINDUP)
        high = min(self._grip_range[1], opening + self.GRIP_WINDUP)
        self._grip_target = d.ctrl[3] = float(np.clip(target, low, high))

    def _after_substep(self) -> None:
        """The distractor wanders: a velocity that turns randomly and bounces off its box."""
        dt = self.model.opt.timestep
        v = self._distractor_velocity
        turn = self.rng.normal(0.0, 2.0 * math.sqrt(dt))          # rad, a random walk
        c, s = math.cos(turn), math.sin(turn)
        v = np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])
        pos = self.data.mocap_pos[self._distractor]
        x0, x1, y0, y1 = self.DISTRACTOR_BOX
        nxt = pos[:2] + v * dt
        if not x0 <= nxt[0] <= x1:
            v[0] = -v[0]
        if not y0 <= nxt[1] <= y1:
            v[1] = -v[1]
        pos[:2] = np.clip(pos[:2] + v * dt, [x0, y0], [x1, y1])
        self._distractor_velocity = v

    def _extra_observation(self) -> Dict[str, Dict[str, np.ndarray]]:
        return {'objects': self.object_poses(),
                'labels': {'cube_material': self.cube_material}}
