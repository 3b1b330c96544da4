"""Launch ``planner_node`` and ``world_model_node`` in ONE process (``world_model_stack``).

Like ``planner.launch.py with_world_model:=true``, but the two nodes share one loaded model
and encode each camera frame once, when both load the same checkpoint on the same device
in the same dtype: set the ``model_path`` launch argument (it sets both nodes' parameter),
and ``device``, ``dtype`` alike in both parameter files. The shipped files leave
``model_path`` empty, and the nodes' defaults differ (world_model_node: gantry_tiny,
planner_node: arm_tiny), so without it each loads its own.
docs/composition.md has the measured saving.

Arguments:
    namespace: Namespace of both nodes (default: none).
    params_file: planner_node parameters (default: share/jepa_world_model/config/ros/planner.yaml).
    model_path: Model checkpoint (.safetensors) that both nodes load; empty (default):
        the ``model_path`` of their parameter files.
    world_model_params_file: world_model_node parameters
        (default: share/jepa_world_model/config/ros/world_model.yaml).
    image_topic: Camera topic remapped onto ``image`` (``<image_topic>/compressed`` onto
        ``image/compressed`` with ``image_transport: compressed``).
    joint_states_topic: Remapped onto ``joint_states``.
    odom_topic: nav_msgs/Odometry topic remapped onto ``odom`` (models with the pose in
        their state).
    map_topic: nav_msgs/OccupancyGrid static map for the planner's pose goals (``use_map``).
    scan_topic: sensor_msgs/LaserScan for the planner's obstacle term.
    recommended_cmd_vel_topic: Where the planner's ``~/recommended_cmd_vel`` is published.
    cmd_vel_topic: The command the base actually executes, world_model_node's ``cmd_vel``
        action input (twist action sources).
    use_sim_time: Follow /clock.
    autostart: Both nodes configure and activate themselves at start (their own
        ``autostart`` parameter: launch's lifecycle events address one node per process).
        Set it false when nav2_lifecycle_manager (or another manager) drives them.

Example:
    ros2 launch jepa_world_model world_model_stack.launch.py image_topic:=/camera/image_raw \
        params_file:=my_planner.yaml world_model_params_file:=my_world_model.yaml

The remappings apply to both nodes; each node has only its own topics, so a rule for the
other node's topic changes nothing. Goals and services are the nodes' own, as with
``planner.launch.py`` (``planner_node/goal_pose``, ``world_model_node/capture_goal``, ...).
"""

from launch import LaunchDescription

from jepa_world_model.launch_support import (camera_remappings, launch_arguments,
                                             model_path_parameters, package_process,
                                             params_file_argument)


def generate_launch_description():
    """Declare the arguments and the one process hosting both nodes."""
    arguments, arg = launch_arguments(
        ('namespace', '', 'Namespace of planner_node and world_model_node'),
        params_file_argument('params_file', 'planner.yaml', 'planner_node'),
        params_file_argument('world_model_params_file', 'world_model.yaml',
                             'world_model_node'),
        'image_topic', 'joint_states_topic', 'odom_topic', 'map_topic', 'scan_topic',
        'recommended_cmd_vel_topic', 'cmd_vel_topic', 'use_sim_time', 'autostart',
        'model_path')

    stack = package_process(
        executable='world_model_stack',
        namespace=arg['namespace'],
        # The model_path entry comes after both files: either holds a model_path.
        parameters=[arg['params_file'], arg['world_model_params_file'],
                    model_path_parameters(arg['model_path'], arg['world_model_params_file']),
                    {'use_sim_time': arg['use_sim_time'], 'autostart': arg['autostart']}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            ('odom', arg['odom_topic']),
            ('map', arg['map_topic']),
            ('scan', arg['scan_topic']),
            ('cmd_vel', arg['cmd_vel_topic']),
            # Launch passes the rule without a shell; from a shell quote it.
            ('~/recommended_cmd_vel', arg['recommended_cmd_vel_topic']),
        ],
    )

    return LaunchDescription(arguments + [stack])
