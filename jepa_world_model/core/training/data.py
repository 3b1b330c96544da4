"""Episodes and clip sampling: the data format every source (synthetic, rosbag2) produces.

An episode is aligned per frame: ``images[t]`` was seen with proprio ``s[t]``, and ``a[t]`` is
the action applied between frame t and t + 1 (the last action is unused). Sampling is driven by a
caller-owned generator seeded by the training step, so a resumed run draws the same batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..model.state_layout import joint_positions_from_state


@dataclass
class Episode:
    """One continuous recording.

    Attributes:
        images: uint8 [T, H, W, 3] RGB frames.
        s: float32 [T, S] proprio (joint positions then velocities).
        a: float32 [T, A] action applied after each frame (a[-1] unused).
        extras: optional per-frame arrays [T, ...] (e.g. object positions, contact flags).
    """

    images: np.ndarray
    s: np.ndarray
    a: np.ndarray
    extras: Dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = len(self.images)
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f'images must be uint8 [T, H, W, 3], got {self.images.dtype} '
                             f'{self.images.shape}')
        if self.s.ndim != 2 or len(self.s) != t:
            raise ValueError(f's must be [T={t}, S], got {self.s.shape}')
        if self.a.ndim != 2 or len(self.a) != t:
            raise ValueError(f'a must be [T={t}, A], got {self.a.shape}')
        for name, value in self.extras.items():
            if len(value) != t:
                raise ValueError(f'extra {name!r} has {len(value)} entries, expected {t}')
        if not (np.isfinite(self.s).all() and np.isfinite(self.a).all()):
            raise ValueError('episode contains NaN or inf in s or a')

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class Batch:
    """A batch of clips. o [B, L, 3, H, W] float in [0, 1]; s [B, L, S]; a [B, L, A].

    ``pose`` [B, L, 3] (x, y, yaw) is present when every episode has a 'base_pose' extra; it
    only trains the pose probe. ``scan`` [B, L, beams] (ranges, m) is present when every
    episode has a 'scan' extra; it trains the range read-out. ``label_s`` [B, K, S] and
    ``label_scan`` [B, K, beams]: the states and scans of K >= L frames from each clip's
    first frame, when the sampler was asked for a longer label window (``label_length``).
    """

    o: Tensor
    s: Tensor
    a: Tensor
    pose: Optional[Tensor] = None
    scan: Optional[Tensor] = None
    label_s: Optional[Tensor] = None
    label_scan: Optional[Tensor] = None

    def to(self, device: torch.device | str, dtype: torch.dtype) -> 'Batch':
        """Move to a device/dtype."""
        def move(t: Optional[Tensor]) -> Optional[Tensor]:
            return None if t is None else t.to(device, dtype)
        return Batch(move(self.o), move(self.s), move(self.a), move(self.pose),
                     move(self.scan), move(self.label_s), move(self.label_scan))


def images_to_tensor(images: np.ndarray) -> Tensor:
    """uint8 [..., H, W, 3] -> float [..., 3, H, W] in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(images))
    return t.movedim(-1, -3).float().div_(255.0)


