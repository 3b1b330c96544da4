"""This process's side of nodes that run in a child process (test/lifecycle_driver.py).

``test_lifecycle_services.py`` (one node a process) and ``test_world_model_stack.py`` (both
nodes in one process) act as the robot and the lifecycle manager of such a child: they
stream joint states and camera frames into its namespace, send the planner a joint goal,
collect its commands and the world model's predicted trajectories, and call the nodes'
services. :class:`ProcessClient` is that client; each module adds its own publishers or
subscriptions.

Imported by test modules only after rclpy imported (their ``try`` block), like ros_graph.py.
"""

import threading
import time

from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import rclpy
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from trajectory_msgs.msg import JointTrajectory

from ros_feeders import JOINTS, stream_joints_and_images
from ros_graph import wait_for

UP_TIMEOUT = 60.0       # a child imports torch and rclpy on a busy machine
CALL_TIMEOUT = 20.0
QUIET_PERIOD_S = 0.5    # no command for this long: the planner has stopped sending
RELIABLE = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)


def is_moving(msg):
    """Whether a Twist command is non-zero."""
    return any(abs(v) > 0.0 for v in (msg.linear.x, msg.linear.y, msg.linear.z,
                                      msg.angular.x, msg.angular.y, msg.angular.z))


class ProcessClient:
    """A client node in the child's namespace, spun by the module's graph, streaming
    ``joint_states`` and ``image`` until :meth:`close`.

    Args:
        graph: The module's :class:`~ros_graph.Graph`.
        proc: The child, a :class:`~lifecycle_driver.NodeProcess`.
        name: This client node's name.
        planner: The node whose ``recommended_cmd_vel`` lands in :attr:`cmds` and which
            :meth:`goal` sends its joint goal.
        world_model: The node whose ``predicted_joint_trajectory`` lands in
            :attr:`trajectories`.
    """

    def __init__(self, graph, proc, name, planner='planner_node',
                 world_model='world_model_node'):
        self.graph, self.proc = graph, proc
        self.node = rclpy.create_node(name, namespace=proc.ns, context=graph.context)
        self.cmds, self.trajectories = [], []
        self._service_clients = {}
        sub, pub = self.node.create_subscription, self.node.create_publisher
        sub(Twist, f'{planner}/recommended_cmd_vel', self.cmds.append, RELIABLE)
        sub(JointTrajectory, f'{world_model}/predicted_joint_trajectory',
            self.trajectories.append, RELIABLE)
        self.image_pub = pub(Image, 'image', qos_profile_sensor_data)
        self.joint_pub = pub(JointState, 'joint_states', qos_profile_sensor_data)
        self.goal_pub = pub(JointState, f'{planner}/goal_joint_state', 10)
        graph.executor.add_node(self.node)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._stream, daemon=True)
        self._thread.start()

    def _stream(self):
        stream_joints_and_images(self.node, self.joint_pub, self.image_pub, self._closed)

    def call_service(self, srv_type, path, request, timeout=CALL_TIMEOUT):
        """Call service ``path`` (``<node>/<service>``); the response. Fails, with the
        child's log, when it is not served or does not answer within ``timeout``."""
        if path not in self._service_clients:
            self._service_clients[path] = self.node.create_client(srv_type, path)
        client = self._service_clients[path]
        assert client.wait_for_service(timeout_sec=timeout), \
            f'{path} is not served\n{self.proc.log()}'
        future = client.call_async(request)
        wait_for(lambda: future.done() or not self.proc.alive(), timeout)
        assert future.done(), f'{path}: no response\n{self.proc.log()}'
        return future.result()

    def lifecycle_state(self, node, timeout=CALL_TIMEOUT):
        """``node``'s lifecycle state label, through its get_state."""
        return self.call_service(GetState, f'{node}/get_state', GetState.Request(),
                                 timeout).current_state.label

    def request_transition(self, node, transition):
        """Request ``transition`` (an id, or a label string) of ``node`` through its
        change_state; the response's success."""
        t = (Transition(label=transition) if isinstance(transition, str)
             else Transition(id=transition))
        return self.call_service(ChangeState, f'{node}/change_state',
                                 ChangeState.Request(transition=t)).success

    def goal(self):
        """Send the planner a joint goal once its goal subscription is matched."""
        assert wait_for(lambda: self.goal_pub.get_subscription_count() > 0, CALL_TIMEOUT)
        self.goal_pub.publish(JointState(name=list(JOINTS), position=[0.6, -0.6]))

    def moving(self):
        """Send a goal and wait for a non-zero command after it; False if none came."""
        n = len(self.cmds)
        self.goal()
        return wait_for(lambda: any(is_moving(m) for m in self.cmds[n:]), CALL_TIMEOUT)

    def ends_on_zero(self):
        """Wait until commands stop arriving; whether the last one received is zero."""
        def quiet():
            n = len(self.cmds)
            time.sleep(QUIET_PERIOD_S)
            return len(self.cmds) == n
        assert wait_for(quiet, 5.0)
        return bool(self.cmds) and not is_moving(self.cmds[-1])

    def close(self):
        """Stop streaming and destroy the client node."""
        self._closed.set()
        self._thread.join(timeout=2.0)
        self.graph.retire(self.node)
        self.node.destroy_node()
