"""Static checks of the composition with Nav2, ros2_control and Gazebo: config and launch.

The twist_mux, ros_gz_bridge and ros2_control YAML files are checked against what those
packages read and against the launch files that use them. Nothing here needs ROS: the
launch files are parsed with the helpers of launch_checker.py.
"""

import ast
import re
import xml.etree.ElementTree as ElementTree

import pytest
import yaml

from launch_checker import (_argument_specs, _call_name, _configuration_dicts,
                            _launch_support, _parameter_names, _string_bindings,
                            _support_imports)
from package_layout import _path, PACKAGE

JEPA_MUX_INPUT = 'jepa_planner'
GZ_BRIDGE_KEYS = ('ros_topic_name', 'gz_topic_name', 'ros_type_name', 'gz_type_name',
                  'direction')
GZ_BRIDGE_OPTIONAL_KEYS = {'lazy', 'subscriber_queue', 'publisher_queue'}
GZ_DIRECTIONS = {'GZ_TO_ROS', 'ROS_TO_GZ', 'BIDIRECTIONAL'}
ARM_JOINTS = ['joint1', 'joint2', 'joint3']


def _load_config(name):
    with open(_path('config', 'ros', name), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def _launch_tree(name):
    with open(_path('launch', name), encoding='utf-8') as handle:
        return ast.parse(handle.read(), filename=name)


def _launch_config_name(node, bindings, dicts=frozenset()):
    """Return X of ``LaunchConfiguration('X')``, ``<dict>['X']`` or a name bound to one.

    ``dicts``: names bound to the configurations launch_arguments() returns.
    """
    if isinstance(node, ast.Name):
        return bindings.get(node.id)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
            and node.value.id in dicts and isinstance(node.slice, ast.Constant):
        return node.slice.value
    if isinstance(node, ast.Call) and _call_name(node) == 'LaunchConfiguration' \
            and node.args and isinstance(node.args[0], ast.Constant):
        return node.args[0].value
    return None


def _launch_arguments(tree):
    """Map every declared launch argument to its literal default (None if computed).

    Covers ``DeclareLaunchArgument(...)`` and the specs of launch_support's
    ``launch_arguments(...)`` (shared names take their SHARED_ARGUMENTS default).
    """
    arguments = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) == 'DeclareLaunchArgument':
            keywords = {k.arg: k.value for k in node.keywords}
            default = keywords.get('default_value')
            arguments[node.args[0].value] = (
                default.value if isinstance(default, ast.Constant) else None)
    for _, name, default in _argument_specs(tree):
        arguments[name] = default
    return arguments


def _remapped_to(tree, source):
    """Launch arguments that a ``(source, LaunchConfiguration(...))`` remapping targets."""
    dicts = _configuration_dicts(tree)
    bindings = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            name = _launch_config_name(node.value, {}, dicts)
            if name:
                bindings[node.targets[0].id] = name
    targets = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and len(node.elts) == 2 \
                and isinstance(node.elts[0], ast.Constant) and node.elts[0].value == source:
            targets.append(_launch_config_name(node.elts[1], bindings, dicts))
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
                     'sensor_msgs/msg/JointState', 'nav_msgs/msg/Odometry',
                     'sensor_msgs/msg/LaserScan'):
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
    assert arguments['scan_topic'] == by_type['sensor_msgs/msg/LaserScan']
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


def test_ros2_control_effort_arm_config():
    """A forward_effort_controller (JointGroupEffortController) for joint1..joint3 and a
    broadcaster; the planner file commands efforts as Float64MultiArray for those joints,
    without position limits, and passes the planner's checks."""
    config = _load_config('ros2_control_effort_arm.yaml')
    manager = config['controller_manager']['ros__parameters']
    assert manager['forward_effort_controller']['type'] == \
        'effort_controllers/JointGroupEffortController'
    assert manager['joint_state_broadcaster']['type'] == \
        'joint_state_broadcaster/JointStateBroadcaster'
    assert config['forward_effort_controller']['ros__parameters']['joints'] == ARM_JOINTS
    (section,) = _load_config('planner_effort_arm.yaml').values()
    planner = section['ros__parameters']
    assert planner['command_interface'] == 'effort'
    assert planner['output'] == 'float64_multi_array'
    assert planner['action_joint_names'] == ARM_JOINTS
    assert 'joint_position_min' not in planner and 'velocity_min' not in planner


@pytest.mark.ros
def test_the_effort_planner_file_passes_the_planner_checks():
    from jepa_world_model.ros.planner.parameters import (PlannerFacts, PlannerSettings,
                                                         validate_updates)
    (section,) = _load_config('planner_effort_arm.yaml').values()
    facts = PlannerFacts(action_dim=3, joint_names=tuple(ARM_JOINTS))
    assert validate_updates(section['ros__parameters'], PlannerSettings(), facts) is None


def test_ros2_control_effort_arm_launch_matches_config():
    """The planner's commands go to the configured effort controller's commands topic."""
    manager = _load_config('ros2_control_effort_arm.yaml')['controller_manager'][
        'ros__parameters']
    tree = _launch_tree('ros2_control_effort_arm.launch.py')
    arguments = _launch_arguments(tree)
    assert _remapped_to(tree, '~/recommended_commands') == ['commands_topic']
    assert _remapped_to(tree, 'commands') == ['commands_topic']
    assert arguments['commands_topic'] == '/forward_effort_controller/commands'
    assert arguments['joint_states_topic'] == '/joint_states'
    controllers = {name for name, value in manager.items() if isinstance(value, dict)}
    constants = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    assert controllers and controllers <= constants, controllers - constants
    assert {'spawner', '--param-file', 'effort', 'float64_multi_array'} <= constants


@pytest.mark.parametrize('name, required', [
    ('planner.launch.py', {'namespace', 'params_file', 'image_topic', 'joint_states_topic',
                           'odom_topic', 'use_sim_time', 'autostart', 'with_world_model',
                           'recommended_cmd_vel_topic'}),
    ('nav2_composition.launch.py', {'namespace', 'use_sim_time', 'autostart',
                                    'twist_mux_params_file', 'mux_output_topic'}),
    ('ros2_control_arm.launch.py', {'controllers_file', 'controller_manager',
                                    'trajectory_topic', 'joint_states_topic'}),
    ('ros2_control_effort_arm.launch.py', {'controllers_file', 'controller_manager',
                                           'commands_topic', 'joint_states_topic',
                                           'model_path'}),
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
    support = _launch_support()['functions']
    node_helpers = {local for local, real in _support_imports(tree).items()
                    if real in support and 'executable' in _parameter_names(support[real])}
    node_autostart = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        if isinstance(node.func, ast.Name) and node.func.id in node_helpers:
            package = PACKAGE  # launch_support's node helpers start nodes of this package
        elif _call_name(node) in ('Node', 'LifecycleNode'):
            package = keywords.get('package')
            if isinstance(package, ast.Name):
                package = strings.get(package.id)
            elif isinstance(package, ast.Constant):
                package = package.value
        else:
            continue
        if package != PACKAGE:
            continue
        overrides = {}
        for item in keywords['parameters'].elts:
            if isinstance(item, ast.Dict):
                overrides.update((k.value, v) for k, v in zip(item.keys, item.values))
        node_autostart.append(overrides.get('autostart'))
    assert node_autostart
    assert all(isinstance(v, ast.Constant) and v.value is False for v in node_autostart)
