"""Launch ``planner_node`` (and optionally ``world_model_node``) as lifecycle nodes.

Arguments:
    namespace: Namespace of both nodes (default: none).
    params_file: planner_node parameters (default: share/jepa_world_model/config/ros/planner.yaml).
    model_path: Model checkpoint (.safetensors) that planner_node and world_model_node
        load; empty (default): the ``model_path`` of their parameter files.
    image_topic: Camera topic remapped onto ``image`` (``<image_topic>/compressed`` onto
        ``image/compressed`` when a node's ``image_transport`` is ``compressed``; both nodes).
    joint_states_topic: Remapped onto ``joint_states`` (both nodes).
    odom_topic: nav_msgs/Odometry topic remapped onto the planner's ``odom`` (mobile bases).
    map_topic: nav_msgs/OccupancyGrid static map for pose goals (``use_map``).
    scan_topic: sensor_msgs/LaserScan for the obstacle term (``obstacle_weight``).
    recommended_cmd_vel_topic: Where the planner's ``~/recommended_cmd_vel`` is published.
        The default ``cmd_vel_jepa`` drives nothing by itself: feed it to a twist_mux input
        (launch/nav2_composition.launch.py) or, in simulation only, set it to ``cmd_vel``.
    use_sim_time: Follow /clock (Gazebo, our simulator, bag replay with --clock).
    autostart: Emit configure, then activate once a node reaches inactive. Set it false
        when nav2_lifecycle_manager (or another manager) drives the transitions.
    with_world_model: Also start world_model_node (for its predicted path, trajectory and
        surprise; the planner loads its own copy of the model from ``model_path``).
    world_model_params_file: world_model_node parameters
        (default: share/jepa_world_model/config/ros/world_model.yaml).
    cmd_vel_topic: The command the base actually executes, remapped onto world_model_node's
        ``cmd_vel`` action input (twist action sources).

Example:
    ros2 launch jepa_world_model planner.launch.py image_topic:=/camera/image_raw \
        odom_topic:=/odom recommended_cmd_vel_topic:=cmd_vel_jepa use_sim_time:=true

Goals go to the node's private topics (``planner_node/goal_pose``, ``planner_node/goal_image``,
``planner_node/goal_joint_state``) or are captured from the current view with the
``planner_node/capture_goal`` service. The node's own ``autostart`` parameter is forced to
false here, so exactly one party (this launch file or a lifecycle manager) drives the
transitions. The transitions use the event API that Humble and Jazzy share, like
launch/world_model.launch.py.
"""

from launch import LaunchDescription

from jepa_world_model.launch_support import (camera_remappings, launch_arguments,
                                             lifecycle_autostart, model_path_parameters,
                                             package_node, params_file_argument)


def generate_launch_description():
    """Declare the arguments, the lifecycle nodes and their autostart transitions."""
    arguments, arg = launch_arguments(
        ('namespace', '', 'Namespace of planner_node and world_model_node'),
        params_file_argument('params_file', 'planner.yaml', 'planner_node'),
        'image_topic', 'joint_states_topic', 'odom_topic', 'map_topic', 'scan_topic',
        'recommended_cmd_vel_topic', 'use_sim_time', 'autostart', 'with_world_model',
        params_file_argument('world_model_params_file', 'world_model.yaml',
                             'world_model_node'),
        'cmd_vel_topic', 'model_path')

    planner = package_node(
        executable='planner_node',
        namespace=arg['namespace'],
        parameters=[arg['params_file'],
                    model_path_parameters(arg['model_path'], arg['params_file']),
                    {'use_sim_time': arg['use_sim_time'], 'autostart': False}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            ('odom', arg['odom_topic']),
            ('map', arg['map_topic']),
            ('scan', arg['scan_topic']),
            # Launch passes the rule without a shell; from a shell quote it, or the
            # shell expands the ~ (see docs/composition.md).
            ('~/recommended_cmd_vel', arg['recommended_cmd_vel_topic']),
        ],
    )

    world_model = package_node(
        executable='world_model_node',
        namespace=arg['namespace'],
        parameters=[arg['world_model_params_file'],
                    model_path_parameters(arg['model_path'], arg['world_model_params_file']),
                    {'use_sim_time': arg['use_sim_time'], 'autostart': False}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            ('cmd_vel', arg['cmd_vel_topic']),
            # Models whose state holds the odometry pose (the mobile base) read it here.
            ('odom', arg['odom_topic']),
        ],
    )

    return LaunchDescription(
        arguments + lifecycle_autostart(planner, arg['autostart'])
        + lifecycle_autostart(world_model, arg['autostart'], only_if=arg['with_world_model']))
