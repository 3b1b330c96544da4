"""``jepa-world-model``: train, evaluate and inspect world models from the command line.

Examples:
    jepa-world-model train --config config/gantry_tiny.yaml --out runs/gantry_tiny
    jepa-world-model train --config config/gantry_tiny.yaml --out runs/gantry_tiny --resume
    jepa-world-model record --robot gantry --out bags/gantry --episodes 200 --steps 32
    jepa-world-model train --bag bags/gantry --config config/gantry_tiny.yaml --out runs/bag
    jepa-world-model evaluate --checkpoint runs/gantry_tiny/checkpoint.safetensors
    jepa-world-model evaluate --checkpoint models/arm_tiny.safetensors --bag bags/arm_heldout
    jepa-world-model info --checkpoint models/gantry_tiny.safetensors
    jepa-world-model demo --out outputs/demo
    jepa-world-model demo --duration 30 --model runs/arm_tiny/checkpoint.safetensors
    jepa-world-model demo-synthetic --out outputs/demo_synthetic
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .bags.errors import BagDatasetError, BagWriteError, RecordError
from .core.atomic_files import atomic_write_text
from .core.checkpoint import CheckpointError, checkpoint_config, describe, load_checkpoint
from .core.config import BagConfig, ConfigError, ExperimentConfig, from_dict, load_config, to_dict
from .core.data import Episode, split_episodes
from .core.distributed import init_from_env, local_device
from .core.evaluation import prediction_report, probe_report
from .core.probes import refit_probes
from .core.synthetic import SceneSpec, generate_episodes
from .core.training import LOSS_TERMS, resolve_dtype, Trainer, TrainingSetupError

log = logging.getLogger('jepa_world_model')
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def synthetic_data(cfg: ExperimentConfig, seed: int):
    """Generated gantry episodes matching the model's image size."""
    spec = SceneSpec(image_size=cfg.model.image_size)
    return generate_episodes(cfg.data.synthetic_episodes, cfg.data.synthetic_steps, seed, spec,
                             cfg.data.synthetic_distractor)


def _bags(module: str):
    """Import a ``jepa_world_model.bags`` module; rosbags is a pip-only dependency."""
    try:
        return importlib.import_module(f'jepa_world_model.bags.{module}')
    except ImportError as exc:
        raise ConfigError(f'rosbag support needs rosbags and opencv-python ({exc}); '
                          f'pip install rosbags opencv-python-headless') from exc


def load_episodes(cfg: ExperimentConfig) -> Tuple[List[Episode], Optional[Dict[str, Any]]]:
    """All episodes for ``cfg.data.source``, and the bag read report (None for synthetic)."""
    if cfg.data.source == 'synthetic':
        return synthetic_data(cfg, cfg.train.seed), None
    if not cfg.data.bag.paths:
        raise ConfigError('data.source is rosbag but no bags are given: pass --bag DIR or set '
                          'data.bag.paths')
    reader = _bags('reader')
    episodes, report = reader.read_bag_episodes(cfg.data.bag.paths,
                                                reader.BagDatasetConfig.from_experiment(cfg))
    sys.stderr.write(f'[data] {report.episodes} episodes, {report.frames} frames from '
                     f'{report.bags} bag(s)\n{report.summary()}\n')
    return episodes, report.to_dict()


def load_training_data(cfg: ExperimentConfig):
    """Episodes for ``cfg.data.source`` (train, validation)."""
    episodes, _ = load_episodes(cfg)
    return split_episodes(episodes, cfg.data.validation_fraction, cfg.train.seed)


def apply_bag_args(cfg: ExperimentConfig, args: argparse.Namespace) -> None:
    """``--bag`` and the topic flags override ``data.bag`` (validated like the YAML)."""
    flags = {'paths': [str(Path(p).resolve()) for p in args.bag] if args.bag else None,
             'image_topic': args.image_topic, 'joint_state_topic': args.joint_state_topic,
             'action_source': args.action_source, 'action_topic': args.action_topic,
             'action_fields': args.action_fields, 'frame_rate': args.frame_rate}
    overrides = {k: v for k, v in flags.items() if v is not None}
    if overrides:
        merged = dict(to_dict(cfg.data.bag), **overrides)
        cfg.data.bag = from_dict(BagConfig, merged, 'data.bag')
    if args.bag:
        cfg.data.source = 'rosbag'


