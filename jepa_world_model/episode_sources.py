"""Where a run's episodes come from: generated gantry scenes or rosbag2 recordings.

Library code shared by the ``train``, ``demo-synthetic`` and ``fit-risk`` commands and by
:mod:`jepa_world_model.risk_refit`; it parses no arguments. The ``bags`` modules are
imported on first use because rosbags and opencv are pip-only dependencies that a run on
generated scenes does not need.
"""

from __future__ import annotations

import importlib
from pathlib import Path
import sys
from types import ModuleType
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .core.config import BagConfig, ConfigError, ExperimentConfig, from_dict, to_dict
from .core.training.data import Episode, first_episodes, split_episodes
from .core.training.synthetic import generate_episodes, SceneSpec

__all__ = ['apply_bag_overrides', 'bag_module', 'load_episodes', 'load_training_data',
           'synthetic_episodes']


def bag_module(name: str) -> ModuleType:
    """Import ``jepa_world_model.bags.<name>``; a missing rosbags/opencv is a ConfigError
    that says what to install."""
    try:
        return importlib.import_module(f'jepa_world_model.bags.{name}')
    except ImportError as exc:
        raise ConfigError(f'rosbag support needs rosbags and opencv-python ({exc}); '
                          f'pip install rosbags opencv-python-headless') from exc


def synthetic_episodes(cfg: ExperimentConfig, seed: int) -> List[Episode]:
    """``cfg.data.synthetic_episodes`` generated gantry episodes of
    ``cfg.data.synthetic_steps`` frames, images ``cfg.model.image_size`` square."""
    spec = SceneSpec(image_size=cfg.model.image_size)
    return generate_episodes(cfg.data.synthetic_episodes, cfg.data.synthetic_steps, seed, spec,
                             cfg.data.synthetic_distractor)


def load_episodes(cfg: ExperimentConfig) -> Tuple[List[Episode], Optional[Dict[str, Any]]]:
    """All episodes for ``cfg.data.source``, and the bag read report (None for synthetic).

    The read summary of bags goes to stderr; bags without episodes raise BagDatasetError.
    With ``data.episode_fraction`` below 1 only the first ceil(f * N) episodes are returned
    (the bag report still counts every episode read).
    """
    fraction = cfg.data.episode_fraction
    if cfg.data.source == 'synthetic':
        return first_episodes(synthetic_episodes(cfg, cfg.train.seed), fraction), None
    if not cfg.data.bag.paths:
        raise ConfigError('data.source is rosbag but no bags are given: pass --bag DIR or set '
                          'data.bag.paths')
    reader = bag_module('reader')
    episodes, report = reader.read_bag_episodes(cfg.data.bag.paths,
                                                reader.BagDatasetConfig.from_experiment(cfg))
    sys.stderr.write(f'[data] {report.episodes} episodes, {report.frames} frames from '
                     f'{report.bags} bag(s)\n{report.summary()}\n')
    report_dict = report.to_dict()
    if fraction < 1:
        episodes = first_episodes(episodes, fraction)
        report_dict['episode_fraction'] = {'fraction': fraction, 'episodes_used': len(episodes)}
        sys.stderr.write(f'[data] data.episode_fraction {fraction:g}: training on the first '
                         f'{len(episodes)} episodes\n')
    return episodes, report_dict


def load_training_data(cfg: ExperimentConfig) -> Tuple[List[Episode], List[Episode]]:
    """Episodes for ``cfg.data.source`` split into (train, validation)."""
    episodes, _ = load_episodes(cfg)
    return split_episodes(episodes, cfg.data.validation_fraction, cfg.train.seed)


def apply_bag_overrides(cfg: ExperimentConfig, paths: Optional[Sequence[str | Path]] = None,
                        **bag_fields: Any) -> None:
    """Override ``cfg.data.bag`` in place with the given values (None: keep the config's).

    ``paths`` (bags or directories of bags) are made absolute and switch ``data.source`` to
    rosbag; ``bag_fields`` are other ``data.bag`` fields (``image_topic``, ``frame_rate``,
    ...). The merged section is validated like the YAML, so a bad value is a ConfigError.
    """
    flags = {'paths': [str(Path(p).resolve()) for p in paths] if paths else None, **bag_fields}
    overrides = {k: v for k, v in flags.items() if v is not None}
    if overrides:
        merged = dict(to_dict(cfg.data.bag), **overrides)
        cfg.data.bag = from_dict(BagConfig, merged, 'data.bag')
    if paths:
        cfg.data.source = 'rosbag'
