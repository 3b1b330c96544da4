"""Launch ``world_model_node`` as a lifecycle node, optionally driving it to active.

Arguments:
    namespace: Namespace of the node (default: none).
    params_file: Parameter YAML (default: share/jepa_world_model/config/world_model.yaml).
    image_topic: Camera topic remapped onto ``image`` (``<image_topic>/compressed`` onto
        ``image/compressed`` when the node's ``image_transport`` is ``compressed``).
    joint_states_topic: Remapped onto ``joint_states``.
    cmd_vel_topic: Remapped onto ``cmd_vel`` (twist action sources).
    use_sim_time: Follow /clock (Gazebo, our simulator, bag replay with --clock).
    autostart: Emit configure, then activate once the node reaches inactive. Set it false
        when nav2_lifecycle_manager (or another manager) drives the transitions.

Example:
    ros2 launch jepa_world_model world_model.launch.py image_topic:=/camera/image_raw \
        joint_states_topic:=/joint_states use_sim_time:=true

The transitions use the event API that Humble and Jazzy share (``EmitEvent(ChangeState)``
plus ``RegisterEventHandler(OnStateTransition)``), not ``LifecycleNode(autostart=...)``, which
only newer launch_ros releases have.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

PACKAGE = 'jepa_world_model'


def generate_launch_description():
    """Declare the arguments, the lifecycle node and the autostart transitions."""
    namespace = LaunchConfiguration('namespace')
    params_file = LaunchConfiguration('params_file')
    image_topic = LaunchConfiguration('image_topic')
    joint_states_topic = LaunchConfiguration('joint_states_topic')
    cmd_vel_topic = LaunchConfiguration('cmd_vel_topic')
    use_sim_time = LaunchConfiguration('use_sim_time')
    autostart = LaunchConfiguration('autostart')

    arguments = [
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of world_model_node'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), 'config',
                                                'world_model.yaml']),
            description='Parameter file (ros__parameters under world_model_node)'),
        DeclareLaunchArgument('image_topic', default_value='image',
                              description='Camera image topic (sensor_msgs/Image)'),
        DeclareLaunchArgument('joint_states_topic', default_value='joint_states',
                              description='sensor_msgs/JointState topic'),
        DeclareLaunchArgument('cmd_vel_topic', default_value='cmd_vel',
                              description='Velocity command topic (twist action sources)'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='Use /clock (simulation or bag replay)'),
        DeclareLaunchArgument('autostart', default_value='true',
                              description='Configure and activate automatically'),
    ]

    node = LifecycleNode(
        package=PACKAGE,
        executable='world_model_node',
        name='world_model_node',
        namespace=namespace,
        output='screen',
        parameters=[params_file, {'use_sim_time': use_sim_time}],
        remappings=[
            ('image', image_topic),
            ('image/compressed', [image_topic, '/compressed']),
            ('joint_states', joint_states_topic),
            ('cmd_vel', cmd_vel_topic),
        ],
    )

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

    return LaunchDescription(arguments + [activate, node, configure])
