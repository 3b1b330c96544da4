"""Benchmark the world model on this machine; prints JSON (not a timed test).

Reports parameter counts, encode latency at batch 1, dynamics-predictor step latency at batch 1
and 256 over the compact latent, and, for contrast, one step of a predictor over all patch
tokens (what planning would cost without the pooled latent).

    python benchmarks/bench_world_model.py --config config/train/gantry_tiny.yaml --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from call_timing import time_call
import torch

from jepa_world_model.core.config import ExperimentConfig, load_config
from jepa_world_model.core.model.vit import Block
from jepa_world_model.core.model.world_model import WorldModel


def token_predictor(m, depth: int = 2) -> torch.nn.Sequential:
    """A predictor over all patch tokens plus an action token, as V-JEPA 2-AC predicts:
    ``depth`` transformer blocks at the predictor width of model config ``m``,
    tokens [B, num_patches + 1, predictor_embed_dim] -> the same shape. Random weights: it
    stands for the cost, not the predictions (benchmarks/bench_planner.py plans with it)."""
    return torch.nn.Sequential(*[Block(m.predictor_embed_dim, m.predictor_num_heads,
                                       m.mlp_ratio) for _ in range(depth)]).eval()


@torch.inference_mode()
def run(cfg: ExperimentConfig, threads: int, repeats: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = cfg.model
    model = WorldModel(m).eval()
    o = torch.rand(1, 3, m.image_size, m.image_size)
    s = torch.randn(1, m.state_dim) if m.state_dim else None
    z1 = model.encode(o, s)
    a1 = torch.randn(1, m.action_dim)
    z256, a256 = z1.expand(256, -1).contiguous(), torch.randn(256, m.action_dim)
    # A token-level predictor (2 blocks of the predictor width over all patches + action token)
    # shows why the planner works on the pooled latent.
    predictor = token_predictor(m)
    tokens256 = torch.randn(256, m.num_patches + 1, m.predictor_embed_dim)
    return {
        'threads': threads,
        'parameters': model.parameter_counts(),
        'latent_dim': m.latent_dim,
        'num_patches': m.num_patches,
        'encode_batch1': time_call(lambda: model.encode(o, s), repeats, 10),
        'encode_online_and_target_batch1': time_call(
            lambda: (model.encode(o, s), model.encode(o, s, target=True)), repeats, 10),
        'predict_step_batch1': time_call(lambda: model.predict(z1, a1), repeats, 10),
        'predict_step_batch256': time_call(lambda: model.predict(z256, a256), repeats, 10),
        'rollout_8_steps_batch256': time_call(
            lambda: model.rollout(z256, a256.unsqueeze(1).expand(-1, 8, -1)), repeats // 2, 5),
        'token_predictor_step_batch256_for_contrast': time_call(
            lambda: predictor(tokens256), max(repeats // 10, 3), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parent.parent
    parser.add_argument('--config', type=Path,
                        default=root / 'config' / 'train' / 'gantry_tiny.yaml')
    parser.add_argument('--threads', type=int, nargs='+', default=[2, 1])
    parser.add_argument('--repeats', type=int, default=100)
    args = parser.parse_args()
    cfg = load_config(args.config)
    results = [run(cfg, t, args.repeats) for t in args.threads]
    print(json.dumps({'config': str(args.config), 'torch': torch.__version__,
                      'machine': platform.machine(), 'cpu_count': os.cpu_count(),
                      'results': results}, indent=2))


if __name__ == '__main__':
    main()
