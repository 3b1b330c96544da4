"""Helpers shared by the node tests over real DDS: a tiny checkpoint, fixtures, a feeder base.

``test_world_model_node.py`` and ``test_planner_node.py`` run their node under test in the
test process (test/ros_graph.py) and feed it through DDS from a separate feeder node, as a
camera driver and joint_state_broadcaster would. What both need is here; each module adds
its own publishers and outputs to :class:`FeederNode`.

Imported by test modules only after rclpy imported (their ``try`` block), like ros_graph.py,
so this file never runs where ROS 2 is missing. Importing :func:`one_thread` and, re-exported
from ros_graph.py, ``callbacks_do_not_raise`` and ``graph_fixture`` into a test module makes
them that module's fixtures.
"""

import threading
import time

import numpy as np
import pytest
import torch

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState

from jepa_world_model.ros.common.image_conversion import rgb_to_image_msg
from ros_graph import callbacks_do_not_raise, graph_fixture, wait_for  # noqa: F401
from tiny_models import JOINTS, save_tiny as save_shared  # noqa: F401 - JOINTS re-exported

SERVICE_TIMEOUT = 10.0


def stamp_key(stamp):
    """(sec, nanosec) of a builtin_interfaces/Time."""
    return stamp.sec, stamp.nanosec


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """The node sets torch to 1 thread (its default); restore the session's value after."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def save_tiny(tmp_path_factory, folder, name, step, **overrides):
    """Save the shared tiny random model (with ``overrides``) in a fresh temporary folder."""
    path = tmp_path_factory.mktemp(folder) / f'{name}.safetensors'
    return save_shared(path, seed=0, step=step, **overrides)


def start_node(graph, node_class, ns, values, activate=True):
    """A ``node_class`` lifecycle node in ``ns`` with parameters ``values``, configured and
    activated when ``activate``, added to the executor."""
    node = node_class(context=graph.context, namespace=ns,
                      parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])
    if activate:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    graph.executor.add_node(node)
    return node


def configure_fails(node):
    """Configure the lifecycle node ``node``: the transition must fail and leave it
    unconfigured with no runtime loaded (the test reads the reason from the node)."""
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert node.lifecycle_state == 'unconfigured' and node.runtime is None


class FeederNode:
    """A ``feeder`` node in ``ns`` that talks to ``node_name`` through DDS.

    It publishes ``image`` and ``joint_states`` (sensor-data QoS, as drivers do), collects
    ``node_name``'s ``outputs`` and its ``/diagnostics`` status in ``out`` (reliable, depth
    ``depth``) and runs :meth:`_loop` on a background thread. A subclass adds its own
    publishers and outputs, then calls :meth:`start_loop`.

    Args:
        graph: The module's :class:`~ros_graph.Graph`.
        ns: Namespace of the node under test.
        node_name: Its name.
        outputs: ``{key in out: (message type, topic under node_name)}``.
        depth: History depth of the output subscriptions.
    """

    def __init__(self, graph, ns, node_name, outputs, depth):
        self.graph, self.ns, self.node_name = graph, ns, node_name
        self.node = rclpy.create_node('feeder', namespace=ns, context=graph.context)
        self.image_pub = self.node.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.joint_pub = self.node.create_publisher(JointState, 'joint_states',
                                                    qos_profile_sensor_data)
        self.reliable = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
        self.out = {name: [] for name in list(outputs) + ['diag']}
        for name, (mtype, topic) in outputs.items():
            self.node.create_subscription(mtype, f'{node_name}/{topic}', self.out[name].append,
                                          self.reliable)
        full_name = f'{ns}/{node_name}'.lstrip('/')
        self.node.create_subscription(DiagnosticArray, '/diagnostics', lambda m: self.out[
            'diag'].extend(s for s in m.status if s.name.startswith(full_name + ':')),
            self.reliable)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start_loop(self):
        """Spin the feeder with the graph and start the background thread."""
        self.graph.executor.add_node(self.node)
        self._thread.start()

    def _loop(self):
        """The background thread's body (runs until :meth:`close`)."""
        raise NotImplementedError

    def now(self):
        """Current time of the feeder's clock as a builtin_interfaces/Time."""
        return self.node.get_clock().now().to_msg()

    def call(self, srv_type, name, request, timeout=SERVICE_TIMEOUT):
        """Call service ``name`` of the node under test through DDS; return the response."""
        client = self.node.create_client(srv_type, f'{self.node_name}/{name}')
        assert client.wait_for_service(timeout_sec=timeout), name
        future = client.call_async(request)
        assert wait_for(future.done, timeout), name
        return future.result()

    def close(self):
        """Stop the background thread and destroy the node."""
        self._closed.set()
        self._thread.join(timeout=2.0)
        self.graph.retire(self.node)
        self.node.destroy_node()


def stream_joints_and_images(node, joint_pub, image_pub, stop, joints=JOINTS):
    """Until ``stop`` is set: joint states ``joints`` at ~50 Hz and a new random 48x40 camera
    frame at ~25 Hz, both stamped now by ``node``'s clock (a thread target)."""
    rng, tick = np.random.default_rng(0), 0
    while not stop.is_set():
        stamp = node.get_clock().now().to_msg()
        msg = JointState(name=list(joints), position=[0.1, -0.1], velocity=[0.0, 0.0])
        msg.header.stamp = stamp
        joint_pub.publish(msg)
        if tick % 2 == 0:
            img = rgb_to_image_msg(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8), 'rgb8')
            img.header.stamp, img.header.frame_id = stamp, 'camera'
            image_pub.publish(img)
        tick += 1
        time.sleep(0.02)
