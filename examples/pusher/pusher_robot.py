"""Gymnasium's MuJoCo ``Pusher-v5`` behind the small simulator API the package's recorder
and the ROS wrapper use: ``reset(seed) -> obs``, ``step(action) -> obs``, ``close()``, and
``joint_names``, ``action_names``, ``action_low``, ``action_high``, ``dt``.

Pusher is a 7-DoF arm driven by joint torques (N·m, each in [-2, 2]) on a table with an
object and a goal marker; gravity is off, so zero torque leaves the arm drifting to a stop
under its joint damping. One step is gymnasium's: 5 MuJoCo steps of 10 ms (``dt`` 0.05 s).

The camera is a fixed oblique view rendered offscreen with ``mujoco.Renderer`` (shadows off:
with software EGL they cost about 40 ms of the 50 ms a 64 px frame takes). Episodes run on
the unwrapped environment: gymnasium's 100-step time limit and the task reward play no part.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import os
from typing import List, Sequence

os.environ.setdefault('MUJOCO_GL', 'egl')   # headless rendering; must precede mujoco import

import numpy as np   # noqa: E402

try:   # gymnasium[mujoco] is an optional dependency of this example only
    import gymnasium
    import mujoco
except ImportError as exc:   # pragma: no cover - depends on the environment
    raise ImportError('the Pusher example needs gymnasium[mujoco]: '
                      'pip install "gymnasium[mujoco]"') from exc

__all__ = ['PusherObservation', 'PusherRobot', 'ARM_JOINTS', 'CAMERA']

#: The arm's joints, in the order of the model (and of its actuators).
ARM_JOINTS = ('r_shoulder_pan_joint', 'r_shoulder_lift_joint', 'r_upper_arm_roll_joint',
              'r_elbow_flex_joint', 'r_forearm_roll_joint', 'r_wrist_flex_joint',
              'r_wrist_roll_joint')
#: Bound on one frame (a first software-EGL frame takes ~0.3 s; a loaded machine more).
RENDER_TIMEOUT_S = 30.0
#: Fixed free camera: look-at point [m], distance [m], elevation and azimuth [deg].
CAMERA = {'lookat': (0.3, -0.2, -0.2), 'distance': 2.0, 'elevation': -40.0, 'azimuth': 135.0}


@dataclass
class PusherObservation:
    """One observation.

    Attributes:
        time: Seconds since reset.
        image: [S, S, 3] uint8 RGB.
        q, dq: [7] arm joint positions [rad] and velocities [rad/s], ``ARM_JOINTS`` order.
        ee: [3] position of the finger tips (body ``tips_arm``) in the world [m].
        contact: The arm touches the object.
        collision: Always False (the table is below the arm's reach); kept for the API.
    """

    time: float
    image: np.ndarray
    q: np.ndarray
    dq: np.ndarray
    ee: np.ndarray
    contact: bool = False
    collision: bool = False


class PusherRobot:
    """``Pusher-v5`` with a camera, seeded resets and torque steps."""

    def __init__(self, image_size: int = 64) -> None:
        """Make the environment and the renderer (fails here without a GL backend)."""
        if not 16 <= int(image_size) <= 512:
            raise ValueError(f'image_size must be 16..512 px, got {image_size}')
        self.image_size = int(image_size)
        self.env = gymnasium.make('Pusher-v5').unwrapped
        self.model, self.data = self.env.model, self.env.data
        names = [mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_JOINT, i)
                 for i in range(self.model.njnt)]
        if tuple(names[:len(ARM_JOINTS)]) != ARM_JOINTS:
            raise RuntimeError(f'unexpected Pusher joints {names}; this example expects '
                               f'{list(ARM_JOINTS)} first')
        self.joint_names: List[str] = list(ARM_JOINTS)
        self.action_names = [f'{name}_effort' for name in ARM_JOINTS]
        self.action_low = self.model.actuator_ctrlrange[:, 0].copy()
        self.action_high = self.model.actuator_ctrlrange[:, 1].copy()
        self.joint_low = self.model.jnt_range[:len(ARM_JOINTS), 0].copy()
        self.joint_high = self.model.jnt_range[:len(ARM_JOINTS), 1].copy()
        self.dt = float(self.env.dt)
        self._tips = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, 'tips_arm')
        self._object = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, 'object')
        # An EGL context is current in one thread only, and a ROS executor may call step()
        # from any thread: every GL call runs on this one worker thread.
        self._render_pool = ThreadPoolExecutor(1, thread_name_prefix='pusher_render')
        self._renderer = self._render_pool.submit(self._make_renderer).result(
            RENDER_TIMEOUT_S)
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self._camera.lookat[:] = CAMERA['lookat']
        self._camera.distance = CAMERA['distance']
        self._camera.elevation, self._camera.azimuth = CAMERA['elevation'], CAMERA['azimuth']
        self._time0 = 0.0

    def _make_renderer(self) -> 'mujoco.Renderer':
        renderer = mujoco.Renderer(self.model, self.image_size, self.image_size)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        return renderer

    def _render_now(self) -> np.ndarray:
        self._renderer.update_scene(self.data, camera=self._camera)
        return self._renderer.render().copy()

    def reset(self, seed: int) -> PusherObservation:
        """Gymnasium's seeded reset: the arm at rest at q = 0, object and goal drawn."""
        self.env.reset(seed=int(seed))
        self._time0 = float(self.data.time)
        return self.observe()

    def step(self, action: Sequence[float]) -> PusherObservation:
        """Apply the torques [7] (clipped to the actuator range) for one period ``dt``."""
        torque = np.asarray(action, dtype=np.float64)
        if torque.shape != (len(ARM_JOINTS),) or not np.all(np.isfinite(torque)):
            raise ValueError(f'a Pusher action is {len(ARM_JOINTS)} finite torques, got '
                             f'{torque.tolist()}')
        self.env.do_simulation(np.clip(torque, self.action_low, self.action_high),
                               self.env.frame_skip)
        # mj_step leaves the body positions of the substep's start: recompute them at the
        # new q, so ee and the image show the state the joint positions report.
        mujoco.mj_forward(self.model, self.data)
        return self.observe()

    def observe(self, render: bool = True) -> PusherObservation:
        """The current state (and its image unless ``render`` is False)."""
        n = len(ARM_JOINTS)
        image = self.render() if render else np.zeros((0, 0, 3), np.uint8)
        return PusherObservation(time=float(self.data.time) - self._time0, image=image,
                                 q=self.data.qpos[:n].copy(), dq=self.data.qvel[:n].copy(),
                                 ee=self.data.xpos[self._tips].copy(),
                                 contact=self._touches_object())

    def render(self) -> np.ndarray:
        """[S, S, 3] uint8 RGB from the fixed camera (on the render thread)."""
        if self._renderer is None:
            raise RuntimeError('PusherRobot.render() after close()')
        return self._render_pool.submit(self._render_now).result(RENDER_TIMEOUT_S)

    def pose_at(self, q: Sequence[float], render: bool = True) -> PusherObservation:
        """The observation of arm configuration ``q`` [7] at rest (object and goal stay):
        the state is restored afterwards, so it can be called mid-episode."""
        saved_q, saved_v = self.data.qpos.copy(), self.data.qvel.copy()
        try:
            self.data.qpos[:len(ARM_JOINTS)] = np.asarray(q, dtype=np.float64)
            self.data.qvel[:] = 0.0
            mujoco.mj_forward(self.model, self.data)
            return self.observe(render)
        finally:
            self.data.qpos[:], self.data.qvel[:] = saved_q, saved_v
            mujoco.mj_forward(self.model, self.data)

    def _touches_object(self) -> bool:
        for i in range(self.data.ncon):
            contact = self.data.contact[i]
            bodies = {int(self.model.geom_bodyid[contact.geom1]),
                      int(self.model.geom_bodyid[contact.geom2])}
            if self._object in bodies and any(b not in (0, self._object) for b in bodies):
                return True
        return False

    def close(self) -> None:
        """Free the renderer and the environment."""
        renderer, self._renderer = self._renderer, None
        if renderer is not None:
            self._render_pool.submit(renderer.close).result(RENDER_TIMEOUT_S)
            self._render_pool.shutdown(wait=True)
        self.env.close()
