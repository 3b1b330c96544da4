"""Which torch device and dtype a node's parameters name (``device``, ``dtype``)."""

from __future__ import annotations

import torch

__all__ = ['DTYPES', 'resolve_device']

DTYPES = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16}


def resolve_device(name: str) -> torch.device:
    """Turn a device parameter into a usable ``torch.device``.

    Args:
        name: ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'auto'`` (CUDA when available).

    Raises:
        ValueError: Unknown name, or CUDA requested but not available.
    """
    name = name.strip().lower()
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f'unknown device {name!r}: {exc}') from None
    if device.type not in ('cpu', 'cuda'):
        raise ValueError(f'unsupported device {name!r} (use cpu, cuda, cuda:N or auto)')
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'device {name!r} requested but CUDA is not available '
                             f'(torch {torch.__version__})')
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f'device {name!r} requested but only {torch.cuda.device_count()} '
                             'CUDA device(s) exist')
    return device
