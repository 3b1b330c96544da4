"""Drive a ros2_control arm with planner_node through joint_trajectory_controller.

The robot itself is yours: this file does not start ros2_control_node, robot_state_publisher
or a simulator, and needs a running controller_manager whose robot_description has
joint1, joint2 and joint3 with a ``position`` command interface (load
config/ros2_control_arm.yaml into your ros2_control_node, or copy its controller_manager
section into your own controllers file). It starts:

* ``spawner`` for joint_state_broadcaster and joint_trajectory_controller, each with
  ``--param-file config/ros2_control_arm.yaml`` (skip with ``spawn_controllers:=false``
  when your bringup spawns them already);
* planner_node with ``output: joint_trajectory``: its ``~/recommended_joint_trajectory``
  is remapped to ``/joint_trajectory_controller/joint_trajectory`` and it reads the
  broadcaster's ``/joint_states``;
* optionally world_model_node, taking the same trajectories as its action
  (``action_source: joint_trajectory``; set ``action_trajectory_field`` and
  ``model_path`` for your model in ``world_model_params_file``).

Arguments:
    namespace: Namespace of planner_node and world_model_node (default: none).
    params_file: planner_node parameters (default: share/jepa_world_model/config/planner.yaml).
    controllers_file: Controller parameters (default: config/ros2_control_arm.yaml).
    controller_manager: Full name of the controller_manager node.
    spawn_controllers: Spawn joint_state_broadcaster and joint_trajectory_controller.
    trajectory_topic: joint_trajectory_controller's command topic.
    joint_states_topic: joint_state_broadcaster's output.
    image_topic: Camera image topic (sensor_msgs/Image).
    use_sim_time: Follow /clock (Gazebo with gz_ros2_control).
    autostart: Emit configure, then activate once a node reaches inactive.
    with_world_model: Also start world_model_node.
    world_model_params_file: world_model_node parameters.

Example:
    ros2 launch jepa_world_model ros2_control_arm.launch.py image_topic:=/camera/image_raw
"""

from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, GroupAction,
                            RegisterEventHandler)
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
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
    """Declare the arguments, the controller spawners and the lifecycle nodes."""
    namespace = LaunchConfiguration('namespace')
    params_file = LaunchConfiguration('params_file')
    controllers_file = LaunchConfiguration('controllers_file')
    controller_manager = LaunchConfiguration('controller_manager')
    spawn_controllers = LaunchConfiguration('spawn_controllers')
    trajectory_topic = LaunchConfiguration('trajectory_topic')
    joint_states_topic = LaunchConfiguration('joint_states_topic')
    image_topic = LaunchConfiguration('image_topic')
    use_sim_time = LaunchConfiguration('use_sim_time')
    autostart = LaunchConfiguration('autostart')
    with_world_model = LaunchConfiguration('with_world_model')
    world_model_params_file = LaunchConfiguration('world_model_params_file')

    config = [FindPackageShare(PACKAGE), 'config']
    arguments = [
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of planner_node and world_model_node'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution(config + ['planner.yaml']),
            description='Parameter file (ros__parameters under planner_node)'),
        DeclareLaunchArgument(
            'controllers_file',
            default_value=PathJoinSubstitution(config + ['ros2_control_arm.yaml']),
            description='Controller parameters passed to the spawners (--param-file)'),
        DeclareLaunchArgument('controller_manager', default_value='/controller_manager',
                              description='Full name of the controller_manager node'),
        DeclareLaunchArgument('spawn_controllers', default_value='true',
                              description='Spawn the broadcaster and trajectory controller'),
        DeclareLaunchArgument(
            'trajectory_topic', default_value='/joint_trajectory_controller/joint_trajectory',
            description='trajectory_msgs/JointTrajectory command topic of the controller'),
        DeclareLaunchArgument('joint_states_topic', default_value='/joint_states',
                              description='joint_state_broadcaster output'),
        DeclareLaunchArgument('image_topic', default_value='image',
                              description='Camera image topic (sensor_msgs/Image)'),
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
    ]

    # One spawner per controller: Humble's spawner takes a single controller name.
    spawners = [
        Node(
            package='controller_manager',
            executable='spawner',
            output='screen',
            arguments=[controller, '--controller-manager', controller_manager,
                       '--param-file', controllers_file],
            parameters=[{'use_sim_time': use_sim_time}],
            condition=IfCondition(spawn_controllers),
        )
        for controller in ('joint_state_broadcaster', 'joint_trajectory_controller')
    ]

    planner = LifecycleNode(
        package=PACKAGE,
        executable='planner_node',
        name='planner_node',
        namespace=namespace,
        output='screen',
        parameters=[params_file, {'use_sim_time': use_sim_time, 'autostart': False,
                                  'output': 'joint_trajectory'}],
        remappings=[
            ('image', image_topic),
            ('joint_states', joint_states_topic),
            ('~/recommended_joint_trajectory', trajectory_topic),
        ],
    )

    world_model = LifecycleNode(
        package=PACKAGE,
        executable='world_model_node',
        name='world_model_node',
        namespace=namespace,
        output='screen',
        parameters=[world_model_params_file,
                    {'use_sim_time': use_sim_time, 'autostart': False,
                     'action_source': 'joint_trajectory'}],
        remappings=[
            ('image', image_topic),
            ('image/compressed', [image_topic, '/compressed']),
            ('joint_states', joint_states_topic),
            ('joint_trajectory', trajectory_topic),
        ],
    )
    optional_world_model = GroupAction(_autostart(world_model, autostart), scoped=False,
                                       condition=IfCondition(with_world_model))

    return LaunchDescription(arguments + spawners + _autostart(planner, autostart)
                             + [optional_world_model])
