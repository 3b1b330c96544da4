"""Static checks of the launch files, and tests of the launch checker itself.

Nothing here needs ROS: launch files are checked by parsing them (launch_checker.py), as
they cannot be imported where launch_ros is missing. The checks are generic, so they cover
launch files added later. The helpers the launch files share,
jepa_world_model/launch_support.py, import launch_ros too: they are parsed as well, and no
module or test may import them (only launch files do).
"""

import ast
import glob
import os

import pytest

from jepa_world_model.package_check import (missing_packages, MissingPackagesError,
                                            require_packages)
from launch_checker import (_call_name, _launch_support, _parameter_names, _support_calls,
                            ARGUMENTS_FUNC, check_launch_source, LAUNCH_SUPPORT,
                            LAUNCH_SUPPORT_FILE, start_order_problems)
from launch_plan import argument_defaults
from package_layout import _console_scripts, _path, evaluate_setup_py, PACKAGE, REPO_ROOT

# Launch actions that only launch_support.py creates, so that each pattern has one place.
SUPPORT_ONLY_CALLS = {
    'DeclareLaunchArgument': 'launch_arguments()',
    'EmitEvent': 'lifecycle_autostart()',
    'RegisterEventHandler': 'lifecycle_autostart()',
}
# Camera inputs of this package's nodes that camera_remappings() remaps together: a node
# given only one of them reads the other from its own namespace.
CAMERA_INPUTS = ('image', 'image/compressed')


@pytest.fixture(scope='module')
def setup_kwargs():
    """Evaluate setup.py from the repository root and return its setup() keywords."""
    return evaluate_setup_py()


def _launch_files():
    return sorted(glob.glob(_path('launch', '*.launch.py')))


@pytest.mark.parametrize('path', _launch_files(), ids=os.path.basename)
def test_launch_file(path, setup_kwargs):
    """A launch file compiles and refers only to existing executables and config files."""
    with open(path, encoding='utf-8') as handle:
        source = handle.read()
    compile(source, path, 'exec')  # byte-compiles without writing a .pyc
    problems = check_launch_source(source, os.path.relpath(path, REPO_ROOT),
                                   set(_console_scripts(setup_kwargs)), _path('config', 'ros'))
    assert not problems, '\n'.join(problems)


_SAMPLE_LAUNCH = '''
import os
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare
from launch.substitutions import PathJoinSubstitution

PKG = 'jepa_world_model'


def generate_launch_description():
    share = get_package_share_directory(PKG)
    mux = get_package_share_directory('twist_mux')
    return LaunchDescription([
        Node(package=PKG, executable='world_model_node',
             parameters=[os.path.join(share, 'config', 'good.yaml')]),
        Node(package='jepa_world_model', executable='no_such_node',
             parameters=[PathJoinSubstitution([FindPackageShare(PKG), 'config', 'gone.yaml'])]),
        Node(package='twist_mux', executable='twist_mux',
             parameters=[os.path.join(mux, 'config', 'twist_mux.yaml'),
                         PathJoinSubstitution([FindPackageShare('nav2_bringup'), 'x.yaml'])]),
    ])
'''


def test_launch_checker_catches_mistakes(tmp_path):
    """The static launch checker flags bad executables/configs and ignores other packages."""
    (tmp_path / 'good.yaml').write_text('a: 1\n')
    problems = check_launch_source(_SAMPLE_LAUNCH, 'sample.launch.py',
                                   {'world_model_node'}, str(tmp_path))
    assert len(problems) == 2, problems
    assert 'no_such_node' in problems[0]
    assert 'gone.yaml' in problems[1]
    assert check_launch_source('x = 1\n', 'empty.launch.py', set(), str(tmp_path)) == [
        'empty.launch.py: no module-level generate_launch_description()']


_SAMPLE_SUPPORT_LAUNCH = '''
from launch import LaunchDescription

from jepa_world_model.launch_support import (launch_arguments, lifecycle_autostrat,
                                             package_node, params_file_argument)


def generate_launch_description():
    arguments, arg = launch_arguments(
        'image_topic', 'imgae_topic', ('namespace', '', 'Namespace'),
        params_file_argument('params_file', 'gone.yaml', 'planner_node'))
    name = 'planner_node'
    nodes = [
        package_node(executable='world_model_node', namespace=arg['namespace'],
                     parameters=[arg['params_file']], remappings=[]),
        package_node(executable='no_such_node', namespace=arg['namespace'], parameters=[],
                     remappings=[]),
        package_node(executable=name, namespace=arg['namespace'], parameters=[],
                     remappings=[('image', arg['image_topci'])]),
        package_node(executable='world_model_node', namespace=arg['namespace'],
                     parameters=[], remapings=[]),
    ]
    return LaunchDescription(arguments + nodes)
'''


