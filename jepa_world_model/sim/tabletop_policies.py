"""Recording policy of the tabletop robot: pushes, grasps that hold, grasps that slip.

``ScriptedTabletopPolicy`` is a data collector, not a controller a robot would ship: it reads
the ground-truth object poses (``SimObservation.objects``) to aim its pushes and grasps, the
way scripted demonstrations are collected in simulation. The world model trained on the
recording never sees those poses (issue #13).

Each episode is a sequence of tasks drawn at random:

* ``push``: go above a point behind the block (seen from a random push direction), lower the
  closed hand to the table, slide it through where the block is, raise it;
* ``grasp``: go above the cube, open, lower around it, close, lift, hold, then lower and let
  go. Whether the cube stays in the hand is up to its mass and friction (TabletopSim);
* ``wander``: move to a random joint position (free motion, gripper anywhere).

Every phase ends when its target is reached or after a step limit, so a blocked motion never
stalls the episode.

The policy's commands are P-control on the joints, so during a grasp they react to what
happens: the gripper's closing command is gain x (0 - opening), large while the fingers
still close on nothing (a slipped cube) and small while they rest on a held one, and the
lift command stays high while a heavy held cube slows the hand. The recorded commands then
tell the outcome (docs/tabletop.md: alone they predict it perfectly). With
``open_loop_grasp`` the close and lift of a grasp are commanded blind instead: the gripper
squeezes at full speed throughout, and the lift follows the velocity profile the P-control
would give an unloaded hand from where the lift starts, so the commands are the same
whatever the cube does (policy ``scripted_open_loop`` of ``record``).

``attempts`` logs each grasp: the step the lift began and whether the cube was still above
the table ``HOLD_CHECK_STEPS`` later (the grip-hold label's ground truth; analysis code may
recompute it from the recorded poses).
"""

from dataclasses import dataclass
import math
from typing import List, Optional, Tuple

import numpy as np

from .base import SimObservation
from .tabletop import TabletopSim

__all__ = ['ScriptedTabletopPolicy', 'GraspAttempt', 'HOLD_CHECK_STEPS', 'TASKS']

TASKS = ('push', 'grasp', 'wander')
#: Steps after the lift starts at which a grasp is judged (1 s at 10 Hz).
HOLD_CHECK_STEPS = 10
#: Cube centre height [m] above which it counts as held (it rests at 0.03).
HELD_HEIGHT = 0.07
_LIFT_HIGH = -0.02          # hand well above both objects [m of lift]
_LIFT_TABLE = -0.225        # fingertips just above the table
_LIFT_GRASP = -0.21         # fingers around the cube's middle
_MAX_PHASE_SKIPS = 16


@dataclass
class GraspAttempt:
    """One grasp: the step its lift began, and the cube's state ``HOLD_CHECK_STEPS`` later."""

    lift_step: int
    held: Optional[bool] = None


@dataclass
class _Phase:
    """Drive the joints toward ``target`` (yaw, reach, lift, gripper; None: keep) for at most
    ``limit`` steps, or exactly ``limit`` steps when ``wait``."""

    target: Tuple[Optional[float], ...]
    limit: int
    wait: bool = False
    mark_lift: bool = False
    blind: bool = False     # a grasp's close or lift: commanded open loop when asked


