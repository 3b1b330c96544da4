"""Dynamic int8 quantisation of the exported dynamics graph (onnxruntime.quantization).

``quantize_dynamic`` stores each MatMul/Gemm weight as int8 (per output channel) and
quantises the activations to uint8 per call from their measured range, so no calibration data
is needed. The dynamics MLPs are almost all GEMM work at the planner's batch (256 samples),
which is where int8 pays; the ViT encoder runs at batch 1 and is left in float32. It changes
predictions: benchmarks/bench_onnx.py reports the error against float32, and it is never a
default (``inference_backend: onnxruntime_int8`` asks for it).
"""

from __future__ import annotations

import logging
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic

__all__ = ['quantize_dynamics']


def quantize_dynamics(src: Path, dst: Path) -> Path:
    """Write the int8 version of the float32 graph ``src`` to ``dst``; returns ``dst``."""
    # The quantiser logs through the root logger (a warning on every call that the graph
    # was not pre-processed: shape inference, which only matters for graphs with unknown
    # shapes; ours are all known); a node's log should not fill with that.
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=['MatMul', 'Gemm'])
    finally:
        root.setLevel(level)
    return Path(dst)