class MetricsLogger:
    """Sends every logged loss term and collapse metric to TensorBoard when it is installed.

    The Trainer always writes OUT/metrics.jsonl; without the tensorboard package this says so
    once and does nothing else.
    """

    COLLAPSE = ('z_std_mean', 'z_std_min', 'effective_rank', 'effective_rank_image',
                'dynamics_relative')

    def __init__(self, out_dir: Path, writer_factory=None, enabled: bool = True) -> None:
        self.writer = None
        if not enabled:         # e.g. ranks other than 0 of a data-parallel run
            return
        if writer_factory is None:
            try:
                from torch.utils.tensorboard import SummaryWriter as writer_factory
            except ImportError:
                sys.stderr.write(f'[train] tensorboard is not installed: metrics go to '
                                 f'{out_dir / "metrics.jsonl"} only (pip install tensorboard '
                                 f'for TensorBoard logs)\n')
                return
        self.writer = writer_factory(log_dir=str(out_dir / 'tensorboard'))

    def __call__(self, logs: Dict[str, float]) -> None:
        """Log one entry of the Trainer's history."""
        if self.writer is None:
            return
        for key, value in logs.items():
            if key == 'step' or not isinstance(value, (int, float)):
                continue
            group = ('loss' if key in LOSS_TERMS or key == 'total'
                     else 'collapse' if key in self.COLLAPSE else 'train')
            self.writer.add_scalar(f'{group}/{key}', value, logs['step'] + 1)

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()


