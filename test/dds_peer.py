"""DDS peer process for ``test_dds_exchange.py``.

Run as ``python test/dds_peer.py --prefix /some/ns``. The peer

* publishes ``<prefix>/image`` (sensor_msgs/Image, 64x48 ``rgb8``) and
  ``<prefix>/joint_states`` (sensor_msgs/JointState) at ``--rate`` Hz with sensor-data QoS;
  frame ``seq`` carries the stamp ``stamp_for(seq)`` and the content ``image_pattern(seq)``
  / ``joint_values(seq)``, so a receiver can check every byte and value;
* echoes every message received on ``<prefix>/ping_image`` and ``<prefix>/ping_joints``
  unchanged to ``<prefix>/pong_image`` and ``<prefix>/pong_joints`` (reliable QoS).

It prints ``READY`` once its entities exist and exits on SIGTERM/SIGINT or after
``--lifetime`` seconds, so a crashed test cannot leave it running.

The pattern helpers at the top are pure Python; the test imports them by path, so rclpy
is only imported inside :func:`main`.
"""

import argparse
import os
import signal
import sys
import time

IMAGE_WIDTH = 64
IMAGE_HEIGHT = 48
IMAGE_ENCODING = 'rgb8'
FRAME_ID = 'jwm_test_camera'
STAMP_BASE_SEC = 1_700_000_000
JOINT_NAMES = ('shoulder_pan', 'shoulder_lift', 'elbow', 'wrist_roll')


def stamp_for(seq):
    """Return the (sec, nanosec) stamp of frame ``seq``."""
    return STAMP_BASE_SEC + seq, (seq * 7_654_321) % 1_000_000_000


def seq_from_stamp(sec, nanosec):
    """Invert :func:`stamp_for`; return None if the stamp is not one it produces."""
    seq = sec - STAMP_BASE_SEC
    if seq < 0 or stamp_for(seq) != (sec, nanosec):
        return None
    return seq


def image_pattern(seq, width=IMAGE_WIDTH, height=IMAGE_HEIGHT):
    """Return the ``rgb8`` bytes of frame ``seq``: every pixel differs from its neighbours."""
    data = bytearray(width * height * 3)
    index = 0
    for y in range(height):
        for x in range(width):
            data[index] = (x * 4 + seq) % 256
            data[index + 1] = (y * 5 + 3 * seq) % 256
            data[index + 2] = (x * y + 7) % 256
            index += 3
    return bytes(data)


def joint_values(seq):
    """Return (positions, velocities, efforts) of frame ``seq``; exact doubles."""
    positions = [0.25 * seq, -1.5, 1.0471975511965976, 1e-3 * seq]
    velocities = [0.5, -0.125, 0.0, 2.0 ** -10]
    efforts = [float(seq % 7), 3.5, -2.25, 1e6]
    return positions, velocities, efforts


def fill_image(msg, seq, pattern=image_pattern):
    """Fill a sensor_msgs/Image ``msg`` with frame ``seq``."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp_for(seq)
    msg.header.frame_id = FRAME_ID
    msg.height = IMAGE_HEIGHT
    msg.width = IMAGE_WIDTH
    msg.encoding = IMAGE_ENCODING
    msg.is_bigendian = 0
    msg.step = IMAGE_WIDTH * 3
    msg.data = pattern(seq)
    return msg


def fill_joint_state(msg, seq, names=JOINT_NAMES):
    """Fill a sensor_msgs/JointState ``msg`` with frame ``seq``."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp_for(seq)
    msg.header.frame_id = ''
    msg.name = list(names)
    msg.position, msg.velocity, msg.effort = joint_values(seq)
    return msg


def parse_args(argv):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--prefix', required=True, help='topic namespace, e.g. /jwm_test_1')
    parser.add_argument('--rate', type=float, default=20.0, help='publish rate in Hz')
    parser.add_argument('--lifetime', type=float, default=120.0,
                        help='exit after this many seconds at the latest')
    return parser.parse_args(argv)


def main(argv=None):
    """Run the peer until SIGTERM/SIGINT or ``--lifetime`` seconds."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        from jepa_world_model.ros_env import ensure_ros_libraries
    except ImportError:
        ensure_ros_libraries = None
    if ensure_ros_libraries is not None:
        ensure_ros_libraries()

    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image, JointState

    stop = {'flag': False}

    def request_stop(signum, frame):
        stop['flag'] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    context = Context()
    # Our own handlers: stop spinning, then shut down cleanly.
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('jwm_dds_peer', context=context)
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    prefix = args.prefix.rstrip('/')
    image_pub = node.create_publisher(Image, prefix + '/image', qos_profile_sensor_data)
    joints_pub = node.create_publisher(
        JointState, prefix + '/joint_states', qos_profile_sensor_data)
    pong_image = node.create_publisher(Image, prefix + '/pong_image', reliable)
    pong_joints = node.create_publisher(JointState, prefix + '/pong_joints', reliable)
    node.create_subscription(Image, prefix + '/ping_image', pong_image.publish, reliable)
    node.create_subscription(
        JointState, prefix + '/ping_joints', pong_joints.publish, reliable)

    counter = {'seq': 0}

    def publish_frame():
        seq = counter['seq']
        counter['seq'] = seq + 1
        image_pub.publish(fill_image(Image(), seq))
        joints_pub.publish(fill_joint_state(JointState(), seq))

    node.create_timer(1.0 / args.rate, publish_frame)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    print('READY', flush=True)
    deadline = time.monotonic() + args.lifetime
    try:
        while not stop['flag'] and time.monotonic() < deadline and context.ok():
            executor.spin_once(timeout_sec=0.05)
    finally:
        print('published %d frames' % counter['seq'], flush=True)
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    return 0


if __name__ == '__main__':
    # Make the repository importable when run as a plain script from a checkout.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
