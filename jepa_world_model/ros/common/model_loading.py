"""The world model a node loads in its configure transition (world_model_node, planner_node).

Both nodes read the same settings for it: ``model_path`` (empty: the package's shipped
model, found by :func:`~jepa_world_model.resources.default_model_path`), ``num_threads``
(0: torch's default), ``device``, ``dtype``, ``inference_backend`` and ``onnx_dir``
(core/runtime/backends.py: onnxruntime sessions are built here, once). A model that cannot
be loaded is a failed configure with a reason, never a crash: :class:`ModelLoadError`
carries that reason.
"""

from typing import Any, Optional

import torch

from ...core.checkpoint import CheckpointError
from ...core.runtime.inference import SurpriseNormalizer, WorldModelRuntime
from ...core.runtime.shared_encoder import EncoderPool
from ...resources import DEFAULT_MODEL, default_model_path, model_search_paths

__all__ = ['ModelLoadError', 'load_runtime']


class ModelLoadError(RuntimeError):
    """The node's model cannot be loaded; the message is the reason its configure fails."""


def load_runtime(settings: Any, default_name: str = DEFAULT_MODEL,
                 normalizer: Optional[SurpriseNormalizer] = None,
                 pool: Optional[EncoderPool] = None) -> WorldModelRuntime:
    """Load ``settings.model_path`` (or the shipped ``default_name``) as a runtime.

    Args:
        settings: The node's settings (``model_path``, ``num_threads``, ``device``,
            ``dtype``, ``inference_backend``, ``onnx_dir``).
        default_name: The shipped model's file name, used when ``model_path`` is empty.
        normalizer: The runtime's surprise normalizer (world_model_node).
        pool: Share the model with the process's other nodes that load the same file.

    Raises:
        ModelLoadError: Not a loadable checkpoint (with where it was searched for when
            ``model_path`` was empty), or it cannot run on ``device``/``dtype`` or with
            ``inference_backend`` (onnxruntime missing, graphs of another model).
    """
    path = settings.model_path or str(default_model_path(default_name))
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    try:
        return WorldModelRuntime.from_path(
            path, settings.device, settings.dtype, normalizer, pool,
            backend=settings.inference_backend, onnx_dir=settings.onnx_dir,
            threads=settings.num_threads)
    except CheckpointError as exc:
        where = '' if settings.model_path else (' (searched: ' + ', '.join(
            str(p) for p in model_search_paths(default_name)) + '; set model_path)')
        raise ModelLoadError(f'cannot load checkpoint: {exc}{where}') from exc
    except (ValueError, RuntimeError, OSError, ImportError) as exc:
        raise ModelLoadError(f'cannot load {path} on {settings.device}/{settings.dtype} '
                             f'with inference_backend {settings.inference_backend}: '
                             f'{exc}') from exc
