"""Launch ``world_model_node`` as a lifecycle node, optionally driving it to active.

Arguments:
    namespace: Namespace of the node (default: none).
    params_file: Parameter YAML (default: share/jepa_world_model/config/ros/world_model.yaml).
    model_path: Model checkpoint (.safetensors) the node loads; empty (default): the
        parameter file's ``model_path``. Switches the model without a copy of the file.
    image_topic: Camera topic remapped onto ``image`` (``<image_topic>/compressed`` onto
        ``image/compressed`` when the node's ``image_transport`` is ``compressed``).
    joint_states_topic: Remapped onto ``joint_states``.
    cmd_vel_topic: Remapped onto ``cmd_vel`` (twist action sources).
    odom_topic: Remapped onto ``odom`` (nav_msgs/Odometry; used by models whose state holds
        the odometry pose, such as the shipped mobile-base model).
    use_sim_time: Follow /clock (Gazebo, our simulator, bag replay with --clock).
    autostart: Emit configure, then activate once the node reaches inactive. Set it false
        when nav2_lifecycle_manager (or another manager) drives the transitions.

Example:
    ros2 launch jepa_world_model world_model.launch.py image_topic:=/camera/image_raw \
        joint_states_topic:=/joint_states use_sim_time:=true

The transitions use the event API that Humble and Jazzy share (``EmitEvent(ChangeState)``
plus ``RegisterEventHandler(OnStateTransition)``), not ``LifecycleNode(autostart=...)``, which
only newer launch_ros releases have (``lifecycle_autostart`` in
jepa_world_model/launch_support.py). The node's own ``autostart`` parameter is forced to false
here, so exactly one party (this launch file or a lifecycle manager) drives the transitions.
A node not active 60 s after its start gets an error in the launch log.
"""

from launch import LaunchDescription

from jepa_world_model.launch_support import (camera_remappings, launch_arguments,
                                             lifecycle_autostart, model_path_parameters,
                                             package_node, params_file_argument)


def generate_launch_description():
    """Declare the arguments, the lifecycle node and the autostart transitions."""
    arguments, arg = launch_arguments(
        ('namespace', '', 'Namespace of world_model_node'),
        params_file_argument('params_file', 'world_model.yaml', 'world_model_node'),
        'image_topic', 'joint_states_topic', 'cmd_vel_topic', 'odom_topic', 'use_sim_time',
        'autostart', 'model_path')

    node = package_node(
        executable='world_model_node',
        namespace=arg['namespace'],
        # The node's own autostart stays off: exactly one party (the events below or a
        # lifecycle manager) drives the transitions.
        parameters=[arg['params_file'],
                    model_path_parameters(arg['model_path'], arg['params_file']),
                    {'use_sim_time': arg['use_sim_time'], 'autostart': False}],
        remappings=camera_remappings(arg['image_topic']) + [
            ('joint_states', arg['joint_states_topic']),
            ('cmd_vel', arg['cmd_vel_topic']),
            ('odom', arg['odom_topic']),
        ],
    )

    return LaunchDescription(arguments + lifecycle_autostart(node, arg['autostart']))
