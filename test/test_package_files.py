"""Static checks of the ament_python packaging: package.xml, setup.py/cfg, launch, config.

Nothing here needs ROS: launch files are checked by parsing them (launch_ros is not
importable everywhere), and setup.py is evaluated with ``setuptools.setup`` replaced.
The launch checks are generic, so they cover launch files added later.
"""

import ast
import configparser
import glob
import importlib
import os
import re
import runpy
import xml.etree.ElementTree as ElementTree

import pytest
import setuptools
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = 'jepa_world_model'
SHARE = 'share/' + PACKAGE
SCRIPT_DIR = '$base/lib/' + PACKAGE

REQUIRED_EXEC_DEPENDS = {
    'rclpy', 'std_msgs', 'sensor_msgs', 'geometry_msgs', 'trajectory_msgs', 'nav_msgs',
    'diagnostic_msgs', 'lifecycle_msgs', 'std_srvs', 'rosgraph_msgs', 'builtin_interfaces',
    'cv_bridge', 'launch', 'launch_ros', 'python3-numpy', 'python3-opencv', 'python3-torch',
    'python3-yaml',
}
REQUIRED_TEST_DEPENDS = {'ament_copyright', 'ament_flake8', 'ament_pep257', 'python3-pytest'}
REQUIRED_CONSOLE_SCRIPTS = {
    'jepa-world-model': 'jepa_world_model.cli:main',
    'world_model_node': 'jepa_world_model.ros.world_model_node:main',
    'sim_node': 'jepa_world_model.ros.sim_node:main',
    'planner_node': 'jepa_world_model.ros.planner_node:main',
}
# exec_depends with no ros-jazzy-* wheel; they are only needed on a real ROS install.
NO_WHEEL_DEPENDS = {'cv_bridge', 'launch', 'launch_ros'}
PACKAGE_SHARE_FUNCS = ('FindPackageShare', 'get_package_share_directory',
                       'get_package_share_path')
PATH_JOIN_FUNCS = ('join', 'PathJoinSubstitution', 'joinpath')


def _path(*parts):
    return os.path.join(REPO_ROOT, *parts)


# --------------------------------------------------------------------------- package.xml

@pytest.fixture(scope='module')
def package_xml():
    """Return the parsed package.xml root element."""
    return ElementTree.parse(_path('package.xml')).getroot()


def _texts(root, tag):
    return [element.text.strip() for element in root.findall(tag)]


def test_package_xml_format_3(package_xml):
    """Format 3 with the schema line, as `ros2 pkg create` writes it."""
    with open(_path('package.xml'), encoding='utf-8') as handle:
        raw = handle.read()
    assert re.search(r'<\?xml-model [^>]*package_format3\.xsd', raw)
    assert package_xml.tag == 'package'
    assert package_xml.get('format') == '3'


def test_package_xml_metadata(package_xml, setup_kwargs):
    """Name, version, description, maintainer, license and build type are set."""
    import jepa_world_model

    assert _texts(package_xml, 'name') == [PACKAGE]
    version = _texts(package_xml, 'version')
    assert version == [setup_kwargs['version']] == [jepa_world_model.__version__]
    assert _texts(package_xml, 'description')[0]
    maintainers = package_xml.findall('maintainer')
    assert maintainers and all('@' in m.get('email', '') for m in maintainers)
    assert _texts(package_xml, 'license') == ['Apache-2.0']
    assert _texts(package_xml, 'export/build_type') == ['ament_python']


def test_package_xml_dependencies(package_xml):
    """All required exec/test dependencies are declared, none twice."""
    exec_depends = _texts(package_xml, 'exec_depend') + _texts(package_xml, 'depend')
    test_depends = _texts(package_xml, 'test_depend')
    assert not REQUIRED_EXEC_DEPENDS - set(exec_depends)
    assert not REQUIRED_TEST_DEPENDS - set(test_depends)
    for deps in (exec_depends, test_depends):
        assert len(deps) == len(set(deps)), 'duplicate dependency in package.xml'


