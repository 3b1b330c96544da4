"""Common plumbing of the MuJoCo robots: ``SimObservation`` and the ``SimRobot`` base class.

``SimRobot`` loads an XML asset, runs a control period as several MuJoCo substeps, detects
contacts and collisions, renders the overhead camera and seeds every episode. Subclasses in
:mod:`.robots` add the robot-specific state, randomisation and actuation.

Rendering runs on one dedicated worker thread per robot because an EGL/OSMesa context can
only be current in one thread: callers (e.g. a ROS executor thread pool) may call ``step``
from any thread.
"""

import os

os.environ.setdefault('MUJOCO_GL', 'egl')  # headless rendering; must precede mujoco import

from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
import importlib.resources  # noqa: E402
import math  # noqa: E402
from typing import Dict, Optional, Tuple  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ['SimObservation', 'SimRobot', 'MAX_TIMESTEP', 'MAX_SAMPLING_TRIES']

#: Longest MuJoCo substep; the actual one divides the control period evenly.
MAX_TIMESTEP = 0.005
#: Bound on waiting for the render thread (a first EGL frame takes ~0.1-0.3 s).
RENDER_TIMEOUT_S = 30.0
#: Rejection-sampling bound for random placements.
MAX_SAMPLING_TRIES = 200


@dataclass
class SimObservation:
    """What the robot's sensors report after a reset or a step.

    Attributes:
        time: Simulation time [s].
        image: ``(H, W, 3)`` uint8 RGB from the overhead camera (None if not rendered).
        q: Joint positions [rad], ``joint_names`` order.
        dq: Joint velocities [rad/s].
        base_pose: ``(x, y, yaw)`` of base_link in the odom/world frame, or None (arm).
        base_twist: ``(v, w)`` forward speed [m/s] and yaw rate [rad/s], or None (arm).
        contact: Any robot geom touched anything during the step (self contact included).
        collision: The robot touched an obstacle, a wall or a person during the step.
        target_pos: ``(x, y, z)`` of the arm's target ball [m], or None.
        scan: ``(B,)`` planar range scan [m] from the base's centre, beam ``i`` at heading
            ``-pi + i * 2 pi / B`` in base_link (a 360-degree lidar), or None (arm).
        objects: Ground-truth poses of the scene's movable things, name -> ``(7,)``
            ``(x, y, z, qw, qx, qy, qz)`` in the world frame [m], or None. For evaluation
            read-outs only: never a model or planner input (issue #13).
        labels: Ground-truth labels of the episode, name -> text (the tabletop's
            ``cube_material``), or None. Evaluation only, like ``objects``.
    """

    time: float
    image: Optional[np.ndarray]
    q: np.ndarray
    dq: np.ndarray
    base_pose: Optional[np.ndarray] = None
    base_twist: Optional[np.ndarray] = None
    contact: bool = False
    collision: bool = False
    target_pos: Optional[np.ndarray] = None
    scan: Optional[np.ndarray] = None
    objects: Optional[Dict[str, np.ndarray]] = None
    labels: Optional[Dict[str, str]] = None


def _load_model(filename: str) -> mujoco.MjModel:
    """Compile an XML asset shipped in ``jepa_world_model/sim/assets`` (zip-safe read)."""
    xml = importlib.resources.files(__package__).joinpath('assets').joinpath(filename).read_text(
        encoding='utf-8')
    return mujoco.MjModel.from_xml_string(xml)


