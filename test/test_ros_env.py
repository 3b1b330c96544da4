"""Tests for jepa_world_model.ros_env (making rclpy importable from the ROS wheels)."""

import ast
import importlib.abc
import os
import subprocess
import sys

import pytest

from jepa_world_model import ros_env

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEELS_GUARD = '_ROS_WHEELS_BOOTSTRAP_COMPLETE'


def test_find_ros_lib_dirs_only_returns_ros_lib_directories(tmp_path):
    """Only directories named ros_*.libs are found, sorted, once each."""
    first, second = tmp_path / 'a', tmp_path / 'b'
    for base in (first, second):
        base.mkdir()
    (first / 'ros_rclpy.libs').mkdir()
    (first / 'ros_fastrtps.libs').mkdir()
    (first / 'numpy.libs').mkdir()
    (first / 'ros_file.libs').write_text('not a directory')
    (second / 'ros_rcl.libs').mkdir()

    found = ros_env.find_ros_lib_dirs([str(first), str(second), str(first)])

    assert found == [str(first / 'ros_fastrtps.libs'), str(first / 'ros_rclpy.libs'),
                     str(second / 'ros_rcl.libs')]
    assert ros_env.find_ros_lib_dirs([str(tmp_path / 'missing')]) == []


def test_find_ros_lib_dirs_includes_prefix_lib_with_ros_libraries(tmp_path):
    """<prefix>/lib counts only if it holds ROS libraries (the wheels put librcl.so there)."""
    site = tmp_path / 'venv' / 'lib' / 'python3.11' / 'site-packages'
    (site / 'ros_rclpy.libs').mkdir(parents=True)
    assert ros_env.find_ros_lib_dirs([str(site)]) == [str(site / 'ros_rclpy.libs')]
    assert ros_env.prefix_lib_dir(str(site)) is None

    (tmp_path / 'venv' / 'lib' / 'librcl.so').write_text('')
    assert ros_env.prefix_lib_dir(str(site) + '/') == str(tmp_path / 'venv' / 'lib')
    assert ros_env.find_ros_lib_dirs([str(site), str(site)]) == [
        str(site / 'ros_rclpy.libs'), str(tmp_path / 'venv' / 'lib')]


@pytest.mark.parametrize('current, lib_dirs, expected', [
    (None, ['/a', '/b'], '/a:/b'),
    ('', ['/a'], '/a'),
    ('/usr/lib:/opt/x', ['/a'], '/a:/usr/lib:/opt/x'),
    ('/a:/usr/lib', ['/a', '/b'], '/a:/b:/usr/lib'),
    ('::/usr/lib::', ['/a'], '/a:/usr/lib'),
    ('/usr/lib', [], '/usr/lib'),
])
def test_build_ld_library_path(current, lib_dirs, expected):
    """New dirs go first, existing order is kept, duplicates and empty entries dropped."""
    assert ros_env.build_ld_library_path(current, lib_dirs) == expected


def test_missing_lib_dirs():
    """Only directories not yet on the path are reported."""
    assert ros_env.missing_lib_dirs('/a:/c', ['/a', '/b']) == ['/b']
    assert ros_env.missing_lib_dirs(None, ['/a']) == ['/a']
    assert ros_env.missing_lib_dirs('/a', ['/a']) == []


def test_is_missing_shared_library():
    """Loader failures are recognised, also when chained; other errors are not."""
    loader = ImportError('librcl_action.so: cannot open shared object file: No such file')
    assert ros_env.is_missing_shared_library(loader)
    assert not ros_env.is_missing_shared_library(ImportError('No module named rclpy'))
    try:
        try:
            raise loader
        except ImportError as inner:
            raise ImportError('C extension failed to be imported') from inner
    except ImportError as outer:
        assert ros_env.is_missing_shared_library(outer)


def test_reexec_argv_keeps_interpreter_options(monkeypatch):
    """The restart command keeps -m/-c and all arguments (sys.orig_argv)."""
    monkeypatch.setattr(sys, 'orig_argv', ['python3', '-m', 'pkg.mod', '--ros-args'],
                        raising=False)
    assert ros_env.reexec_argv() == [sys.executable, '-m', 'pkg.mod', '--ros-args']


def test_site_package_dirs_are_existing_directories(tmp_path):
    """Candidate directories exist, are unique, and include extra ones."""
    dirs = ros_env.site_package_dirs(extra=[str(tmp_path), str(tmp_path / 'nope')])
    assert os.path.realpath(str(tmp_path)) in dirs
    assert all(os.path.isdir(d) for d in dirs)
    assert len(dirs) == len(set(dirs))


def test_module_does_not_import_rclpy_at_import_time():
    """ros_env has no module-level rclpy import, and importing it loads no rclpy."""
    with open(ros_env.__file__) as handle:
        tree = ast.parse(handle.read())
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            assert all(not a.name.startswith('rclpy') for a in stmt.names)
        if isinstance(stmt, ast.ImportFrom):
            assert not (stmt.module or '').startswith('rclpy')
    code = ('import sys, jepa_world_model.ros_env; '
            'sys.exit(1 if "rclpy" in sys.modules else 0)')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


