"""Seeded, deterministic MuJoCo robots with an overhead camera: ``ArmSim`` and ``MobileBaseSim``.

Both robots share one interface (:class:`~.base.SimRobot`): ``reset(seed)`` and
``step(action)`` return a :class:`~.base.SimObservation` (camera image, joint state, base
pose/twist, contact and collision flags). One ``step`` is one control period ``dt`` made of
several MuJoCo substeps; the action is clipped to ``[action_low, action_high]`` and held
for the whole period.

Same seed + same actions -> bit-identical states and images: all randomness comes from a
``numpy`` generator seeded in ``reset``, and MuJoCo itself is deterministic.
"""

import os

os.environ.setdefault('MUJOCO_GL', 'egl')  # headless rendering; must precede mujoco import

import math  # noqa: E402
from typing import Dict, Tuple, Type  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from .base import MAX_SAMPLING_TRIES, SimObservation, SimRobot  # noqa: E402
from .people_scenes import plan_scene, SCENE_PEOPLE, SceneError, validate_scene  # noqa: E402
from .tabletop import TabletopSim  # noqa: E402

__all__ = ['SimObservation', 'SimRobot', 'ArmSim', 'MobileBaseSim', 'TabletopSim', 'ROBOTS',
           'make_robot', 'SceneError']


class ArmSim(SimRobot):
    """Planar 3-DoF arm on a table; action = joint velocity commands [rad/s].

    The red target ball is placed at random within reach on every reset; the green block
    is a fixed obstacle (touching it is a collision).
    """

    name = 'arm'
    xml_file = 'arm.xml'
    joint_names = ('joint1', 'joint2', 'joint3')
    action_names = ('joint1_velocity', 'joint2_velocity', 'joint3_velocity')
    hazard_geom_prefixes = ('obstacle',)
    TARGET_RADIUS_RANGE = (0.30, 0.68)   # m from joint1, inside the 0.71 m reach

    def __init__(self, image_size: int = 64, control_dt: float = 0.1) -> None:
        """See :class:`SimRobot`."""
        super().__init__(image_size, control_dt)
        ranges = self.model.actuator_ctrlrange
        self.action_low, self.action_high = ranges[:, 0].copy(), ranges[:, 1].copy()
        self.joint_limits = np.array([self.model.joint(n).range for n in self.joint_names])
        self._target_mocap = self.model.body_mocapid[self.model.body('target').id]
        self._obstacle_xy = self.model.geom('obstacle').pos[:2].copy()

    def sample_waypoint(self, rng: np.random.Generator) -> np.ndarray:
        """Random joint positions within 90% of the limits."""
        low, high = self.joint_limits[:, 0], self.joint_limits[:, 1]
        return rng.uniform(0.9 * low, 0.9 * high)

    def _randomise(self) -> None:
        for _ in range(MAX_SAMPLING_TRIES):
            radius = self.rng.uniform(*self.TARGET_RADIUS_RANGE)
            angle = self.rng.uniform(-math.pi, math.pi)
            xy = radius * np.array([math.cos(angle), math.sin(angle)])
            if np.linalg.norm(xy - self._obstacle_xy) > 0.2:
                break
        self.data.mocap_pos[self._target_mocap] = [xy[0], xy[1], 0.06]
        for _ in range(MAX_SAMPLING_TRIES):   # start free of contacts
            self.data.qpos[self._qadr] = self.rng.uniform(0.7 * self.joint_limits[:, 0],
                                                          0.7 * self.joint_limits[:, 1])
            mujoco.mj_forward(self.model, self.data)
            if not self._contacts()[0]:
                break

    def _extra_observation(self) -> Dict[str, np.ndarray]:
        return {'target_pos': self.data.mocap_pos[self._target_mocap].copy()}