class SimRobot:
    """Common MuJoCo plumbing: substeps, contacts, rendering, seeding. Subclass it."""

    name = ''
    xml_file = ''
    joint_names: Tuple[str, ...] = ()
    action_names: Tuple[str, ...] = ()
    camera = 'overhead'
    hazard_geom_prefixes: Tuple[str, ...] = ()
    #: Longest substep of this robot (grasping needs shorter steps than free motion).
    max_timestep = MAX_TIMESTEP

    def __init__(self, image_size: int = 64, control_dt: float = 0.1) -> None:
        """Load the model; ``control_dt`` [s] is the period of one ``step``."""
        if not 8 <= int(image_size) <= 1024:
            raise ValueError(f'image_size must be in [8, 1024], got {image_size}')
        if not (math.isfinite(control_dt) and 0.001 <= control_dt <= 10.0):
            raise ValueError(f'control_dt must be in [0.001, 10] s, got {control_dt}')
        self.image_size = int(image_size)
        self.model = _load_model(self.xml_file)
        self.n_substeps = max(1, math.ceil(control_dt / self.max_timestep - 1e-9))
        self.model.opt.timestep = control_dt / self.n_substeps
        self.dt = float(control_dt)
        # Enough offscreen framebuffer for any requested size.
        vis = self.model.vis.global_
        vis.offwidth = max(vis.offwidth, self.image_size)
        vis.offheight = max(vis.offheight, self.image_size)
        self.data = mujoco.MjData(self.model)
        self._qadr = np.array([self.model.joint(n).qposadr[0] for n in self.joint_names])
        self._vadr = np.array([self.model.joint(n).dofadr[0] for n in self.joint_names])
        root = self.model.body_rootid
        robot_root = root[self.model.joint(self.joint_names[0]).bodyid[0]]
        self._robot_geoms = np.flatnonzero(root[self.model.geom_bodyid] == robot_root)
        self._hazard_geoms = np.array([
            i for i in range(self.model.ngeom)
            if self.model.geom(i).name.startswith(self.hazard_geom_prefixes)])
        self._renderer: Optional[mujoco.Renderer] = None
        self._render_pool: Optional[ThreadPoolExecutor] = None
        self._seeds = np.random.default_rng(0)   # seeds for reset(None)
        self.rng = np.random.default_rng(0)
        self.seed: Optional[int] = None

    # ------------------------------------------------------------------ public interface

    @property
    def action_dim(self) -> int:
        """Number of action components."""
        return len(self.action_names)

    def reset(self, seed: Optional[int] = None, render: bool = True) -> SimObservation:
        """Start a new episode; ``seed`` None draws the next seed of a fixed sequence."""
        if seed is None:
            seed = int(self._seeds.integers(0, 2 ** 31 - 1))
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        mujoco.mj_resetData(self.model, self.data)
        self._randomise()
        mujoco.mj_forward(self.model, self.data)
        contact, collision = self._contacts()
        return self._observe(contact, collision, render)

    def step(self, action, render: bool = True) -> SimObservation:
        """Apply ``action`` (clipped to the bounds) for ``dt`` seconds and observe.

        Raises:
            ValueError: If ``action`` has the wrong size or a non-finite value.
        """
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (self.action_dim,):
            raise ValueError(f'{self.name}: action must have {self.action_dim} values '
                             f'{list(self.action_names)}, got shape {a.shape}')
        if not np.all(np.isfinite(a)):
            raise ValueError(f'{self.name}: action has non-finite values {a.tolist()}')
        a = np.clip(a, self.action_low, self.action_high)
        contact = collision = False
        for _ in range(self.n_substeps):
            self._before_substep(a)
            mujoco.mj_step(self.model, self.data)
            self._after_substep()
            # Any contact within the period counts: a brief bump is still a collision.
            c, k = self._contacts()
            contact, collision = contact or c, collision or k
        return self._observe(contact, collision, render)

    def camera_intrinsics(self) -> Tuple[float, float, float, float, int, int]:
        """Pinhole ``(fx, fy, cx, cy, width, height)`` of the square camera image."""
        fovy = math.radians(float(self.model.cam_fovy[self.model.camera(self.camera).id]))
        size = self.image_size
        focal = 0.5 * size / math.tan(0.5 * fovy)
        return focal, focal, 0.5 * size, 0.5 * size, size, size

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points [..., 3] -> pixels [..., 2] (u right, v down; (0, 0) the image's
        top-left corner) in this robot's camera, as the current state places it; NaN for
        points behind the camera. For drawing ground truth and predictions over frames."""
        mujoco.mj_kinematics(self.model, self.data)
        cam = self.model.camera(self.camera).id
        # cam_xmat's columns are the camera's x (right), y (up) and z (backward) axes.
        rel = (np.asarray(points, float) - self.data.cam_xpos[cam]) \
            @ self.data.cam_xmat[cam].reshape(3, 3)
        fx, fy, cx, cy, _, _ = self.camera_intrinsics()
        depth = -rel[..., 2]
        depth = np.where(depth > 1e-6, depth, np.nan)
        return np.stack([cx + fx * rel[..., 0] / depth, cy - fy * rel[..., 1] / depth], -1)

    def render(self) -> np.ndarray:
        """Render the current state (``(H, W, 3)`` uint8, a new array)."""
        if self._render_pool is None:
            self._render_pool = ThreadPoolExecutor(1, thread_name_prefix=f'{self.name}_render')
        return self._render_pool.submit(self._render_in_worker).result(RENDER_TIMEOUT_S)

    def close(self) -> None:
        """Free the renderer and its thread (the robot can still step without images)."""
        pool, self._render_pool = self._render_pool, None
        if pool is not None:
            pool.submit(self._close_in_worker).result(RENDER_TIMEOUT_S)
            pool.shutdown(wait=True)

    def __enter__(self) -> 'SimRobot':
        """Context manager: ``with make_robot('arm') as robot: ...``."""
        return self

    def __exit__(self, *exc_info) -> None:
        """Close on leaving the ``with`` block."""
        self.close()

    def sample_waypoint(self, rng: np.random.Generator) -> np.ndarray:
        """A random goal for exploration (joint positions, or a free (x, y))."""
        raise NotImplementedError

    # ------------------------------------------------------------------ subclass hooks

    def _randomise(self) -> None:
        """Set the initial state from ``self.rng`` (qpos, mocap bodies)."""
        raise NotImplementedError

    def _before_substep(self, action: np.ndarray) -> None:
        """Write the actuator set-points for ``action``."""
        self.data.ctrl[:] = action

    def _after_substep(self) -> None:
        """Kinematic updates after each MuJoCo step (mocap bodies, wheels)."""

    def _extra_observation(self) -> Dict[str, np.ndarray]:
        """Robot-specific fields of the observation."""
        return {}

    # ------------------------------------------------------------------ helpers

    def _contacts(self) -> Tuple[bool, bool]:
        """(any robot contact, robot-hazard contact) in the current MuJoCo state."""
        n = self.data.ncon
        if n == 0:
            return False, False
        g1, g2 = self.data.contact.geom1[:n], self.data.contact.geom2[:n]
        r1, r2 = np.isin(g1, self._robot_geoms), np.isin(g2, self._robot_geoms)
        h1, h2 = np.isin(g1, self._hazard_geoms), np.isin(g2, self._hazard_geoms)
        return bool(np.any(r1 | r2)), bool(np.any((r1 & h2) | (r2 & h1)))

    def _observe(self, contact: bool, collision: bool, render: bool) -> SimObservation:
        return SimObservation(
            time=float(self.data.time),
            image=self.render() if render else None,
            q=self.data.qpos[self._qadr].copy(), dq=self.data.qvel[self._vadr].copy(),
            contact=contact, collision=collision, **self._extra_observation())

    def _render_in_worker(self) -> np.ndarray:
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.image_size, self.image_size)
        self._renderer.update_scene(self.data, camera=self.camera)
        return self._renderer.render().copy()

    def _close_in_worker(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
