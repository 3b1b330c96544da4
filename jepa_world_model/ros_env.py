"""Make ``import rclpy`` work before a node imports it.

ROS 2 can reach a Python environment in two ways:

* a sourced system install (``source /opt/ros/jazzy/setup.bash``), which sets
  ``LD_LIBRARY_PATH`` and ``PYTHONPATH``; or
* the ``ros-jazzy-*`` PyPI wheels that ``scripts/bootstrap.sh`` installs into ``.venv``.
  Their shared libraries live in ``<prefix>/lib`` and ``site-packages/ros_*.libs``,
  which the dynamic loader only searches when they are on ``LD_LIBRARY_PATH``. The
  ``ros-wheels-bootstrapper`` ``.pth`` hook normally re-executes the interpreter with that
  path set, but not under ``python -S``, not when the hook is missing, and not in a child
  process that inherited the hook's "done" flag but lost ``LD_LIBRARY_PATH`` (sudo, some
  launchers and process managers drop it).

:func:`ensure_ros_libraries` covers the second case: ``jepa_world_model.ros`` calls it once,
in its ``__init__``, before any of its modules imports rclpy. If rclpy already imports,
nothing happens. If it fails only because shared libraries are missing, the interpreter is
re-executed once with ``LD_LIBRARY_PATH`` extended by those directories (the dynamic
loader reads ``LD_LIBRARY_PATH`` only at process start, so setting it in-process is not enough).

This module never imports rclpy at import time; the helpers other than
:func:`ensure_ros_libraries` are pure and unit-tested.
"""

import glob
import importlib.util
import os
import sys
import sysconfig

#: Set in the environment of the re-executed interpreter so it never loops.
REEXEC_GUARD = 'JWM_ROS_LIBS_REEXEC'

#: Glob for the site-packages directories with the wheels' vendored shared libraries.
LIB_DIR_PATTERN = 'ros_*.libs'

#: Files whose presence marks ``<prefix>/lib`` as holding the ROS 2 wheels' libraries.
PREFIX_LIB_MARKERS = ('librcl.so', 'librmw.so', 'librcutils.so')

_MISSING_LIBRARY_MARKERS = (
    'cannot open shared object file',
    'library not loaded',
    'image not found',
)

_HELP = (
    'Either source a ROS 2 installation first (for example '
    '"source /opt/ros/jazzy/setup.bash" or "source /opt/ros/humble/setup.bash"), '
    'or create the project environment with "scripts/bootstrap.sh" (or "make venv") '
    'and run the node with ".venv/bin/python" / the executables in ".venv/bin".'
)


def site_package_dirs(extra=None):
    """Return the existing, de-duplicated directories to search for ROS libraries.

    The candidates are sysconfig's ``purelib`` and ``platlib``, the directory that holds
    the ``rclpy`` package if it can be located without importing it, and ``extra``.
    """
    candidates = []
    paths = sysconfig.get_paths()
    for key in ('purelib', 'platlib'):
        if paths.get(key):
            candidates.append(paths[key])
    rclpy_parent = _rclpy_install_dir()
    if rclpy_parent:
        candidates.append(rclpy_parent)
    candidates.extend(extra or ())
    seen = set()
    result = []
    for path in candidates:
        real = os.path.realpath(path)
        if real in seen or not os.path.isdir(real):
            continue
        seen.add(real)
        result.append(real)
    return result


def _rclpy_install_dir():
    """Return the directory that contains the ``rclpy`` package, or None.

    ``importlib.util.find_spec`` on a top-level name locates the package without
    executing it, so this does not load any shared library.
    """
    try:
        spec = importlib.util.find_spec('rclpy')
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    locations = list(spec.submodule_search_locations)
    return os.path.dirname(locations[0]) if locations else None


def prefix_lib_dir(site_dir):
    """Return ``<prefix>/lib`` for ``<prefix>/lib/pythonX.Y/site-packages`` if it has ROS libs.

    The ROS 2 wheels install the core libraries (``librcl.so``, ``librmw*.so``, message
    type support) into the environment's ``lib`` directory, and only vendored third-party
    libraries into ``site-packages/ros_*.libs``.
    """
    lib_dir = os.path.dirname(os.path.dirname(os.path.normpath(site_dir)))
    if any(os.path.isfile(os.path.join(lib_dir, name)) for name in PREFIX_LIB_MARKERS):
        return lib_dir
    return None


