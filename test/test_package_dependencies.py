"""package.xml declares what the package uses at run time (issue #15 item 9).

Read statically, so nothing here needs ROS: every module imported anywhere in
``jepa_world_model/`` and ``launch/`` (ast, :mod:`static_imports`), every other package a
launch file starts a node from or reads a share directory of (:mod:`launch_checker`), and
every ros2_control controller type and bridged message type in ``config/ros/*.yaml``.
Each imported module is either the standard library, this package, a Python library from
:data:`PYTHON_MODULES` (whose rosdep key must be an ``exec_depend``, or, without a key,
whose pip name the package.xml comments must name), or a ROS package that must be an
``exec_depend``. So removing a
dependency from package.xml, or importing something new without declaring it, fails here.
"""

import ast
import functools
import glob
import os
import sys
import xml.etree.ElementTree as ElementTree

import pytest
import yaml

from launch_checker import _other_packages, _string_bindings
from package_layout import _path, PACKAGE, REPO_ROOT
from static_imports import import_statements, package_modules

#: Python libraries (not ROS packages) the code imports: module -> (rosdep key, pip name).
#: A key of None means rosdistro has no key for it; package.xml must then name the pip
#: package in a comment, so a ROS user learns to install it.
PYTHON_MODULES = {
    'numpy': ('python3-numpy', 'numpy'),
    'cv2': ('python3-opencv', 'opencv-python-headless'),
    'yaml': ('python3-yaml', 'pyyaml'),
    'torch': ('python3-torch', 'torch'),
    'matplotlib': ('python3-matplotlib', 'matplotlib'),
    'imageio': ('python3-imageio', 'imageio'),
    'rosbags': ('python3-rosbags-pip', 'rosbags'),
    'mujoco': ('python3-mujoco-pip', 'mujoco'),
    'safetensors': (None, 'safetensors'),
    'apsw': (None, 'apsw'),   # rosbags' SQLite driver; the bag reader catches its errors
    # Optional (setup.py extra 'onnx'): ONNX export and the onnxruntime backends.
    'onnxruntime': (None, 'onnxruntime'),
    # Optional (setup.py extra 'pretrained'): the frozen pretrained encoders.
    'transformers': (None, 'transformers'),
    'huggingface_hub': (None, 'huggingface_hub'),
}
#: Test-only Python libraries: rosdep key (None: pip only, named in a package.xml comment).
TEST_MODULES = {
    'pytest': 'python3-pytest',
    'pytest_timeout': 'python3-pytest-timeout',
    'hypothesis': 'python3-hypothesis',
    'flake8': 'python3-flake8',
    'pytest_rerunfailures': None,
}
SOURCE_DIRS = (PACKAGE, 'launch')


def _package_xml():
    return ElementTree.parse(_path('package.xml')).getroot()


def _declared(root, tag):
    return {element.text.strip() for element in root.findall(tag)}


def _comments_text():
    """All comment text of package.xml (ElementTree drops comments, so read the file)."""
    with open(_path('package.xml'), encoding='utf-8') as handle:
        raw = handle.read()
    return ' '.join(part.split('-->', 1)[0] for part in raw.split('<!--')[1:])


@functools.lru_cache(maxsize=1)
def imported_top_level_modules():
    """``{top-level module: first 'file:line' importing it}`` over SOURCE_DIRS."""
    found = {}
    for directory in SOURCE_DIRS:
        for name, path in package_modules(_path(directory)):
            for lineno, module, _ in import_statements(name, path):
                if module:
                    rel = os.path.relpath(path, REPO_ROOT)
                    found.setdefault(module.split('.')[0], f'{rel}:{lineno}')
    return found


def launch_packages():
    """``{ROS package: 'file:line'}`` the launch files (and their shared helpers) start
    nodes from or read share directories of."""
    found = {}
    sources = sorted(glob.glob(_path('launch', '*.launch.py')))
    sources.append(_path(PACKAGE, 'launch_support.py'))
    for path in sources:
        with open(path, encoding='utf-8') as handle:
            tree = ast.parse(handle.read(), filename=path)
        rel = os.path.relpath(path, REPO_ROOT)
        for package, lineno in _other_packages(tree, _string_bindings(tree)).items():
            found.setdefault(package, f'{rel}:{lineno}')
    return found


