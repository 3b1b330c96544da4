"""Drive a torque-controlled ros2_control arm with planner_node through a
forward_effort_controller (``effort_controllers/JointGroupEffortController``).

The robot itself is yours: this file does not start ros2_control_node, robot_state_publisher
or a simulator, and needs a running controller_manager whose robot_description has joint1,
joint2 and joint3 with an ``effort`` command interface (load
config/ros/ros2_control_effort_arm.yaml into your ros2_control_node, or copy its
controller_manager section into your own controllers file). It starts:

* ``spawner`` for joint_state_broadcaster and forward_effort_controller, each with
  ``--param-file config/ros/ros2_control_effort_arm.yaml`` (skip with
  ``spawn_controllers:=false`` when your bringup spawns them already);
* planner_node with ``command_interface: effort`` and ``output: float64_multi_array``
  (config/ros/planner_effort_arm.yaml): its ``~/recommended_commands`` (torques in N m,
  ordered as the controller's ``joints``) is remapped to
  ``/forward_effort_controller/commands`` and it reads the broadcaster's ``/joint_states``;
* optionally world_model_node, taking the same torques as its action
  (``action_source: float64_multi_array``; your model with ``model_path:=...``).

Arguments:
    namespace: Namespace of planner_node and world_model_node (default: none).
    params_file: planner_node parameters (default: config/ros/planner_effort_arm.yaml).
    model_path: Model checkpoint (.safetensors) that planner_node and world_model_node
        load; empty (default): the ``model_path`` of their parameter files.
    controllers_file: Controller parameters (default: config/ros/ros2_control_effort_arm.yaml).
    controller_manager: Full name of the controller_manager node.
    spawn_controllers: Spawn joint_state_broadcaster and forward_effort_controller.
    commands_topic: forward_effort_controller's command topic.
    joint_states_topic: joint_state_broadcaster's output.
    image_topic: Camera image topic (sensor_msgs/Image).
    use_sim_time: Follow /clock (Gazebo with gz_ros2_control).
    autostart: Emit configure, then activate once a node reaches inactive.
    with_world_model: Also start world_model_node.
    world_model_params_file: world_model_node parameters.

With ``spawn_controllers``, controller_manager (its ``spawner``) must be installed; when it
is missing, the launch stops with an error naming it before any node starts.

Example:
    ros2 launch jepa_world_model ros2_control_effort_arm.launch.py \\
        image_topic:=/camera/image_raw model_path:=runs/my_arm/checkpoint.safetensors
"""

from launch import LaunchDescription
from launch.conditions import IfCondition
from launch_ros.actions import Node

from jepa_world_model.launch_support import (camera_remappings, launch_arguments,
                                             lifecycle_autostart, model_path_parameters,
                                             package_config, package_node, params_file_argument,
                                             start_after_package_check)


def generate_launch_description():
    """Declare the arguments, the controller spawners and the lifecycle nodes."""
    arguments, arg = launch_arguments(
        ('namespace', '', 'Namespace of planner_node and world_model_node'),
        params_file_argument('params_file', 'planner_effort_arm.yaml', 'planner_node'),
        ('controllers_file', package_config('ros2_control_effort_arm.yaml'),
         'Controller parameters passed to the spawners (--param-file)'),
        ('controller_manager', '/controller_manager', 'Full name of the controller_manager node'),
        ('spawn_controllers', 'true', 'Spawn the broadcaster and the effort controller'),
        ('commands_topic', '/forward_effort_controller/commands',
         'std_msgs/Float64MultiArray command topic of the controller (N m per joint)'),
        ('joint_states_topic', '/joint_states', 'joint_state_broadcaster output'),
        'image_topic', 'use_sim_time', 'autostart', 'with_world_model',
        params_file_argument('world_model_params_file', 'world_model.yaml',
                             'world_model_node'),
        'model_path')

    # One spawner per controller: Humble's spawner takes a single controller name.
    spawners = [
        Node(
            package='controller_manager',
            executable='spawner',
            output='screen',
            arguments=[controller, '--controller-manager', arg['controller_manager'],
                       '--param-file', arg['controllers_file']],
            parameters=[{'use_sim_time': arg['use_sim_time']}],
            condition=IfCondition(arg['spawn_controllers']),
        )
        for controller in ('joint_state_broadcaster', 'forward_effort_controller')
    ]

    planner = package_node(
        executable='planner_node',
        namespace=arg['namespace'],
        parameters=[arg['params_file'],
                    model_path_parameters(arg['model_path'], arg['params_file']),
                    {'use_sim_time': arg['use_sim_time'], 'autostart': False,
                     'command_interface': 'effort', 'output': 'float64_multi_array'}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            ('~/recommended_commands', arg['commands_topic']),
        ],
    )

    world_model = package_node(
        executable='world_model_node',
        namespace=arg['namespace'],
        parameters=[arg['world_model_params_file'],
                    model_path_parameters(arg['model_path'], arg['world_model_params_file']),
                    {'use_sim_time': arg['use_sim_time'], 'autostart': False,
                     'action_source': 'float64_multi_array'}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            ('commands', arg['commands_topic']),
        ],
    )

    spawn = IfCondition(arg['spawn_controllers'])

    def required_packages(context):
        return ['controller_manager'] if spawn.evaluate(context) else []

    # Every process starts after the package check: a missing package stops the launch
    # before any node runs.
    nodes = (spawners + lifecycle_autostart(planner, arg['autostart'])
             + lifecycle_autostart(world_model, arg['autostart'],
                                   only_if=arg['with_world_model']))
    return LaunchDescription(arguments + [start_after_package_check(
        required_packages, nodes, 'ros2_control_effort_arm.launch.py')])