def test_launch_checker_catches_launch_support_mistakes(tmp_path):
    """Mistakes in what a launch file passes through launch_support.py are flagged."""
    problems = check_launch_source(_SAMPLE_SUPPORT_LAUNCH, 'sample.launch.py',
                                   {'world_model_node', 'planner_node'}, str(tmp_path))
    expected = [
        "executable 'no_such_node' is not a console script",  # through package_node()
        "config file 'gone.yaml' not found",                 # through params_file_argument()
        "defines no public 'lifecycle_autostrat'",           # typo'd import
        "package_node() has no parameter 'remapings'",       # typo'd keyword ...
        'package_node() misses remappings',                  # ... so a required one is missing
        "pass package_node(executable='<console script>') as a literal",
        "'imgae_topic' is not in jepa_world_model.launch_support.SHARED_ARGUMENTS",
        "launch argument 'image_topci' is not declared",
    ]
    for text in expected:
        assert len([p for p in problems if text in p]) == 1, (text, problems)
    assert len(problems) == len(expected), problems


def test_launch_support_is_readable_statically():
    """launch_support.py defines what the checks rely on, in a form ast can read."""
    support = _launch_support()
    assert ARGUMENTS_FUNC in support['functions']
    assert support['shared'] and all(isinstance(default, str)
                                     for default in support['shared'].values())
    node_helpers = [name for name, args in support['functions'].items()
                    if 'executable' in _parameter_names(args)]
    assert node_helpers, 'no function with an executable parameter (see check_launch_source)'
    for name in node_helpers:
        args = support['functions'][name]
        # Keyword-only: passed positionally, the executable would escape the check.
        assert 'executable' in [a.arg for a in args.kwonlyargs], name


def _module_name(path):
    rel = os.path.relpath(path, REPO_ROOT)[:-len('.py')].split(os.sep)
    return '.'.join(rel[:-1] if rel[-1] == '__init__' else rel)


def _static_imports(path):
    """``[(lineno, dotted name)]`` that ``path`` imports, relative imports resolved."""
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path)
    package = _module_name(path).split('.')
    if os.path.basename(path) != '__init__.py':
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = '.'.join(package[:len(package) - node.level + 1]
                                + ([node.module] if node.module else []))
            found.append((node.lineno, base))
            found.extend((node.lineno, base + '.' + alias.name) for alias in node.names)
        elif isinstance(node, ast.Call) and _call_name(node) in ('import_module', '__import__') \
                and node.args and isinstance(node.args[0], ast.Constant):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def test_launch_support_imported_only_by_launch_files():
    """No module, test, benchmark or script imports launch_support (launch_ros is not here).

    Only launch/*.launch.py may import it; everything else must stay importable without
    launch and launch_ros.
    """
    paths = [_path('setup.py')]
    for folder in (PACKAGE, 'test', 'benchmarks', 'scripts'):
        paths.extend(glob.glob(_path(folder, '**', '*.py'), recursive=True))
    offenders = ['%s:%d imports %s' % (os.path.relpath(path, REPO_ROOT), lineno, name)
                 for path in paths if path != _path(LAUNCH_SUPPORT_FILE)
                 for lineno, name in _static_imports(path)
                 if name == LAUNCH_SUPPORT or name.startswith(LAUNCH_SUPPORT + '.')]
    assert not offenders, '\n'.join(offenders)
    assert _static_imports(_path('launch', 'planner.launch.py')), 'the scan finds nothing'


@pytest.mark.parametrize('path', _launch_files(), ids=os.path.basename)
def test_launch_file_uses_launch_support(path):
    """Argument declarations, lifecycle events and camera remappings come from
    launch_support.py, once."""
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path)
    direct = ['line %d: %s (use %s)' % (node.lineno, _call_name(node),
                                        SUPPORT_ONLY_CALLS[_call_name(node)])
              for node in ast.walk(tree)
              if isinstance(node, ast.Call) and _call_name(node) in SUPPORT_ONLY_CALLS]
    direct += ['line %d: remapping of %r (use camera_remappings())'
               % (node.lineno, node.elts[0].value) for node in ast.walk(tree)
               if isinstance(node, ast.Tuple) and len(node.elts) == 2
               and isinstance(node.elts[0], ast.Constant) and node.elts[0].value in CAMERA_INPUTS]
    assert not direct, '\n'.join(direct)
    assert _support_calls(tree, ARGUMENTS_FUNC), 'declare the arguments with launch_arguments()'


@pytest.mark.parametrize('path', _launch_files(), ids=os.path.basename)
def test_launch_file_starts_nothing_before_the_package_check(path):
    """Nodes of other packages start only after start_after_package_check() found them."""
    with open(path, encoding='utf-8') as handle:
        problems = start_order_problems(handle.read(), os.path.relpath(path, REPO_ROOT))
    assert not problems, '\n'.join(problems)


