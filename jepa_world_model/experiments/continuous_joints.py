"""Does the image head read a continuous joint as well as a limited one? (issue #15 item 2)

Generated scenes of a two-dial robot: ``turntable`` (continuous; its angle random-walks over
many turns, e.g. -15..+20 rad, as the issue's shoulder did) and ``elbow`` (limited to
+-1.3 rad). Both are drawn the same way, a pointer on a dial, so an image shows each angle
equally well, and the turntable's only modulo 2 pi. The package's world model is trained on
them (``Trainer``, the image_state_head on patch tokens, as ``inspect``'s starter config)
twice per seed: with ``model.continuous_joints: [turntable]`` and without (the raw angle is
regressed). Each joint's reading error on held-out episodes is the angle between what the
head reads and the recorded angle, in [0, pi] (taken modulo 2 pi for both runs, which only
flatters the run without the setting). The claim checked: with the setting the turntable's
median error is at most twice the elbow's.

Run: ``jepa-world-model diagnose continuous-joints --seeds 0 1 2
--train-steps 400 --out docs/results/continuous_joints.json`` (about 0.25 s a step on one
core).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import torch

from ..core.config import ExperimentConfig, from_dict
from ..core.model.joint_angles import JointAngleCoding, wrap_angle
from ..core.training.data import Episode, images_to_tensor
from ..core.training.trainer import Trainer

__all__ = ['JOINTS', 'ELBOW_LIMIT', 'render_dials', 'dial_episodes', 'reading_errors',
           'train_and_measure', 'add_arguments', 'run']

JOINTS = ['turntable', 'elbow']
ELBOW_LIMIT = 1.3               # rad
TURN_SPEED, ELBOW_SPEED = 0.35, 0.25   # rad per step at |a| = 1
TURNTABLE_START = (-15.0, 20.0)        # rad: the start angle of an episode
#: The model: tiny, as the tests' (32 px, 4 x 4 patches), with the spatial image read-out.
MODEL = {'image_size': 32, 'patch_size': 8, 'patch_stem': 'conv', 'embed_dim': 64,
         'depth': 2, 'num_heads': 4, 'image_latent_dim': 32, 'proprio_latent_dim': 16,
         'predictor_embed_dim': 64, 'predictor_depth': 1, 'dynamics_hidden_dim': 128,
         'idm_hidden_dim': 64, 'image_state_head': True, 'image_state_source': 'tokens',
         'joint_names': JOINTS, 'action_dim': 2}


def render_dials(q: np.ndarray, size: int = 32) -> np.ndarray:
    """Frames of the two dials at joint positions q [T, 2] -> uint8 [T, size, size, 3].

    Each dial is a grey disc with a red pointer from its centre (left: turntable, right:
    elbow); angle 0 points up, positive turns clockwise on screen.
    """
    t = len(q)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    frames = np.full((t, size, size, 3), 40, dtype=np.float32)
    radius = 0.22 * size
    for j, centre_col in enumerate((0.27 * size, 0.73 * size)):
        centre_row = 0.5 * size
        disc = (rows - centre_row) ** 2 + (cols - centre_col) ** 2 <= (radius + 1) ** 2
        frames[:, disc] = 110
        tip_row = centre_row - radius * np.cos(q[:, j])          # [T]
        tip_col = centre_col + radius * np.sin(q[:, j])
        # Distance of every pixel to the pointer segment centre -> tip.
        dr, dc = tip_row - centre_row, tip_col - centre_col      # [T]
        pr, pc = rows[None] - centre_row, cols[None] - centre_col   # [1, H, W]
        along = np.clip((pr * dr[:, None, None] + pc * dc[:, None, None]) / radius ** 2, 0, 1)
        dist2 = (pr - along * dr[:, None, None]) ** 2 + (pc - along * dc[:, None, None]) ** 2
        pointer = dist2 <= 1.3 ** 2                                # [T, H, W]
        frames[pointer] = (230, 40, 40)
    return frames.astype(np.uint8)


def dial_episodes(num: int, steps: int, seed: int, size: int = 32) -> List[Episode]:
    """``num`` exploration episodes of ``steps`` frames: commands in [-1, 1]^2 held for 2-7
    frames; the turntable turns freely, the elbow stops at +-ELBOW_LIMIT. s = [q, dq]."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(num):
        a = np.zeros((steps, 2))
        k = 0
        while k < steps:
            hold = int(rng.integers(2, 8))
            a[k:k + hold] = rng.uniform(-1, 1, 2)
            k += hold
        q = np.zeros((steps, 2))
        q[0] = [rng.uniform(*TURNTABLE_START), rng.uniform(-ELBOW_LIMIT, ELBOW_LIMIT)]
        for k in range(1, steps):
            q[k, 0] = q[k - 1, 0] + TURN_SPEED * a[k - 1, 0]
            q[k, 1] = np.clip(q[k - 1, 1] + ELBOW_SPEED * a[k - 1, 1], -ELBOW_LIMIT,
                              ELBOW_LIMIT)
        dq = np.vstack([np.diff(q, axis=0), np.zeros((1, 2))])
        out.append(Episode(render_dials(q, size), np.hstack([q, dq]).astype(np.float32),
                           a.astype(np.float32)))
    return out


