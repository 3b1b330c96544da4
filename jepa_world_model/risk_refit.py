"""Give a trained checkpoint a rollout-trained risk head (``jepa-world-model fit-risk``).

The encoder and dynamics of the checkpoint are kept; the risk read-out is replaced by an MLP
of ``hidden`` units trained on predicted latents (``core/model/risk_head.py``). Training the whole
model again is not needed, which takes minutes instead of the ~10 of a full run. The bags are
read with the checkpoint's own ``data.bag`` settings (topics, flag topics); the result is a
new checkpoint (weights, config with ``model.risk_hidden_dim``, step) and a JSON report
beside it. The command's arguments are in ``commands/fit_risk.py``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .core.atomic_files import atomic_write_text
from .core.checkpoint import CheckpointError, load_checkpoint, LoadedCheckpoint, save_checkpoint
from .core.config import ConfigError, ExperimentConfig
from .core.training.data import Episode
from .core.model.risk_head import fit_risk_head
from .core.model.world_model import WorldModel
from .episode_sources import apply_bag_overrides, load_episodes

__all__ = ['refit_risk_head', 'with_fresh_risk_head']


def with_fresh_risk_head(loaded: LoadedCheckpoint, hidden: int,
                         source: str | Path) -> Tuple[WorldModel, ExperimentConfig]:
    """A copy of ``loaded``'s model whose risk read-out is a new, untrained MLP of
    ``hidden`` units (every other weight kept), in eval mode, and its config.

    Raises ConfigError when the checkpoint has no risk labels and CheckpointError when its
    weights do not fit the model with the new head (``source`` names it in the message).
    """
    cfg = loaded.config
    if not cfg.model.risk_labels:
        raise ConfigError(f'{source} has no model.risk_labels: nothing to fit')
    cfg.model = dataclasses.replace(cfg.model, risk_hidden_dim=hidden)
    model = WorldModel(cfg.model)
    state = {k: v for k, v in loaded.model.state_dict().items()
             if not k.startswith('risk_probe.')}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith('risk_probe.') for k in missing):
        raise CheckpointError(f'{source} does not fit: missing {missing}, '
                              f'unexpected {unexpected}')
    model.eval()
    return model, cfg


def _read_with_checkpoint_topics(cfg: ExperimentConfig, paths: Sequence[str | Path]
                                 ) -> Tuple[ExperimentConfig, List[Episode]]:
    """The config reading ``paths`` with the checkpoint's topics (a copy per call, so the
    new checkpoint records the training bags), and their episodes."""
    read_cfg = copy.deepcopy(cfg)
    apply_bag_overrides(read_cfg, paths)
    return read_cfg, load_episodes(read_cfg)[0]


def refit_risk_head(checkpoint: str | Path, bags: Sequence[str | Path],
                    validation_bags: Optional[Sequence[str | Path]], out: str | Path,
                    hidden: int = 64, horizon: int = 8, epochs: int = 30,
                    seed: int = 0) -> Dict[str, Any]:
    """Fit the rollout risk head of ``checkpoint`` on ``bags``; write the new checkpoint to
    ``out`` and its report to ``<out>.report.json``, and return the report (fit scores,
    validation AUC when ``validation_bags`` are given)."""
    torch.manual_seed(seed)     # before the new head is initialised
    loaded = load_checkpoint(checkpoint)
    model, cfg = with_fresh_risk_head(loaded, hidden, checkpoint)
    train_cfg, train = _read_with_checkpoint_topics(cfg, bags)
    validation = (_read_with_checkpoint_topics(cfg, validation_bags)[1] if validation_bags
                  else [])
    fit = fit_risk_head(model, train, validation, horizon=horizon, epochs=epochs, seed=seed)
    out = Path(out)
    save_checkpoint(out, model, train_cfg, loaded.step)
    report = {'checkpoint': str(out), 'source': str(checkpoint), 'hidden': hidden,
              'horizon': horizon, 'epochs': epochs, **fit}
    atomic_write_text(out.with_suffix('.report.json'), json.dumps(report, indent=2))
    return report
