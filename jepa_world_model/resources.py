"""Where the package's installed data (shipped models) lives.

A model shipped with the package is installed by setup.py to
``share/jepa_world_model/models/``. Depending on how the package runs, that directory is found
through the ament index (colcon install or ``--symlink-install``), under ``sys.prefix`` (a
plain ``pip install`` into a venv) or, when running from a source checkout, in the
repository's ``models/`` folder.
"""

from __future__ import annotations

from pathlib import Path
import sys
from typing import List

PACKAGE = 'jepa_world_model'
DEFAULT_MODEL = 'gantry_tiny.safetensors'

__all__ = ['PACKAGE', 'DEFAULT_MODEL', 'model_search_paths', 'default_model_path']


def _ament_share_dir() -> Path | None:
    """The package's share directory from the ament index, or None if not registered."""
    try:
        from ament_index_python.packages import (PackageNotFoundError,
                                                 get_package_share_directory)
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(PACKAGE))
    except (PackageNotFoundError, ValueError, LookupError, OSError):
        # OSError: AMENT_PREFIX_PATH unset (no sourced workspace), which is fine here.
        return None


def model_search_paths(name: str = DEFAULT_MODEL) -> List[Path]:
    """Candidate locations of model file ``name``, most specific first (may not exist).

    Order: ament share directory, ``sys.prefix/share/jepa_world_model/models``, the source
    tree's ``models/``.
    """
    candidates = []
    share = _ament_share_dir()
    if share is not None:
        candidates.append(share / 'models' / name)
    candidates.append(Path(sys.prefix) / 'share' / PACKAGE / 'models' / name)
    candidates.append(Path(__file__).resolve().parent.parent / 'models' / name)
    unique: List[Path] = []
    for path in candidates:
        if path not in unique:
            unique.append(path)
    return unique


def default_model_path(name: str = DEFAULT_MODEL) -> Path:
    """The first existing candidate of :func:`model_search_paths`.

    If none exists, the first candidate is returned so that loading it fails with a
    "checkpoint not found" error naming a sensible path; callers that want to list every
    searched location use :func:`model_search_paths`.
    """
    candidates = model_search_paths(name)
    for path in candidates:
        if path.is_file():
            return path
    return candidates[0]