def coded_episodes(episodes: Sequence[Episode], continuous: Sequence[str]) -> List[Episode]:
    """The episodes with s as a model with ``continuous`` joints expects it (cos, sin)."""
    coding = JointAngleCoding.of(JOINTS, continuous)
    return [dataclasses.replace(ep, s=np.hstack([coding.encode(ep.s[:, :2].astype(np.float64)),
                                                 ep.s[:, 2:]]).astype(np.float32))
            for ep in episodes]


@torch.no_grad()
def reading_errors(model: Any, episodes: Sequence[Episode]) -> np.ndarray:
    """|angle between the head's reading and the recorded q| [N, 2] over every frame
    (recorded angles are s[:, :2] of the *raw* episodes)."""
    model.eval()
    errors = []
    for ep in episodes:
        q_read = model.read_image_joints(images_to_tensor(ep.images)).double()
        q_true = torch.from_numpy(ep.s[:, :2]).double()
        errors.append(wrap_angle(q_read - q_true).abs().numpy())
    return np.concatenate(errors)


def train_and_measure(seed: int, continuous: bool, train_steps: int, episodes: int,
                      steps: int, threads: int = 1) -> Dict[str, Any]:
    """Train one model on seed's episodes; its reading errors on held-out episodes."""
    names = ['turntable'] if continuous else []
    train_raw = dial_episodes(episodes, steps, seed=1000 + seed)
    test_raw = dial_episodes(max(8, episodes // 8), steps, seed=2000 + seed)
    config = from_dict(ExperimentConfig, {
        'model': dict(MODEL, continuous_joints=names),
        'loss': {'image_state': 2.0},
        'optim': {'steps': train_steps, 'batch_size': 16, 'lr': 0.002, 'warmup_steps': 20},
        'data': {'clip_length': 4},
        'train': {'seed': seed, 'num_threads': threads, 'log_every': max(1, train_steps // 4)}})
    started = time.monotonic()
    trainer = Trainer(config, coded_episodes(train_raw, names))
    trainer.run()
    err = reading_errors(trainer.model, test_raw)
    median, mean = np.median(err, axis=0), err.mean(axis=0)
    return {'seed': seed, 'continuous_joints': names, 'train_frames': episodes * steps,
            'test_frames': int(err.shape[0]),
            'median_error': dict(zip(JOINTS, median.round(4).tolist())),
            'mean_error': dict(zip(JOINTS, mean.round(4).tolist())),
            'turntable_over_elbow': round(float(median[0] / median[1]), 3),
            'train_seconds': round(time.monotonic() - started, 1)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The experiment's options (``jepa-world-model diagnose continuous-joints``)."""
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--train-steps', type=int, default=400)
    parser.add_argument('--episodes', type=int, default=96)
    parser.add_argument('--steps', type=int, default=32, help='frames per episode')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', type=Path, default=None)


def run(args: argparse.Namespace, command: str) -> int:
    """Train and measure with and without the setting per seed; print and write the JSON."""
    runs = []
    for seed in args.seeds:
        for continuous in (True, False):
            run = train_and_measure(seed, continuous, args.train_steps, args.episodes,
                                    args.steps, args.threads)
            print(json.dumps(run), file=sys.stderr, flush=True)
            runs.append(run)
    with_setting = [r for r in runs if r['continuous_joints']]
    result = {
        'command': command,
        'date': datetime.date.today().isoformat(), 'seeds': args.seeds,
        'train_steps': args.train_steps, 'episodes': args.episodes,
        'frames_per_episode': args.steps, 'joints': {
            'turntable': f'continuous, start angle uniform in {list(TURNTABLE_START)} rad, '
                         f'{TURN_SPEED} rad/step at |a| = 1',
            'elbow': f'limited to +-{ELBOW_LIMIT} rad, {ELBOW_SPEED} rad/step'},
        'error': 'angle between the head reading and the recorded angle (modulo 2 pi), rad',
        'claim': 'with continuous_joints the turntable median error <= 2 x the elbow one',
        'claim_holds_every_seed': all(r['turntable_over_elbow'] <= 2.0 for r in with_setting),
        'runs': runs}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + '\n', encoding='utf-8')
    print(text)
    return 0
