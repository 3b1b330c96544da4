"""planner_node over real DDS with ``image_transport: compressed`` (issue #12 item 3): it
subscribes ``image/compressed`` instead of ``image``, as world_model_node does, and plans on
the JPEG frames it receives there, each command stamped with the frame it came from.
"""

import time

import numpy as np
import pytest

try:
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CompressedImage

    from jepa_world_model.ros.common.image_conversion import rgb_to_compressed_msg
    from ros_feeders import callbacks_do_not_raise, graph_fixture, one_thread  # noqa: F401
    from ros_feeders import stamp_key
    from ros_graph import wait_for
    from test_planner_node import ckpt, close_node, Feeder, make_node  # noqa: F401
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = [pytest.mark.ros, pytest.mark.dds_timing,
              pytest.mark.flaky(reruns=2, reruns_delay=2)]


def test_compressed_camera_frames_are_planned_on(graph, ckpt):  # noqa: F811
    ns = '/planner_compressed'
    node = make_node(graph, ckpt, ns, image_transport='compressed')
    feeder = Feeder(graph, ns)
    pub = feeder.node.create_publisher(CompressedImage, 'image/compressed',
                                       qos_profile_sensor_data)
    try:
        topics = {s.topic_name for s in node.subscriptions}
        assert f'{ns}/image/compressed' in topics and f'{ns}/image' not in topics
        feeder.start()   # joint states; its raw images go to 'image', which nobody reads
        feeder.goal_joints({'joint_a': 0.5, 'joint_b': -0.5})
        rgb = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
        sent, deadline = set(), time.monotonic() + 15.0
        while node.counters.get('plans') < 3 and time.monotonic() < deadline:
            msg = rgb_to_compressed_msg(rgb, 'jpeg')
            msg.header.stamp, msg.header.frame_id = feeder.now(), 'camera_optical'
            pub.publish(msg)
            sent.add(stamp_key(msg.header.stamp))
            time.sleep(0.05)
        assert node.counters.get('plans') >= 3, node.counters.snapshot()
        # A plan's command carries its frame's stamp (a stop is stamped with the clock).
        assert wait_for(lambda: sum(stamp_key(m.header.stamp) in sent
                                    for m in list(feeder.out['cmd'])) >= 3)
        assert node.counters.get('images_received') > 0
        assert node.counters.get('image_decode') == 0
    finally:
        feeder.close()
        close_node(graph, node)
