"""torch vs onnxruntime (float32, int8 dynamics) per call; prints JSON (not a timed test).

Calls as the nodes make them, torch tensors in and out (onnxruntime's copies included):

* ``encode``: the online encoder of one frame (batch 1), ``WorldModel.encode`` vs the
  encoder graph (the int8 option quantises only the dynamics: same graph as float32);
* ``rollout_step``: the planner's batched step at 256 samples, torch's
  :class:`~jepa_world_model.core.model.rollout_step.RolloutStep` (what the planner runs with
  ``inference_backend: torch``) vs the dynamics graph in float32 and in int8;

on 1 and 2 threads (torch's ``set_num_threads``; onnxruntime's intra-op threads), plus the
largest |difference| from torch, and for the step the relative error of the increment
``||d_backend - d_torch|| / ||d_torch||`` with ``d = z_next - z``, on latents of encoded
frames (random images) and actions uniform in [-1, 1].

    python benchmarks/bench_onnx.py --out docs/results/onnx_backend.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import tempfile
from typing import Dict

import torch

from call_timing import time_calls
from jepa_world_model.core.checkpoint import load_checkpoint
from jepa_world_model.core.export.onnx_export import export_onnx
from jepa_world_model.core.export.onnx_sessions import OnnxGraphs
from jepa_world_model.core.model.rollout_step import RolloutStep
from jepa_world_model.core.runtime.backends import OnnxStep

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', type=Path, default=REPO / 'models' / 'arm_tiny.safetensors')
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--repeats', type=int, default=200)
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--out', type=Path)
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.model)
    model = checkpoint.model.eval()
    cfg = model.cfg
    gen = torch.Generator().manual_seed(0)
    o1 = torch.rand(1, 3, cfg.image_size, cfg.image_size, generator=gen)
    s1 = torch.randn(1, cfg.state_dim, generator=gen) if cfg.state_dim else None
    frames = torch.rand(args.batch, 3, cfg.image_size, cfg.image_size, generator=gen)
    states = torch.randn(args.batch, cfg.state_dim, generator=gen) if cfg.state_dim else None
    with torch.inference_mode():
        z = model.encode(frames, states)                                 # [B, Z]
    a = torch.rand(args.batch, cfg.action_dim, generator=gen) * 2 - 1   # [B, A]
    result: Dict[str, object] = {
        'model': str(args.model.relative_to(REPO) if args.model.is_relative_to(REPO)
                     else args.model),
        'ensemble_size': cfg.dynamics_ensemble_size, 'batch': args.batch,
        'machine': f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs',
        'load_average_1min_at_start': round(os.getloadavg()[0], 2),
        'note': 'loaded machine (2 cores shared with other jobs): compare within a row, '
                'not with other tables',
        'torch': torch.__version__, 'runs': {}}
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(model, Path(tmp) / 'export', checkpoint.step, str(args.model))
        torch_step = RolloutStep(model)
        with torch.inference_mode():
            reference = torch_step(z, a)
            enc_reference = model.encode(o1, s1)
        for threads in args.threads:
            torch.set_num_threads(threads)
            fp32 = OnnxGraphs(Path(tmp) / 'export', model, threads)
            int8 = OnnxGraphs(Path(tmp) / 'export', model, threads, int8=True)
            steps = {'onnxruntime': OnnxStep(fp32), 'onnxruntime_int8': OnnxStep(int8)}
            run: Dict[str, object] = {}
            with torch.inference_mode():
                run['encode_batch1'] = time_calls({
                    'torch': lambda: model.encode(o1, s1),
                    'onnxruntime': lambda: fp32.run('encoder', ['z'], o=o1, s=s1)},
                    args.repeats)
                run['encode_batch1']['max_abs_diff'] = float(
                    (fp32.run('encoder', ['z'], o=o1, s=s1)[0] - enc_reference).abs().max())
                step_run = time_calls({
                    'torch': lambda: torch_step(z, a),
                    'onnxruntime': lambda: steps['onnxruntime'](z, a),
                    'onnxruntime_int8': lambda: steps['onnxruntime_int8'](z, a)}, args.repeats)
                for name, step in steps.items():
                    out = step(z, a)
                    step_run[name]['max_abs_diff'] = float((out - reference).abs().max())
                    step_run[name]['increment_rel_error'] = float(
                        (out - reference).norm() / (reference - z).norm())
                run[f'rollout_step_batch{args.batch}'] = step_run
            result['runs'][f'threads_{threads}'] = run
    result['load_average_1min_at_end'] = round(os.getloadavg()[0], 2)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
