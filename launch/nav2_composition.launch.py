"""Plug planner_node into a running Nav2 stack through twist_mux, in front of collision_monitor.

This file does not start Nav2. Launch it next to your own nav2_bringup (same namespace,
same use_sim_time). It starts:

* planner_node (and optionally world_model_node), managed by a nav2_lifecycle_manager
  instance of their own, ``lifecycle_manager_jepa``, with bond disabled;
* twist_mux with config/ros/twist_mux_jepa.yaml: Nav2's ``cmd_vel_smoothed`` (priority 10),
  the planner's recommendation (priority 50, stale after 0.3 s) and teleop (priority
  100) in, the winner out on ``mux_output_topic``;
* optionally (``with_collision_monitor``) a collision_monitor reading
  ``mux_output_topic``, for bringups that do not run one. Otherwise set
  ``cmd_vel_in_topic: cmd_vel_mux`` in the collision_monitor section of your Nav2 params
  file, so that the safety layer stays the last node before the base:

    controller_server -> velocity_smoother -> cmd_vel_smoothed -+
    planner_node ~/recommended_cmd_vel -> cmd_vel_jepa ---------+-> twist_mux -> cmd_vel_mux
    teleop -> cmd_vel_teleop -----------------------------------+
    cmd_vel_mux -> collision_monitor -> cmd_vel -> base controller

Arguments:
    namespace: Namespace of every node started here; use Nav2's.
    use_sim_time: Follow /clock.
    autostart: lifecycle_manager_jepa configures and activates its nodes at startup.
    params_file: planner_node parameters (default: share/jepa_world_model/config/ros/planner.yaml).
    with_world_model: Also start (and manage) world_model_node.
    world_model_params_file: world_model_node parameters.
    model_path: Model checkpoint (.safetensors) that planner_node and world_model_node
        load; empty (default): the ``model_path`` of their parameter files.
    twist_mux_params_file: twist_mux parameters (default: config/ros/twist_mux_jepa.yaml).
    image_topic, joint_states_topic, odom_topic: Inputs of the planner (and world model).
    map_topic: The static map (map_server's ``map``) the planner scores pose goals on; in
        the planner's ``path_frame_id``, or in ``map`` where tf2_ros gives ``map -> odom``
        (rotated or not; placed again as localisation corrects it: docs/planner.md, Frames).
    scan_topic: The base's sensor_msgs/LaserScan for the planner's obstacle term
        (``obstacle_weight``; the scanner's pose on the base from TF, else ``scan_mount``).
    recommended_cmd_vel_topic: Where ``~/recommended_cmd_vel`` goes; must be the topic of
        twist_mux's ``jepa_planner`` input.
    mux_output_topic: twist_mux output; collision_monitor's ``cmd_vel_in_topic``.
    use_twist_stamped: TwistStamped instead of Twist for the planner and twist_mux (must
        match Nav2's ``enable_stamped_cmd_vel``).
    with_collision_monitor: Start a collision_monitor here (not when Nav2 runs one).
    collision_monitor_params_file: Its parameters (polygons, observation sources); empty
        (default): nav2_bringup's params/nav2_params.yaml.
    cmd_vel_out_topic: Its output to the base.

twist_mux and nav2_lifecycle_manager (with ``with_collision_monitor``: also
nav2_collision_monitor, and nav2_bringup for the default parameters) must be installed.
When one is missing, the launch stops with an error naming it before any node starts.

Example (next to ``ros2 launch nav2_bringup navigation_launch.py params_file:=...``):
    ros2 launch jepa_world_model nav2_composition.launch.py \
        image_topic:=/camera/image_raw odom_topic:=/odom use_sim_time:=true
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.conditions import IfCondition, UnlessCondition
from launch_ros.actions import Node

from jepa_world_model.launch_support import (camera_remappings, launch_arguments,
                                             model_path_parameters, package_config, package_node,
                                             params_file_argument, start_after_package_check)

# Packages of the nodes started here (nav2_collision_monitor and nav2_bringup only with
# with_collision_monitor:=true), checked before anything starts.
ALWAYS_REQUIRED = ('twist_mux', 'nav2_lifecycle_manager')


def generate_launch_description():
    """Declare the arguments, the JEPA nodes, twist_mux and the lifecycle managers."""
    arguments, arg = launch_arguments(
        ('namespace', '', 'Namespace of all nodes (use the Nav2 one)'),
        'use_sim_time',
        ('autostart', 'true', 'lifecycle_manager_jepa activates its nodes'),
        params_file_argument('params_file', 'planner.yaml', 'planner_node'),
        'with_world_model',
        params_file_argument('world_model_params_file', 'world_model.yaml',
                             'world_model_node'),
        ('twist_mux_params_file', package_config('twist_mux_jepa.yaml'),
         'twist_mux topics/locks (ros__parameters under twist_mux)'),
        'image_topic', 'joint_states_topic', 'odom_topic', 'map_topic', 'scan_topic',
        ('recommended_cmd_vel_topic', 'cmd_vel_jepa',
         "Planner recommendation; twist_mux's jepa_planner input topic"),
        ('mux_output_topic', 'cmd_vel_mux',
         "twist_mux output = collision_monitor's cmd_vel_in_topic"),
        ('use_twist_stamped', 'false', 'TwistStamped on planner and twist_mux'),
        ('with_collision_monitor', 'false', 'Start a collision_monitor after twist_mux'),
        # Empty: nav2_bringup's params/nav2_params.yaml, looked up only when a
        # collision_monitor is started (a default is evaluated even when unused).
        ('collision_monitor_params_file', '',
         "collision_monitor parameters (empty: nav2_bringup's params/nav2_params.yaml)"),
        ('cmd_vel_out_topic', 'cmd_vel', 'collision_monitor output to the base'),
        'model_path')
    namespace = arg['namespace']
    use_sim_time = arg['use_sim_time']

    # Managed nodes are plain Nodes: lifecycle_manager_jepa drives their transitions
    # through the <node>/change_state services, and their own autostart stays off.
    planner = package_node(
        executable='planner_node',
        lifecycle=False,
        namespace=namespace,
        parameters=[arg['params_file'],
                    model_path_parameters(arg['model_path'], arg['params_file']),
                    {'use_sim_time': use_sim_time, 'autostart': False, 'output': 'cmd_vel',
                     'use_twist_stamped': arg['use_twist_stamped']}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            ('odom', arg['odom_topic']),
            ('map', arg['map_topic']),
            ('scan', arg['scan_topic']),
            ('~/recommended_cmd_vel', arg['recommended_cmd_vel_topic']),
        ],
    )
    world_model = package_node(
        executable='world_model_node',
        lifecycle=False,
        namespace=namespace,
        parameters=[arg['world_model_params_file'],
                    model_path_parameters(arg['model_path'], arg['world_model_params_file']),
                    {'use_sim_time': use_sim_time, 'autostart': False}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            # Models whose state holds the odometry pose (the mobile base) read it here.
            ('odom', arg['odom_topic']),
            # The world model conditions on what the base really executed.
            ('cmd_vel', arg['cmd_vel_out_topic']),
        ],
        condition=IfCondition(arg['with_world_model']),
    )

    # A nav2_lifecycle_manager that configures and activates node_names, in order.
    # bond=False (bond_timeout 0.0) turns bonding off for that manager only. After
    # activating a node, nav2_lifecycle_manager waits for a bond heartbeat from it and, with
    # bonding on, fails the bringup for nodes that never send one. planner_node and
    # world_model_node are rclpy lifecycle nodes without a bond, so they get a manager of
    # their own and Nav2's managers keep their bonds. Without a bond, a crashed node is not
    # detected by the manager; twist_mux's timeout still hands the base back to Nav2.
    def lifecycle_manager(name, node_names, condition=None, bond=True):
        return Node(
            package='nav2_lifecycle_manager',
            executable='lifecycle_manager',
            name=name,
            namespace=namespace,
            output='screen',
            parameters=[{'use_sim_time': use_sim_time, 'autostart': arg['autostart'],
                         'node_names': node_names, **({} if bond else {'bond_timeout': 0.0})}],
            condition=condition,
        )

    # The planner is activated last: it only starts recommending once the rest is up.
    with_world_model = arg['with_world_model']
    managers = [
        lifecycle_manager('lifecycle_manager_jepa', ['world_model_node', 'planner_node'],
                          IfCondition(with_world_model), bond=False),
        lifecycle_manager('lifecycle_manager_jepa', ['planner_node'],
                          UnlessCondition(with_world_model), bond=False),
    ]

    twist_mux = Node(
        package='twist_mux',
        executable='twist_mux',
        name='twist_mux',
        namespace=namespace,
        output='screen',
        parameters=[arg['twist_mux_params_file'],
                    {'use_sim_time': use_sim_time, 'use_stamped': arg['use_twist_stamped']}],
        remappings=[('cmd_vel_out', arg['mux_output_topic'])],
    )

    # Only for bringups without a collision_monitor (Humble's nav2_bringup, custom stacks).
    # Nav2 nodes do bond, so this one gets a normally bonded manager.
    with_collision_monitor = IfCondition(arg['with_collision_monitor'])
    collision_monitor_params = arg['collision_monitor_params_file']

    def required_packages(context):
        packages = list(ALWAYS_REQUIRED)
        if with_collision_monitor.evaluate(context):
            packages.append('nav2_collision_monitor')
            if not collision_monitor_params.perform(context):
                packages.append('nav2_bringup')
        return packages

    def safety_layer(context):
        if not with_collision_monitor.evaluate(context):
            return []
        params_file = collision_monitor_params.perform(context) or os.path.join(
            get_package_share_directory('nav2_bringup'), 'params', 'nav2_params.yaml')
        collision_monitor = Node(
            package='nav2_collision_monitor',
            executable='collision_monitor',
            name='collision_monitor',
            namespace=namespace,
            output='screen',
            parameters=[params_file,
                        {'use_sim_time': use_sim_time,
                         'cmd_vel_in_topic': arg['mux_output_topic'],
                         'cmd_vel_out_topic': arg['cmd_vel_out_topic']}],
        )
        return [collision_monitor,
                lifecycle_manager('lifecycle_manager_jepa_safety', ['collision_monitor'])]

    # Every process starts inside the check: a missing package stops the launch before
    # any node runs, so none is left behind.
    return LaunchDescription(arguments + [start_after_package_check(
        required_packages,
        lambda context: [planner, world_model, twist_mux] + managers + safety_layer(context),
        'nav2_composition.launch.py')])
