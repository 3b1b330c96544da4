"""Static checks of the ament_python packaging: package.xml, requirements, setup.py/cfg, config.

Nothing here needs ROS: setup.py is evaluated with ``setuptools.setup`` replaced
(package_layout.py). The launch files are checked in test_launch_files.py and the
composition configs in test_composition_configs.py.
"""

import ast
import configparser
import glob
import importlib
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest
import yaml

from package_layout import (_console_scripts, _path, evaluate_setup_py, PACKAGE, REPO_ROOT,
                            SHARE)

SCRIPT_DIR = '$base/lib/' + PACKAGE

# What the code imports and the launch files start is checked in test_package_dependencies.py;
# these are the ones no import shows (ros2launch runs the launch files).
REQUIRED_EXEC_DEPENDS = {'rclpy', 'launch', 'launch_ros', 'ros2launch', 'cv_bridge'}
REQUIRED_TEST_DEPENDS = {'ament_copyright', 'ament_flake8', 'ament_pep257', 'python3-pytest'}
REQUIRED_CONSOLE_SCRIPTS = {
    'jepa-world-model': 'jepa_world_model.cli:main',
    'world_model_node': 'jepa_world_model.ros.world_model.node:main',
    'sim_node': 'jepa_world_model.ros.sim_node:main',
    'planner_node': 'jepa_world_model.ros.planner.node:main',
    'world_model_stack': 'jepa_world_model.ros.world_model_stack:main',
    'agent_predictor_node': 'jepa_world_model.ros.agents.node:main',
}
# exec_depends with no ros-jazzy-* wheel: the code runs without them (cv_bridge and tf2_msgs
# are optional imports), and the launch files with their node packages need a real ROS 2.
NO_WHEEL_DEPENDS = {
    'cv_bridge', 'tf2_msgs', 'launch', 'launch_ros', 'ros2launch', 'controller_manager',
    'joint_state_broadcaster', 'joint_trajectory_controller', 'effort_controllers', 'twist_mux',
    'nav2_lifecycle_manager', 'nav2_collision_monitor', 'nav2_bringup', 'ros_gz_bridge',
    'ros_gz_sim', 'tf2_ros',
}


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
    assert {'pytest', 'pytest-timeout', 'pytest-rerunfailures', 'flake8'} <= set(
        _requirement_names('requirements-dev.txt'))
    assert 'torch' not in _requirement_names('requirements-ros-wheels.txt')


# ------------------------------------------------------------------------ setup.py / cfg

@pytest.fixture(scope='module')
def setup_kwargs():
    """Evaluate setup.py from the repository root and return its setup() keywords."""
    return evaluate_setup_py()


def _installed(setup_kwargs):
    """Map each data_files source (repo-relative) to its install directory."""
    mapping = {}
    for dest, sources in setup_kwargs['data_files']:
        for source in sources:
            mapping.setdefault(os.path.normpath(source), []).append(dest)
    return mapping


def test_setup_py_basics(setup_kwargs):
    """The ament_python template fields are there, and Python deps stay out of setup.py."""
    assert setup_kwargs['name'] == PACKAGE
    packages = setup_kwargs['packages']
    assert {PACKAGE, PACKAGE + '.core', PACKAGE + '.ros'} <= set(packages)
    assert not [p for p in packages if p == 'test' or p.startswith('test.')]
    assert setup_kwargs['install_requires'] == ['setuptools']


def test_setup_py_test_extra(setup_kwargs):
    """colcon test finds pytest in the 'test' extra (tests_require is gone in setuptools >= 72,
    so colcon would fall back to unittest and run 0 tests); it lists requirements-dev.txt."""
    assert 'tests_require' not in setup_kwargs
    extra = [re.split(r'[<>=!~;\[ ]', e, maxsplit=1)[0].lower()
             for e in setup_kwargs['extras_require']['test']]
    assert sorted(extra) == sorted(_requirement_names('requirements-dev.txt'))


def test_license_file_matches_package_xml(package_xml, setup_kwargs):
    """LICENSE holds the text of the license package.xml and setup.py name."""
    assert _texts(package_xml, 'license') == ['Apache-2.0'] == [setup_kwargs['license']]
    with open(_path('LICENSE'), encoding='utf-8') as handle:
        text = handle.read()
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'END OF TERMS AND CONDITIONS' in text


def test_maintainer_same_in_package_xml_and_setup_py(package_xml, setup_kwargs):
    """One maintainer, spelled the same in both files."""
    maintainer = package_xml.find('maintainer')
    assert maintainer.get('email') == setup_kwargs['maintainer_email']
    assert maintainer.text.strip() == setup_kwargs['maintainer']


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
    ('launch', '*'), ('config/train', '*.yaml'), ('config/ros', '*.yaml'), ('models', '*'),
    ('rviz', '*.rviz'), ('foxglove', '*.json'),
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


# ---------------------------------------------------------------------------- config files

@pytest.mark.parametrize('path', sorted(glob.glob(_path('config', '*', '*.yaml'))),
                         ids=os.path.basename)
def test_config_yaml_parses(path):
    """Every config/{train,ros}/*.yaml is valid YAML."""
    with open(path, encoding='utf-8') as handle:
        yaml.safe_load(handle)


def test_executable_scripts():
    """The CI entry point and the bootstrap script are executable."""
    for rel in ('.ci/run', 'scripts/bootstrap.sh'):
        assert os.access(_path(rel), os.X_OK), rel


def test_bootstrap_refuses_an_untested_ros_distribution(tmp_path):
    """JWM_ROS_WHEELS takes only the distributions tested here, and says so before it
    creates or changes any venv."""
    venv = tmp_path / 'venv'
    env = dict(os.environ, JWM_VENV=str(venv), JWM_ROS_WHEELS='humble', JWM_PYTHON=sys.executable)
    result = subprocess.run(['bash', _path('scripts', 'bootstrap.sh')], env=env, timeout=60,
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert 'JWM_ROS_WHEELS must be jazzy or kilted' in result.stderr
    assert not venv.exists()


@pytest.mark.skipif(shutil.which('make') is None, reason='make is not installed')
def test_make_test_kilted_uses_its_own_venv_and_the_kilted_wheels():
    """`make test-kilted` bootstraps .venv-kilted with the Kilted wheels, then runs pytest
    from that venv (dry run: nothing is installed)."""
    result = subprocess.run(['make', '-n', 'test-kilted'], cwd=REPO_ROOT, timeout=60,
                            capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert any('JWM_ROS_WHEELS=kilted' in line and '.venv-kilted' in line
               and 'bootstrap.sh' in line for line in lines), lines
    assert any('.venv-kilted/bin/python -m pytest' in line for line in lines), lines
