"""Episodes of the simulated base among people, turned into agent-prediction samples.

:func:`simulate` drives ``MobileBaseSim`` (no rendering) with an exploration policy and keeps,
per 0.1 s step, what the robot senses (scan, odometry pose and twist, its command) and the
simulator's ground truth about the people (positions, waypoints, whether each is giving way).
Even seeds drive with ``seek`` (half the goals are where a person stands: many encounters,
people giving way), odd seeds with ``noisy`` goal seeking.

:func:`samples` runs the robot's own pipeline (:class:`~..core.agents.pipeline.AgentPipeline`:
scan -> detections -> tracks) over an episode and, for every confirmed track that lies within
``LABEL_GATE`` of a person, makes one sample: the predictor's input built from the track, and
as labels that person's true positions at the horizon times. The simulator's people are
labels only; nothing of them enters the input. The robot's future positions in the input are
the ones it really reached (what its plan said, for a plan that is followed); the held-twist
variant (the node without a plan) is kept too.

Slices (ground truth): ``turn``: the person's waypoint changes within the horizon (a new
direction the past cannot show); ``give_way``: the person waits for the robot at some step
within it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional

os.environ.setdefault('MUJOCO_GL', 'egl')   # headless rendering; must precede mujoco import

import numpy as np  # noqa: E402

from ..core.agents.features import HORIZONS_S  # noqa: E402
from ..core.agents.pipeline import AgentPipeline, held_twist_future  # noqa: E402
from ..core.agents.predictor import AgentPredictor  # noqa: E402
from ..core.agents.scan_detection import DetectionSettings, StaticMask  # noqa: E402
from ..sim.exploration import make_policy  # noqa: E402
from ..sim.robots import MobileBaseSim  # noqa: E402

__all__ = ['Episode', 'simulate', 'static_mask', 'samples', 'LABEL_GATE', 'policy_for_seed']

#: A track further than this from every person is a false track: no label, no sample.
LABEL_GATE = 0.5
CONTROL_DT = 0.1


@dataclass
class Episode:
    """One simulated episode, per step ``t`` (``T`` steps, ``P`` people, ``B`` beams)."""

    seed: int
    policy: str
    time: np.ndarray           # [T]
    pose: np.ndarray           # [T, 3] base (x, y, yaw) in odom (= world)
    twist: np.ndarray          # [T, 2] (v, w)
    scan: np.ndarray           # [T, B]
    people: np.ndarray         # [T, P, 2]
    waypoints: np.ndarray      # [T, P, 2]
    waiting: np.ndarray        # [T, P] bool
    collisions: int


def policy_for_seed(seed: int) -> str:
    """``seek`` for even seeds, ``noisy`` for odd ones."""
    return 'seek' if seed % 2 == 0 else 'noisy'


def simulate(sim: MobileBaseSim, seed: int, steps: int) -> Episode:
    """Run one episode of ``steps`` control periods from ``sim.reset(seed)``."""
    policy_name = policy_for_seed(seed)
    obs = sim.reset(seed, render=False)
    policy = make_policy(policy_name, sim, seed)
    rows: Dict[str, List[np.ndarray]] = {k: [] for k in (
        'time', 'pose', 'twist', 'scan', 'people', 'waypoints', 'waiting')}
    collisions = 0
    for _ in range(steps):
        rows['time'].append(np.array(obs.time))
        rows['pose'].append(obs.base_pose)
        rows['twist'].append(obs.base_twist)
        rows['scan'].append(obs.scan)
        rows['people'].append(sim.people_positions())
        rows['waypoints'].append(sim.people_waypoints())
        rows['waiting'].append(sim.people_waiting())
        obs = sim.step(policy(obs), render=False)
        collisions += int(obs.collision)
    arrays = {k: np.array(v) for k, v in rows.items()}
    return Episode(seed=seed, policy=policy_name, collisions=collisions, **arrays)


def static_mask(sim: MobileBaseSim, tolerance: float) -> StaticMask:
    """The room's map as the detector uses it (the map a robot would be given)."""
    occupied, origin = sim.occupancy_grid()
    return StaticMask(occupied, 0.05, (float(origin[0]), float(origin[1])), tolerance)


