"""Training: the JEPA losses in one step function, and a resumable trainer.

Step, in the order of the papers:
  1. encode every frame of each clip with the online encoder (grad) and the EMA target (no grad);
  2. I-JEPA: predict masked patches of frame 0 from its context block (Assran et al. 2023);
  3. V-JEPA: predict the same patch positions in frame 1 (Bardes et al. 2024);
  4. V-JEPA 2-AC: teacher-forced one-step dynamics plus a multi-step rollout, L1 (Assran et al.
     2025, sec. 3.2);
  5. VICReg variance/covariance on z and inverse dynamics on the image part of z (PLDM; eb_jepa
     collapsed to 1% success without inverse dynamics);
  6. probes on detached z.
Batches and masks come from generators seeded by (seed, step), and the EMA momentum and the
learning rate are functions of the step, so a resumed run continues exactly.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..checkpoint import load_checkpoint, restore_optimizer, save_checkpoint
from ..config import ExperimentConfig, save_config
from .data import all_joint_positions, Batch, ClipSampler, Episode, normalization_stats
from .distributed import DistributedContext, average_gradients, broadcast_parameters
from ..model.ema import ema_momentum, ema_update
from .losses import (feature_prediction_loss, latent_l1, vicreg_covariance_loss,
                     vicreg_variance_loss)
from ..model.masks import MaskBatch, sample_masks
from ..model.pixel_decoder import PixelDecoder
from ..model.pretrained_source import new_world_model
from .metrics import effective_rank
from .pixel_objective import new_pixel_decoder, pixel_dynamics_losses
from .readout_losses import latent_token_loss, pose_loss, scan_loss
from ..model.state_layout import joint_positions_from_state
from ..model.vit import gather_tokens
from ..model.world_model import WorldModel

log = logging.getLogger(__name__)

DTYPES = {'float32': torch.float32, 'float64': torch.float64, 'bfloat16': torch.bfloat16}


class TrainingSetupError(ValueError):
    """A run cannot start: its dtype, episodes or checkpoint do not fit its config."""


def resolve_dtype(name: str) -> torch.dtype:
    """'float32' -> torch.float32, with a clear error for unknown names."""
    if name not in DTYPES:
        raise TrainingSetupError(f'unknown dtype {name!r}; choose one of {sorted(DTYPES)}')
    return DTYPES[name]


def compute_losses(model: WorldModel, batch: Batch, masks: MaskBatch,
                   cfg: ExperimentConfig, decoder: Optional[PixelDecoder] = None
                   ) -> Dict[str, Tensor]:
    """All loss terms (unweighted) and health metrics for one batch.

    batch.o [B, L, 3, H, W], batch.s [B, L, S], batch.a [B, L, A]; masks index frame-0 patches.
    Returns a dict with every term, ``total`` (weighted sum) and detached metrics.
    ``loss.objective`` 'pixel' needs ``decoder`` (pixel_objective.py): the dynamics terms
    are then pixel MSE of the decoded predictions and the patch terms are off.
    """
    w = cfg.loss
    pixel = w.objective == 'pixel'
    if pixel and decoder is None:
        raise TrainingSetupError('loss.objective pixel needs a pixel decoder')
    b, length = batch.o.shape[:2]
    o = batch.o.flatten(0, 1)                                     # [B*L, 3, H, W]
    has_s = model.cfg.state_dim > 0
    s_norm = model.normalize_state(batch.s) if has_s else None    # [B, L, S]
    s_flat = s_norm.flatten(0, 1) if has_s else None
    a_norm = model.normalize_action(batch.a)                      # [B, L, A]

    tokens = model.patch_tokens(o)                                # [B*L, N, D]
    z = model.encoder.latent_from_tokens(tokens, s_flat).view(b, length, -1)  # [B, L, Z]
    out: Dict[str, Tensor] = {}
    zero = z.new_zeros(())
    if pixel:
        # No latent targets: the target encoder's pass and the patch terms are skipped.
        out.update(pixel_dynamics_losses(model, decoder, z, a_norm, batch.o, w.rollout_steps))
        out['masked_prediction'] = out['future_prediction'] = out['scan'] = zero
        out['latent_tokens'] = zero
        return _shared_terms(model, batch, tokens, z, s_flat, a_norm, out, cfg)
    if w.stop_gradient:
        with torch.no_grad():
            tgt_tokens = model.patch_tokens(o, target=True)
            z_tgt = model.target_encoder.latent_from_tokens(tgt_tokens, s_flat)
    else:
        # Ablation: targets from the online encoder with gradient (no EMA, no stop-gradient).
        tgt_tokens, z_tgt = tokens, z.flatten(0, 1)
    tgt_tokens = tgt_tokens.view(b, length, *tokens.shape[1:])   # [B, L, N, D]
    z_tgt = z_tgt.view(b, length, -1)                             # [B, L, Z]

    if w.masked_prediction > 0 or w.future_prediction > 0:
        context = model.patch_tokens(batch.o[:, 0], keep_idx=masks.context)  # [B, K, D]
        pred = model.masked_predictor
        out['masked_prediction'] = feature_prediction_loss(
            pred(context, masks.context, masks.target, 0),
            gather_tokens(tgt_tokens[:, 0], masks.target)) if w.masked_prediction > 0 else zero
        out['future_prediction'] = feature_prediction_loss(
            pred(context, masks.context, masks.target, 1),
            gather_tokens(tgt_tokens[:, 1], masks.target)) if w.future_prediction > 0 else zero
    else:
        out['masked_prediction'] = out['future_prediction'] = zero

    # Teacher forcing: every member predicts z_{t+1} from the true z_t.
    z_in, a_in = z[:, :-1].flatten(0, 1), a_norm[:, :-1].flatten(0, 1)
    tf_pred = model.dynamics(z_in, a_in)                          # [E, B*(L-1), Z]
    out['dynamics_teacher_forcing'] = latent_l1(tf_pred, z_tgt[:, 1:].flatten(0, 1))
    # Rollout: each member feeds back its own predictions for rollout_steps steps.
    z_roll = z[:, 0].unsqueeze(0).expand(len(model.dynamics.members), -1, -1)  # [E, B, Z]
    roll = zero
    rolled = []
    for k in range(w.rollout_steps):
        z_roll = model.dynamics.step_members(z_roll, a_norm[:, k])
        roll = roll + latent_l1(z_roll, z_tgt[:, k + 1])
        rolled.append(z_roll)
    out['dynamics_rollout'] = roll / w.rollout_steps
    z_rolled = torch.stack(rolled, dim=2)                         # [E, B, K, Z]
    out['scan'] = scan_loss(model, tokens, z, z_rolled, batch, w.scan_near_weight) \
        if model.scan_head is not None and batch.scan is not None else zero
    out['latent_tokens'] = (latent_token_loss(model, z, z_rolled, tgt_tokens)
                            if model.token_decoder is not None else zero)
    with torch.no_grad():
        # Absolute latent errors start near 0 because an untrained encoder maps every frame to
        # nearly the same z; relative to "nothing changes" they are scale-free.
        copy = latent_l1(z_tgt[:, :-1], z_tgt[:, 1:]).clamp_min(1e-8)
        out['dynamics_relative'] = out['dynamics_teacher_forcing'].detach() / copy
    return _shared_terms(model, batch, tokens, z, s_flat, a_norm, out, cfg)


def _shared_terms(model: WorldModel, batch: Batch, tokens: Tensor, z: Tensor,
                  s_flat: Optional[Tensor], a_norm: Tensor, out: Dict[str, Tensor],
                  cfg: ExperimentConfig) -> Dict[str, Tensor]:
    """The terms both objectives share (VICReg, inverse dynamics, image state, probes),
    ``total`` and the health metrics, added to ``out``. tokens [B*L, N, D], z [B, L, Z],
    s_flat [B*L, S] or None, a_norm [B, L, A]."""
    w = cfg.loss
    zero = z.new_zeros(())
    z_flat = z.flatten(0, 1)                                      # [B*L, Z]
    # VICReg only on what the encoder learns: the state slice of z is the input itself, and a
    # covariance penalty against it would push the image part to *ignore* the robot.
    z_learned = model.learned_part(z_flat)
    out['variance'] = vicreg_variance_loss(z_learned, w.variance_target_std)
    out['covariance'] = vicreg_covariance_loss(z_learned)
    a_hat = model.inverse_dynamics(z[:, :-1], z[:, 1:])           # [B, L-1, A]
    out['inverse_dynamics'] = F.mse_loss(a_hat, a_norm[:, :-1])
    if model.image_state_head is not None:
        positions = s_flat[:, model.cfg.state_slices['position']]
        out['image_state'] = F.mse_loss(
            model.image_joints_from(tokens, z_flat, normalized=True), positions)
    else:
        out['image_state'] = zero
    if model.link_readout is not None:   # goal links read from the frame (link_readout.py)
        s_phys = s_flat * model.state_std + model.state_mean
        q = joint_positions_from_state(s_phys, model.cfg.state_slices, model.cfg.joint_coding)
        out['image_links'] = F.mse_loss(model.image_links_from(tokens, z_flat, normalized=True),
                                        model.link_readout.target(q))
    else:
        out['image_links'] = zero
    out['probe'] = (F.mse_loss(model.state_probe(z_flat.detach()), s_flat)
                    if s_flat is not None else zero)
    if model.pose_probe is not None and batch.pose is not None:
        out['probe'] = out['probe'] + pose_loss(model.probe_pose(z_flat.detach()),
                                                batch.pose.flatten(0, 1))

    out['total'] = sum(getattr(w, name) * out[name] for name in LOSS_TERMS)
    with torch.no_grad():
        std = z_learned.float().std(dim=0)
        out['z_std_mean'] = std.mean()
        out['z_std_min'] = std.min()
        out['effective_rank'] = torch.tensor(effective_rank(z_learned))
        out['effective_rank_image'] = torch.tensor(effective_rank(model.image_part(z_flat)))
    return out


LOSS_TERMS = ('masked_prediction', 'future_prediction', 'dynamics_teacher_forcing',
              'dynamics_rollout', 'variance', 'covariance', 'inverse_dynamics', 'image_state',
              'image_links', 'scan', 'latent_tokens', 'probe')


def learning_rate(step: int, cfg: ExperimentConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr."""
    o = cfg.optim
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    frac = min((step - o.warmup_steps) / max(o.steps - o.warmup_steps, 1), 1.0)
    return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1 + math.cos(math.pi * frac))


