"""The ``model_path`` launch argument: every launch file that starts planner_node or
world_model_node declares it; empty (the default) leaves the parameter file's model_path,
set it replaces that value for each of this package's nodes (issue #15).

The launch files are evaluated with launch_plan.py (launch_ros is not installed here); the
last test starts world_model_node with the ``--ros-args`` the plan gives and reads the
parameter back from the running node.
"""

import ast
import glob
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from launch_plan import argument_defaults, launch_plan
from package_layout import _path, REPO_ROOT

JEPA_NODES = {'planner_node': ('planner_node',), 'world_model_node': ('world_model_node',),
              'world_model_stack': ('planner_node', 'world_model_node')}
# Arguments some launch files need so that every JEPA node is started.
ALL_NODES = {'with_world_model': 'true', 'with_planner': 'true'}
MODEL = '/models/my robot/model.safetensors'


def _launch_files():
    return sorted(glob.glob(_path('launch', '*.launch.py')))


def _plan(path, **arguments):
    declared = argument_defaults(_tree(path))
    wanted = {k: v for k, v in ALL_NODES.items() if k in declared}
    return [p for p in launch_plan(path, **dict(wanted, **arguments))
            if p.executable in JEPA_NODES]


def _tree(path):
    with open(path, encoding='utf-8') as handle:
        return ast.parse(handle.read(), filename=path)


def _matches(key, node_name):
    """Whether a parameter file's top-level key applies to ``node_name`` (any namespace)."""
    return key in ('/**', node_name, '/' + node_name) or key.endswith('/' + node_name)


def effective_parameter(parameters, node_name, name):
    """The value of ``name`` that ``node_name`` ends up with from ``parameters`` (a
    process's files and override dicts), applied in order, a later one winning, as rcl
    applies them."""
    value = None
    for entry in parameters:
        if isinstance(entry, dict):
            value = entry.get(name, value)
            continue
        with open(entry, encoding='utf-8') as handle:
            data = yaml.safe_load(handle) or {}
        for key, section in data.items():
            if _matches(key, node_name):
                value = section.get('ros__parameters', {}).get(name, value)
    return value


def _jepa_node_calls(tree):
    """``[(executable, parameters list node)]`` of the package_node / package_process calls
    that start planner_node, world_model_node or world_model_stack."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', None) in (
                'package_node', 'package_process'):
            keywords = {k.arg: k.value for k in node.keywords}
            executable = keywords.get('executable')
            if isinstance(executable, ast.Constant) and executable.value in JEPA_NODES:
                found.append((executable.value, keywords['parameters']))
    return found


@pytest.mark.parametrize('path', _launch_files(), ids=os.path.basename)
def test_every_node_gets_the_model_path_entry_after_its_parameter_files(path):
    """Read from the source (launch_plan does not model every launch file): the argument
    is declared with an empty default, and each JEPA node's parameters hold
    model_path_parameters(arg['model_path'], <its last parameter file>) after every file."""
    tree = _tree(path)
    calls = _jepa_node_calls(tree)
    if not calls:
        pytest.skip('starts neither planner_node nor world_model_node')
    assert argument_defaults(tree).get('model_path') == '', 'model_path not declared'
    for executable, parameters in calls:
        entries = parameters.elts
        index = [k for k, e in enumerate(entries) if isinstance(e, ast.Call)
                 and getattr(e.func, 'id', None) == 'model_path_parameters']
        assert len(index) == 1, (executable, ast.dump(parameters)[:200])
        entry, before, after = entries[index[0]], entries[:index[0]], entries[index[0] + 1:]
        assert ast.dump(entry.args[0]).count("Constant(value='model_path')") == 1
        files = [e for e in before if not isinstance(e, ast.Dict)]
        assert files and ast.dump(entry.args[1]) == ast.dump(files[-1]), executable
        assert all(isinstance(e, ast.Dict) for e in after), 'a file after it would win'


@pytest.mark.parametrize('path', [_path('launch', name) for name in (
    'world_model.launch.py', 'planner.launch.py', 'world_model_stack.launch.py')],
    ids=os.path.basename)
def test_the_nodes_get_model_path_only_when_it_is_given(path):
    processes = _plan(path)
    assert processes
    given = _plan(path, model_path=MODEL)
    for default, chosen in zip(processes, given):
        for node_name in JEPA_NODES[default.executable]:
            # Default: the parameter file's value (the shipped files: empty, the node's
            # shipped model).
            assert effective_parameter(default.parameters, node_name, 'model_path') == ''
            assert effective_parameter(chosen.parameters, node_name, 'model_path') == MODEL, (
                path, node_name, chosen.parameters)


def test_an_empty_argument_keeps_a_users_parameter_file_value(tmp_path):
    """A user's planner file with its own model_path keeps it unless model_path:= is set."""
    with open(_path('config', 'ros', 'planner.yaml'), encoding='utf-8') as handle:
        data = yaml.safe_load(handle)
    (section,) = data.values()
    section['ros__parameters']['model_path'] = '/theirs.safetensors'
    mine = tmp_path / 'my_planner.yaml'
    mine.write_text(yaml.safe_dump(data))
    path = _path('launch', 'planner.launch.py')
    (planner,) = _plan(path, params_file=str(mine), with_world_model='false')
    assert effective_parameter(planner.parameters, 'planner_node',
                               'model_path') == '/theirs.safetensors'
    (planner,) = _plan(path, params_file=str(mine), with_world_model='false',
                       model_path=MODEL)
    assert effective_parameter(planner.parameters, 'planner_node', 'model_path') == MODEL


@pytest.mark.ros
@pytest.mark.slow
def test_world_model_node_started_with_the_plan_reads_the_model_path(tmp_path):
    """The real node, given the plan's --ros-args: its model_path is the argument, over
    the shipped file's `/**/world_model_node` section (rcl applies later files last)."""
    model = tmp_path / 'copy of gantry.safetensors'
    shutil.copy(_path('models', 'gantry_tiny.safetensors'), model)
    (process,) = _plan(_path('launch', 'world_model.launch.py'), model_path=str(model))
    script = (
        'import sys, rclpy\n'
        'from jepa_world_model.ros.world_model.node import WorldModelNode\n'
        'rclpy.init(args=sys.argv)\n'
        'node = WorldModelNode()\n'
        'print("MODEL_PATH=" + node.get_parameter("model_path").value, flush=True)\n'
        'node.destroy_node()\n'
        'rclpy.shutdown()\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get('PYTHONPATH')) if p))
    proc = subprocess.run([sys.executable, '-c', script] + process.ros_args(str(tmp_path)),
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'MODEL_PATH=%s' % model in proc.stdout, proc.stdout + proc.stderr[-2000:]
