"""The RViz config and the Foxglove layout shipped in the package cannot silently rot.

``rviz/jepa_world_model.rviz`` and ``foxglove/jepa_world_model.json`` name topics; each must be
one that ``world_model_node`` or ``planner_node`` publishes or subscribes with its default
names (root namespace, no remapping), read from the nodes themselves after configure and
activate with each shipped model (the arm's and the mobile base's). Each display or panel
must show a message type it can draw, and each plotted field must exist in that type
(test_package_files.py checks that setup.py installs both files).
"""

import json
from pathlib import Path

import pytest
import yaml

try:
    import rclpy
    from rclpy.context import Context
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter

    from jepa_world_model.ros.planner.node import PlannerNode
    from jepa_world_model.ros.world_model.node import WorldModelNode
except ImportError:   # marked ros: conftest skips (or with JWM_REQUIRE_ROS=1 fails) them
    pass

pytestmark = pytest.mark.ros

ROOT = Path(__file__).resolve().parents[1]
RVIZ = ROOT / 'rviz' / 'jepa_world_model.rviz'
FOXGLOVE = ROOT / 'foxglove' / 'jepa_world_model.json'
MODELS = ROOT / 'models'
BASE = {'action_fields': ['linear.x', 'angular.z'], 'path_frame_id': 'odom'}
#: (node class, parameters) per shipped model; small searches keep configure quick.
SEARCH = {'num_samples': 16, 'num_elites': 4, 'num_iterations': 1, 'max_plan_time': 1.0}
RUNS = [
    ('world_model', {'model_path': 'arm_tiny.safetensors',
                     'action_source': 'float64_multi_array'}),
    ('world_model', {'model_path': 'mobile_base_tiny.safetensors', **BASE}),
    ('planner', {'model_path': 'arm_tiny.safetensors', 'output': 'float64_multi_array',
                 **SEARCH}),
    ('planner', {'model_path': 'mobile_base_tiny.safetensors', 'output': 'cmd_vel',
                 'velocity_min': [-0.5, -1.5], 'velocity_max': [0.8, 1.5],
                 'acceleration_max': [2.0, 6.0], **BASE, **SEARCH}),
]
#: What each RViz display (and tool) draws or sends.
RVIZ_TYPES = {'rviz_default_plugins/Image': 'sensor_msgs/msg/Image',
              'rviz_default_plugins/Map': 'nav_msgs/msg/OccupancyGrid',
              'rviz_default_plugins/LaserScan': 'sensor_msgs/msg/LaserScan',
              'rviz_default_plugins/Path': 'nav_msgs/msg/Path',
              'rviz_default_plugins/MarkerArray': 'visualization_msgs/msg/MarkerArray',
              'rviz_default_plugins/Pose': 'geometry_msgs/msg/PoseStamped',
              'rviz_default_plugins/SetGoal': 'geometry_msgs/msg/PoseStamped'}
#: What Foxglove's 3D panel draws (the types this layout uses it for).
FOXGLOVE_3D_TYPES = {'visualization_msgs/msg/MarkerArray', 'nav_msgs/msg/Path',
                     'geometry_msgs/msg/PoseStamped', 'sensor_msgs/msg/LaserScan',
                     'nav_msgs/msg/OccupancyGrid'}


def type_name(msg_type):
    """``pkg/msg/Name`` of a message class."""
    return f'{msg_type.__module__.split(".")[0]}/msg/{msg_type.__name__}'


@pytest.fixture(scope='module')
def node_topics():
    """``{topic: message class}`` the nodes publish or subscribe with default names."""
    context = Context()
    rclpy.init(context=context)
    topics = {}
    try:
        for kind, values in RUNS:
            values = dict(values, model_path=str(MODELS / values['model_path']))
            node_class = WorldModelNode if kind == 'world_model' else PlannerNode
            node = node_class(context=context, parameter_overrides=[
                Parameter(k, value=v) for k, v in values.items()])
            try:
                assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS, values
                assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS, values
                for entity in [*node.publishers, *node.subscriptions]:
                    topics[entity.topic_name] = entity.msg_type
                node.trigger_deactivate()
            finally:
                node.release()
                node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    return topics


def rviz_references():
    """``[(display name, RViz class, topic)]`` of every display and tool with a topic."""
    config = yaml.safe_load(RVIZ.read_text())
    manager = config['Visualization Manager']
    out = []
    for item in [*manager['Displays'], *manager['Tools']]:
        if 'Topic' in item:
            out.append((item.get('Name', item['Class']), item['Class'], item['Topic']['Value']))
    return out


def foxglove_references():
    """``[(panel, topic, field path or '')]`` of every topic the layout names."""
    layout = json.loads(FOXGLOVE.read_text())
    out = []
    for panel, config in layout['configById'].items():
        if panel.startswith('Image!'):
            out.append((panel, config['imageMode']['imageTopic'], ''))
        elif panel.startswith('3D!'):
            out += [(panel, topic, '') for topic in config['topics']]
            out.append((panel, config['publish']['poseTopic'], ''))
        elif panel.startswith('Plot!'):
            for path in config['paths']:
                topic, _, field = path['value'].partition('.')
                out.append((panel, topic, field))
        else:
            raise AssertionError(f'{panel}: a panel kind this test does not check')
    return out


def test_rviz_topics_are_the_nodes_and_types_match(node_topics):
    references = rviz_references()
    assert len(references) >= 8   # camera, map, scan, 2 paths, markers, goal, goal tool
    for name, rviz_class, topic in references:
        assert topic in node_topics, f'RViz display {name!r}: no node has {topic}'
        assert type_name(node_topics[topic]) == RVIZ_TYPES[rviz_class], name


def test_foxglove_topics_fields_and_panels_match_the_nodes(node_topics):
    references = foxglove_references()
    for panel, topic, field in references:
        assert topic in node_topics, f'Foxglove {panel}: no node has {topic}'
        msg_type = node_topics[topic]
        if panel.startswith('Image!'):
            assert type_name(msg_type) == 'sensor_msgs/msg/Image'
        elif panel.startswith('3D!'):
            assert type_name(msg_type) in FOXGLOVE_3D_TYPES, (panel, topic)
        else:   # a plotted field must exist and be a number
            value = msg_type()
            for part in field.split('.'):
                assert hasattr(value, part), f'{panel}: {topic} has no field {field}'
                value = getattr(value, part)
            assert isinstance(value, float), (panel, topic, field)
            # The point of the stamped topics: plots on the input's header stamp.
    plotted = {topic for panel, topic, field in references if field}
    assert plotted == {'/world_model_node/surprise_stamped', '/planner_node/plan_figures'}


def test_the_node_topics_hold_what_the_viewers_need(node_topics):
    """The check above could pass on an empty config; these are the topics item 7 asks for."""
    named = {topic for _, _, topic in rviz_references()}
    assert {'/image', '/scan', '/map', '/world_model_node/markers',
            '/world_model_node/predicted_path', '/planner_node/planned_path',
            '/planner_node/goal_pose'} <= named
