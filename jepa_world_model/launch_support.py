"""Building blocks that the launch files in ``launch/`` share.

Only launch files import this module (``from jepa_world_model.launch_support import ...``;
on a robot the package is installed, so ``ros2 launch`` finds it). It imports ``launch``,
``launch_ros`` and ``lifecycle_msgs`` at module level. Those packages exist on a ROS
install but not in the plain Python environment where the tests run. Therefore no other
module of this package and no test may import it. test/launch_checker.py reads it with
``ast`` instead, and checks that nothing else imports it and that the launch files use only
names and keyword arguments it defines.

* :func:`launch_arguments`: declares the arguments of a launch file, taking the usual ones
  (``use_sim_time``, ``autostart``, ``image_topic``, ...) from :data:`SHARED_ARGUMENTS`;
* :func:`params_file_argument` and :func:`package_config`: parameter files under
  ``share/jepa_world_model/config``;
* :func:`camera_remappings`: a node's camera inputs (raw and compressed) onto one topic;
* :func:`model_path_parameters`: the ``model_path`` launch argument as a parameter entry
  that overrides the parameter file's ``model_path`` only when the argument is set;
* :func:`package_node`: a node of this package, named after its executable;
* :func:`package_process`: a process of this package hosting several nodes (no name);
* :func:`lifecycle_autostart`: the configure/activate events for a lifecycle node, and an
  error in the launch log when the node is not active ``ACTIVE_TIMEOUT_S`` after its start;
* :func:`start_after_package_check`: starts a launch file's processes only once the other
  ROS 2 packages they come from are known to be installed.
"""

import json
import tempfile

from launch.actions import (DeclareLaunchArgument, EmitEvent, GroupAction, OpaqueFunction,
                            RegisterEventHandler, TimerAction)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import matches_action
from launch.logging import get_logger
from launch.substitution import Substitution
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch.utilities import normalize_to_list_of_substitutions, perform_substitutions
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from jepa_world_model.package_check import require_packages

PACKAGE = 'jepa_world_model'

# A node that lifecycle_autostart() drives and that is not active this long after its
# start gets an error in the launch log. Configure loads the model: seconds on a CPU.
ACTIVE_TIMEOUT_S = 60.0

# Launch arguments that several launch files declare alike: name -> (default, description).
# The defaults stay literal strings: the tests read them with ast.
SHARED_ARGUMENTS = {
    'use_sim_time': ('false', 'Use /clock (simulation or bag replay)'),
    'autostart': ('true', 'Configure and activate automatically'),
    'image_topic': ('image', 'Camera image topic (sensor_msgs/Image)'),
    'joint_states_topic': ('joint_states', 'sensor_msgs/JointState topic'),
    'odom_topic': ('odom', 'nav_msgs/Odometry topic (mobile bases)'),
    'map_topic': ('map', 'nav_msgs/OccupancyGrid static map (transient local)'),
    'scan_topic': ('scan', 'sensor_msgs/LaserScan for the obstacle term'),
    'cmd_vel_topic': ('cmd_vel', 'Executed velocity command (world model input, twist action '
                                 'sources)'),
    'recommended_cmd_vel_topic': (
        'cmd_vel_jepa', 'Topic the recommended velocity (~/recommended_cmd_vel) goes to'),
    'with_world_model': ('false', 'Also start world_model_node'),
    'model_path': ('', 'Model checkpoint (.safetensors) for planner_node and world_model_node; '
                       'empty: the model_path of their parameter files'),
}


def package_config(filename):
    """Return the path of the ROS parameter file ``config/ros/<filename>`` in this package's
    share directory."""
    return PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'ros', filename])


def params_file_argument(name, filename, node_name):
    """Return the launch_arguments() spec of a parameter file argument.

    Its default is ``config/ros/<filename>`` of this package; ``node_name`` is the node whose
    ``ros__parameters`` section the file holds.
    """
    return (name, package_config(filename),
            'Parameter file (ros__parameters under %s)' % node_name)