class ClipSampler:
    """Uniformly samples fixed-length clips from a list of episodes."""

    def __init__(self, episodes: Sequence[Episode], clip_length: int,
                 label_length: int = 0) -> None:
        """``label_length`` > ``clip_length`` also gathers the states and scans of that many
        frames from each clip's start (``Batch.label_s``, ``label_scan``); clips then start
        only where the whole label window fits."""
        if clip_length < 2:
            raise ValueError('clip_length must be >= 2')
        self.episodes = list(episodes)
        self.clip_length = clip_length
        self.label_length = label_length if label_length > clip_length else 0
        window = max(clip_length, self.label_length)
        starts: List[Tuple[int, int]] = []
        for e, ep in enumerate(self.episodes):
            starts += [(e, t) for t in range(len(ep) - window + 1)]
        if not starts:
            raise ValueError(f'no episode is long enough for clips of {window} frames')
        self.index = np.asarray(starts, dtype=np.int64)
        self.has_pose = all('base_pose' in ep.extras for ep in self.episodes)
        self.has_scan = all('scan' in ep.extras for ep in self.episodes)

    def __len__(self) -> int:
        return len(self.index)

    def sample(self, batch_size: int, gen: torch.Generator) -> Batch:
        """Draw ``batch_size`` clips (with replacement) using ``gen``."""
        picks = torch.randint(0, len(self.index), (batch_size,), generator=gen).numpy()
        return self.gather(picks)

    def gather(self, picks: np.ndarray) -> Batch:
        """Clips at the given positions of ``self.index``."""
        length = self.clip_length
        o, s, a, pose, scan, label_s, label_scan = [], [], [], [], [], [], []
        for e, t in self.index[picks]:
            ep = self.episodes[e]
            if self.label_length:
                label_s.append(ep.s[t:t + self.label_length])
                if self.has_scan:
                    label_scan.append(ep.extras['scan'][t:t + self.label_length])
            o.append(ep.images[t:t + length])
            s.append(ep.s[t:t + length])
            a.append(ep.a[t:t + length])
            if self.has_pose:
                pose.append(ep.extras['base_pose'][t:t + length])
            if self.has_scan:
                scan.append(ep.extras['scan'][t:t + length])

        def stacked(values: list) -> Optional[Tensor]:
            return torch.from_numpy(np.stack(values)).float() if values else None
        return Batch(images_to_tensor(np.stack(o)), stacked(s), stacked(a), stacked(pose),
                     stacked(scan), stacked(label_s), stacked(label_scan))


def normalization_stats(episodes: Sequence[Episode]) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Mean and std of s and a over all frames (the last, unused action excluded)."""
    s = np.concatenate([ep.s for ep in episodes])
    a = np.concatenate([ep.a[:-1] for ep in episodes if len(ep) > 1])
    stats = (s.mean(0), s.std(0), a.mean(0), a.std(0))
    return tuple(torch.from_numpy(np.asarray(x, dtype=np.float32)) for x in stats)


def all_joint_positions(episodes: Sequence[Episode], model_cfg: Any) -> Tensor:
    """Every frame's joint positions [N, J] (physical; continuous joints in (-pi, pi]), for
    statistics of what the joints put where (the link read-out's normalisation)."""
    s = torch.from_numpy(np.concatenate([ep.s for ep in episodes]).astype(np.float32))
    return joint_positions_from_state(s, model_cfg.state_slices, model_cfg.joint_coding)


def first_episodes(episodes: Sequence[Episode], fraction: float) -> List[Episode]:
    """The first ceil(fraction * N) of the N ``episodes``, in the given order
    (``data.episode_fraction``). At least one episode is kept.

    Raises:
        ValueError: ``fraction`` is not in (0, 1], or there are no episodes.
    """
    if not (isinstance(fraction, (int, float)) and math.isfinite(fraction)
            and 0 < fraction <= 1):
        raise ValueError(f'episode fraction must be in (0, 1], got {fraction!r}')
    if not episodes:
        raise ValueError('no episodes to take a fraction of')
    # The tolerance: a fraction written in decimal (0.3 * 10 = 3.0000000000000004) must not
    # round up to one episode more.
    count = math.ceil(fraction * len(episodes) - 1e-9)
    return list(episodes[:max(count, 1)])


def split_episodes(episodes: Sequence[Episode], validation_fraction: float,
                   seed: int) -> Tuple[List[Episode], List[Episode]]:
    """Split whole episodes (never frames of one episode) into train and validation."""
    order = np.random.default_rng(seed).permutation(len(episodes))
    n_val = int(round(validation_fraction * len(episodes)))
    if validation_fraction > 0 and len(episodes) > 1:
        n_val = min(max(n_val, 1), len(episodes) - 1)
    val = [episodes[i] for i in order[:n_val]]
    train = [episodes[i] for i in order[n_val:]]
    return train, val