class _FailingRclpyFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder that makes ``import rclpy`` fail like a missing .so does."""

    def find_spec(self, fullname, path, target=None):
        """Raise a loader-style ImportError for rclpy; ignore every other module."""
        if fullname == 'rclpy':
            raise ImportError('librcl.so: cannot open shared object file: No such file')
        return None


@pytest.fixture
def broken_rclpy(monkeypatch):
    """Make ``import rclpy`` fail with a missing-library error in this process."""
    monkeypatch.delitem(sys.modules, 'rclpy', raising=False)
    monkeypatch.setattr(sys, 'meta_path', [_FailingRclpyFinder()] + sys.meta_path)


def test_ensure_reexecs_with_extended_library_path(broken_rclpy, monkeypatch):
    """A missing library leads to one execve with the lib dirs and the guard set."""
    monkeypatch.setattr(ros_env, 'site_package_dirs', lambda: ['/site'])
    monkeypatch.setattr(ros_env, 'find_ros_lib_dirs', lambda dirs: ['/site/ros_rcl.libs'])
    calls = []
    environ = {'LD_LIBRARY_PATH': '/usr/local/lib', 'KEEP': 'me'}

    ros_env.ensure_ros_libraries(environ=environ,
                                 execve=lambda *args: calls.append(args))

    assert len(calls) == 1
    executable, argv, env = calls[0]
    assert executable == sys.executable and argv == ros_env.reexec_argv()
    assert env['LD_LIBRARY_PATH'] == '/site/ros_rcl.libs:/usr/local/lib'
    assert env[ros_env.REEXEC_GUARD] == '1'
    assert env['KEEP'] == 'me'
    assert ros_env.REEXEC_GUARD not in environ, 'the caller environment must not change'


@pytest.mark.parametrize('environ, lib_dirs, message', [
    ({ros_env.REEXEC_GUARD: '1'}, ['/site/ros_rcl.libs'], 'even after'),
    ({}, [], 'no ros_'),
    ({'LD_LIBRARY_PATH': '/site/ros_rcl.libs'}, ['/site/ros_rcl.libs'], 'no ros_'),
])
def test_ensure_gives_up_with_actionable_error(broken_rclpy, monkeypatch, environ,
                                               lib_dirs, message):
    """No loop and no useless restart: a clear RuntimeError instead."""
    monkeypatch.setattr(ros_env, 'find_ros_lib_dirs', lambda dirs: lib_dirs)

    def execve(*args):
        raise AssertionError('must not re-exec')

    with pytest.raises(RuntimeError) as info:
        ros_env.ensure_ros_libraries(environ=environ, execve=execve)
    assert message in str(info.value)
    assert 'bootstrap.sh' in str(info.value) and 'setup.bash' in str(info.value)


def test_ensure_reports_missing_rclpy(monkeypatch):
    """rclpy not installed at all: RuntimeError telling how to get it."""
    monkeypatch.setitem(sys.modules, 'rclpy', None)
    with pytest.raises(RuntimeError, match='not installed'):
        ros_env.ensure_ros_libraries(environ={}, execve=None)


def _env_without_ros_libs(lib_dirs):
    """Return os.environ without ``lib_dirs`` on LD_LIBRARY_PATH and without our guard."""
    env = dict(os.environ)
    drop = {os.path.realpath(d) for d in lib_dirs}
    parts = env.get('LD_LIBRARY_PATH', '').split(os.pathsep)
    env['LD_LIBRARY_PATH'] = os.pathsep.join(
        p for p in parts if p and os.path.realpath(p) not in drop)
    env.pop(ros_env.REEXEC_GUARD, None)
    # Pretend the ros-wheels-bootstrapper hook already ran, so it does not fix things first.
    env[WHEELS_GUARD] = '1'
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    return env


_PROBE = '\n'.join([
    'import os',
    'from jepa_world_model.ros_env import ensure_ros_libraries, REEXEC_GUARD',
    'ensure_ros_libraries()',
    'import rclpy',
    'print("rclpy ok, reexec=%s" % os.environ.get(REEXEC_GUARD))',
])


@pytest.fixture
def env_without_wheel_libs():
    """os.environ without this interpreter's ROS wheel library directories on
    LD_LIBRARY_PATH (skips where rclpy does not come from the wheels)."""
    lib_dirs = ros_env.find_ros_lib_dirs(ros_env.site_package_dirs())
    if not lib_dirs:
        pytest.skip('rclpy does not come from the ros-jazzy-* wheels here')
    return _env_without_ros_libs(lib_dirs)


def _run_probe(env):
    """Run ``_PROBE`` in a fresh interpreter with ``env``; the CompletedProcess."""
    return subprocess.run([sys.executable, '-c', _PROBE], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.ros
def test_real_reexec_makes_rclpy_importable(env_without_wheel_libs):
    """Without the ros_*.libs dirs on LD_LIBRARY_PATH, one re-exec fixes `import rclpy`."""
    env = env_without_wheel_libs
    broken = subprocess.run([sys.executable, '-c', 'import rclpy'], env=env,
                            capture_output=True, text=True, timeout=60)
    assert broken.returncode != 0, 'expected import rclpy to fail without the lib dirs'

    result = _run_probe(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'rclpy ok, reexec=1' in result.stdout


@pytest.mark.ros
def test_real_guard_stops_a_second_reexec(env_without_wheel_libs):
    """With the guard already set, the failure is reported instead of looping."""
    result = _run_probe(dict(env_without_wheel_libs, **{ros_env.REEXEC_GUARD: '1'}))
    assert result.returncode != 0
    assert 'RuntimeError' in result.stderr and 'bootstrap.sh' in result.stderr