def test_ros_exec_depends_have_wheels(package_xml):
    """Every ROS exec_depend that has a PyPI wheel is in requirements-ros-wheels.txt."""
    wheels = set(_requirement_names('requirements-ros-wheels.txt'))
    assert 'ros-wheels-bootstrapper' in wheels
    missing = []
    for dep in _texts(package_xml, 'exec_depend'):
        if dep.startswith('python3-') or dep in NO_WHEEL_DEPENDS:
            continue
        wheel = 'ros-jazzy-' + dep.replace('_', '-')
        if wheel not in wheels:
            missing.append(wheel)
    assert not missing, 'add to requirements-ros-wheels.txt: %s' % ', '.join(missing)


# --------------------------------------------------------------------- requirements files

def _requirement_names(filename):
    names = []
    with open(_path(filename), encoding='utf-8') as handle:
        for line in handle:
            line = line.split('#', 1)[0].strip()
            if line:
                names.append(re.split(r'[<>=!~;\[ ]', line, maxsplit=1)[0].lower())
    return names


def test_requirements_files():
    """Runtime deps never list torch (installed separately); dev deps have the tools."""
    runtime = _requirement_names('requirements.txt')
    assert 'torch' not in runtime
    assert {'numpy', 'opencv-python-headless', 'pyyaml', 'safetensors'} <= set(runtime)
    assert {'pytest', 'pytest-timeout', 'flake8'} <= set(
        _requirement_names('requirements-dev.txt'))
    assert 'torch' not in _requirement_names('requirements-ros-wheels.txt')


# ------------------------------------------------------------------------ setup.py / cfg

@pytest.fixture(scope='module')
def setup_kwargs():
    """Evaluate setup.py from the repository root and return its setup() keywords."""
    captured = {}
    original_setup = setuptools.setup
    original_cwd = os.getcwd()
    setuptools.setup = captured.update
    try:
        os.chdir(REPO_ROOT)
        runpy.run_path(_path('setup.py'), run_name='__main__')
    finally:
        setuptools.setup = original_setup
        os.chdir(original_cwd)
    assert captured, 'setup.py did not call setuptools.setup()'
    return captured


def _installed(setup_kwargs):
    """Map each data_files source (repo-relative) to its install directory."""
    mapping = {}
    for dest, sources in setup_kwargs['data_files']:
        for source in sources:
            mapping.setdefault(os.path.normpath(source), []).append(dest)
    return mapping


def _console_scripts(setup_kwargs):
    scripts = {}
    for entry in setup_kwargs['entry_points']['console_scripts']:
        name, target = (part.strip() for part in entry.split('=', 1))
        scripts[name] = target
    return scripts


def test_setup_py_basics(setup_kwargs):
    """The ament_python template fields are there, and Python deps stay out of setup.py."""
    assert setup_kwargs['name'] == PACKAGE
    packages = setup_kwargs['packages']
    assert {PACKAGE, PACKAGE + '.core', PACKAGE + '.ros'} <= set(packages)
    assert not [p for p in packages if p == 'test' or p.startswith('test.')]
    assert setup_kwargs['tests_require'] == ['pytest']
    assert setup_kwargs['install_requires'] == ['setuptools']


def test_setup_py_data_files_exist(setup_kwargs):
    """Every data_files source exists; the resource marker and package.xml are installed."""
    installed = _installed(setup_kwargs)
    missing = [source for source in installed if not os.path.isfile(_path(source))]
    assert not missing, 'data_files lists missing files: %s' % missing
    assert installed.get(os.path.join('resource', PACKAGE)) == [
        'share/ament_index/resource_index/packages']
    assert os.path.isfile(_path('resource', PACKAGE))
    assert installed.get('package.xml') == [SHARE]


