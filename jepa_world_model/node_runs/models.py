"""The checkpoint a run of the simulated robot loads: the user's, or the robot's shipped model.

No rclpy, no torch: :func:`check_model` reads only the checkpoint's metadata, so a wrong or
missing model is reported before any node starts. ``jepa-world-model demo`` and
``plan-eval`` use both functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ..core.checkpoint import CheckpointError, read_metadata
from ..core.config import config_from_json, ConfigError
from ..resources import default_model_path, model_search_paths

__all__ = ['ModelChoiceError', 'ShippedModel', 'SHIPPED_MODELS', 'resolve_model',
           'check_model']


class ModelChoiceError(RuntimeError):
    """The model to run is missing or is not a model of the robot (the message says what
    to do)."""


@dataclass(frozen=True)
class ShippedModel:
    """A robot's model as shipped in ``models/``, and the commands that train it."""

    file: str
    recipe: str


SHIPPED_MODELS: Dict[str, ShippedModel] = {
    'arm': ShippedModel(
        'arm_tiny.safetensors',
        'jepa-world-model record --robot arm --out bags/arm --episodes 160 --steps 40 '
        '--policy noisy\n  jepa-world-model train --bag bags/arm '
        '--config config/train/arm_tiny.yaml '
        '--out runs/arm_tiny'),
    'mobile_base': ShippedModel(
        'mobile_base_tiny.safetensors',
        'jepa-world-model record --robot mobile_base --out bags/base_seek --episodes 400 '
        '--steps 60 --policy seek --seed 3000\n  jepa-world-model train --bag bags/base_seek '
        '--config config/train/mobile_base_tiny.yaml --out runs/mobile_base_tiny'),
    'tabletop': ShippedModel(
        'tabletop_tiny.safetensors',
        'jepa-world-model record --robot tabletop --out bags/tabletop --episodes 64 '
        '--steps 150 --policy scripted --seed 0\n  jepa-world-model train --bag bags/tabletop '
        '--config config/train/tabletop_tiny.yaml --out runs/tabletop_tiny'),
}


def resolve_model(path: Optional[Path], robot: str = 'arm') -> Path:
    """The checkpoint to run: ``path``, else ``robot``'s shipped model.

    Raises:
        ModelChoiceError: ``path`` is not a file, or no shipped model is installed (the
            message lists the places searched and how to train one).
    """
    if path is not None:
        if not Path(path).is_file():
            raise ModelChoiceError(f'model not found: {path}')
        return Path(path)
    shipped = SHIPPED_MODELS[robot]
    found = default_model_path(shipped.file)
    if found.is_file():
        return found
    searched = '\n'.join(f'  {p}' for p in model_search_paths(shipped.file))
    trained = Path('runs') / Path(shipped.file).stem / 'checkpoint.safetensors'
    hint = (f'\n{trained} exists: rerun with --model {trained}' if trained.is_file()
            else '')
    raise ModelChoiceError(
        f'the {robot} model {shipped.file} is not installed; searched:\n{searched}\n'
        f'Train it (docs/models.md), then pass --model or copy it to models/:\n'
        f'  {shipped.recipe}{hint}')


def check_model(path: Path, joint_names: Tuple[str, ...], action_dim: int,
                robot: str = 'arm') -> Dict[str, Any]:
    """The model's facts (path, step, joints, action_dim, image_size) from its metadata.

    Raises:
        ModelChoiceError: the file is no readable checkpoint, or its joints or action size
            are not ``joint_names`` and ``action_dim`` (``robot``'s).
    """
    try:
        meta = read_metadata(path)
        cfg = config_from_json(meta['config'])
    except (CheckpointError, ConfigError) as exc:
        raise ModelChoiceError(f'cannot use {path}: {exc}') from None
    m = cfg.model
    if tuple(m.joint_names) != tuple(joint_names) or m.action_dim != action_dim:
        raise ModelChoiceError(
            f'{path} is a model for joints {m.joint_names} with {m.action_dim} actions; the '
            f'{robot} needs joints {list(joint_names)} and {action_dim} velocity actions. '
            f'Train one:\n  {SHIPPED_MODELS[robot].recipe}')
    return {'path': str(path), 'step': int(meta['step']), 'joints': list(m.joint_names),
            'action_dim': m.action_dim, 'image_size': m.image_size}