def camera_remappings(image_topic):
    """Return the remapping rules that point a node's camera input at ``image_topic``.

    Both of this package's nodes read ``image`` (``image_transport: raw``) or
    ``image/compressed`` (``compressed``), chosen in their parameter file, so a launch file
    remaps both: the compressed stream is ``<image_topic>/compressed``, as image_transport
    names it.
    """
    return [('image', image_topic), ('image/compressed', [image_topic, '/compressed'])]


def model_path_parameters(model_path, params_file):
    """Return a ``parameters=[...]`` entry for the ``model_path`` launch argument.

    Put it after ``params_file``. When ``model_path`` is set it overrides the file's
    ``model_path``; when it is empty the entry is ``params_file`` again (applying a file
    twice changes nothing), so the file's value stays. A plain ``{'model_path': ...}``
    override cannot say "not given": an empty string would replace the file's value.
    """
    return _ModelPathParameters(model_path, params_file)


class _ModelPathParameters(Substitution):
    """The path of a parameter file: one setting ``model_path`` for every node of the
    process (``/**``) when the launch argument is non-empty, else ``fallback``."""

    def __init__(self, model_path, fallback):
        super().__init__()
        self._model_path = normalize_to_list_of_substitutions(model_path)
        self._fallback = normalize_to_list_of_substitutions(fallback)

    def describe(self):
        return 'model_path override (else the parameter file)'

    def perform(self, context):
        model_path = perform_substitutions(context, self._model_path).strip()
        if not model_path:
            return perform_substitutions(context, self._fallback)
        # launch_ros writes its dict overrides to temporary files the same way. A JSON
        # string is a valid YAML double-quoted scalar, whatever the path holds.
        with tempfile.NamedTemporaryFile('w', prefix='jepa_model_path_', suffix='.yaml',
                                         delete=False, encoding='utf-8') as handle:
            handle.write('/**:\n  ros__parameters:\n    model_path: %s\n'
                         % json.dumps(model_path))
        return handle.name


def launch_arguments(*specs):
    """Declare launch arguments; return ``(declarations, configurations)``.

    A spec is either the name of an entry of :data:`SHARED_ARGUMENTS` or a
    ``(name, default, description)`` tuple. ``declarations`` holds one
    ``DeclareLaunchArgument`` per spec, in order; ``configurations`` maps each name to its
    ``LaunchConfiguration``.
    """
    declarations = []
    configurations = {}
    for spec in specs:
        if isinstance(spec, str):
            if spec not in SHARED_ARGUMENTS:
                raise ValueError('%r is not in SHARED_ARGUMENTS; pass (name, default, '
                                 'description)' % spec)
            spec = (spec,) + SHARED_ARGUMENTS[spec]
        name, default, description = spec
        if name in configurations:
            raise ValueError('launch argument %r declared twice' % name)
        declarations.append(DeclareLaunchArgument(name, default_value=default,
                                                  description=description))
        configurations[name] = LaunchConfiguration(name)
    return declarations, configurations


def package_node(*, executable, namespace, parameters, remappings, lifecycle=True,
                 condition=None):
    """Return a node of this package, named after its executable, logging to the screen.

    ``lifecycle=False`` gives a plain ``Node`` for nodes that a lifecycle manager drives
    through their ``change_state`` services; otherwise a ``LifecycleNode``, which the
    events of :func:`lifecycle_autostart` can address.
    """
    node_class = LifecycleNode if lifecycle else Node
    return node_class(package=PACKAGE, executable=executable, name=executable,
                      namespace=namespace, output='screen', parameters=parameters,
                      remappings=remappings, condition=condition)


