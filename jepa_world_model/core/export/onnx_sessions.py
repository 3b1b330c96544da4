"""onnxruntime sessions over an ONNX export (onnx_export.py), checked against the loaded model.

:class:`OnnxGraphs` opens one ``InferenceSession`` per graph once (a node does it in its
configure transition) and runs them on torch tensors: inputs are copied to contiguous float32
numpy arrays, outputs come back as CPU torch tensors. :func:`open_export` finds or makes the
export: a given directory must hold graphs of exactly the loaded weights (manifest.py);
without one the model is exported once into a cache directory named by its fingerprint and
reused by later starts.

onnxruntime is an optional dependency (``pip install .[onnx]``): without it
:class:`OnnxUnavailableError` says how to install it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np
import torch
from torch import nn, Tensor

from .manifest import (check_matches, ExportMismatchError, ExportMissingError,
                       model_fingerprint, read_manifest)
from .onnx_export import export_onnx, INT8_DYNAMICS

__all__ = ['OnnxGraphs', 'OnnxUnavailableError', 'open_export', 'default_cache_root',
           'import_onnxruntime']


class OnnxUnavailableError(ImportError):
    """onnxruntime (or onnx, for exporting) is not installed."""


def import_onnxruntime() -> Any:
    """The onnxruntime module, or :class:`OnnxUnavailableError` with the install line."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxUnavailableError(
            f'inference_backend onnxruntime needs the onnxruntime package ({exc}); install '
            "it with `pip install onnx onnxruntime` (or the package's extra: "
            "`pip install .[onnx]`), or use inference_backend torch") from None
    return onnxruntime


def default_cache_root() -> Path:
    """Where exports made at configure go: ``$JWM_ONNX_CACHE``, else
    ``$XDG_CACHE_HOME/jepa_world_model/onnx`` (``~/.cache/...``)."""
    if os.environ.get('JWM_ONNX_CACHE'):
        return Path(os.environ['JWM_ONNX_CACHE']).expanduser()
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'jepa_world_model' / 'onnx'


class OnnxGraphs:
    """The sessions of one export directory.

    Args:
        directory: An export (``manifest.json`` and the graphs).
        model: The loaded model the graphs must have been exported from.
        threads: onnxruntime intra-op threads per session (0: onnxruntime's default, one
            per physical core).
        int8: Run the dynamics with the int8 graph (must be in the export).

    Raises:
        OnnxUnavailableError: onnxruntime is not installed. ExportMissingError: no export
            there (or no int8 graph when asked for). ExportMismatchError: exported from
            another model.
    """

    def __init__(self, directory: str | Path, model: nn.Module, threads: int = 0,
                 int8: bool = False) -> None:
        ort = import_onnxruntime()
        self._errors = _onnxruntime_errors(ort)
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        check_matches(self.manifest, model, self.directory)
        graphs = self.manifest['graphs']
        if int8 and INT8_DYNAMICS not in graphs:
            why = self.manifest.get('int8_skipped', 'exported without it')
            raise ExportMissingError(f'{self.directory} has no int8 dynamics graph ({why}); '
                                     'export again with onnxruntime installed')
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        # One caller at a time runs a session (the node's worker): no inter-op pool needed.
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        chosen = dict(graphs)
        if int8:
            chosen['dynamics'] = graphs[INT8_DYNAMICS]
        chosen.pop(INT8_DYNAMICS, None)
        self.int8 = int8
        self.sessions = {name: ort.InferenceSession(str(self.directory / graph['file']),
                                                    options, providers=['CPUExecutionProvider'])
                         for name, graph in chosen.items()}
        self.outputs = {name: list(graph['outputs']) for name, graph in chosen.items()}

    def has(self, graph: str, output: str) -> bool:
        """True when ``graph`` exists and has ``output``."""
        return output in self.outputs.get(graph, ())

    def run(self, graph: str, outputs: list, **inputs: Optional[Tensor]) -> list:
        """Run ``graph`` for ``outputs`` on torch ``inputs`` (None inputs are left out: a
        model without a state has no ``s``). -> CPU float32 tensors, in ``outputs`` order."""
        feed = {name: np.ascontiguousarray(t.detach().to('cpu', torch.float32).numpy())
                for name, t in inputs.items() if t is not None}
        try:
            results = self.sessions[graph].run(outputs, feed)
        except self._errors as exc:
            # onnxruntime's errors derive from Exception only: a RuntimeError is what the
            # callers (a node's worker, the planner's budget probe) handle.
            raise RuntimeError(f'onnxruntime failed on the {graph} graph of '
                               f'{self.directory}: {exc}') from None
        return [torch.from_numpy(x) for x in results]


def _onnxruntime_errors(ort: Any) -> Tuple[type, ...]:
    """The exception classes onnxruntime's sessions raise (Fail, InvalidArgument, ...)."""
    state = ort.capi.onnxruntime_pybind11_state
    return tuple(v for v in vars(state).values()
                 if isinstance(v, type) and issubclass(v, Exception))


def open_export(model: nn.Module, directory: Optional[str | Path] = None, threads: int = 0,
                int8: bool = False, step: int = 0, checkpoint: str = '',
                cache_root: Optional[Path] = None) -> OnnxGraphs:
    """The sessions for ``model``: from ``directory`` when given, else from (or, the first
    time, exported to) ``cache_root/<weights fingerprint>``.

    Raises:
        OnnxUnavailableError, ExportMissingError, ExportMismatchError: see
        :class:`OnnxGraphs`; OSError: the cache cannot be written.
    """
    if directory:
        return OnnxGraphs(directory, model, threads, int8)
    import_onnxruntime()   # say what is missing before a slow export
    root = cache_root if cache_root is not None else default_cache_root()
    cached = root / model_fingerprint(model)['weights_sha256'][:20]
    try:
        return OnnxGraphs(cached, model, threads, int8)
    except (ExportMissingError, ExportMismatchError):
        pass   # not exported yet (or an incomplete older export): export it now
    export_onnx(model, cached, step, checkpoint, int8=True)
    return OnnxGraphs(cached, model, threads, int8)