#: Keys whose value in config/ros/*.yaml is ``package/...``: a ros2_control controller
#: ``type`` (``joint_trajectory_controller/JointTrajectoryController``) and a ros_gz_bridge
#: ``ros_type_name`` (``sensor_msgs/msg/Image``).
TYPE_KEYS = ('type', 'ros_type_name')


def _package_types(node):
    """Yield every ``package/...`` value of a TYPE_KEYS key anywhere in a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TYPE_KEYS and isinstance(value, str) and '/' in value:
                yield value
            else:
                yield from _package_types(value)
    elif isinstance(node, list):
        for item in node:
            yield from _package_types(item)


def config_packages():
    """``{package: config file}`` of the controllers and bridged message types that the
    files in config/ros name."""
    found = {}
    for path in sorted(glob.glob(_path('config', 'ros', '*.yaml'))):
        with open(path, encoding='utf-8') as handle:
            document = yaml.safe_load(handle)
        for type_name in _package_types(document):
            found.setdefault(type_name.split('/')[0], os.path.relpath(path, REPO_ROOT))
    return found


@functools.lru_cache(maxsize=1)
def used_ros_packages():
    """``{ROS package: where it is used}``: imported, started by a launch file or named in
    config/ros; every imported module that is not stdlib, this package or in
    :data:`PYTHON_MODULES` counts as a ROS package (classify a new pip library there)."""
    used = dict(launch_packages())
    used.update(config_packages())
    for module, where in imported_top_level_modules().items():
        if module in sys.stdlib_module_names or module == PACKAGE or module in PYTHON_MODULES:
            continue
        used.setdefault(module, where)
    return used


def undeclared_ros_packages(declared_exec):
    """``{package: where it is used}`` for the ROS packages in use not in ``declared_exec``."""
    return {package: where for package, where in sorted(used_ros_packages().items())
            if package not in declared_exec}


def test_every_used_ros_package_is_an_exec_depend():
    """Each ROS package imported or started by a launch file is an exec_depend."""
    missing = undeclared_ros_packages(_declared(_package_xml(), 'exec_depend'))
    assert not missing, (
        'used but not declared in package.xml (add an <exec_depend>; a pip library instead '
        'goes into PYTHON_MODULES here with its rosdep key): '
        + ', '.join(f'{package} ({where})' for package, where in missing.items()))


def test_check_fails_when_a_dependency_is_removed():
    """Removing any one declared ROS dependency makes the check above report exactly it."""
    declared = _declared(_package_xml(), 'exec_depend')
    used = set(used_ros_packages())
    assert {'rclpy', 'launch_ros', 'sensor_msgs', 'rcl_interfaces', 'tf2_msgs',
            'ament_index_python', 'controller_manager', 'twist_mux', 'nav2_bringup',
            'ros_gz_sim', 'joint_trajectory_controller'} <= used
    for package in sorted(used):
        assert list(undeclared_ros_packages(declared - {package})) == [package]


@pytest.mark.parametrize('module', sorted(PYTHON_MODULES))
def test_python_library_has_its_rosdep_key(module):
    """A Python library in use has its rosdep key declared, or its pip name in a comment."""
    key, pip_name = PYTHON_MODULES[module]
    if key is None:
        assert pip_name in _comments_text(), (
            f'{module} has no rosdep key: name {pip_name!r} in a package.xml comment')
    else:
        assert key in _declared(_package_xml(), 'exec_depend'), (
            f'{module} is imported: add <exec_depend>{key}</exec_depend> to package.xml')


def test_python_libraries_are_still_imported():
    """PYTHON_MODULES lists only modules the code imports, so it cannot hide a stale key."""
    stale = set(PYTHON_MODULES) - set(imported_top_level_modules())
    assert not stale, f'not imported any more, drop from PYTHON_MODULES: {sorted(stale)}'


@pytest.mark.parametrize('module', sorted(TEST_MODULES))
def test_test_tool_is_declared(module):
    """Test tools: test_depend with a rosdep key, else named in a comment, and in the
    setup.py 'test' extra (what `colcon test` and `pip install -e .[test]` read)."""
    from package_layout import evaluate_setup_py

    key = TEST_MODULES[module]
    pip_name = module.replace('_', '-')
    if key is None:
        assert pip_name in _comments_text()
    else:
        assert key in _declared(_package_xml(), 'test_depend')
    extra = [r.split('>')[0].split('=')[0].split('<')[0].strip().lower()
             for r in evaluate_setup_py()['extras_require']['test']]
    assert pip_name in extra
