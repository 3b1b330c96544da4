"""Per-frame encode cost of the frozen pretrained encoders; prints JSON (not a timed test).

``WorldModel.encode`` of one frame (batch 1: resize, normalise, backbone, adapter, pool), on 2
and on 1 threads, for the smallest real configurations with random weights (the cost does not
depend on the values; no weights can be downloaded here):

* DINOv2 ViT-S/14 (facebook/dinov2-small: 384 wide, 12 layers, 6 heads) at 224 px: 256
  tokens; and at 112 px (64 tokens), a cheaper choice on a CPU;
* V-JEPA 2 ViT-L/16 at 256 px (facebook/vjepa2-vitl-fpc64-256: 1024 wide, 24 layers, 16
  heads), the smallest V-JEPA 2 published: a frame is one 2-frame tubelet, 256 tokens;
* today's from-scratch ViT of config/train/arm_tiny.yaml, for contrast.

    python benchmarks/bench_pretrained_encoder.py --out docs/results/pretrained_encoder_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Dict

from call_timing import time_call
import torch
from torch.utils.flop_counter import FlopCounterMode

from jepa_world_model.core.config import load_config
from jepa_world_model.core.model.encoder_config import EncoderConfig
from jepa_world_model.core.model.model_config import ModelConfig
from jepa_world_model.core.model.pretrained_backbone import architecture_keys
from jepa_world_model.core.model.world_model import WorldModel

REPO = Path(__file__).resolve().parents[1]


def pretrained_model_config(kind: str, input_px: int, **architecture) -> ModelConfig:
    """The arm's model config with a pretrained encoder of ``architecture`` (random weights)
    seeing frames of ``input_px`` (the camera frames are that size too: no resize)."""
    import transformers
    config_class = {'dinov2': transformers.Dinov2Config,
                    'vjepa2': transformers.VJEPA2Config}[kind]
    config = config_class(**architecture)
    arch = {k: getattr(config, k) for k in architecture_keys(config_class)}
    base = load_config(REPO / 'config' / 'train' / 'arm_tiny.yaml').model
    encoder = EncoderConfig(kind=kind, pretrained='(random weights)', image_size=input_px,
                            backbone_config=json.dumps(arch, sort_keys=True))
    data = {k: getattr(base, k) for k in base.__dataclass_fields__ if k != 'encoder'}
    data['image_size'] = input_px
    return ModelConfig(**data, encoder=encoder)


def cases() -> Dict[str, ModelConfig]:
    """Name -> model config of each measured encoder."""
    vits14 = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, patch_size=14,
                  image_size=518)
    return {
        'vit_from_scratch_arm_tiny': load_config(REPO / 'config' / 'train' /
                                                 'arm_tiny.yaml').model,
        'dinov2_vits14_224px': pretrained_model_config('dinov2', 224, **vits14),
        'dinov2_vits14_112px': pretrained_model_config('dinov2', 112, **vits14),
        # VJEPA2Config's defaults are vjepa2-vitl-fpc64-256.
        'vjepa2_vitl16_256px': pretrained_model_config('vjepa2', 256),
    }


def measure(cfg: ModelConfig, threads: int, repeats: int, warmup: int) -> Dict[str, object]:
    """encode() latency of one frame with ``threads`` intra-op threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = WorldModel(cfg).eval()
    frame = torch.rand(1, 3, cfg.image_size, cfg.image_size)
    s = torch.zeros(1, cfg.state_dim)

    def encode_new_frame() -> None:
        # A new tensor per call, as from a camera: the backbone's one-frame memo never hits.
        with torch.inference_mode():
            model.encode(frame.clone(), s)

    out = time_call(encode_new_frame, repeats, warmup)
    # Counted, not timed: what the frame costs on any machine (GFLOP/s there gives the time).
    with FlopCounterMode(display=False) as flops:
        encode_new_frame()
    out['gflop_per_frame'] = round(flops.get_total_flops() / 1e9, 3)
    counts = model.parameter_counts()
    out.update(frozen_backbone_parameters=counts['frozen_backbone'],
               trainable_parameters=counts['total_trainable'], tokens=cfg.num_patches,
               input_px=cfg.image_size)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=20, help='timed frames (small models)')
    parser.add_argument('--repeats-large', type=int, default=6,
                        help='timed frames for V-JEPA 2 ViT-L (seconds each on a CPU)')
    parser.add_argument('--only', nargs='*', default=None, help='case names to run')
    parser.add_argument('--machine-note', default='',
                        help="e.g. 'loaded: 5 other jobs on 2 cores'")
    parser.add_argument('--out', type=Path, default=None, help='also write the JSON here')
    args = parser.parse_args()
    results: Dict[str, object] = {}
    load_start = os.getloadavg()[0]
    for name, cfg in cases().items():
        if args.only and name not in args.only:
            continue
        large = name.startswith('vjepa2')
        repeats = args.repeats_large if large else args.repeats
        results[name] = {f'{t}_threads': measure(cfg, t, repeats, 1 if large else 3)
                         for t in (2, 1)}
    report = {
        'what': 'WorldModel.encode of one frame (batch 1), random weights, float32, CPU',
        'machine': {'platform': platform.platform(), 'cpus': os.cpu_count(),
                    'torch': torch.__version__, 'load_avg_1min_start': load_start,
                    'load_avg_1min_end': os.getloadavg()[0], 'note': args.machine_note},
        'results': results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + '\n', encoding='utf-8')


if __name__ == '__main__':
    main()