@pytest.mark.parametrize('folder, pattern', [
    ('launch', '*'), ('config', '*.yaml'), ('models', '*'),
])
def test_setup_py_installs_folder(setup_kwargs, folder, pattern):
    """Launch files, config YAML and shipped models are all installed to share/<pkg>/."""
    installed = _installed(setup_kwargs)
    expected = os.path.join(SHARE, folder)
    not_installed = []
    for path in sorted(glob.glob(_path(folder, pattern))):
        if not os.path.isfile(path) or path.endswith(('.pyc', '~')):
            continue
        rel = os.path.relpath(path, REPO_ROOT)
        if expected not in installed.get(rel, []):
            not_installed.append(rel)
    assert not not_installed, 'not installed by setup.py: %s' % not_installed


def test_setup_cfg_script_dirs():
    """`ros2 run` finds executables only in lib/<package>."""
    config = configparser.RawConfigParser()
    assert config.read(_path('setup.cfg'))
    assert config.get('develop', 'script_dir') == SCRIPT_DIR
    assert config.get('install', 'install_scripts') == SCRIPT_DIR


def test_required_console_scripts(setup_kwargs):
    """The CLI and the node executables are declared."""
    scripts = _console_scripts(setup_kwargs)
    for name, target in REQUIRED_CONSOLE_SCRIPTS.items():
        assert scripts.get(name) == target


def _module_file(module):
    base = _path(*module.split('.'))
    for candidate in (base + '.py', os.path.join(base, '__init__.py')):
        if os.path.isfile(candidate):
            return candidate
    return None


def _declared_scripts():
    """Console scripts from setup.py, read statically so collection never runs setup.py."""
    with open(_path('setup.py'), encoding='utf-8') as handle:
        text = handle.read()
    return re.findall(r"'([\w.-]+)\s*=\s*([\w.]+):(\w+)'", text)


@pytest.mark.parametrize('name, module, func', _declared_scripts(),
                         ids=[name for name, _, _ in _declared_scripts()])