class ScriptedTabletopPolicy:
    """Scripted pushes and grasps (see the module notes); ``policy(obs) -> action``."""

    def __init__(self, robot: TabletopSim, seed: int, task_weights=(0.4, 0.45, 0.15),
                 gain: float = 3.0, open_loop_grasp: bool = False) -> None:
        self.robot = robot
        self.open_loop_grasp = open_loop_grasp
        self._blind_phase: Optional[_Phase] = None   # the blind phase under way, if any
        self._blind_start = np.zeros(4)               # the joints where it began
        self._blind_step = 0
        self.rng = np.random.default_rng(seed)
        self.weights = np.asarray(task_weights, dtype=float) / float(np.sum(task_weights))
        self.gain = gain
        self.low, self.high = robot.action_low, robot.action_high
        self.attempts: List[GraspAttempt] = []
        self.tasks: List[str] = []
        self._plan: List[_Phase] = []
        self._left = 0
        self._step = 0

    # ------------------------------------------------------------------ task plans

    def _over(self, xy: np.ndarray, lift: float, gripper: Optional[float], limit: int
              ) -> _Phase:
        yaw, reach = self.robot.joints_for(xy)
        return _Phase((yaw, reach, lift, gripper), limit)

    def _push(self, obs: SimObservation) -> List[_Phase]:
        block = obs.objects['block'][:2]
        heading = self.rng.uniform(-math.pi, math.pi)
        direction = np.array([math.cos(heading), math.sin(heading)])
        start = block - 0.14 * direction
        end = block + self.rng.uniform(0.0, 0.12) * direction
        return [self._over(start, _LIFT_HIGH, 0.0, 25), self._over(start, _LIFT_TABLE, 0.0, 15),
                self._over(end, _LIFT_TABLE, 0.0, 25), _Phase((None, None, _LIFT_HIGH, None), 12)]

    def _grasp(self, obs: SimObservation) -> List[_Phase]:
        cube = obs.objects['cube'][:2]
        hold = int(self.rng.integers(HOLD_CHECK_STEPS, HOLD_CHECK_STEPS + 10))
        return [self._over(cube, _LIFT_HIGH, 0.05, 25), self._over(cube, _LIFT_GRASP, 0.05, 15),
                _Phase((None, None, None, 0.0), 5, wait=True, blind=True),
                _Phase((None, None, _LIFT_HIGH, 0.0), hold, wait=True, mark_lift=True,
                       blind=True),
                _Phase((None, None, _LIFT_GRASP + 0.02, 0.0), 12),
                _Phase((None, None, None, 0.05), 4, wait=True),
                _Phase((None, None, _LIFT_HIGH, 0.05), 12)]

    def _wander(self) -> List[_Phase]:
        q = self.robot.sample_waypoint(self.rng)
        return [_Phase(tuple(float(v) for v in q), 30)]

    def _next_task(self, obs: SimObservation) -> None:
        task = TASKS[int(self.rng.choice(len(TASKS), p=self.weights))]
        self.tasks.append(task)
        self._plan = (self._push(obs) if task == 'push' else
                      self._grasp(obs) if task == 'grasp' else self._wander())
        self._left = self._plan[0].limit
        if self._plan[0].mark_lift:
            self.attempts.append(GraspAttempt(self._step))

    # ------------------------------------------------------------------ control

    def _judge(self, obs: SimObservation) -> None:
        for attempt in self.attempts:
            if attempt.held is None and self._step - attempt.lift_step >= HOLD_CHECK_STEPS:
                attempt.held = bool(obs.objects['cube'][2] > HELD_HEIGHT)

    def _advance(self, obs: SimObservation) -> None:
        for _ in range(_MAX_PHASE_SKIPS):   # bounded: phases already reached are skipped
            if self._plan and self._left > 0 and not self._reached(obs):
                return
            if self._plan:
                self._plan.pop(0)
            if not self._plan:
                self._next_task(obs)
            else:
                self._left = self._plan[0].limit
                if self._plan[0].mark_lift:
                    self.attempts.append(GraspAttempt(self._step))
                return

    def _reached(self, obs: SimObservation) -> bool:
        phase = self._plan[0]
        if phase.wait:
            return False
        err = [abs(t - q) for t, q in zip(phase.target, obs.q) if t is not None]
        tol = (0.03, 0.01, 0.01, 0.004)
        return all(e < tol[i] for i, e in enumerate(err))

    def __call__(self, obs: SimObservation) -> np.ndarray:
        """Next action for ``obs`` (the velocity P-control of the current phase)."""
        self._judge(obs)
        self._advance(obs)
        phase = self._plan[0]
        self._left -= 1
        self._step += 1
        if self.open_loop_grasp and phase.blind:
            return self._blind_action(phase, obs)
        action = np.zeros(4)
        for i in range(3):
            target = phase.target[i]
            action[i] = 0.0 if target is None else self.gain * (target - obs.q[i])
        gripper = phase.target[3]
        action[3] = 0.0 if gripper is None else self.gain * (gripper - obs.q[3])
        return np.clip(action, self.low, self.high)

    def _blind_action(self, phase: _Phase, obs: SimObservation) -> np.ndarray:
        """An open-loop grasp command: full squeeze, and for a lift the P-control profile of
        an unloaded hand from the joints where the phase began (module notes)."""
        if self._blind_phase is not phase:
            self._blind_start, self._blind_phase, self._blind_step = obs.q.copy(), phase, 0
        decay = (1.0 - self.gain * self.robot.dt) ** self._blind_step
        self._blind_step += 1
        action = np.zeros(4)
        for i in range(3):
            target = phase.target[i]
            if target is not None:
                action[i] = self.gain * (target - self._blind_start[i]) * decay
        action[3] = self.low[3]   # close at full speed, whatever the fingers meet
        return np.clip(action, self.low, self.high)
