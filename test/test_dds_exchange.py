"""Real DDS round trips between this test process and a separate peer process.

The peer (``test/dds_peer.py``) publishes a 64x48 ``rgb8`` Image and a JointState at
about 20 Hz with sensor-data QoS; the test checks every byte and value it receives. The
test then publishes its own Image/JointState, which the peer echoes back on other topics,
so both directions over the RMW (Fast DDS by default) are exercised between processes.
Every wait is bounded by ``TIMEOUT_S``.
"""

import importlib.util
import os
import secrets
import subprocess
import sys
import tempfile
import time

import pytest

pytestmark = pytest.mark.ros

TIMEOUT_S = 20.0
MIN_FRAMES = 3
TEST_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TEST_DIR)
PEER_PATH = os.path.join(TEST_DIR, 'dds_peer.py')


def _load_peer_module():
    """Import ``dds_peer.py`` by path (its pattern helpers do not import rclpy)."""
    spec = importlib.util.spec_from_file_location('jwm_test_dds_peer', PEER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


peer_lib = _load_peer_module()


class Peer:
    """A running ``dds_peer.py`` process with its output captured to a file."""

    def __init__(self, prefix):
        """Start the peer publishing under topic namespace ``prefix``."""
        self.prefix = prefix
        self.log = tempfile.TemporaryFile(mode='w+')
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (REPO_ROOT, env.get('PYTHONPATH', '')) if p)
        env['PYTHONUNBUFFERED'] = '1'
        self.proc = subprocess.Popen(
            [sys.executable, PEER_PATH, '--prefix', prefix, '--rate', '20',
             '--lifetime', str(4 * TIMEOUT_S + 30)],
            cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def output(self):
        """Return everything the peer printed so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def check_alive(self):
        """Fail the test with the peer's output if it has exited."""
        if self.proc.poll() is not None:
            pytest.fail('DDS peer exited early with code %s:\n%s'
                        % (self.proc.returncode, self.output()))

    def stop(self):
        """Terminate the peer (SIGTERM, then SIGKILL after a timeout); return its code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope='module')
def peer():
    """Start one peer process for this module, with a unique topic namespace."""
    prefix = '/jwm_test_%d_%s' % (os.getpid(), secrets.token_hex(3))
    process = Peer(prefix)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def node(rclpy_context):
    """Yield ``(node, executor)`` on the test's own rclpy context."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    test_node = rclpy.create_node('jwm_dds_test_%s' % secrets.token_hex(3),
                                  context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(test_node)
    try:
        yield test_node, executor
    finally:
        executor.shutdown(timeout_sec=1.0)
        test_node.destroy_node()


def spin_until(executor, done, peer_process, timeout=TIMEOUT_S, what='messages'):
    """Spin ``executor`` until ``done()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        peer_process.check_alive()
        if time.monotonic() > deadline:
            pytest.fail('timed out after %.0f s waiting for %s; peer output:\n%s'
                        % (timeout, what, peer_process.output()))
        executor.spin_once(timeout_sec=0.05)


def assert_image_is_frame(msg, seq, pattern=peer_lib.image_pattern):
    """Assert that Image ``msg`` is exactly frame ``seq``."""
    assert msg.header.frame_id == peer_lib.FRAME_ID
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == peer_lib.stamp_for(seq)
    assert (msg.width, msg.height) == (peer_lib.IMAGE_WIDTH, peer_lib.IMAGE_HEIGHT)
    assert msg.encoding == peer_lib.IMAGE_ENCODING
    assert msg.is_bigendian == 0
    assert msg.step == peer_lib.IMAGE_WIDTH * 3
    assert len(msg.data) == peer_lib.IMAGE_WIDTH * peer_lib.IMAGE_HEIGHT * 3
    assert bytes(msg.data) == pattern(seq)


def assert_joints_are_frame(msg, seq, names=peer_lib.JOINT_NAMES):
    """Assert that JointState ``msg`` is exactly frame ``seq``."""
    positions, velocities, efforts = peer_lib.joint_values(seq)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == peer_lib.stamp_for(seq)
    assert list(msg.name) == list(names)
    assert list(msg.position) == positions
    assert list(msg.velocity) == velocities
    assert list(msg.effort) == efforts


def test_peer_streams_image_and_joint_state(peer, node):
    """Sensor-data QoS Image and JointState from another process arrive bit-exact."""
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image, JointState

    test_node, executor = node
    images, joints = [], []
    test_node.create_subscription(
        Image, peer.prefix + '/image', images.append, qos_profile_sensor_data)
    test_node.create_subscription(
        JointState, peer.prefix + '/joint_states', joints.append, qos_profile_sensor_data)

    spin_until(executor, lambda: len(images) >= MIN_FRAMES and len(joints) >= MIN_FRAMES,
               peer, what='%d images and joint states from the peer' % MIN_FRAMES)

    for received, assert_is_frame, what in ((images, assert_image_is_frame, 'image'),
                                            (joints, assert_joints_are_frame, 'joint state')):
        seqs = []
        for msg in received:
            seq = peer_lib.seq_from_stamp(msg.header.stamp.sec, msg.header.stamp.nanosec)
            assert seq is not None, 'unexpected %s stamp %s' % (what, msg.header.stamp)
            assert_is_frame(msg, seq)
            seqs.append(seq)
        assert seqs == sorted(set(seqs)), '%ss duplicated or out of order' % what


def test_peer_echoes_what_the_test_publishes(peer, node):
    """Messages published here reach the peer, and its echoes come back unchanged."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image, JointState

    test_node, executor = node
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    seq = 4242  # not a frame the peer itself would send for a long time

    def inverted(s):
        return bytes(255 - b for b in peer_lib.image_pattern(s))

    names = tuple(reversed(peer_lib.JOINT_NAMES))
    sent_image = peer_lib.fill_image(Image(), seq, pattern=inverted)
    sent_joints = peer_lib.fill_joint_state(JointState(), seq, names=names)
    echoed_images, echoed_joints = [], []
    test_node.create_subscription(
        Image, peer.prefix + '/pong_image', echoed_images.append, reliable)
    test_node.create_subscription(
        JointState, peer.prefix + '/pong_joints', echoed_joints.append, reliable)
    ping_image = test_node.create_publisher(Image, peer.prefix + '/ping_image', reliable)
    ping_joints = test_node.create_publisher(
        JointState, peer.prefix + '/ping_joints', reliable)

    def send():
        # Repeat until echoed: messages sent before discovery completes are dropped.
        if not echoed_images:
            ping_image.publish(sent_image)
        if not echoed_joints:
            ping_joints.publish(sent_joints)

    timer = test_node.create_timer(0.1, send)
    spin_until(executor, lambda: echoed_images and echoed_joints, peer,
               what='the peer to echo an Image and a JointState')
    test_node.destroy_timer(timer)

    assert_image_is_frame(echoed_images[0], seq, pattern=inverted)
    assert_joints_are_frame(echoed_joints[0], seq, names=names)
    assert echoed_images[0] == sent_image
    assert echoed_joints[0] == sent_joints