_SAMPLE_START_ORDER = '''
from launch import LaunchDescription
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare
from launch.substitutions import PathJoinSubstitution

from jepa_world_model.launch_support import (launch_arguments, lifecycle_autostart,
                                             package_node, start_after_package_check)


def generate_launch_description():
    arguments, arg = launch_arguments(
        ('cm_params', PathJoinSubstitution([FindPackageShare('nav2_bringup'), 'x.yaml']),
         'eager default'))
    planner = package_node(executable='planner_node', namespace='', parameters=[],
                           remappings=[])
    mux = Node(package='twist_mux', executable='twist_mux')
    manager = Node(package='nav2_lifecycle_manager', executable='lifecycle_manager')
    return LaunchDescription(arguments + lifecycle_autostart(planner, arg['cm_params'])
                             + [start_after_package_check(['twist_mux'], [mux, manager], 'x')])
'''


def test_start_order_checker_catches_mistakes():
    """The old nav2_composition mistakes: an eager FindPackageShare default, a package left
    out of the check, a node started before it."""
    problems = start_order_problems(_SAMPLE_START_ORDER, 'sample.launch.py')
    expected = ["FindPackageShare('nav2_bringup')",
                "'nav2_bringup' is not in the packages",
                "'nav2_lifecycle_manager' is not in the packages",
                'lifecycle_autostart starts before start_after_package_check()']
    for text in expected:
        assert len([p for p in problems if text in p]) == 1, (text, problems)
    assert len(problems) == len(expected), problems
    assert start_order_problems('x = 1\n', 'plain.launch.py') == []


def _ament_prefix(tmp_path, *packages):
    """An install prefix whose ament index holds ``packages``."""
    index = tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    for package in packages:
        (index / package).write_text('')
        (tmp_path / 'share' / package).mkdir()
    return str(tmp_path)


def test_package_check_names_every_missing_package(tmp_path, monkeypatch):
    """require_packages() stops with the missing packages, their apt names and 'Nothing was
    started'; installed ones pass."""
    monkeypatch.setenv('AMENT_PREFIX_PATH', _ament_prefix(tmp_path, 'twist_mux'))
    monkeypatch.setenv('ROS_DISTRO', 'jazzy')
    assert missing_packages(['twist_mux', 'nav2_lifecycle_manager', 'nav2_bringup',
                             'nav2_lifecycle_manager']) == ['nav2_lifecycle_manager',
                                                            'nav2_bringup']
    require_packages(['twist_mux'], 'x.launch.py')
    with pytest.raises(MissingPackagesError) as info:
        require_packages(['twist_mux', 'nav2_lifecycle_manager'], 'nav2_composition.launch.py')
    message = str(info.value)
    assert message.startswith('nav2_composition.launch.py needs ROS 2 package that is not '
                              'installed: nav2_lifecycle_manager'), message
    assert 'ros-jazzy-nav2-lifecycle-manager' in message and 'Nothing was started' in message


def test_package_check_without_a_ros_environment(monkeypatch):
    """An unset AMENT_PREFIX_PATH makes every package missing, with a hint to source ROS."""
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    with pytest.raises(MissingPackagesError, match='source your ROS 2 setup.bash'):
        require_packages(['twist_mux'], 'x.launch.py')


def _world_model_remappings(tree):
    """The ``(from, to)`` remappings, as source text, of every node call in a launch file
    whose ``executable`` is world_model_node (static: gazebo and nav2_composition use code
    launch_plan does not evaluate)."""
    found = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        kwargs = {k.arg: k.value for k in call.keywords if k.arg}
        exe = kwargs.get('executable')
        if isinstance(exe, ast.Constant) and exe.value == 'world_model_node':
            found.append([(ast.unparse(e.elts[0]), ast.unparse(e.elts[1]))
                          for e in ast.walk(kwargs.get('remappings', ast.List([])))
                          if isinstance(e, ast.Tuple) and len(e.elts) == 2])
    return found


@pytest.mark.parametrize('path', sorted(glob.glob(_path('launch', '*.launch.py'))),
                         ids=os.path.basename)
def test_world_model_reads_the_odometry_the_planner_reads(path):
    """Where a launch file starts world_model_node next to an ``odom_topic`` argument, the
    world model's ``odom`` is remapped to it, as the planner's is: a model whose state holds
    the odometry pose (the mobile base) would otherwise read an unbridged topic."""
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path)
    nodes = _world_model_remappings(tree)
    if 'odom_topic' not in argument_defaults(tree) or not nodes:
        pytest.skip('no odom_topic argument or no world_model_node')
    for remappings in nodes:
        assert ("'odom'", "arg['odom_topic']") in remappings, remappings