def samples(episode: Episode, sim: MobileBaseSim, predictor: Optional[AgentPredictor] = None,
            detection: DetectionSettings = DetectionSettings()) -> Dict[str, np.ndarray]:
    """The samples of one episode (see the module docstring); arrays over samples ``N``:
    ``features [N, F]``, ``rotation [N, 2, 2]``, ``now [N, 2]`` (track), ``velocity [N, 2]``,
    ``truth_now [N, 2]``, ``future [N, H, 2]`` (truth), ``features_held [N, F]`` (robot
    future from its twist held), ``turn [N]``, ``give_way [N]``, ``step [N]``,
    ``track [N]``, ``person [N]``; plus ``tracking``: per-step counts for the tracker's
    quality (people within 3 m, of them tracked within 0.3 m, confirmed tracks, false ones)."""
    pipeline = AgentPipeline(detection, predictor=predictor,
                             static=static_mask(sim, detection.map_tolerance))
    angles = sim.scan_angles()
    increment = float(angles[1] - angles[0])
    offsets = np.round(np.asarray(HORIZONS_S) / CONTROL_DT).astype(int)
    out: Dict[str, List[np.ndarray]] = {k: [] for k in (
        'features', 'rotation', 'now', 'velocity', 'truth_now', 'future', 'features_held',
        'turn', 'give_way', 'step', 'track', 'person')}
    quality = np.zeros(4, dtype=np.int64)
    steps = len(episode.time)
    for t in range(steps):
        pose = episode.pose[t]
        tracks = pipeline.observe(episode.scan[t], float(angles[0]), increment, 0.0,
                                  sim.SCAN_RANGE_MAX, pose, float(episode.time[t]))
        truth = episode.people[t]
        quality += _tracking_counts(tracks, truth, pose)
        if not tracks or t + offsets[-1] >= steps:
            continue
        v, w = episode.twist[t]
        robot_velocity = v * np.array([np.cos(pose[2]), np.sin(pose[2])])
        planned = episode.pose[t + offsets, :2]
        features, rotation, now, velocity = pipeline.inputs(tracks, pose, robot_velocity,
                                                            planned)
        held, _, _, _ = pipeline.inputs(tracks, pose, robot_velocity,
                                        held_twist_future(pose, v, w))
        gaps = np.linalg.norm(now[:, None, :] - truth[None, :, :], axis=-1)    # [K, P]
        for k, track in enumerate(tracks):
            person = int(gaps[k].argmin())
            if gaps[k, person] > LABEL_GATE:
                continue
            window = slice(t, t + offsets[-1] + 1)
            out['features'].append(features[k])
            out['features_held'].append(held[k])
            out['rotation'].append(rotation[k])
            out['now'].append(now[k])
            out['velocity'].append(velocity[k])
            out['truth_now'].append(truth[person])
            out['future'].append(episode.people[t + offsets, person])
            out['turn'].append(np.array(np.any(
                episode.waypoints[window, person] != episode.waypoints[t, person])))
            out['give_way'].append(np.array(episode.waiting[window, person].any()))
            out['step'].append(np.array(t))
            out['track'].append(np.array(track.track_id))
            out['person'].append(np.array(person))
    result = {k: np.array(v) for k, v in out.items()}
    result['tracking'] = quality
    return result


def _tracking_counts(tracks, truth: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """``[people within 3 m, of them with a track within 0.3 m, tracks, tracks further than
    LABEL_GATE from every person]`` at one step."""
    near = np.linalg.norm(truth - pose[:2], axis=-1) < 3.0
    positions = np.array([t.position for t in tracks]).reshape(-1, 2)
    gaps = np.linalg.norm(positions[:, None, :] - truth[None, :, :], axis=-1)   # [K, P]
    found = (gaps.min(0) < 0.3) if len(positions) else np.zeros(len(truth), bool)
    false = int((gaps.min(1) > LABEL_GATE).sum()) if len(positions) else 0
    return np.array([near.sum(), (near & found).sum(), len(positions), false])
