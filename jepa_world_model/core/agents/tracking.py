"""Tracks of agents over scans: gated nearest-neighbour association and an alpha-beta filter
(pure numpy, no ROS).

Each scan's detections (:func:`~.scan_detection.detect_agents`) update the tracks
(:meth:`AgentTracker.update`):

* every track is first moved to the scan's time at its estimated velocity;
* pairs (track, detection) closer than ``gate`` are matched greedily, nearest first (with two
  or three people, greedy equals the optimal assignment except in rare ties);
* a matched track's position and velocity are corrected (alpha-beta filter: ``alpha`` of the
  position innovation, ``beta / dt`` of it into the velocity); an unmatched one coasts and is
  dropped after ``max_coast_s`` without a detection;
* an unmatched detection starts a tentative track, confirmed after ``min_hits`` matches.
  Only confirmed tracks are reported (one stray return does not become a person).

Each track keeps its recent positions with their times, so a fixed-rate history can be read
at any scan rate (:meth:`Track.history`).

Limits: two people crossing within ``gate`` of each other can swap identities; a person
hidden longer than ``max_coast_s`` comes back as a new track (with a short history); the
filter assumes near-constant velocity between scans, so sharp turns lag by a few scans.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import math
from typing import Deque, List, Tuple

import numpy as np

__all__ = ['TrackerSettings', 'Track', 'AgentTracker']


@dataclass(frozen=True)
class TrackerSettings:
    """Association and filtering (lengths in m, times in s).

    Attributes:
        gate: Farthest detection from a track's predicted position that may update it.
        alpha: Share of the position innovation taken (0-1].
        beta: Share of the innovation / dt taken into the velocity [0-1].
        min_hits: Matches before a track is reported.
        max_coast_s: A track without a detection for longer is dropped.
        max_speed: Velocity estimates are clipped to this (a person does not run at 3 m/s).
        history_s: How much of its past a track keeps.
    """

    gate: float = 0.5
    alpha: float = 0.6
    beta: float = 0.25
    min_hits: int = 3
    max_coast_s: float = 0.6
    max_speed: float = 1.5
    history_s: float = 2.0

    def __post_init__(self) -> None:
        """Reject settings that would make the filter diverge or never confirm a track."""
        if not (0.0 < self.alpha <= 1.0 and 0.0 <= self.beta <= 1.0):
            raise ValueError(f'alpha must be in (0, 1] and beta in [0, 1], got '
                             f'{self.alpha!r}, {self.beta!r}')
        if self.min_hits < 1:
            raise ValueError(f'min_hits must be >= 1, got {self.min_hits!r}')
        for name in ('gate', 'max_coast_s', 'max_speed', 'history_s'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f'TrackerSettings.{name} must be finite and > 0, '
                                 f'got {value!r}')


@dataclass
class Track:
    """One agent as tracked: filtered state and recent past.

    Attributes:
        track_id: Unique per tracker, never reused.
        position: ``(2,)`` filtered position [m] at ``stamp``.
        velocity: ``(2,)`` filtered velocity [m/s].
        stamp: Time of the last update or coast [s].
        hits: Detections matched so far.
        last_seen: Time of the last matched detection [s].
        past: ``(time, (2,) position)`` pairs, oldest first.
    """

    track_id: int
    position: np.ndarray
    velocity: np.ndarray
    stamp: float
    hits: int = 1
    last_seen: float = 0.0
    past: Deque[Tuple[float, np.ndarray]] = field(default_factory=deque)

    def history(self, steps: int, period: float) -> Tuple[np.ndarray, float]:
        """Positions at ``stamp - (steps - 1 - k) * period`` for k = 0..steps-1 (linear
        interpolation between kept samples; before the first one, the first one):
        ``([steps, 2] oldest first, seconds of real history covered, at most the span)``."""
        # The current (possibly coasted) position ends the record.
        kept = [(t, p) for t, p in self.past if t < self.stamp] + [(self.stamp, self.position)]
        times = np.array([t for t, _ in kept])
        xy = np.array([p for _, p in kept])
        query = self.stamp - period * np.arange(steps - 1, -1, -1, dtype=np.float64)
        out = np.stack([np.interp(query, times, xy[:, 0]), np.interp(query, times, xy[:, 1])],
                       axis=-1)
        covered = min(float(self.stamp - times[0]), period * (steps - 1))
        return out, covered


class AgentTracker:
    """Tracks agents from per-scan detections; see the module docstring."""

    def __init__(self, settings: TrackerSettings = TrackerSettings()) -> None:
        """Start without tracks."""
        self.settings = settings
        self.tracks: List[Track] = []
        self._next_id = 1
        self._stamp = -math.inf

    def reset(self) -> None:
        """Forget every track (e.g. the odometry frame jumped); ids keep counting."""
        self.tracks = []
        self._stamp = -math.inf

    def update(self, detections: np.ndarray, stamp: float) -> List[Track]:
        """Take one scan's detections ``[M, 2]`` at time ``stamp`` [s]; the confirmed tracks.

        Raises:
            ValueError: Detections not ``[M, 2]`` finite, or ``stamp`` not after the last.
        """
        z = np.asarray(detections, dtype=np.float64).reshape(-1, 2)
        if not np.all(np.isfinite(z)):
            raise ValueError('detections must be finite')
        if not (math.isfinite(stamp) and stamp > self._stamp):
            raise ValueError(f'scan stamp {stamp!r} is not after the last one ({self._stamp})')
        s = self.settings
        for track in self.tracks:
            dt = stamp - track.stamp
            track.position = track.position + track.velocity * dt
            track.stamp = stamp
        matched_tracks, matched_dets = self._associate(z)
        for ti, di in zip(matched_tracks, matched_dets):
            self._correct(self.tracks[ti], z[di], stamp)
        self.tracks = [t for t in self.tracks if stamp - t.last_seen <= s.max_coast_s]
        for di in sorted(set(range(len(z))) - set(matched_dets)):
            track = Track(self._next_id, z[di].copy(), np.zeros(2), stamp, last_seen=stamp)
            track.past.append((stamp, z[di].copy()))
            self.tracks.append(track)
            self._next_id += 1
        self._stamp = stamp
        return self.confirmed()

    def confirmed(self) -> List[Track]:
        """Tracks matched at least ``min_hits`` times, by id."""
        return sorted((t for t in self.tracks if t.hits >= self.settings.min_hits),
                      key=lambda t: t.track_id)

    def _associate(self, z: np.ndarray) -> Tuple[List[int], List[int]]:
        """Greedy nearest pairs within the gate: (track indices, detection indices)."""
        if not self.tracks or len(z) == 0:
            return [], []
        predicted = np.array([t.position for t in self.tracks])
        cost = np.linalg.norm(predicted[:, None, :] - z[None, :, :], axis=-1)
        pairs = np.argwhere(cost <= self.settings.gate)
        order = np.argsort(cost[pairs[:, 0], pairs[:, 1]], kind='stable')
        tracks: List[int] = []
        dets: List[int] = []
        for ti, di in pairs[order]:
            if int(ti) not in tracks and int(di) not in dets:
                tracks.append(int(ti))
                dets.append(int(di))
        return tracks, dets

    def _correct(self, track: Track, z: np.ndarray, stamp: float) -> None:
        s = self.settings
        dt = max(stamp - track.last_seen, 1e-3)
        innovation = z - track.position
        track.position = track.position + s.alpha * innovation
        velocity = track.velocity + (s.beta / dt) * innovation
        speed = float(np.linalg.norm(velocity))
        track.velocity = velocity if speed <= s.max_speed else velocity * (s.max_speed / speed)
        track.hits += 1
        track.last_seen = stamp
        track.past.append((stamp, track.position.copy()))
        while track.past and stamp - track.past[0][0] > s.history_s:
            track.past.popleft()
