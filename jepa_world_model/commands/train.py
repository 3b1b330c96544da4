"""``jepa-world-model train``: train a world model from a config, on generated scenes or
rosbag2 recordings (``--bag``), optionally resuming ``OUT/checkpoint.safetensors``.

Under torchrun every rank runs this command (data-parallel,
``core/training/distributed.py``); rank 0 writes the checkpoint and ``OUT/report.json``
(step, data, probe refit, validation scores).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
import signal
import sys
from typing import Any, Dict, Sequence

from ..core.atomic_files import atomic_write_text
from ..core.checkpoint import checkpoint_config
from ..core.config import ConfigError, ExperimentConfig, load_config, to_dict
from ..core.training.data import Episode, split_episodes
from ..core.training.distributed import init_from_env, local_device
from ..core.training.evaluation import prediction_report, probe_report
from ..core.training.report_checks import (image_readout_report, latent_health,
                                           link_readout_report)
from ..core.model.probes import refit_probes
from ..core.training.trainer import resolve_dtype, Trainer
from ..episode_sources import apply_bag_overrides, load_episodes
from .training_progress import MetricsLogger, progress_printer

__all__ = ['add_parser', 'check_resumable', 'evaluation_report', 'run']

log = logging.getLogger('jepa_world_model')


def run(args: argparse.Namespace) -> int:
    """Train; 0 when done, 130 when interrupted (the checkpoint is saved for --resume)."""
    cfg = load_config(args.config)
    if args.steps is not None:
        cfg.optim.steps = args.steps
    apply_bag_overrides(cfg, args.bag, image_topic=args.image_topic,
                        joint_state_topic=args.joint_state_topic,
                        action_source=args.action_source, action_topic=args.action_topic,
                        action_fields=args.action_fields, frame_rate=args.frame_rate)
    out = Path(args.out)
    ckpt = out / 'checkpoint.safetensors'
    if ckpt.exists() and not args.resume:
        raise ConfigError(f'{ckpt} exists: pass --resume to continue it, or choose another '
                          f'--out')
    if args.resume and ckpt.exists():     # before reading data: the model must be this one
        check_resumable(ckpt, cfg, args.config)
    episodes, data_report = load_episodes(cfg)
    train_eps, val_eps = split_episodes(episodes, cfg.data.validation_fraction, cfg.train.seed)
    # Under torchrun every rank runs this command; without it this is a one-process run.
    dist_ctx = init_from_env(args.device or cfg.train.device)
    device = local_device(args.device or cfg.train.device, dist_ctx)
    dtype = resolve_dtype(args.dtype or cfg.train.dtype)
    if args.resume and ckpt.exists():
        trainer = Trainer.resume(ckpt, train_eps, device, dtype, out_dir=out, dist_ctx=dist_ctx,
                                 steps=args.steps)
        log.info('resumed %s at step %d', ckpt, trainer.state.step)
    else:
        trainer = Trainer(cfg, train_eps, device, dtype, out_dir=out, dist_ctx=dist_ctx)
    # The run's end and the steps already done: a resumed run's own (its checkpoint's steps
    # unless --steps extends it), so the rate and ETA count only this process's steps.
    progress = (progress_printer(trainer.config.optim.steps, first_step=trainer.state.step)
                if dist_ctx.is_main else None)
    metrics = MetricsLogger(out, enabled=trainer.dist.is_main)

    def on_log(logs):
        if progress is not None:
            progress(logs)
        metrics(logs)

    # A SIGTERM (a scheduler, `kill`, a container stop) saves like Ctrl-C does.
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        trainer.run(callback=on_log)
    except KeyboardInterrupt:
        if dist_ctx.is_main:
            trainer.save(ckpt)
            sys.stderr.write(f'\ninterrupted: saved {ckpt} at step {trainer.state.step}; '
                             f'rerun with --resume\n')
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        metrics.close()
    if not dist_ctx.is_main:
        return 0
    sys.stderr.write('\n')
    # The probes lag the encoder during training; a closed-form refit on the final latents.
    probe_fit = refit_probes(trainer.model, train_eps)
    trainer.save(ckpt)
    report = {'step': trainer.state.step, 'checkpoint': str(ckpt), 'data_source': cfg.data.source,
              'episodes': {'train': len(train_eps), 'validation': len(val_eps)},
              'probe_refit_r2': probe_fit}
    if data_report is not None:
        report['bag_read'] = data_report
    if val_eps:
        report.update(evaluation_report(trainer.model, train_eps, val_eps))
    atomic_write_text(out / 'report.json', json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def check_resumable(ckpt: Path, cfg: ExperimentConfig, config_path: Path) -> None:
    """Refuse to resume ``ckpt`` with a ``--config`` whose model is another one (another
    robot's joints, other sizes): resuming continues the checkpoint's own model."""
    theirs, ours = to_dict(checkpoint_config(ckpt).model), to_dict(cfg.model)
    robot_keys = ('joint_names', 'action_dim', 'action_names', 'pose_in_state')   # first
    differ = sorted((k for k in ours if theirs.get(k) != ours[k]),
                    key=lambda k: (k not in robot_keys, list(ours).index(k)))
    if differ:
        shown = ', '.join(f'{k} {theirs.get(k)!r} (config {ours[k]!r})' for k in differ[:3])
        raise ConfigError(f'cannot resume {ckpt}: it holds another model than {config_path} '
                          f'describes: {shown}{" ..." if len(differ) > 3 else ""}; resume '
                          f'with the config it was trained with, or choose another --out')


def evaluation_report(model, train_eps: Sequence[Episode],
                      val_eps: Sequence[Episode]) -> Dict[str, Any]:
    """Probes, multi-step prediction against the copy and constant-velocity baselines, the
    latent's health, (models with an ``image_state_head``) the image read-out and (models
    with ``kinematics``) the link read-out, on validation episodes (horizons they are long
    enough for: bag episodes can be short).
    Each failed check also writes its warning line to stderr."""
    report: Dict[str, Any] = {'probes': probe_report(model, train_eps[:64], val_eps)}
    horizons = [h for h in (1, 2, 3, 4, 5) if h < max(len(ep) for ep in val_eps)]
    if horizons:
        report['prediction'] = prediction_report(model, val_eps, horizons)
    report['latent_health'] = latent_health(model, val_eps)
    if model.image_state_head is not None:
        report['image_readout'] = image_readout_report(model, val_eps)
    # A model with kinematics reads and aims image goals at links: the joint reading does not
    # decide whether they work, the link reading does.
    goal_check = 'image_readout'
    if model.link_readout is not None:
        report['link_readout'] = link_readout_report(model, val_eps)
        goal_check = 'link_readout'
    for check in ('latent_health', goal_check):
        warning = report.get(check, {}).get('warning')
        if warning:
            sys.stderr.write(f'[train] warning: {warning}\n')
    return report


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``train`` sub-command to ``sub`` (argparse sub-parsers)."""
    p = sub.add_parser('train', help='train a world model')
    p.add_argument('--config', required=True, type=Path)
    p.add_argument('--out', required=True, type=Path)
    p.add_argument('--steps', type=int, help='override optim.steps (with --resume: extend '
                   'the run to this many steps)')
    p.add_argument('--resume', action='store_true', help='continue OUT/checkpoint.safetensors')
    p.add_argument('--device', help='override train.device (cpu, cuda, cuda:1)')
    p.add_argument('--dtype', help='override train.dtype')
    g = p.add_argument_group('rosbag2 data (override the config\'s data.bag)')
    # extend: `--bag A --bag B` trains on both (with nargs='+' alone the last flag won,
    # silently dropping the earlier bags).
    g.add_argument('--bag', nargs='+', action='extend', metavar='DIR',
                   help='train on these bags (or directories of bags): data.source rosbag; '
                   'repeatable')
    g.add_argument('--image-topic')
    g.add_argument('--joint-state-topic')
    g.add_argument('--action-source', choices=['topic', 'joint_state_delta'])
    g.add_argument('--action-topic')
    g.add_argument('--action-fields', nargs='+', metavar='FIELD',
                   help='Twist fields in model action order, e.g. linear.x angular.z')
    g.add_argument('--frame-rate', type=float, help='resample frames to this rate (Hz)')
    p.set_defaults(func=run)
    return p