class MobileBaseSim(SimRobot):
    """Differential-drive base in a walled room with obstacles and walking people.

    Action = ``(v, w)``: forward speed [m/s] and yaw rate [rad/s] in base_link. The wheel
    joints report the wheel angles and speeds that the base's actual motion implies.
    ``scene`` (:mod:`.people_scenes`) chooses the people: ``default`` is two walkers who
    give way; ``crowd``, ``crossing``, ``head_on`` and ``stubborn`` are harder.
    """

    name = 'mobile_base'
    xml_file = 'mobile_base.xml'
    joint_names = ('wheel_left_joint', 'wheel_right_joint')
    action_names = ('linear_x', 'angular_z')
    hazard_geom_prefixes = ('wall', 'obstacle', 'person')
    action_low = np.array([-0.5, -1.5])
    action_high = np.array([0.8, 1.5])
    WHEEL_RADIUS = 0.06      # m, as in mobile_base.xml
    WHEEL_SEPARATION = 0.48  # m
    ROOM_HALF_EXTENT = 1.5   # inner wall faces at +-1.5 m
    ROBOT_RADIUS = 0.22
    PERSON_RADIUS = 0.16
    PERSON_SPEED_RANGE = (0.3, 0.6)   # m/s, a slow walk indoors
    PERSON_PATIENCE_S = 1.5           # wait this long for the robot, then turn away
    SCAN_BEAMS = 64                   # planar 360-degree range scanner on the base
    SCAN_RANGE_MAX = 3.0              # m; no return reads as this
    SCAN_HEIGHT = 0.1                 # m above the floor: below every hazard's top

    def __init__(self, image_size: int = 64, control_dt: float = 0.1,
                 scene: str = 'default') -> None:
        """See :class:`SimRobot`; ``scene`` is one of :data:`.people_scenes.SCENES`."""
        self.scene = validate_scene(scene)
        super().__init__(image_size, control_dt)
        self.action_low = self.action_low.copy()
        self.action_high = self.action_high.copy()
        m = self.model
        planar = ('base_x', 'base_y', 'base_yaw')
        self._base_q = np.array([m.joint(n).qposadr[0] for n in planar])
        self._base_v = np.array([m.joint(n).dofadr[0] for n in planar])
        # The scene's people; the XML's other person bodies stay parked outside the room.
        self._people = np.array([m.body_mocapid[m.body(f'person{k + 1}').id]
                                 for k in range(SCENE_PEOPLE[self.scene])])
        # Static obstacles as (x, y, radius) circles: conservative for boxes (circumscribed).
        circles = []
        for i in range(m.ngeom):
            geom = m.geom(i)
            if geom.name.startswith('obstacle'):
                size = geom.size
                radius = size[0] if geom.type[0] == mujoco.mjtGeom.mjGEOM_CYLINDER else \
                    math.hypot(size[0], size[1])
                circles.append((geom.pos[0], geom.pos[1], radius))
        self.obstacle_circles = np.array(circles)
        self._base_body = m.body('base_link').id
        # The scanner sees geom groups 0-2; the robot's own visual parts are in group 3.
        self._scan_groups = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)
        self._waypoints = np.zeros((len(self._people), 2))
        self._speeds = np.zeros(len(self._people))
        self._waited = np.zeros(len(self._people))   # seconds each person has waited
        self._yields = np.ones(len(self._people), dtype=bool)
        # The other end of a back-and-forth route per person (NaN: random waypoints).
        self._shuttle = np.full((len(self._people), 2), np.nan)
        #: ``(2,)`` the robot's goal that a route scene is built around, else None.
        self.scene_goal = None

    def is_free(self, xy: np.ndarray, clearance: float) -> bool:
        """Whether a disc of radius ``clearance`` at ``xy`` is clear of walls and obstacles."""
        if np.any(np.abs(xy) > self.ROOM_HALF_EXTENT - clearance):
            return False
        dist = np.hypot(self.obstacle_circles[:, 0] - xy[0],
                        self.obstacle_circles[:, 1] - xy[1])
        return bool(np.all(dist > self.obstacle_circles[:, 2] + clearance))

    def sample_free(self, rng: np.random.Generator, clearance: float,
                    avoid: Tuple[np.ndarray, ...] = (), avoid_dist: float = 0.0) -> np.ndarray:
        """A random free (x, y), at least ``avoid_dist`` from each point in ``avoid``."""
        half = self.ROOM_HALF_EXTENT - clearance
        xy = np.zeros(2)
        for _ in range(MAX_SAMPLING_TRIES):
            xy = rng.uniform(-half, half, size=2)
            if self.is_free(xy, clearance) and all(
                    np.linalg.norm(xy - p) > avoid_dist for p in avoid):
                break
        return xy

    def sample_waypoint(self, rng: np.random.Generator) -> np.ndarray:
        """A random free position for the robot (0.1 m margin around its body)."""
        return self.sample_free(rng, self.ROBOT_RADIUS + 0.1)

    def segment_free(self, start: np.ndarray, end: np.ndarray, clearance: float) -> bool:
        """Whether a disc of radius ``clearance`` can move straight from start to end."""
        steps = max(2, int(np.linalg.norm(end - start) / 0.05))
        return all(self.is_free(start + t * (end - start), clearance)
                   for t in np.linspace(0.0, 1.0, steps))

    def _new_waypoint(self, i: int, start: np.ndarray) -> None:
        """A waypoint person ``i`` can walk to in a straight line without crossing furniture."""
        goal = start
        for _ in range(MAX_SAMPLING_TRIES):
            goal = self.sample_free(self.rng, self.PERSON_RADIUS + 0.05)
            if self.segment_free(start, goal, self.PERSON_RADIUS + 0.05):
                break
        self._waypoints[i] = goal
        self._speeds[i] = self.rng.uniform(*self.PERSON_SPEED_RANGE)

    def _randomise(self) -> None:
        self._waited[:] = 0.0
        if self.scene != 'default':
            self._place_scene()
            return
        robot_xy = self.sample_free(self.rng, self.ROBOT_RADIUS + 0.05)
        self.data.qpos[self._base_q] = [robot_xy[0], robot_xy[1],
                                        self.rng.uniform(-math.pi, math.pi)]
        placed = [robot_xy]
        for i, mocap in enumerate(self._people):
            xy = self.sample_free(self.rng, self.PERSON_RADIUS + 0.05, tuple(placed), 0.6)
            placed.append(xy)
            self.data.mocap_pos[mocap, :2] = xy
            self._new_waypoint(i, xy)

    def _place_scene(self) -> None:
        """Robot and people of a non-default scene (:func:`.people_scenes.plan_scene`)."""
        plan = plan_scene(self, self.scene, self.rng)
        self.data.qpos[self._base_q] = [plan.robot_xy[0], plan.robot_xy[1], plan.robot_yaw]
        self.scene_goal = None if plan.goal_xy is None else plan.goal_xy.copy()
        for i, (mocap, walker) in enumerate(zip(self._people, plan.walkers)):
            self.data.mocap_pos[mocap, :2] = walker.start
            self._waypoints[i] = walker.waypoint
            self._speeds[i] = walker.speed
            self._yields[i] = walker.yields
            self._shuttle[i] = np.nan if walker.shuttle is None else walker.shuttle

    def _next_leg(self, i: int, at: np.ndarray) -> None:
        """Person ``i`` at ``at`` turns: back along its route, or to a new random waypoint."""
        if np.all(np.isfinite(self._shuttle[i])):
            self._waypoints[i], self._shuttle[i] = self._shuttle[i].copy(), \
                self._waypoints[i].copy()
        else:
            self._new_waypoint(i, at)

    def _before_substep(self, action: np.ndarray) -> None:
        yaw = self.data.qpos[self._base_q[2]]
        v, w = action
        # World-frame set-points of the planar joints: zero sideways speed (diff drive).
        self.data.ctrl[:3] = [v * math.cos(yaw), v * math.sin(yaw), w]

    def _after_substep(self) -> None:
        h = self.model.opt.timestep
        robot_xy = self.data.qpos[self._base_q[:2]]
        personal_space = self.ROBOT_RADIUS + self.PERSON_RADIUS + 0.1
        for i, mocap in enumerate(self._people):
            pos = self.data.mocap_pos[mocap, :2].copy()
            delta = self._waypoints[i] - pos
            dist = float(np.linalg.norm(delta))
            stride = self._speeds[i] * h
            new = self._waypoints[i] if dist <= stride else pos + delta * (stride / dist)
            # People give way: they wait rather than walk into the robot, and after a
            # while head somewhere else. So collisions are mostly the robot's doing.
            gap = np.linalg.norm(new - robot_xy)
            if self._yields[i] and gap < personal_space and \
                    gap < np.linalg.norm(pos - robot_xy):
                self._waited[i] += h
                if self._waited[i] > self.PERSON_PATIENCE_S:
                    self._next_leg(i, pos)
                continue
            self._waited[i] = 0.0
            self.data.mocap_pos[mocap, :2] = new
            if dist <= stride:
                self._next_leg(i, new.copy())
        # Wheel encoders follow the base's actual motion (rolling without slip).
        v, w = self._twist()
        half = 0.5 * self.WHEEL_SEPARATION
        wheel_v = np.array([v - w * half, v + w * half]) / self.WHEEL_RADIUS
        self.data.qvel[self._vadr] = wheel_v

    def _twist(self) -> Tuple[float, float]:
        vx, vy, wz = self.data.qvel[self._base_v]
        yaw = self.data.qpos[self._base_q[2]]
        return float(vx * math.cos(yaw) + vy * math.sin(yaw)), float(wz)

    def _extra_observation(self) -> Dict[str, np.ndarray]:
        x, y, yaw = self.data.qpos[self._base_q]
        yaw = math.atan2(math.sin(yaw), math.cos(yaw))
        return {'base_pose': np.array([x, y, yaw]), 'base_twist': np.array(self._twist()),
                'scan': self.scan()}

    def scan_angles(self) -> np.ndarray:
        """``(SCAN_BEAMS,)`` beam headings [rad] in base_link, from -pi upwards."""
        return -math.pi + np.arange(self.SCAN_BEAMS) * (2.0 * math.pi / self.SCAN_BEAMS)

    def scan(self) -> np.ndarray:
        """Planar ranges [m] from the base's centre to walls, obstacles and people.

        Rays at ``SCAN_HEIGHT`` skip the robot's own body; a beam with no return within
        ``SCAN_RANGE_MAX`` reads ``SCAN_RANGE_MAX``. Beam order as :meth:`scan_angles`.
        """
        x, y, yaw = self.data.qpos[self._base_q]
        origin = np.array([x, y, self.SCAN_HEIGHT])
        ranges = np.full(self.SCAN_BEAMS, self.SCAN_RANGE_MAX)
        hit = np.zeros(1, dtype=np.int32)
        for i, angle in enumerate(self.scan_angles() + yaw):
            direction = np.array([math.cos(angle), math.sin(angle), 0.0])
            dist = mujoco.mj_ray(self.model, self.data, origin, direction, self._scan_groups,
                                 1, self._base_body, hit)
            if hit[0] >= 0 and 0.0 <= dist < self.SCAN_RANGE_MAX:
                ranges[i] = dist
        return ranges

    def occupancy_grid(self, resolution: float = 0.05, border: float = 0.25
                       ) -> Tuple[np.ndarray, np.ndarray]:
        """The room's static map: walls and furniture, not the people.

        Returns ``(occupied [H, W] bool, origin (x, y))`` in nav_msgs/OccupancyGrid layout
        (row = y index, cell (0, 0)'s outer corner at ``origin``), covering the room plus
        ``border`` metres of wall on every side.
        """
        half = self.ROOM_HALF_EXTENT + border
        n = int(math.ceil(2 * half / resolution))
        origin = np.array([-half, -half])
        centres = origin[0] + (np.arange(n) + 0.5) * resolution
        x, y = np.meshgrid(centres, centres)           # [row = y, col = x]
        occupied = (np.abs(x) > self.ROOM_HALF_EXTENT) | (np.abs(y) > self.ROOM_HALF_EXTENT)
        m = self.model
        for i in range(m.ngeom):
            geom = m.geom(i)
            if not geom.name.startswith('obstacle'):
                continue
            gx, gy = geom.pos[:2]
            if geom.type[0] == mujoco.mjtGeom.mjGEOM_CYLINDER:
                occupied |= np.hypot(x - gx, y - gy) <= geom.size[0]
            else:   # axis-aligned boxes (the room's furniture is not rotated)
                occupied |= (np.abs(x - gx) <= geom.size[0]) & (np.abs(y - gy) <= geom.size[1])
        return occupied, origin

    def people_positions(self) -> np.ndarray:
        """``(P, 2)`` current (x, y) of the scene's P people (2 in the default scene)."""
        return self.data.mocap_pos[self._people, :2].copy()

    def people_waypoints(self) -> np.ndarray:
        """``(P, 2)`` where each person walks to now (ground truth: labels of turns)."""
        return self._waypoints.copy()

    def people_waiting(self) -> np.ndarray:
        """``(P,)`` bool: the person is giving way to the robot (waiting) now."""
        return self._waited > 0.0

    def people_yielding(self) -> np.ndarray:
        """``(P,)`` bool: the person gives way to the robot (False: never waits)."""
        return self._yields.copy()


ROBOTS: Dict[str, Type[SimRobot]] = {'arm': ArmSim, 'mobile_base': MobileBaseSim,
                                     'tabletop': TabletopSim}


def make_robot(name: str, image_size: int = 64, control_dt: float = 0.1,
               scene: str = 'default') -> SimRobot:
    """Create a robot by name (a key of :data:`ROBOTS`); call ``reset`` next. ``scene``
    (:data:`.people_scenes.SCENES`) is the mobile base's only; SceneError otherwise."""
    if name not in ROBOTS:
        raise ValueError(f'unknown robot {name!r}; choose one of {sorted(ROBOTS)}')
    if name == 'mobile_base':
        return MobileBaseSim(image_size=image_size, control_dt=control_dt, scene=scene)
    if scene != 'default':
        raise SceneError(f'scene {scene!r} needs robot mobile_base, not {name!r}')
    return ROBOTS[name](image_size=image_size, control_dt=control_dt)
