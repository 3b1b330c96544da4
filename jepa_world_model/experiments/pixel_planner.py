"""A pixel-space planner with an oracle simulator: the raw-pixel baseline for goal images.

It answers "how good is pixel distance to the goal image as a planning objective, with a
perfect model?", the comparison DINO-WM draws against pixel-reconstruction world models.
The model is the simulator itself: the measured joint state is written into a copy of the
episode's MuJoCo scene, each candidate action is rolled out, the frame is rendered and
scored by its mean squared pixel error to the goal image.

Search (per control step): a greedy choice over a grid of joint-velocity commands, each of
``speeds`` per joint (3 speeds, 3 joints: 27 candidates). Each candidate is held from the
current state and its frame is rendered and scored after each of ``checkpoints`` control
periods; a candidate costs its best checkpoint. The best candidate's command is executed for
one period, then the search repeats (receding horizon). Budget per step: 1 + 26 x
len(checkpoints) + 1 renders and 26 x max(checkpoints) simulated control periods.

No ROS here.
"""

from __future__ import annotations

import os

os.environ.setdefault('MUJOCO_GL', 'egl')   # headless rendering; must precede mujoco import

from dataclasses import dataclass  # noqa: E402
import itertools  # noqa: E402
import time  # noqa: E402
from typing import Optional, Tuple  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from ..sim.robots import ArmSim  # noqa: E402

__all__ = ['PixelPlannerConfig', 'PixelPlan', 'PixelGreedyPlanner', 'pixel_distance']


def pixel_distance(image: np.ndarray, goal: np.ndarray) -> float:
    """Mean squared difference of two [S, S, 3] uint8 images, in (intensity / 255)^2."""
    a = np.asarray(image, dtype=np.float32) / 255.0
    b = np.asarray(goal, dtype=np.float32) / 255.0
    return float(np.mean((a - b) ** 2))


@dataclass(frozen=True)
class PixelPlannerConfig:
    """Search budget of :class:`PixelGreedyPlanner`.

    Attributes:
        speeds: Joint velocities [rad/s] tried per joint (the grid is their product).
        checkpoints: Control periods after which a held candidate's frame is rendered and
            scored (increasing); a candidate costs its best checkpoint's pixel distance.
    """

    speeds: Tuple[float, ...] = (-1.0, 0.0, 1.0)
    checkpoints: Tuple[int, ...] = (3,)

    def __post_init__(self) -> None:
        """Validate; raise ValueError."""
        if not self.speeds or not self.checkpoints or min(self.checkpoints) < 1 \
                or list(self.checkpoints) != sorted(set(self.checkpoints)):
            raise ValueError('need speeds and increasing checkpoints >= 1, got '
                             f'{self.speeds}, {self.checkpoints}')


@dataclass(frozen=True)
class PixelPlan:
    """One planning step.

    Attributes:
        action: [A] the joint velocities to send [rad/s].
        cost: Pixel distance of the chosen candidate's frame to the goal.
        current_cost: Pixel distance of the current frame (the state planned from).
        seconds: Wall time of the search.
        renders: Frames rendered.
    """

    action: np.ndarray
    cost: float
    current_cost: float
    seconds: float
    renders: int


class PixelGreedyPlanner:
    """Greedy grid search on rendered frames of an oracle copy of the simulator.

    Args:
        sim: An ``ArmSim`` whose scene is the episode's (``ArmTaskFactory.make_task`` leaves
            it so); its state is overwritten by every :meth:`plan` call.
        config: Search budget.
    """

    def __init__(self, sim: ArmSim, config: PixelPlannerConfig = PixelPlannerConfig()) -> None:
        self.sim, self.config = sim, config
        grid = itertools.product(config.speeds, repeat=sim.action_dim)
        self.candidates = np.array(list(grid), dtype=np.float64)   # [K, A]
        self._start = mujoco.MjData(sim.model)
        self.goal: Optional[np.ndarray] = None

    @property
    def renders_per_plan(self) -> int:
        """Frames rendered per :meth:`plan` (the current one, then each checkpoint of each
        candidate; the zero action is scored once)."""
        moving = int(np.count_nonzero(np.any(self.candidates != 0, axis=1)))
        return 1 + moving * len(self.config.checkpoints) + (len(self.candidates) - moving)

    def set_goal(self, goal_image: np.ndarray) -> None:
        """The goal frame [S, S, 3] uint8, the size of the simulator's camera."""
        goal = np.asarray(goal_image)
        size = self.sim.image_size
        if goal.shape != (size, size, 3):
            raise ValueError(f'goal image must be ({size}, {size}, 3), got {goal.shape}')
        self.goal = goal.copy()

    def _load(self, q: np.ndarray, dq: np.ndarray) -> None:
        d = self.sim.data
        d.qpos[self.sim._qadr] = q
        d.qvel[self.sim._vadr] = dq
        mujoco.mj_forward(self.sim.model, d)

    def _score(self) -> float:
        return pixel_distance(self.sim.render(), self.goal)

    def _rollout_cost(self, action: np.ndarray) -> float:
        """Best checkpoint cost of ``action`` held from the saved start state.

        The control period is ``ArmSim.step``'s actuation (ctrl = the clipped velocity
        command for every substep) without its contact bookkeeping, 10x cheaper.
        """
        model, d, sim = self.sim.model, self.sim.data, self.sim
        mujoco.mj_copyData(d, model, self._start)
        if not np.any(action):
            return self._score()   # at rest the frame does not change
        d.ctrl[:] = np.clip(action, sim.action_low, sim.action_high)
        best, done = np.inf, 0
        for checkpoint in self.config.checkpoints:
            for _ in range((checkpoint - done) * sim.n_substeps):
                mujoco.mj_step(model, d)
            done = checkpoint
            best = min(best, self._score())
        return best

    def plan(self, q: np.ndarray, dq: np.ndarray) -> PixelPlan:
        """Best first action from measured joint positions ``q`` [A] and velocities ``dq``.

        Raises:
            RuntimeError: No goal set.
        """
        if self.goal is None:
            raise RuntimeError('set_goal first')
        started = time.perf_counter()
        self._load(np.asarray(q, np.float64), np.asarray(dq, np.float64))
        current = self._score()
        mujoco.mj_copyData(self._start, self.sim.model, self.sim.data)
        costs = np.array([self._rollout_cost(a) for a in self.candidates])
        mujoco.mj_copyData(self.sim.data, self.sim.model, self._start)
        best = int(np.argmin(costs))
        return PixelPlan(action=self.candidates[best].copy(), cost=float(costs[best]),
                         current_cost=current, seconds=time.perf_counter() - started,
                         renders=self.renders_per_plan)