def test_console_script_target_has_main(name, module, func):
    """Each entry-point module that exists defines a callable ``main`` (others: skipped)."""
    path = _module_file(module)
    if path is None:
        pytest.skip('%s: module %s does not exist yet' % (name, module))
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path)
    defined = {node.name for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    defined |= {target.id for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    defined |= {alias.asname or alias.name for node in tree.body
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert func in defined, '%s does not define %s()' % (path, func)
    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        if module.startswith(PACKAGE + '.ros.'):
            pytest.skip('%s needs ROS to import: %s' % (module, exc))
        raise
    assert callable(getattr(loaded, func))


# ---------------------------------------------------------------------------- launch files

def _launch_files():
    return sorted(glob.glob(_path('launch', '*.launch.py')))


def _string_bindings(tree):
    """Map names assigned a string constant (anywhere) to that string."""
    bindings = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bindings[target.id] = node.value.value
    return bindings


def _call_name(call):
    func = call.func
    return getattr(func, 'attr', None) or getattr(func, 'id', None)


def _share_package(call, strings):
    """Return the package of a FindPackageShare/get_package_share_* call, else None."""
    if _call_name(call) not in PACKAGE_SHARE_FUNCS:
        return None
    args = list(call.args) + [k.value for k in call.keywords if k.arg == 'package']
    if not args:
        return None
    first = args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    if isinstance(first, ast.Name):
        return strings.get(first.id)
    return None


def _is_join(node):
    return isinstance(node, ast.Call) and _call_name(node) in PATH_JOIN_FUNCS


def _path_expression(node, parents):
    """Return the whole path expression a string is part of.

    Climbs through ``os.path.join(...)``, ``PathJoinSubstitution([...])`` and pathlib
    ``/`` so that ``join(share, 'config', 'x.yaml')`` is examined as one unit.
    """
    current = node
    while True:
        parent = parents.get(current)
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
            current = parent
        elif _is_join(parent) and current is not parent.func:
            current = parent
        elif isinstance(parent, (ast.List, ast.Tuple)) and _is_join(parents.get(parent)):
            current = parent
        else:
            return current


def check_launch_source(source, filename, console_scripts, config_dir):
    """Return a list of problems in one Python launch file (empty list: fine).

    * it must define a module-level ``generate_launch_description``;
    * every ``executable='...'`` of a node of this package (``package=`` this package,
      a name bound to it, or not statically known) must be a console script;
    * every ``*.yaml``/``*.yml`` string must exist in ``config_dir``, unless it is built
      from another package's share directory.
    """
    problems = []
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return ['%s: syntax error: %s' % (filename, exc)]
    if not any(isinstance(node, ast.FunctionDef) and node.name == 'generate_launch_description'
               for node in tree.body):
        problems.append('%s: no module-level generate_launch_description()' % filename)

    strings = _string_bindings(tree)
    parents = {}
    share_vars = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            package = _share_package(node.value, strings)
            for target in node.targets:
                if package and isinstance(target, ast.Name):
                    share_vars[target.id] = package

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        executable = keywords.get('executable')
        if not (isinstance(executable, ast.Constant) and isinstance(executable.value, str)):
            continue
        package = keywords.get('package')
        if isinstance(package, ast.Constant):
            package = package.value
        elif isinstance(package, ast.Name):
            package = strings.get(package.id)
        else:
            package = None
        if package in (None, PACKAGE) and executable.value not in console_scripts:
            problems.append('%s:%d: executable %r is not a console script of %s'
                            % (filename, executable.lineno, executable.value, PACKAGE))

    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and node.value.endswith(('.yaml', '.yml'))):
            continue
        if os.path.isabs(node.value):
            continue
        other_package = None
        for sub in ast.walk(_path_expression(node, parents)):
            package = None
            if isinstance(sub, ast.Call):
                package = _share_package(sub, strings)
            elif isinstance(sub, ast.Name):
                package = share_vars.get(sub.id)
            if package and package != PACKAGE:
                other_package = package
        if other_package:
            continue
        name = os.path.basename(node.value)
        if not os.path.isfile(os.path.join(config_dir, name)):
            problems.append('%s:%d: config file %r not found in config/ (only config/*.yaml '
                            'is installed)' % (filename, node.lineno, node.value))
    return problems


@pytest.mark.parametrize('path', _launch_files(), ids=os.path.basename)
def test_launch_file(path, setup_kwargs):
    """A launch file compiles and refers only to existing executables and config files."""
    with open(path, encoding='utf-8') as handle:
        source = handle.read()
    compile(source, path, 'exec')  # byte-compiles without writing a .pyc
    problems = check_launch_source(source, os.path.relpath(path, REPO_ROOT),
                                   set(_console_scripts(setup_kwargs)), _path('config'))
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


# ---------------------------------------------------------------------------- config files

@pytest.mark.parametrize('path', sorted(glob.glob(_path('config', '*.yaml'))),
                         ids=os.path.basename)
def test_config_yaml_parses(path):
    """Every config/*.yaml is valid YAML."""
    with open(path, encoding='utf-8') as handle:
        yaml.safe_load(handle)


def test_executable_scripts():
    """The CI entry point and the bootstrap script are executable."""
    for rel in ('.ci/run', 'scripts/bootstrap.sh'):
        assert os.access(_path(rel), os.X_OK), rel


# ------------------------------------------------- composition (Nav2, ros2_control, Gazebo)

JEPA_MUX_INPUT = 'jepa_planner'
GZ_BRIDGE_KEYS = ('ros_topic_name', 'gz_topic_name', 'ros_type_name', 'gz_type_name',
                  'direction')
GZ_BRIDGE_OPTIONAL_KEYS = {'lazy', 'subscriber_queue', 'publisher_queue'}
GZ_DIRECTIONS = {'GZ_TO_ROS', 'ROS_TO_GZ', 'BIDIRECTIONAL'}
ARM_JOINTS = ['joint1', 'joint2', 'joint3']


def _load_config(name):
    with open(_path('config', name), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def _launch_tree(name):
    with open(_path('launch', name), encoding='utf-8') as handle:
        return ast.parse(handle.read(), filename=name)


def _launch_config_name(node, bindings):
    """Return X of ``LaunchConfiguration('X')`` or of a name bound to it, else None."""
    if isinstance(node, ast.Name):
        return bindings.get(node.id)
    if isinstance(node, ast.Call) and _call_name(node) == 'LaunchConfiguration' \
            and node.args and isinstance(node.args[0], ast.Constant):
        return node.args[0].value
    return None


def _launch_arguments(tree):
    """Map every DeclareLaunchArgument name to its literal default (None if computed)."""
    arguments = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) == 'DeclareLaunchArgument':
            keywords = {k.arg: k.value for k in node.keywords}
            default = keywords.get('default_value')
            arguments[node.args[0].value] = (
                default.value if isinstance(default, ast.Constant) else None)
    return arguments


def _remapped_to(tree, source):
    """Launch arguments that a ``(source, LaunchConfiguration(...))`` remapping targets."""
    bindings = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            name = _launch_config_name(node.value, {})
            if name:
                bindings[node.targets[0].id] = name
    targets = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and len(node.elts) == 2 \
                and isinstance(node.elts[0], ast.Constant) and node.elts[0].value == source:
            targets.append(_launch_config_name(node.elts[1], bindings))
    return targets


def _check_twist_mux_entries(entries, kind):
    assert isinstance(entries, dict) and entries, '%s must be a non-empty mapping' % kind
    for name, entry in entries.items():
        assert {'topic', 'timeout', 'priority'} <= set(entry), (kind, name, entry)
        assert isinstance(entry['topic'], str) and entry['topic'], (kind, name)
        # twist_mux reads timeout as a double: an integer (1 instead of 1.0) is rejected.
        assert isinstance(entry['timeout'], float) and entry['timeout'] >= 0.0, (kind, name)
        priority = entry['priority']
        assert isinstance(priority, int) and not isinstance(priority, bool), (kind, name)
        assert 0 <= priority <= 255, (kind, name, priority)


def test_twist_mux_config():
    """Every twist_mux input/lock has topic, timeout and priority; the order is documented."""
    params = _load_config('twist_mux_jepa.yaml')['twist_mux']['ros__parameters']
    topics = params['topics']
    _check_twist_mux_entries(topics, 'topics')
    _check_twist_mux_entries(params.get('locks', {'none': {
        'topic': 'unused', 'timeout': 0.0, 'priority': 0}}), 'locks')
    assert all(entry['timeout'] > 0.0 for entry in topics.values()), \
        'an input without timeout never goes stale and never hands back to Nav2'
    priorities = [entry['priority'] for entry in topics.values()]
    assert len(priorities) == len(set(priorities)), 'equal priorities: arbitrary winner'
    input_topics = [entry['topic'] for entry in topics.values()]
    assert len(input_topics) == len(set(input_topics))
    # Teleop above the JEPA recommendation above Nav2, as the YAML comments and
    # docs/composition.md explain.
    assert topics['navigation']['priority'] < topics[JEPA_MUX_INPUT]['priority'] \
        < topics['teleop']['priority'] == max(priorities)


def test_twist_mux_jepa_input_is_planner_output():
    """The JEPA input is the topic nav2_composition.launch.py remaps the planner onto."""
    topics = _load_config('twist_mux_jepa.yaml')['twist_mux']['ros__parameters']['topics']
    tree = _launch_tree('nav2_composition.launch.py')
    arguments = _launch_arguments(tree)
    assert _remapped_to(tree, '~/recommended_cmd_vel') == ['recommended_cmd_vel_topic']
    assert topics[JEPA_MUX_INPUT]['topic'] == arguments['recommended_cmd_vel_topic']
    # twist_mux's output feeds collision_monitor; it must be neither an input (a loop)
    # nor the collision_monitor output (bypassing the safety layer).
    assert _remapped_to(tree, 'cmd_vel_out') == ['mux_output_topic']
    mux_output = arguments['mux_output_topic']
    assert mux_output not in [entry['topic'] for entry in topics.values()]
    assert mux_output != arguments['cmd_vel_out_topic']
    for name in ('planner.launch.py', 'gazebo.launch.py'):
        assert _launch_arguments(_launch_tree(name))['recommended_cmd_vel_topic'] == \
            arguments['recommended_cmd_vel_topic'], name


def test_nav2_composition_lifecycle_manager_without_bond():
    """The manager of the rclpy nodes disables bond; each manager lists planner_node."""
    tree = _launch_tree('nav2_composition.launch.py')
    bond_timeouts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            if 'bond_timeout' in keys:
                bond_timeouts.append(node.values[keys.index('bond_timeout')])
    assert bond_timeouts and all(isinstance(v, ast.Constant) and v.value == 0.0
                                 for v in bond_timeouts)
    node_lists = [[e.value for e in node.elts] for node in ast.walk(tree)
                  if isinstance(node, ast.List) and node.elts
                  and all(isinstance(e, ast.Constant) for e in node.elts)
                  and 'planner_node' in [e.value for e in node.elts]]
    assert node_lists and all(names[-1] == 'planner_node' for names in node_lists)


def test_gz_bridge_config():
    """Bridge entries use the ros_gz_bridge keys and directions; /clock comes from Gazebo."""
    entries = _load_config('gz_bridge.yaml')
    assert isinstance(entries, list) and entries
    for entry in entries:
        assert set(GZ_BRIDGE_KEYS) <= set(entry), entry
        assert not set(entry) - set(GZ_BRIDGE_KEYS) - GZ_BRIDGE_OPTIONAL_KEYS, entry
        assert all(isinstance(entry[key], str) and entry[key] for key in GZ_BRIDGE_KEYS)
        assert entry['direction'] in GZ_DIRECTIONS, entry
        assert re.fullmatch(r'\w+/msg/\w+', entry['ros_type_name']), entry
        assert entry['gz_type_name'].startswith('gz.msgs.'), entry
    ros_topics = [entry['ros_topic_name'] for entry in entries]
    assert len(ros_topics) == len(set(ros_topics))
    by_type = {entry['ros_type_name']: entry for entry in entries}
    clock = by_type['rosgraph_msgs/msg/Clock']
    assert (clock['ros_topic_name'], clock['gz_type_name'], clock['direction']) == (
        '/clock', 'gz.msgs.Clock', 'GZ_TO_ROS')
    for ros_type in ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CameraInfo',
                     'sensor_msgs/msg/JointState', 'nav_msgs/msg/Odometry'):
        assert by_type[ros_type]['direction'] == 'GZ_TO_ROS', ros_type
    assert by_type['geometry_msgs/msg/Twist']['direction'] == 'ROS_TO_GZ'


def test_gazebo_launch_topics_match_bridge():
    """gazebo.launch.py's topic defaults are the ROS names the bridge publishes/reads."""
    by_type = {entry['ros_type_name']: entry['ros_topic_name']
               for entry in _load_config('gz_bridge.yaml')}
    arguments = _launch_arguments(_launch_tree('gazebo.launch.py'))
    assert arguments['image_topic'] == by_type['sensor_msgs/msg/Image']
    assert arguments['joint_states_topic'] == by_type['sensor_msgs/msg/JointState']
    assert arguments['odom_topic'] == by_type['nav_msgs/msg/Odometry']
    assert arguments['cmd_vel_topic'] == by_type['geometry_msgs/msg/Twist']
    assert arguments['with_planner'] == 'false'


def test_ros2_control_arm_config():
    """A joint_trajectory_controller for joint1..joint3 (the sim arm) and a broadcaster."""
    config = _load_config('ros2_control_arm.yaml')
    manager = config['controller_manager']['ros__parameters']
    assert manager['joint_trajectory_controller']['type'] == \
        'joint_trajectory_controller/JointTrajectoryController'
    assert manager['joint_state_broadcaster']['type'] == \
        'joint_state_broadcaster/JointStateBroadcaster'
    controller = config['joint_trajectory_controller']['ros__parameters']
    assert controller['joints'] == ARM_JOINTS
    arm = ElementTree.parse(_path(PACKAGE, 'sim', 'assets', 'arm.xml')).getroot()
    assert [j.get('name') for j in arm.iter('joint') if j.get('name')] == ARM_JOINTS
    assert controller['command_interfaces'] == ['position']
    assert 'position' in controller['state_interfaces']
    per_joint = {key for key, value in controller.get('constraints', {}).items()
                 if isinstance(value, dict)}
    assert per_joint <= set(ARM_JOINTS), per_joint


def test_ros2_control_arm_launch_matches_config():
    """The planner's trajectory goes to the configured controller's joint_trajectory topic."""
    manager = _load_config('ros2_control_arm.yaml')['controller_manager']['ros__parameters']
    tree = _launch_tree('ros2_control_arm.launch.py')
    arguments = _launch_arguments(tree)
    assert _remapped_to(tree, '~/recommended_joint_trajectory') == ['trajectory_topic']
    assert arguments['trajectory_topic'] == '/joint_trajectory_controller/joint_trajectory'
    assert arguments['joint_states_topic'] == '/joint_states'
    controllers = {name for name, value in manager.items() if isinstance(value, dict)}
    constants = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    assert controllers and controllers <= constants, controllers - constants
    assert {'spawner', '--param-file', 'joint_trajectory'} <= constants


@pytest.mark.parametrize('name, required', [
    ('planner.launch.py', {'namespace', 'params_file', 'image_topic', 'joint_states_topic',
                           'odom_topic', 'use_sim_time', 'autostart', 'with_world_model',
                           'recommended_cmd_vel_topic'}),
    ('nav2_composition.launch.py', {'namespace', 'use_sim_time', 'autostart',
                                    'twist_mux_params_file', 'mux_output_topic'}),
    ('ros2_control_arm.launch.py', {'controllers_file', 'controller_manager',
                                    'trajectory_topic', 'joint_states_topic'}),
    ('gazebo.launch.py', {'bridge_config', 'with_planner', 'world'}),
])
def test_composition_launch_arguments(name, required):
    """The composition launch files declare the documented arguments; the planner's lives."""
    tree = _launch_tree(name)
    arguments = _launch_arguments(tree)
    assert not required - set(arguments), required - set(arguments)
    if 'with_world_model' in arguments:
        assert arguments['with_world_model'] == 'false'
    # Nodes of this package never start themselves: the launch file or a lifecycle manager
    # drives them, so their autostart parameter is overridden with False.
    strings = _string_bindings(tree)
    node_autostart = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _call_name(node) in ('Node', 'LifecycleNode')):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        package = keywords.get('package')
        if isinstance(package, ast.Name):
            package = strings.get(package.id)
        elif isinstance(package, ast.Constant):
            package = package.value
        if package != PACKAGE:
            continue
        overrides = {}
        for item in keywords['parameters'].elts:
            if isinstance(item, ast.Dict):
                overrides.update((k.value, v) for k, v in zip(item.keys, item.values))
        node_autostart.append(overrides.get('autostart'))
    assert node_autostart
    assert all(isinstance(v, ast.Constant) and v.value is False for v in node_autostart)
