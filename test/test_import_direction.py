"""The core layer must not depend on ROS: imports only go ros -> core.

Two checks over every module under ``jepa_world_model/core``:

* static: parse the source (no import) and reject imports of rclpy, ROS message/interface
  packages (``*_msgs``, ``*_srvs``, ``*_interfaces``), cv_bridge, launch*, and
  ``jepa_world_model.ros`` (absolute, relative, or via ``importlib.import_module('...')``);
* dynamic: import each module in a fresh interpreter whose import system refuses those
  names, so transitive imports are caught too.
"""

import json
import os
import subprocess
import sys

import pytest

from core_import_rules import is_forbidden
from static_imports import imported_names, package_modules, PACKAGE, REPO_ROOT

CORE_DIR = os.path.join(REPO_ROOT, PACKAGE, 'core')
TEST_DIR = os.path.dirname(os.path.abspath(__file__))


def core_modules():
    """Return ``[(dotted_name, path)]`` for every Python file under jepa_world_model/core."""
    return package_modules(CORE_DIR)


def test_forbidden_name_rules():
    """The name filter catches ROS names and leaves ordinary libraries alone."""
    for name in ('rclpy', 'rclpy.node', 'sensor_msgs.msg', 'std_srvs.srv', 'cv_bridge',
                 'launch', 'launch_ros.actions', 'rcl_interfaces.msg',
                 'jepa_world_model.ros', 'jepa_world_model.ros.world_model.node'):
        assert is_forbidden(name), name
    for name in ('torch', 'numpy', 'yaml', 'jepa_world_model.core.model',
                 'jepa_world_model.rosbag_tools', 'launcher', 'os.path'):
        assert not is_forbidden(name), name


def test_core_package_exists():
    """The core package is there (otherwise the checks below would be vacuous)."""
    assert any(name == PACKAGE + '.core' for name, _ in core_modules())


#: The subpackages of core that draw the architecture; each is checked like the rest.
CORE_SUBPACKAGES = ('model', 'training', 'planning', 'runtime')


@pytest.mark.parametrize('subpackage', CORE_SUBPACKAGES)
def test_core_subpackages_are_checked(subpackage):
    """Every core subpackage, with its modules, is among the modules the checks below scan."""
    names = [name for name, _ in core_modules()]
    prefix = '%s.core.%s' % (PACKAGE, subpackage)
    assert prefix in names, 'core/%s/__init__.py is not scanned' % subpackage
    assert any(name.startswith(prefix + '.') for name in names), \
        'no module of core/%s is scanned' % subpackage


@pytest.mark.parametrize('module_name, path', core_modules(),
                         ids=[name for name, _ in core_modules()])
def test_core_module_has_no_ros_imports(module_name, path):
    """Static check of one core module."""
    bad = ['line %d: %s' % (lineno, name)
           for lineno, name in imported_names(module_name, path) if is_forbidden(name)]
    assert not bad, '%s imports ROS-layer modules:\n%s' % (module_name, '\n'.join(bad))


_GUARDED_IMPORT = r'''
import importlib, importlib.abc, json, sys, traceback

sys.path.insert(0, {test_dir!r})
from core_import_rules import is_forbidden
del sys.path[0]     # the core must not find test helpers by accident
attempts = []


class Guard(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if is_forbidden(fullname):
            attempts.append(fullname)
            raise ImportError('core must not import %s' % fullname)
        return None


for name in list(sys.modules):
    if is_forbidden(name):
        del sys.modules[name]
sys.meta_path.insert(0, Guard())
results = {{}}
for module in {modules!r}:
    before = len(attempts)
    try:
        importlib.import_module(module)
        error = None
    except Exception:
        error = traceback.format_exc(limit=8)
    results[module] = {{'error': error, 'forbidden': attempts[before:]}}
leaked = sorted(name for name in sys.modules if is_forbidden(name))
print('JSON:' + json.dumps({{'results': results, 'leaked': leaked}}))
'''


def test_core_modules_import_without_ros():
    """Import every core module in a subprocess that refuses ROS imports."""
    modules = [name for name, _ in core_modules()]
    code = _GUARDED_IMPORT.format(test_dir=TEST_DIR, modules=modules)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=240)
    lines = [line for line in result.stdout.splitlines() if line.startswith('JSON:')]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    report = json.loads(lines[-1][len('JSON:'):])

    problems = []
    for module, outcome in sorted(report['results'].items()):
        if outcome['forbidden']:
            problems.append('%s tried to import %s' % (module, ', '.join(outcome['forbidden'])))
        elif outcome['error']:
            problems.append('%s failed to import:\n%s' % (module, outcome['error']))
    if report['leaked']:
        problems.append('ROS modules loaded anyway: %s' % ', '.join(report['leaked']))
    assert not problems, '\n'.join(problems)
