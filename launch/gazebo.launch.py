"""Run world_model_node (and optionally planner_node) against a Gazebo (gz sim) robot.

Starts ros_gz_bridge's ``parameter_bridge`` with config/gz_bridge.yaml (/clock, the camera
image and camera_info, joint states, odometry and cmd_vel) and the JEPA nodes with
``use_sim_time: true``. Gazebo and the robot model are yours: start them with your own
launch file, or pass ``world:=<file.sdf>`` to start gz sim here through ros_gz_sim's
gz_sim.launch.py (the world must contain the robot, or spawn it yourself with ros_gz_sim
``create``). Jazzy pairs with Gazebo Harmonic.

Arguments:
    namespace: Namespace of the bridge and the JEPA nodes (default: none).
    world: SDF world started with ``gz sim -r``; empty (default): do not start Gazebo.
    bridge_config: ros_gz_bridge YAML (default: share/jepa_world_model/config/gz_bridge.yaml);
        its gz topic names must match your world and model.
    image_topic, joint_states_topic, odom_topic, cmd_vel_topic: ROS side of the bridged
        topics (defaults: the ros_topic_name values of config/gz_bridge.yaml).
    world_model_params_file: world_model_node parameters.
    with_planner: Also start planner_node.
    planner_params_file: planner_node parameters.
    recommended_cmd_vel_topic: Where the planner's ``~/recommended_cmd_vel`` goes. The
        default ``cmd_vel_jepa`` moves nothing; ``cmd_vel`` lets it drive the simulated
        robot directly (no safety layer: simulation only).
    autostart: Emit configure, then activate once a node reaches inactive.

Example:
    ros2 launch jepa_world_model gazebo.launch.py world:=my_robot_world.sdf with_planner:=true
"""

from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, GroupAction,
                            IncludeLaunchDescription, RegisterEventHandler)
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import LifecycleNode, Node
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
    """Declare the arguments, the optional gz sim, the bridge and the JEPA nodes."""
    namespace = LaunchConfiguration('namespace')
    world = LaunchConfiguration('world')
    bridge_config = LaunchConfiguration('bridge_config')
    image_topic = LaunchConfiguration('image_topic')
    joint_states_topic = LaunchConfiguration('joint_states_topic')
    odom_topic = LaunchConfiguration('odom_topic')
    cmd_vel_topic = LaunchConfiguration('cmd_vel_topic')
    world_model_params_file = LaunchConfiguration('world_model_params_file')
    with_planner = LaunchConfiguration('with_planner')
    planner_params_file = LaunchConfiguration('planner_params_file')
    recommended_cmd_vel_topic = LaunchConfiguration('recommended_cmd_vel_topic')
    autostart = LaunchConfiguration('autostart')

    config = [FindPackageShare(PACKAGE), 'config']
    arguments = [
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the bridge and the JEPA nodes'),
        DeclareLaunchArgument('world', default_value='',
                              description='SDF world to start gz sim with; empty: none'),
        DeclareLaunchArgument(
            'bridge_config',
            default_value=PathJoinSubstitution(config + ['gz_bridge.yaml']),
            description='ros_gz_bridge configuration (config_file)'),
        DeclareLaunchArgument('image_topic', default_value='camera/image_raw',
                              description='Bridged camera image (sensor_msgs/Image)'),
        DeclareLaunchArgument('joint_states_topic', default_value='joint_states',
                              description='Bridged sensor_msgs/JointState'),
        DeclareLaunchArgument('odom_topic', default_value='odom',
                              description='Bridged nav_msgs/Odometry'),
        DeclareLaunchArgument('cmd_vel_topic', default_value='cmd_vel',
                              description='Velocity command bridged to Gazebo'),
        DeclareLaunchArgument(
            'world_model_params_file',
            default_value=PathJoinSubstitution(config + ['world_model.yaml']),
            description='Parameter file (ros__parameters under world_model_node)'),
        DeclareLaunchArgument('with_planner', default_value='false',
                              description='Also start planner_node'),
        DeclareLaunchArgument(
            'planner_params_file',
            default_value=PathJoinSubstitution(config + ['planner.yaml']),
            description='Parameter file (ros__parameters under planner_node)'),
        DeclareLaunchArgument(
            'recommended_cmd_vel_topic', default_value='cmd_vel_jepa',
            description='Topic the recommended velocity (~/recommended_cmd_vel) goes to'),
        DeclareLaunchArgument('autostart', default_value='true',
                              description='Configure and activate automatically'),
    ]

    gz_sim = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare('ros_gz_sim'), 'launch',
                                  'gz_sim.launch.py'])),
        launch_arguments={'gz_args': ['-r ', world]}.items(),
        condition=IfCondition(PythonExpression(["'", world, "' != ''"])))

    bridge = Node(
        package='ros_gz_bridge',
        executable='parameter_bridge',
        name='jepa_gz_bridge',
        namespace=namespace,
        output='screen',
        parameters=[{'config_file': bridge_config}],
    )

    world_model = LifecycleNode(
        package=PACKAGE,
        executable='world_model_node',
        name='world_model_node',
        namespace=namespace,
        output='screen',
        parameters=[world_model_params_file, {'use_sim_time': True, 'autostart': False}],
        remappings=[
            ('image', image_topic),
            ('image/compressed', [image_topic, '/compressed']),
            ('joint_states', joint_states_topic),
            ('cmd_vel', cmd_vel_topic),
        ],
    )

    planner = LifecycleNode(
        package=PACKAGE,
        executable='planner_node',
        name='planner_node',
        namespace=namespace,
        output='screen',
        parameters=[planner_params_file, {'use_sim_time': True, 'autostart': False}],
        remappings=[
            ('image', image_topic),
            ('joint_states', joint_states_topic),
            ('odom', odom_topic),
            ('~/recommended_cmd_vel', recommended_cmd_vel_topic),
        ],
    )
    optional_planner = GroupAction(_autostart(planner, autostart), scoped=False,
                                   condition=IfCondition(with_planner))

    return LaunchDescription(arguments + [gz_sim, bridge] + _autostart(world_model, autostart)
                             + [optional_planner])
