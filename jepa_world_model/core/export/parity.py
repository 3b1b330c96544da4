"""How closely an ONNX export computes what the torch model computes.

:func:`parity_report` runs every graph of an export (the int8 dynamics included) with
onnxruntime and its torch module (graphs.py) on the same random inputs at each batch size,
and gives the largest absolute difference of each output. The export command prints it, the
parity test asserts on it (test/test_onnx_export.py) and benchmarks/bench_onnx.py records it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Dict, Sequence

import numpy as np
import torch
from torch import nn

from .graphs import example_inputs, graph_modules
from .manifest import read_manifest
from .onnx_export import INT8_DYNAMICS
from .onnx_sessions import import_onnxruntime

__all__ = ['parity_report']


def parity_report(model: nn.Module, directory: str | Path, batches: Sequence[int] = (1, 256),
                  threads: int = 1) -> Dict[str, Dict[str, float]]:
    """``{graph: {output: max |onnxruntime - torch|}}`` over ``batches`` (float32, CPU).

    Raises:
        OnnxUnavailableError: onnxruntime is not installed. ExportMissingError: no export
        in ``directory``.
    """
    ort = import_onnxruntime()
    directory = Path(directory)
    manifest = read_manifest(directory)
    model = copy.deepcopy(model).to(device='cpu', dtype=torch.float32).eval()
    modules = graph_modules(model)
    modules[INT8_DYNAMICS] = modules['dynamics']
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    report: Dict[str, Dict[str, float]] = {}
    for name, graph in manifest['graphs'].items():
        module = modules[name]
        session = ort.InferenceSession(str(directory / graph['file']), options,
                                       providers=['CPUExecutionProvider'])
        worst = {out: 0.0 for out in module.output_names}
        for batch in batches:
            inputs = example_inputs(model, 'dynamics' if name == INT8_DYNAMICS else name,
                                    batch)
            with torch.no_grad():
                expected = module(*inputs)
            feed = {n: t.numpy() for n, t in zip(module.input_names, inputs)}
            got = session.run(module.output_names, feed)
            for out, want, have in zip(module.output_names, expected, got):
                worst[out] = max(worst[out], float(np.abs(want.numpy() - have).max()))
        report[name] = worst
    return report