def evaluation_report(model, train_eps: Sequence[Episode],
                      val_eps: Sequence[Episode]) -> Dict[str, Any]:
    """Probes and multi-step prediction on validation episodes (horizons they are long
    enough for: bag episodes can be short)."""
    report: Dict[str, Any] = {'probes': probe_report(model, train_eps[:64], val_eps)}
    horizons = [h for h in (1, 2, 3, 4, 5) if h < max(len(ep) for ep in val_eps)]
    if horizons:
        report['prediction'] = prediction_report(model, val_eps, horizons)
    return report


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


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_train(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.steps is not None:
        cfg.optim.steps = args.steps
    apply_bag_args(cfg, args)
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
    progress = _progress(cfg.optim.steps) if dist_ctx.is_main else None
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


def cmd_record(args: argparse.Namespace) -> int:
    """Drive a simulated robot with an exploration policy and write a rosbag2."""
    recording = _bags('recording')
    cfg = load_config(args.config) if args.config else ExperimentConfig()
    size = args.image_size or cfg.model.image_size
    robot = recording.make_robot(args.robot, size)
    try:
        topics = recording.topics_for(args.robot, robot, cfg.data.bag, args.action_topic or '')
        summary = recording.record(
            robot, lambda seed: recording.make_policy(args.policy, robot, seed), args.out,
            args.episodes, args.steps, topics, args.storage, args.seed,
            info={'robot': args.robot, 'policy': args.policy})
    finally:
        robot.close()
    # The settings a training config needs to read this bag back.
    summary['train_config'] = {
        'model': {'image_size': size, 'joint_names': list(robot.joint_names),
                  'action_dim': len(robot.action_names),
                  'action_names': list(robot.action_names)},
        'data': {'source': 'rosbag', 'bag': {
            'image_topic': topics.image, 'joint_state_topic': topics.joint_states,
            'action_source': 'topic', 'action_topic': topics.action,
            'action_fields': list(topics.action_fields)}}}
    print(json.dumps(summary, indent=2))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    info = describe(args.checkpoint)
    loaded = load_checkpoint(args.checkpoint)
    info['parameters'] = loaded.model.parameter_counts()
    print(json.dumps(info, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The world model predicting the simulated arm live over ROS 2 (docs/demo.md)."""
    from .demo.run_demo import DemoError, DemoOptions, run_demo   # imports ROS lazily
    opts = DemoOptions(out=args.out, robot=args.robot, duration=args.duration,
                       model=args.model, seed=args.seed, horizon=args.horizon,
                       gif_seconds=args.gif_seconds, startup_timeout=args.startup_timeout,
                       animation='demo.mp4' if args.mp4 else 'demo.gif')
    try:
        run_demo(opts)
    except DemoError as exc:
        sys.stderr.write(f'jepa-world-model demo: error: {exc}\n')
        return 2
    except KeyboardInterrupt:
        sys.stderr.write('\n[demo] interrupted: all nodes stopped\n')
        return 130
    return 0


def cmd_demo_synthetic(args: argparse.Namespace) -> int:
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
    atomic_write_text(out / 'report.json', json.dumps(report, indent=2))
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
    p.set_defaults(func=cmd_train)
    p = sub.add_parser('record', help='record a simulated robot into a rosbag2')
    p.add_argument('--robot', default='gantry', help='gantry, arm or mobile_base')
    p.add_argument('--out', required=True, type=Path, help='bag directory to create')
    p.add_argument('--episodes', type=int, default=10)
    p.add_argument('--steps', type=int, default=32, help='frames per episode')
    p.add_argument('--policy', default='random', help='exploration policy')
    p.add_argument('--storage', choices=['mcap', 'sqlite3'], default='mcap')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--image-size', type=int, help='default: the config\'s model.image_size')
    p.add_argument('--config', type=Path, help='take topics and image size from this config')
    p.add_argument('--action-topic', help='default: data.bag.action_topic, /cmd_vel for bases')
    p.set_defaults(func=cmd_record)
    from .evaluate_cli import add_parser as add_evaluate
    add_evaluate(sub)    # evaluate: on --bag recordings or generated episodes
    p = sub.add_parser('info', help='print a checkpoint\'s config, step and sizes')
    p.add_argument('--checkpoint', required=True, type=Path)
    p.set_defaults(func=cmd_info)
    p = sub.add_parser('demo', help='run world_model_node against the simulated arm over ROS 2 '
                       'and report its prediction error and surprise (docs/demo.md)')
    p.add_argument('--out', type=Path, default=Path('outputs/demo'))
    p.add_argument('--robot', default='arm', choices=['arm', 'mobile_base'])
    p.add_argument('--duration', type=float, default=60.0,
                   help='simulated seconds to record once the model predicts (default 60)')
    p.add_argument('--model', type=Path,
                   help='checkpoint (default: the shipped models/arm_tiny.safetensors)')
    p.add_argument('--seed', type=int, default=0, help='simulator and policy seed')
    p.add_argument('--horizon', type=int, default=10, help='predicted steps H (0.1 s each)')
    p.add_argument('--gif-seconds', type=float, default=20.0, help='animation clip length')
    p.add_argument('--startup-timeout', type=float, default=120.0,
                   help='wall seconds each node may take to come up')
    p.add_argument('--mp4', action='store_true',
                   help='write demo.mp4 instead of demo.gif (needs imageio-ffmpeg)')
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser('demo-synthetic',
                       help='train the tiny model on generated gantry scenes and report')
    p.add_argument('--out', type=Path, default=Path('outputs/demo_synthetic'))
    p.add_argument('--steps', type=int, default=800)
    p.add_argument('--config', type=Path)
    p.set_defaults(func=cmd_demo_synthetic)
    from .experiments.closed_loop import add_parser as add_plan_eval   # no rclpy at import
    add_plan_eval(sub)   # plan-eval: closed-loop planning success rates (docs/closed_loop.md)
    from .risk_refit import add_parser as add_fit_risk
    add_fit_risk(sub)    # fit-risk: a rollout-trained risk head for a trained checkpoint
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``jepa-world-model`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        return args.func(args)
    except (ConfigError, CheckpointError, OSError, BagDatasetError, BagWriteError,
            RecordError, TrainingSetupError) as exc:
        sys.stderr.write(f'jepa-world-model: error: {one_line(exc)}\n')
        return 2
    except Exception as exc:
        # Anything else is a bug; the user still gets one line, a developer the traceback.
        if args.verbose:
            raise
        sys.stderr.write(f'jepa-world-model: internal error: {type(exc).__name__}: '
                         f'{one_line(exc)} (rerun with -v for the traceback)\n')
        return 1


def one_line(exc: BaseException) -> str:
    """An error message on one line (bag read reports and YAML errors span several)."""
    return ' | '.join(line.strip() for line in str(exc).splitlines() if line.strip())


if __name__ == '__main__':
    sys.exit(main())
