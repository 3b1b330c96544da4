"""The metadata header of a safetensors file, read before anything is allocated.

Every file the package loads (checkpoints, rollout students) is safetensors with a string
metadata header naming its ``format``; reading it first lets a loader refuse a missing,
damaged or foreign file with one clear error of its own type, before it sizes or allocates a
single tensor. Nothing is ever unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple, Type

from safetensors import SafetensorError, safe_open

__all__ = ['read_header_metadata', 'read_tensor_header']


def read_header_metadata(path: str | Path, fmt: str, error: Type[Exception], what: str,
                         kind_hint: str = '') -> Dict[str, str]:
    """The metadata of the safetensors file at ``path``, whose ``format`` must be ``fmt``.

    Args:
        path: The file.
        fmt: The expected ``format`` metadata value.
        error: The exception type raised on any problem (the loader's own).
        what: What the file is, for "<what> not found" ("checkpoint").
        kind_hint: Appended to the wrong-format message (" (a rollout student file)").

    Raises:
        error: no such file, not a readable safetensors file (corrupt or truncated), or
            another ``format``.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f'{what} not found: {path}')
    try:
        with safe_open(str(path), framework='pt') as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise error(f'{path}: not a readable safetensors file (corrupt or '
                    f'truncated?): {exc}') from None
    if metadata.get('format') != fmt:
        raise error(f'{path}: metadata "format" is {metadata.get("format")!r}, '
                    f'expected {fmt!r}{kind_hint}')
    return metadata


def read_tensor_header(path: str | Path, error: Type[Exception]
                       ) -> Dict[str, Tuple[Tuple[int, ...], str]]:
    """Name -> (shape, safetensors dtype) of every tensor in the file's header; no tensor
    data is read. ``error`` (the loader's own type) when the header cannot be read."""
    try:
        with safe_open(str(path), framework='pt') as f:
            return {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype())
                    for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise error(f'{path}: tensor header unreadable (truncated?): {exc}') from None