def find_ros_lib_dirs(search_dirs):
    """Return the directories holding ROS 2 wheel libraries for ``search_dirs``.

    For each site-packages directory: its ``ros_*.libs`` subdirectories (sorted), then
    its ``<prefix>/lib`` if that contains ROS libraries. Each directory appears once.
    """
    found = []
    for base in search_dirs:
        candidates = sorted(glob.glob(os.path.join(base, LIB_DIR_PATTERN)))
        candidates.append(prefix_lib_dir(base))
        for path in candidates:
            if path and os.path.isdir(path) and path not in found:
                found.append(path)
    return found


def build_ld_library_path(current, lib_dirs):
    """Return ``LD_LIBRARY_PATH`` with ``lib_dirs`` prepended, keeping ``current``'s order.

    Empty entries are dropped (an empty entry means "current directory" to the loader)
    and every directory appears once.
    """
    parts = []
    for entry in list(lib_dirs) + (current or '').split(os.pathsep):
        if entry and entry not in parts:
            parts.append(entry)
    return os.pathsep.join(parts)


def missing_lib_dirs(current, lib_dirs):
    """Return the entries of ``lib_dirs`` that are not already on ``current``."""
    present = set(filter(None, (current or '').split(os.pathsep)))
    return [d for d in lib_dirs if d not in present]


def is_missing_shared_library(exc):
    """Tell whether ``exc`` (or an exception it was raised from) is a loader failure."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc).lower()
        if any(marker in text for marker in _MISSING_LIBRARY_MARKERS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def reexec_argv():
    """Return the argv that restarts the current interpreter with the same arguments.

    ``sys.orig_argv`` (Python 3.10+) keeps interpreter options such as ``-m`` and ``-c``.
    """
    orig = getattr(sys, 'orig_argv', None)
    if orig:
        return [sys.executable] + list(orig[1:])
    return [sys.executable] + list(sys.argv)


def ensure_ros_libraries(environ=None, execve=None):
    """Make sure ``import rclpy`` works, re-executing the interpreter once if needed.

    Call this at the top of every node's ``main()`` before importing rclpy.

    :param environ: environment mapping to read and extend (default ``os.environ``).
    :param execve: replacement for :func:`os.execve` (for tests).
    :raises RuntimeError: if rclpy is not installed, or fails to import for a reason
        that extending ``LD_LIBRARY_PATH`` cannot fix.
    """
    environ = os.environ if environ is None else environ
    execve = os.execve if execve is None else execve
    try:
        import rclpy  # noqa: F401
        return
    except ImportError as exc:
        error = exc

    if isinstance(error, ModuleNotFoundError) and error.name == 'rclpy':
        raise RuntimeError('rclpy is not installed for %s. %s' % (sys.executable, _HELP))
    if not is_missing_shared_library(error):
        raise RuntimeError('importing rclpy failed: %s. %s' % (error, _HELP)) from error
    if environ.get(REEXEC_GUARD):
        raise RuntimeError(
            'importing rclpy failed even after adding the ROS 2 wheel libraries to '
            'LD_LIBRARY_PATH: %s. %s' % (error, _HELP)) from error

    lib_dirs = find_ros_lib_dirs(site_package_dirs())
    current = environ.get('LD_LIBRARY_PATH', '')
    if not missing_lib_dirs(current, lib_dirs):
        raise RuntimeError(
            'importing rclpy failed because a shared library is missing (%s) and no '
            'ros_*.libs directory could be added to LD_LIBRARY_PATH. %s' % (error, _HELP)
        ) from error

    new_env = dict(environ)
    new_env['LD_LIBRARY_PATH'] = build_ld_library_path(current, lib_dirs)
    new_env[REEXEC_GUARD] = '1'
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    try:
        execve(sys.executable, reexec_argv(), new_env)
    except OSError as exc:
        raise RuntimeError(
            'could not re-execute %s with the ROS 2 libraries on LD_LIBRARY_PATH: %s. %s'
            % (sys.executable, exc, _HELP)) from exc
