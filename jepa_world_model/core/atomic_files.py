"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half.

The new content goes to a temporary file in the destination's directory (``os.replace`` is
atomic only within one file system), is flushed and fsynced, replaces the destination, and
the directory is fsynced so the rename itself survives a power cut. Checkpoints, run reports
and resolved configs are all written this way.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
import secrets
import stat
from typing import Callable, Iterator

__all__ = ['atomic_write_text', 'atomic_writer', 'fsync_directory']


def fsync_directory(directory: str | Path) -> None:
    """Flush a directory's entries (a finished rename) to disk.

    Platforms that cannot open a directory (Windows) have nothing to flush: skipped.
    """
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except (IsADirectoryError, PermissionError):
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path``.

    The caller writes the whole file at the yielded path (by any means, e.g. a library's
    ``save_file``); it is then fsynced, renamed over ``path`` and the directory fsynced. On
    any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique name: two writers of the same destination never share a temporary file.
    # Created with mode 0o666 less the umask, as a plain open() would (mkstemp's 0o600 would
    # make checkpoints unreadable to a node running as another user).
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp')
    os.close(os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    mode = stat.S_IMODE(os.stat(tmp).st_mode)
    try:
        yield tmp
        # A library may replace the file it was given with its own temporary file (safetensors'
        # save_file does, with mode 0o600): give the result the mode a plain open() would.
        if stat.S_IMODE(os.stat(tmp).st_mode) != mode:
            os.chmod(tmp, mode)
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_directory(path.parent)


def atomic_write_text(path: str | Path, text: str, encoding: str = 'utf-8') -> Path:
    """Write ``text`` to ``path`` atomically (see the module docstring); returns ``path``."""
    return _write(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def _write(path: str | Path, fill: Callable[[Path], object]) -> Path:
    with atomic_writer(path) as tmp:
        fill(tmp)
    return Path(path)
