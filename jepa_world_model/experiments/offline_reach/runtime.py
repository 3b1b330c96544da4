"""The world model of an offline-reach run, on the chosen ``inference_backend``, as
planner_node loads it (ros/common/model_loading.py): ``threads`` torch threads, and the same
number of onnxruntime intra-op threads per session for the onnxruntime backends (their ONNX
export is made once into the cache, docs/deployment.md)."""

from __future__ import annotations

from pathlib import Path

import torch

from ...core.runtime.inference import WorldModelRuntime
from ..conditions import ExperimentError
from .options import ReachOptions

__all__ = ['load_runtime']


def load_runtime(model: Path, opts: ReachOptions) -> WorldModelRuntime:
    """``model`` on ``opts.inference_backend`` with ``opts.threads`` threads.

    Raises:
        ExperimentError: the backend cannot run this model here (onnxruntime not installed,
            an export of other weights, a model the exporter refuses), with the reason.
    """
    torch.set_num_threads(opts.threads)
    try:
        return WorldModelRuntime.from_path(str(model), backend=opts.inference_backend,
                                           threads=opts.threads)
    except (ImportError, OSError, ValueError) as exc:
        # make_backend's errors: OnnxUnavailableError (ImportError), ExportMissingError
        # (OSError), ExportMismatchError (ValueError). A torch checkpoint that does not load
        # fails the same way on every backend and is not caught here (CheckpointError).
        if opts.inference_backend == 'torch':
            raise
        raise ExperimentError(f'inference_backend {opts.inference_backend}: cannot run '
                              f'{model}: {exc}') from exc
