"""Agent-prediction datasets of many simulated episodes, cached per episode.

:func:`build` simulates each seed (:func:`~.agent_data.simulate`), turns it into samples
(:func:`~.agent_data.samples`) and concatenates them with the episode's seed per sample
(``episode [N]``: the unit of held-out splits and of bootstrap resampling). Each episode's
samples are cached as ``<cache>/agents_<seed>_<steps>.npz`` so that training and evaluation
runs reuse one simulation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .agent_data import samples, simulate

__all__ = ['build', 'SPLITS']

#: Episode seeds per split: train, validation (calibration, baseline choice), test.
SPLITS = {'train': range(1, 101), 'validation': range(101, 121), 'test': range(121, 171)}
_COUNTS = ('tracking', 'collisions', 'agent_seconds')


def _episode(seed: int, steps: int, cache: Optional[Path]) -> Dict[str, np.ndarray]:
    path = None if cache is None else cache / f'agents_{seed}_{steps}.npz'
    if path is not None and path.exists():
        with np.load(path) as data:
            return dict(data)
    from ..sim.robots import MobileBaseSim
    sim = MobileBaseSim(image_size=8)
    episode = simulate(sim, seed, steps)
    out = samples(episode, sim)
    out['collisions'] = np.array(episode.collisions)
    # Agent-seconds: the people's time in the episode, whether tracked or not.
    out['agent_seconds'] = np.array(episode.people.shape[1] * steps * 0.1)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix('.tmp.npz')
        np.savez_compressed(tmp, **out)
        tmp.replace(path)
    return out


def build(seeds: Sequence[int], steps: int, cache: Optional[Path] = None,
          progress: Optional[Callable[[str], None]] = None) -> Dict[str, np.ndarray]:
    """Samples of all ``seeds`` (episodes of ``steps`` control periods) concatenated, with
    ``episode [N]`` (the seed of each sample) and summed ``tracking``, ``collisions`` and
    ``agent_seconds`` counts."""
    parts: List[Dict[str, np.ndarray]] = []
    for index, seed in enumerate(seeds):
        part = _episode(int(seed), steps, cache)
        part['episode'] = np.full(len(part['features']), int(seed))
        parts.append(part)
        if progress is not None and (index + 1) % 10 == 0:
            progress(f'{index + 1}/{len(seeds)} episodes')
    if not parts:
        raise ValueError('no seeds given')
    keys = [k for k in parts[0] if k not in _COUNTS]
    data = {k: np.concatenate([p[k] for p in parts if len(p['features'])]) for k in keys}
    for key in _COUNTS:
        data[key] = np.sum([p[key] for p in parts], axis=0)
    data['episodes'] = np.array(len(parts))
    return data