def package_process(*, executable, namespace, parameters, remappings):
    """Return a process of this package that hosts several nodes, logging to the screen.

    Unlike :func:`package_node` it passes no node name: launch_ros would rename every node
    of the process to it. Parameters and remappings apply to all of its nodes (parameter
    files are keyed by node name). Its lifecycle nodes follow their own ``autostart``
    parameter: the events of :func:`lifecycle_autostart` address one node per process.
    """
    return Node(package=PACKAGE, executable=executable, namespace=namespace,
                output='screen', parameters=parameters, remappings=remappings)


def lifecycle_autostart(node, autostart, only_if=None):
    """Return ``node`` with the events that configure and then activate it.

    The events are the ones Humble and Jazzy share (``EmitEvent(ChangeState)`` plus
    ``RegisterEventHandler(OnStateTransition)``), not ``LifecycleNode(autostart=...)``,
    which only newer launch_ros releases have. Both take effect when the launch
    configuration ``autostart`` is true. With ``only_if`` (a launch configuration), the
    node and its events are grouped under ``IfCondition(only_if)``.
    """
    configure = EmitEvent(
        event=ChangeState(lifecycle_node_matcher=matches_action(node),
                          transition_id=Transition.TRANSITION_CONFIGURE),
        condition=IfCondition(autostart))
    # Only configuring -> inactive triggers activation, so a later deactivate (e.g. by an
    # operator) is not undone by the launch file.
    activate = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
            entities=[EmitEvent(event=ChangeState(
                lifecycle_node_matcher=matches_action(node),
                transition_id=Transition.TRANSITION_ACTIVATE))]),
        condition=IfCondition(autostart))
    actions = [activate, node, configure] + _activation_watchdog(node, autostart)
    if only_if is None:
        return actions
    # scoped=False: the group only carries the condition; nothing inside sets launch
    # configurations, and the event handler must outlive the group anyway.
    return [GroupAction(actions, scoped=False, condition=IfCondition(only_if))]


def _activation_watchdog(node, autostart):
    """Actions that log an error when ``node`` is not active ``ACTIVE_TIMEOUT_S`` after start.

    Why: launch_ros waits for a node's change_state service without a time limit and says
    nothing meanwhile, so a node that never answers stayed unconfigured without a word.
    Reaching ``active`` or the process exiting (launch reports that itself) cancels it.
    """
    def report(context):
        try:
            name = node.node_name
        except RuntimeError:         # launch_ros: the name is known once the node started
            name = 'a lifecycle node'
        get_logger('launch').error(
            '%s is not active %.0f s after its start: its lifecycle transitions were not '
            'answered or failed (see its output above; ros2 lifecycle get %s)'
            % (name, ACTIVE_TIMEOUT_S, name))

    timer = TimerAction(period=ACTIVE_TIMEOUT_S, actions=[OpaqueFunction(function=report)],
                        condition=IfCondition(autostart))

    def cancel(context):
        timer.cancel()

    return [
        timer,
        RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, goal_state='active',
            entities=[OpaqueFunction(function=cancel)])),
        RegisterEventHandler(OnProcessExit(
            target_action=node, on_exit=[OpaqueFunction(function=cancel)])),
    ]


def start_after_package_check(required, actions, what):
    """Return an ``OpaqueFunction`` that checks ROS 2 packages, then starts ``actions``.

    ``required`` lists the packages the launch file starts nodes from (or reads files of),
    or is a function ``required(context) -> names`` when that depends on the arguments;
    ``actions`` is a list of actions, or ``actions(context) -> list``. Put every action that
    starts a process into ``actions``: when a package is missing, the launch stops with
    one clear error (package_check.MissingPackagesError naming them and their apt
    packages) before anything was started, so nothing is left running. ``what`` names the
    launch file in that message. Where a default resolves a path in another package,
    compute it inside ``actions(context)``, never as an argument default: a default is
    evaluated when the argument is declared, whether or not it is used.
    """
    def check_then_start(context):
        packages = required(context) if callable(required) else required
        require_packages(packages, what)
        return list(actions(context) if callable(actions) else actions)

    return OpaqueFunction(function=check_then_start)