def _generator(seed: int, step: int, stream: int) -> torch.Generator:
    # A distinct, reproducible stream per (seed, step, purpose): resume needs no saved RNG state.
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 7 + stream) % (2 ** 63))


@dataclass
class TrainState:
    """Where a run is."""

    step: int = 0
    history: Optional[List[Dict[str, float]]] = None


class Trainer:
    """Owns model, optimizer and sampler; ``run`` trains, ``save``/``resume`` checkpoint."""

    def __init__(self, config: ExperimentConfig, episodes: Sequence[Episode],
                 device: torch.device | str = 'cpu', dtype: torch.dtype = torch.float32,
                 out_dir: Optional[str | Path] = None, model: Optional[WorldModel] = None,
                 dist_ctx: Optional[DistributedContext] = None) -> None:
        self.config = config
        self.dist = dist_ctx or DistributedContext()
        self.device = torch.device(device)
        self.dtype = dtype
        self.out_dir = Path(out_dir) if out_dir else None
        if config.train.num_threads > 0:
            torch.set_num_threads(config.train.num_threads)
        m = config.model
        queries = (config.loss.scan_query_steps + 1
                   if m.scan_sectors and m.scan_source == 'tokens' else 0)
        try:
            self.sampler = ClipSampler(episodes, config.data.clip_length, queries)
        except ValueError as exc:   # e.g. no episode as long as a clip
            raise TrainingSetupError(str(exc)) from None
        self._check_episode_shapes(episodes)
        if model is None:
            torch.manual_seed(config.train.seed)
            # A pretrained encoder's weights are read and its architecture is recorded in
            # config.model here, before the config is saved below.
            model = new_world_model(config.model)
            model.set_normalization(*normalization_stats(episodes))
            if model.link_readout is not None:
                model.link_readout.set_normalization(all_joint_positions(episodes, config.model))
        self.model = model.to(self.device, self.dtype)
        # Built after the model, from the same seeded stream: the model's initial weights do
        # not depend on the objective.
        decoder = new_pixel_decoder(config)
        self.pixel_decoder = None if decoder is None else decoder.to(self.device, self.dtype)
        if self.dist.enabled:
            broadcast_parameters(self.model)
            if self.pixel_decoder is not None:
                broadcast_parameters(self.pixel_decoder)
        trained = list(self.model.named_parameters()) + (
            [] if self.pixel_decoder is None else list(self.pixel_decoder.named_parameters()))
        decay = [p for n, p in trained if p.requires_grad and p.dim() >= 2]
        no_decay = [p for n, p in trained if p.requires_grad and p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{'params': decay, 'weight_decay': config.optim.weight_decay},
             {'params': no_decay, 'weight_decay': 0.0}], lr=config.optim.lr)
        self.state = TrainState(step=0, history=[])
        if self.out_dir and self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.out_dir / 'config.yaml')

    def _check_episode_shapes(self, episodes: Sequence[Episode]) -> None:
        """Raises TrainingSetupError when the episodes cannot feed this model."""
        m = self.config.model
        if not episodes:
            raise TrainingSetupError('no training episodes')
        ep = episodes[0]
        if ep.images.shape[1:3] != (m.image_size, m.image_size):
            raise TrainingSetupError(
                f'episode images are {ep.images.shape[1:3]}, model expects '
                f'{m.image_size}x{m.image_size}; resize when building episodes')
        if ep.s.shape[1] != m.state_dim or ep.a.shape[1] != m.action_dim:
            raise TrainingSetupError(
                f'episodes have s dim {ep.s.shape[1]} / a dim {ep.a.shape[1]}, '
                f'model expects {m.state_dim} / {m.action_dim}')
        if m.scan_sectors and not self.sampler.has_scan:
            raise TrainingSetupError(
                'model.scan_sectors needs a range scan in every episode (set '
                'data.bag.scan_topic to the LaserScan topic)')
        beams = {e.extras['scan'].shape[-1] for e in episodes} if m.scan_sectors else set()
        if any(b % m.scan_sectors for b in beams):
            raise TrainingSetupError(f'scans have {sorted(beams)} beams; model.scan_sectors '
                                     f'{m.scan_sectors} must divide each')

    def train_step(self) -> Dict[str, float]:
        """One optimisation step at ``self.state.step``; returns scalar logs."""
        cfg, step = self.config, self.state.step
        self.model.train()
        # Each rank draws its own batch; rank 0 draws what a single-process run draws.
        seed = cfg.train.seed + 7919 * self.dist.rank
        batch = self.sampler.sample(cfg.optim.batch_size, _generator(seed, step, 0))
        batch = batch.to(self.device, self.dtype)
        grid = cfg.model.image_size // cfg.model.patch_size
        masks = sample_masks(cfg.optim.batch_size, grid, cfg.mask, _generator(seed, step, 1))
        masks = MaskBatch(masks.context.to(self.device), masks.target.to(self.device))
        lr = learning_rate(step, cfg)
        for group in self.optimizer.param_groups:
            group['lr'] = lr
        if self.pixel_decoder is not None:
            self.pixel_decoder.train()
        terms = compute_losses(self.model, batch, masks, cfg, self.pixel_decoder)
        self.optimizer.zero_grad(set_to_none=True)
        terms['total'].backward()
        params = [p for group in self.optimizer.param_groups for p in group['params']]
        if self.dist.enabled:
            average_gradients(params, self.dist.world_size)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        self.optimizer.step()
        momentum = ema_momentum(step, cfg.optim.steps, cfg.optim.ema_momentum_start,
                                cfg.optim.ema_momentum_end)
        if cfg.loss.stop_gradient:
            ema_update(self.model.target_encoder, self.model.encoder, momentum)
        else:
            self.model.target_encoder.load_state_dict(self.model.encoder.state_dict())
        self.state.step += 1
        logs = {k: float(v.detach()) for k, v in terms.items()}
        logs.update(step=step, lr=lr, ema_momentum=momentum, grad_norm=float(grad_norm))
        return logs

    def run(self, steps: Optional[int] = None,
            callback: Optional[Callable[[Dict[str, float]], None]] = None) -> List[Dict]:
        """Train until ``steps`` (default config.optim.steps) total steps are done."""
        cfg = self.config
        end = cfg.optim.steps if steps is None else steps
        started = time.monotonic()
        while self.state.step < end:
            logs = self.train_step()
            if not math.isfinite(logs['total']):
                raise FloatingPointError(f'loss became {logs["total"]} at step {logs["step"]}')
            step = self.state.step
            if step % cfg.train.log_every == 0 or step == end:
                logs['elapsed_s'] = time.monotonic() - started
                self.state.history.append(logs)
                self._write_log(logs)
                if callback is not None:
                    callback(logs)
            if self.out_dir and self.dist.is_main and (step % cfg.train.checkpoint_every == 0
                                                       or step == end):
                self.save(self.out_dir / 'checkpoint.safetensors')
        return self.state.history

    def _write_log(self, logs: Dict[str, float]) -> None:
        log.info('step %d total %.4f erank %.1f', logs['step'], logs['total'],
                 logs['effective_rank'])
        if self.out_dir and self.dist.is_main:
            with open(self.out_dir / 'metrics.jsonl', 'a') as f:
                f.write(json.dumps(logs) + '\n')

    def save(self, path: str | Path) -> Path:
        """Checkpoint model + optimizer + step (enough to resume exactly)."""
        return save_checkpoint(path, self.model, self.config, self.state.step, self.optimizer,
                               self.pixel_decoder)

    @classmethod
    def resume(cls, path: str | Path, episodes: Sequence[Episode],
               device: torch.device | str = 'cpu', dtype: torch.dtype = torch.float32,
               out_dir: Optional[str | Path] = None,
               dist_ctx: Optional[DistributedContext] = None,
               steps: Optional[int] = None) -> 'Trainer':
        """Continue a run from a training checkpoint (same config; normally the same data).

        ``steps`` extends the run to that many steps in all (the cosine schedule is spread
        over the new length, so the learning rate rises again from where it was); the
        model's normalisation statistics are kept even when ``episodes`` add new data.
        """
        loaded = load_checkpoint(path, device, dtype)
        if steps is not None:
            if steps < loaded.step:
                raise TrainingSetupError(f'steps {steps} is below the checkpoint step '
                                         f'{loaded.step}')
            loaded.config.optim.steps = steps
        trainer = cls(loaded.config, episodes, device, dtype, out_dir, model=loaded.model,
                      dist_ctx=dist_ctx)
        if trainer.pixel_decoder is not None:
            if loaded.pixel_decoder_state is None:
                raise TrainingSetupError(f'{path}: a pixel-objective checkpoint without its '
                                         f'pixel decoder cannot be resumed')
            trainer.pixel_decoder.load_state_dict(loaded.pixel_decoder_state, strict=True)
        if loaded.optimizer_state:
            restore_optimizer(trainer.optimizer, loaded.optimizer_state)
        trainer.state.step = loaded.step
        return trainer
