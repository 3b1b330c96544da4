"""``jepa-world-model``: train, evaluate and inspect world models from the command line.

Examples:
    jepa-world-model train --config config/gantry_tiny.yaml --out runs/gantry_tiny
    jepa-world-model train --config config/gantry_tiny.yaml --out runs/gantry_tiny --resume
    jepa-world-model evaluate --checkpoint runs/gantry_tiny/checkpoint.safetensors
    jepa-world-model info --checkpoint models/gantry_tiny.safetensors
    jepa-world-model demo --out outputs/demo
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import List, Optional

import torch

from .core.checkpoint import CheckpointError, describe, load_checkpoint
from .core.config import ConfigError, ExperimentConfig, load_config, to_dict
from .core.data import split_episodes
from .core.evaluation import prediction_report, probe_report
from .core.synthetic import SceneSpec, generate_episodes
from .core.training import Trainer, resolve_dtype

log = logging.getLogger('jepa_world_model')
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def synthetic_data(cfg: ExperimentConfig, seed: int):
    """Generated gantry episodes matching the model's image size."""
    spec = SceneSpec(image_size=cfg.model.image_size)
    return generate_episodes(cfg.data.synthetic_episodes, cfg.data.synthetic_steps, seed, spec,
                             cfg.data.synthetic_distractor)


def load_training_data(cfg: ExperimentConfig):
    """Episodes for ``cfg.data.source`` (train, validation)."""
    if cfg.data.source != 'synthetic':
        raise ConfigError(f'data.source {cfg.data.source!r} is not supported by this version; '
                          f'use data.source: synthetic')
    episodes = synthetic_data(cfg, cfg.train.seed)
    return split_episodes(episodes, cfg.data.validation_fraction, cfg.train.seed)


def _progress(total: int):
    started = time.monotonic()

    def callback(logs):
        done = logs['step'] + 1
        rate = done / max(time.monotonic() - started, 1e-9)
        eta = (total - done) / max(rate, 1e-9)
        sys.stderr.write(f'\r[{done:>6}/{total}] loss {logs["total"]:.4f} '
                         f'idm {logs["inverse_dynamics"]:.3f} erank {logs["effective_rank"]:.1f} '
                         f'{rate:.1f} it/s eta {eta:.0f}s ')
        sys.stderr.flush()
    return callback


