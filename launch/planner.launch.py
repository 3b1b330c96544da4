"""Launch ``planner_node`` (and optionally ``world_model_node``) as lifecycle nodes.

Arguments:
    namespace: Namespace of both nodes (default: none).
    params_file: planner_node parameters (default: share/jepa_world_model/config/planner.yaml).
    image_topic: Camera topic remapped onto ``image`` (both nodes).
    joint_states_topic: Remapped onto ``joint_states`` (both nodes).
    odom_topic: nav_msgs/Odometry topic remapped onto the planner's ``odom`` (mobile bases).
    recommended_cmd_vel_topic: Where the planner's ``~/recommended_cmd_vel`` is published.
        The default ``cmd_vel_jepa`` drives nothing by itself: feed it to a twist_mux input
        (launch/nav2_composition.launch.py) or, in simulation only, set it to ``cmd_vel``.
    use_sim_time: Follow /clock (Gazebo, our simulator, bag replay with --clock).
    autostart: Emit configure, then activate once a node reaches inactive. Set it false
        when nav2_lifecycle_manager (or another manager) drives the transitions.
    with_world_model: Also start world_model_node (for its predicted path, trajectory and
        surprise; the planner loads its own copy of the model from ``model_path``).
    world_model_params_file: world_model_node parameters
        (default: share/jepa_world_model/config/world_model.yaml).
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
from launch.actions import (DeclareLaunchArgument, EmitEvent, GroupAction,
                            RegisterEventHandler)
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

PACKAGE = 'jepa_world_model'


def _autostart(node, autostart):
    """Return the configure event and the activate-on-inactive handler for ``node``."""
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
    return [activate, node, configure]


def generate_launch_description():
    """Declare the arguments, the lifecycle nodes and their autostart transitions."""
    namespace = LaunchConfiguration('namespace')
    params_file = LaunchConfiguration('params_file')
    image_topic = LaunchConfiguration('image_topic')
    joint_states_topic = LaunchConfiguration('joint_states_topic')
    odom_topic = LaunchConfiguration('odom_topic')
    recommended_cmd_vel_topic = LaunchConfiguration('recommended_cmd_vel_topic')
    use_sim_time = LaunchConfiguration('use_sim_time')
    autostart = LaunchConfiguration('autostart')
    with_world_model = LaunchConfiguration('with_world_model')
    world_model_params_file = LaunchConfiguration('world_model_params_file')
    cmd_vel_topic = LaunchConfiguration('cmd_vel_topic')

    config = [FindPackageShare(PACKAGE), 'config']
    arguments = [
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of planner_node and world_model_node'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution(config + ['planner.yaml']),
            description='Parameter file (ros__parameters under planner_node)'),
        DeclareLaunchArgument('image_topic', default_value='image',
                              description='Camera image topic (sensor_msgs/Image)'),
        DeclareLaunchArgument('joint_states_topic', default_value='joint_states',
                              description='sensor_msgs/JointState topic'),
        DeclareLaunchArgument('odom_topic', default_value='odom',
                              description='nav_msgs/Odometry topic (mobile bases)'),
        DeclareLaunchArgument(
            'recommended_cmd_vel_topic', default_value='cmd_vel_jepa',
            description='Topic the recommended velocity (~/recommended_cmd_vel) goes to'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='Use /clock (simulation or bag replay)'),
        DeclareLaunchArgument('autostart', default_value='true',
                              description='Configure and activate automatically'),
        DeclareLaunchArgument('with_world_model', default_value='false',
                              description='Also start world_model_node'),
        DeclareLaunchArgument(
            'world_model_params_file',
            default_value=PathJoinSubstitution(config + ['world_model.yaml']),
            description='Parameter file (ros__parameters under world_model_node)'),
        DeclareLaunchArgument('cmd_vel_topic', default_value='cmd_vel',
                              description='Executed velocity command (world model input)'),
    ]

    planner = LifecycleNode(
        package=PACKAGE,
        executable='planner_node',
        name='planner_node',
        namespace=namespace,
        output='screen',
        parameters=[params_file, {'use_sim_time': use_sim_time, 'autostart': False}],
        remappings=[
            ('image', image_topic),
            ('joint_states', joint_states_topic),
            ('odom', odom_topic),
            # Launch passes the rule without a shell; from a shell quote it, or the
            # shell expands the ~ (see docs/composition.md).
            ('~/recommended_cmd_vel', recommended_cmd_vel_topic),
        ],
    )

    world_model = LifecycleNode(
        package=PACKAGE,
        executable='world_model_node',
        name='world_model_node',
        namespace=namespace,
        output='screen',
        parameters=[world_model_params_file,
                    {'use_sim_time': use_sim_time, 'autostart': False}],
        remappings=[
            ('image', image_topic),
            ('image/compressed', [image_topic, '/compressed']),
            ('joint_states', joint_states_topic),
            ('cmd_vel', cmd_vel_topic),
        ],
    )
    # scoped=False: the group only carries the condition; nothing inside sets launch
    # configurations, and the event handler must outlive the group anyway.
    optional_world_model = GroupAction(_autostart(world_model, autostart), scoped=False,
                                       condition=IfCondition(with_world_model))

    return LaunchDescription(arguments + _autostart(planner, autostart)
                             + [optional_world_model])
