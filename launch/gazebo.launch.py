"""Run world_model_node (and optionally planner_node) against a Gazebo (gz sim) robot.

Starts ros_gz_bridge's ``parameter_bridge`` with config/ros/gz_bridge.yaml (/clock, the camera
image and camera_info, joint states, odometry, the lidar scan and cmd_vel) and the JEPA nodes with
``use_sim_time: true``. Gazebo and the robot model are yours: start them with your own
launch file, or pass ``world:=<file.sdf>`` to start gz sim here through ros_gz_sim's
gz_sim.launch.py (the world must contain the robot, or spawn it yourself with ros_gz_sim
``create``). Jazzy pairs with Gazebo Harmonic.

Arguments:
    namespace: Namespace of the bridge and the JEPA nodes (default: none).
    world: SDF world started with ``gz sim -r``; empty (default): do not start Gazebo.
    bridge_config: ros_gz_bridge YAML (default: share/jepa_world_model/config/ros/gz_bridge.yaml);
        its gz topic names must match your world and model.
    image_topic, joint_states_topic, odom_topic, scan_topic, cmd_vel_topic: ROS side of the
        bridged topics (defaults: the ros_topic_name values of config/ros/gz_bridge.yaml).
    world_model_params_file: world_model_node parameters.
    with_planner: Also start planner_node.
    planner_params_file: planner_node parameters.
    model_path: Model checkpoint (.safetensors) that planner_node and world_model_node
        load; empty (default): the ``model_path`` of their parameter files.
    recommended_cmd_vel_topic: Where the planner's ``~/recommended_cmd_vel`` goes. The
        default ``cmd_vel_jepa`` moves nothing; ``cmd_vel`` lets it drive the simulated
        robot directly (no safety layer: simulation only).
    autostart: Emit configure, then activate once a node reaches inactive.

ros_gz_bridge (and ros_gz_sim with ``world``) must be installed; when one is missing, the
launch stops with an error naming it before any node starts.

Example:
    ros2 launch jepa_world_model gazebo.launch.py world:=my_robot_world.sdf with_planner:=true
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch_ros.actions import Node

from jepa_world_model.launch_support import (camera_remappings, launch_arguments,
                                             lifecycle_autostart, model_path_parameters,
                                             package_config, package_node, params_file_argument,
                                             start_after_package_check)


def generate_launch_description():
    """Declare the arguments, the optional gz sim, the bridge and the JEPA nodes."""
    arguments, arg = launch_arguments(
        ('namespace', '', 'Namespace of the bridge and the JEPA nodes'),
        ('world', '', 'SDF world to start gz sim with; empty: none'),
        ('bridge_config', package_config('gz_bridge.yaml'),
         'ros_gz_bridge configuration (config_file)'),
        ('image_topic', 'camera/image_raw', 'Bridged camera image (sensor_msgs/Image)'),
        ('joint_states_topic', 'joint_states', 'Bridged sensor_msgs/JointState'),
        ('odom_topic', 'odom', 'Bridged nav_msgs/Odometry'),
        ('scan_topic', 'scan', 'Bridged sensor_msgs/LaserScan (planner obstacle term)'),
        ('cmd_vel_topic', 'cmd_vel', 'Velocity command bridged to Gazebo'),
        params_file_argument('world_model_params_file', 'world_model.yaml',
                             'world_model_node'),
        ('with_planner', 'false', 'Also start planner_node'),
        params_file_argument('planner_params_file', 'planner.yaml', 'planner_node'),
        'recommended_cmd_vel_topic', 'autostart', 'model_path')
    world = arg['world']

    # ros_gz_sim is needed (and looked up) only when a world is given.
    def required_packages(context):
        return ['ros_gz_bridge'] + (['ros_gz_sim'] if world.perform(context) else [])

    def gz_sim(context):
        if not world.perform(context):
            return []
        return [IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(
                get_package_share_directory('ros_gz_sim'), 'launch', 'gz_sim.launch.py')),
            launch_arguments={'gz_args': ['-r ', world]}.items())]

    bridge = Node(
        package='ros_gz_bridge',
        executable='parameter_bridge',
        name='jepa_gz_bridge',
        namespace=arg['namespace'],
        output='screen',
        parameters=[{'config_file': arg['bridge_config']}],
    )

    world_model = package_node(
        executable='world_model_node',
        namespace=arg['namespace'],
        parameters=[arg['world_model_params_file'],
                    model_path_parameters(arg['model_path'], arg['world_model_params_file']),
                    {'use_sim_time': True, 'autostart': False}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            ('cmd_vel', arg['cmd_vel_topic']),
            # Models whose state holds the odometry pose (the mobile base) read it here.
            ('odom', arg['odom_topic']),
        ],
    )

    planner = package_node(
        executable='planner_node',
        namespace=arg['namespace'],
        parameters=[arg['planner_params_file'],
                    model_path_parameters(arg['model_path'], arg['planner_params_file']),
                    {'use_sim_time': True, 'autostart': False}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            ('odom', arg['odom_topic']),
            ('scan', arg['scan_topic']),
            ('~/recommended_cmd_vel', arg['recommended_cmd_vel_topic']),
        ],
    )

    # Every process starts after the package check: a missing package stops the launch
    # before any node runs.
    nodes = ([bridge] + lifecycle_autostart(world_model, arg['autostart'])
             + lifecycle_autostart(planner, arg['autostart'], only_if=arg['with_planner']))
    return LaunchDescription(arguments + [start_after_package_check(
        required_packages, lambda context: gz_sim(context) + nodes, 'gazebo.launch.py')])