def cmd_train(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.steps is not None:
        cfg.optim.steps = args.steps
    train_eps, val_eps = load_training_data(cfg)
    out = Path(args.out)
    ckpt = out / 'checkpoint.safetensors'
    device, dtype = args.device or cfg.train.device, resolve_dtype(args.dtype or cfg.train.dtype)
    if args.resume and ckpt.exists():
        trainer = Trainer.resume(ckpt, train_eps, device, dtype, out_dir=out)
        log.info('resumed %s at step %d', ckpt, trainer.state.step)
    else:
        if ckpt.exists() and not args.resume:
            raise SystemExit(f'{ckpt} exists: pass --resume to continue it, or choose '
                             f'another --out')
        trainer = Trainer(cfg, train_eps, device, dtype, out_dir=out)
    try:
        trainer.run(callback=_progress(cfg.optim.steps))
    except KeyboardInterrupt:
        trainer.save(ckpt)
        sys.stderr.write(f'\ninterrupted: saved {ckpt} at step {trainer.state.step}; '
                         f'rerun with --resume\n')
        return 130
    sys.stderr.write('\n')
    report = {'step': trainer.state.step, 'checkpoint': str(ckpt)}
    if val_eps:
        report['probes'] = probe_report(trainer.model, train_eps[:64], val_eps)
        report['prediction'] = prediction_report(trainer.model, val_eps)
    (out / 'report.json').write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    loaded = load_checkpoint(args.checkpoint)
    cfg = loaded.config
    spec = SceneSpec(image_size=cfg.model.image_size)
    fit = generate_episodes(args.episodes, cfg.data.synthetic_steps, args.seed, spec)
    held_out = generate_episodes(args.episodes, cfg.data.synthetic_steps, args.seed + 1, spec)
    report = {'checkpoint': str(args.checkpoint), 'step': loaded.step,
              'probes_image_latent': probe_report(loaded.model, fit, held_out),
              'prediction': prediction_report(loaded.model, held_out)}
    print(json.dumps(report, indent=2))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    info = describe(args.checkpoint)
    loaded = load_checkpoint(args.checkpoint)
    info['parameters'] = loaded.model.parameter_counts()
    print(json.dumps(info, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Train the tiny model on generated scenes and report what it learned."""
    cfg = load_config(PACKAGE_ROOT / 'config' / 'gantry_tiny.yaml'
                      if args.config is None else args.config)
    cfg.optim.steps = args.steps
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f'[demo] generating {cfg.data.synthetic_episodes} episodes of the 2-DoF gantry with a '
          f'moving distractor, training {args.steps} steps on {torch.get_num_threads()} threads')
    train_eps, val_eps = load_training_data(cfg)
    trainer = Trainer(cfg, train_eps, 'cpu', torch.float32, out_dir=out)
    trainer.run(callback=_progress(cfg.optim.steps))
    sys.stderr.write('\n')
    ckpt = trainer.save(out / 'checkpoint.safetensors')
    probes = probe_report(trainer.model, train_eps[:64], val_eps)
    prediction = prediction_report(trainer.model, val_eps)
    report = {'checkpoint': str(ckpt), 'config': to_dict(cfg), 'probes_image_latent': probes,
              'prediction': prediction, 'history': trainer.state.history}
    (out / 'report.json').write_text(json.dumps(report, indent=2))
    print('[demo] linear probes on the frozen image latent (held-out episodes):')
    print(f'  robot position R^2      {probes["robot_pos_r2"]:.3f}')
    print(f'  distractor position R^2 {probes.get("distractor_pos_r2", float("nan")):.3f}')
    print(f'  motion direction acc.   {probes["direction_accuracy"]:.3f} (4 classes)')
    print('[demo] latent prediction error (L1) by horizon, model vs "nothing changes":')
    for h, m, c in zip(prediction['horizons'], prediction['model_latent_l1'],
                       prediction['copy_baseline_latent_l1']):
        print(f'  h={h}: model {m:.3f}  copy {c:.3f}')
    print(f'[demo] wrote {out / "report.json"} and {ckpt}')
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='jepa-world-model', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-v', '--verbose', action='store_true')
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('train', help='train a world model')
    p.add_argument('--config', required=True, type=Path)
    p.add_argument('--out', required=True, type=Path)
    p.add_argument('--steps', type=int, help='override optim.steps')
    p.add_argument('--resume', action='store_true', help='continue OUT/checkpoint.safetensors')
    p.add_argument('--device', help='override train.device (cpu, cuda, cuda:1)')
    p.add_argument('--dtype', help='override train.dtype')
    p.set_defaults(func=cmd_train)
    p = sub.add_parser('evaluate', help='probe and prediction scores on generated episodes')
    p.add_argument('--checkpoint', required=True, type=Path)
    p.add_argument('--episodes', type=int, default=40)
    p.add_argument('--seed', type=int, default=1000)
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser('info', help='print a checkpoint\'s config, step and sizes')
    p.add_argument('--checkpoint', required=True, type=Path)
    p.set_defaults(func=cmd_info)
    p = sub.add_parser('demo', help='train the tiny model on generated scenes and report')
    p.add_argument('--out', type=Path, default=Path('outputs/demo'))
    p.add_argument('--steps', type=int, default=800)
    p.add_argument('--config', type=Path)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``jepa-world-model`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        return args.func(args)
    except (ConfigError, CheckpointError, FileNotFoundError) as exc:
        sys.stderr.write(f'jepa-world-model: error: {exc}\n')
        return 2


if __name__ == '__main__':
    sys.exit(main())
