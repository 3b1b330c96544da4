"""Hypothesis strategies for the fuzz tests: real ROS 2 messages with hostile contents.

Every strategy builds the rclpy message class itself (sensor_msgs, geometry_msgs, ...), with
values each field's type can carry over DDS (uint32 sizes, float32 ranges) but otherwise
anything: NaN, +-inf, 1e300, lengths that disagree, unknown encodings, compressed streams
whose header declares a huge size, stamps far ahead of or behind the node clock. Valid
messages are drawn often enough that the code after the checks runs too.

Imported by the test_fuzz_* modules inside their ``try`` block (it needs rclpy's messages).
"""

import array

from builtin_interfaces.msg import Time
import cv2
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from hypothesis import strategies as st
from nav_msgs.msg import Odometry
import numpy as np
from sensor_msgs.msg import CompressedImage, Image, JointState, LaserScan
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from jepa_world_model.ros.common.image_conversion import rgb_to_image_msg, SUPPORTED_ENCODINGS
from jepa_world_model.ros.common.joint_state_conversion import seconds_to_stamp

UINT32_MAX = 2 ** 32 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: The node clock of the fuzz tests (s).
NOW = 1000.0

# Values that broke converters elsewhere: non-finite, beyond float32, subnormal, huge.
_SPECIAL64 = (float('nan'), float('inf'), -float('inf'), 0.0, -0.0, 1e300, -1e300, 1e30,
              -1e30, 5e-324, FLOAT32_MAX, 2.0 * FLOAT32_MAX, 1e5, -1e5, 1e5 + 1.0)
_SPECIAL32 = (float('nan'), float('inf'), -float('inf'), 0.0, -0.0, FLOAT32_MAX,
              -FLOAT32_MAX, 1e-45, 1e30, -1e30)


def floats64():
    """Any float64: mostly ordinary values, often special ones."""
    return st.one_of(st.floats(-10.0, 10.0), st.sampled_from(_SPECIAL64),
                     st.floats(allow_nan=True, allow_infinity=True))


def floats32():
    """Any value a float32 field holds."""
    return st.one_of(st.floats(-10.0, 10.0, width=32), st.sampled_from(_SPECIAL32),
                     st.floats(width=32, allow_nan=True, allow_infinity=True))


def stamps(now=NOW):
    """A header stamp: near ``now`` (fresh, a little old, a little ahead), far off, at 0, or
    with a nanosec field of a billion or more (valid uint32, not normalised)."""
    near = st.floats(now - 2.0, now + 2.0).map(seconds_to_stamp)
    far = st.floats(0.0, 2.0 ** 31 - 1).map(seconds_to_stamp)
    odd = st.builds(Time, sec=st.integers(-2 ** 31, 2 ** 31 - 1),
                    nanosec=st.integers(0, UINT32_MAX))
    return st.one_of(near, near, far, odd, st.just(seconds_to_stamp(now)))


def random_bytes(draw, size):
    """``size`` bytes: seeded noise, or a constant (cheaper to draw than st.binary)."""
    fill = draw(st.sampled_from(['noise', 0, 255, 128]))
    if fill == 'noise':
        return np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1))).bytes(size)
    return bytes([fill]) * size


def _size():
    return st.one_of(st.integers(0, 40), st.sampled_from([2 ** 16, 2 ** 31, UINT32_MAX]))


@st.composite
def image_msgs(draw, stamp=None):
    """sensor_msgs/Image: any encoding (supported, odd spelling, unknown), width, height and
    step up to uint32, a data length that may not match, any is_bigendian."""
    encoding = draw(st.one_of(
        st.sampled_from(SUPPORTED_ENCODINGS),
        st.sampled_from(['RGB8', ' bgr8 ', 'Mono16', 'bayer_rggb8', 'yuv422', '32FC1', '']),
        st.text(max_size=10)))
    height, width = draw(_size()), draw(_size())
    packed = min(width * 4 * 2, UINT32_MAX)
    step = draw(st.one_of(st.just(min(width * 3, UINT32_MAX)), st.just(packed),
                          st.integers(0, 200), st.just(UINT32_MAX)))
    exact = step * height
    length = draw(st.one_of(st.just(exact), st.integers(0, 4096)) if exact <= 20000
                  else st.integers(0, 4096))
    msg = Image(height=height, width=width, encoding=encoding, step=step,
                is_bigendian=draw(st.integers(0, 255)))
    msg.data = random_bytes(draw, length)
    msg.header.stamp = draw(stamp if stamp is not None else stamps())
    return msg


@st.composite
def valid_images(draw, stamp=None):
    """A well-formed raw image (1..40 pixels a side) in a supported encoding."""
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    rgb = np.random.default_rng(draw(st.integers(0, 999))).integers(
        0, 256, (h, w, 3), dtype=np.uint8)
    msg = rgb_to_image_msg(rgb, draw(st.sampled_from(SUPPORTED_ENCODINGS)))
    msg.header.stamp = draw(stamp if stamp is not None else stamps())
    return msg


def _encoded(draw, codec):
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    rgb = np.random.default_rng(draw(st.integers(0, 2 ** 16))).integers(
        0, 256, (h, w, 3), dtype=np.uint8)
    ok, data = cv2.imencode('.png' if codec == 'png' else '.jpg', rgb)
    assert ok
    return bytearray(data.tobytes())


def _declare_size(data, codec, width, height):
    """Overwrite the size a PNG (IHDR) or baseline JPEG (SOF0) stream declares."""
    if codec == 'png':
        data[16:24] = (width % 2 ** 32).to_bytes(4, 'big') + (height % 2 ** 32).to_bytes(4, 'big')
        return
    sof = data.find(b'\xff\xc0')
    data[sof + 5:sof + 9] = (height % 2 ** 16).to_bytes(2, 'big') + (
        width % 2 ** 16).to_bytes(2, 'big')


@st.composite
def compressed_streams(draw):
    """PNG or JPEG bytes, maybe with a rewritten declared size (bombs), truncated or with
    flipped bytes; or plain noise. Returns (data, codec or None)."""
    codec = draw(st.sampled_from(['png', 'jpeg', 'noise']))
    if codec == 'noise':
        return random_bytes(draw, draw(st.integers(0, 300))), None
    data = _encoded(draw, codec)
    if draw(st.booleans()):
        side = st.one_of(st.integers(0, 64), st.sampled_from([4000, 12000, 65535, UINT32_MAX]))
        _declare_size(data, codec, draw(side), draw(side))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data), codec


@st.composite
def compressed_msgs(draw, stamp=None):
    """sensor_msgs/CompressedImage with any format string over :func:`compressed_streams`."""
    data, _ = draw(compressed_streams())
    fmt = draw(st.one_of(st.sampled_from(['png', 'jpeg', 'jpg', '', 'PNG',
                                          'rgb8; jpeg compressed bgr8', 'bgr8; png compressed',
                                          'compressedDepth png', 'tiff']),
                         st.text(max_size=12)))
    msg = CompressedImage(format=fmt)
    msg.data = data
    msg.header.stamp = draw(stamp if stamp is not None else stamps())
    return msg


def _values(draw, n):
    return draw(st.lists(floats64(), min_size=n, max_size=n))


@st.composite
def joint_state_msgs(draw, joints, stamp=None):
    """sensor_msgs/JointState over ``joints`` and strangers: any order, duplicates, missing
    joints, position/velocity lengths that do not match the names, any values."""
    pool = list(joints) + ['gripper', 'other', '']
    names = draw(st.one_of(st.permutations(list(joints)),
                           st.lists(st.sampled_from(pool), max_size=5)))
    n = len(names)
    msg = JointState(name=list(names))
    msg.position = _values(draw, draw(st.one_of(st.just(n), st.just(n), st.integers(0, 6))))
    msg.velocity = _values(draw, draw(st.sampled_from([0, n, n + 1])))
    msg.effort = _values(draw, draw(st.integers(0, 3)))
    msg.header.stamp = draw(stamp if stamp is not None else stamps())
    return msg


@st.composite
def odometry_msgs(draw, stamp=None):
    """nav_msgs/Odometry with any position and orientation (zero or non-unit quaternions)."""
    msg = Odometry()
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    p.x, p.y, p.z = draw(floats64()), draw(floats64()), draw(floats64())
    q.x, q.y, q.z, q.w = (draw(floats64()) for _ in range(4))
    msg.header.stamp = draw(stamp if stamp is not None else stamps())
    return msg


@st.composite
def pose_stamped_msgs(draw, frames=('odom', 'map', '')):
    """geometry_msgs/PoseStamped in one of ``frames`` (or any), with any pose."""
    msg = PoseStamped()
    msg.header.frame_id = draw(st.one_of(st.sampled_from(frames), st.text(max_size=6)))
    values = st.one_of(st.lists(st.floats(-10.0, 10.0), min_size=7, max_size=7),
                       st.lists(floats64(), min_size=7, max_size=7))
    p, q = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z, q.x, q.y, q.z, q.w = draw(values)
    return msg


@st.composite
def scan_msgs(draw, stamp=None):
    """sensor_msgs/LaserScan: any geometry (NaN, zero or huge increments, inverted range
    limits) and ranges that are short lists of any float32 or long arrays (up to 5000 beams)
    of returns, NaN, +-inf and readings below range_min."""
    msg = LaserScan()
    usual = st.tuples(st.floats(-4.0, 4.0, width=32), st.floats(-0.125, 0.125, width=32),
                      st.floats(0.0, 1.0, width=32), st.floats(0.5, 50.0, width=32))
    extreme = st.tuples(st.sampled_from([0.0, -3e38, 3e38]),
                        st.sampled_from([3e38, -3e38, 1e30, 1e-45]),
                        st.just(0.0), st.just(10.0))
    anything = st.tuples(floats32(), floats32(), floats32(), floats32())
    (msg.angle_min, msg.angle_increment, msg.range_min,
     msg.range_max) = draw(st.one_of(usual, usual, extreme, anything))
    msg.angle_max = draw(floats32())
    if draw(st.booleans()):
        msg.ranges = draw(st.lists(floats32(), max_size=40))
    else:
        n = draw(st.integers(0, 5000))
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
        choices = np.array([np.nan, np.inf, -np.inf, 0.0, 0.05, 1.0, 3.0, 100.0], np.float32)
        weights = np.array(draw(st.lists(st.integers(0, 5), min_size=8, max_size=8)), float)
        weights = weights / weights.sum() if weights.sum() else None
        ranges = rng.choice(choices, n, p=weights).astype(np.float32)
        msg.ranges = array.array('f', ranges.tobytes())
    msg.intensities = draw(st.lists(floats32(), max_size=3))
    msg.header.stamp = draw(stamp if stamp is not None else stamps())
    return msg


@st.composite
def twist_msgs(draw, stamped=False):
    """geometry_msgs/Twist (or TwistStamped) with any values."""
    twist = Twist()
    for part in (twist.linear, twist.angular):
        part.x, part.y, part.z = draw(floats64()), draw(floats64()), draw(floats64())
    return TwistStamped(twist=twist) if stamped else twist


@st.composite
def float_array_msgs(draw):
    """std_msgs/Float64MultiArray of any length and values."""
    return Float64MultiArray(data=_values(draw, draw(st.integers(0, 5))))


@st.composite
def trajectory_msgs(draw, joints):
    """trajectory_msgs/JointTrajectory over ``joints`` and strangers; no points, or points
    whose field lengths need not match the joint names."""
    pool = list(joints) + ['gripper', '']
    names = draw(st.one_of(st.permutations(list(joints)),
                           st.lists(st.sampled_from(pool), max_size=4)))
    points = []
    for _ in range(draw(st.integers(0, 2))):
        n = draw(st.one_of(st.just(len(names)), st.integers(0, 5)))
        points.append(JointTrajectoryPoint(positions=_values(draw, n),
                                           velocities=_values(draw, draw(st.integers(0, 5)))))
    return JointTrajectory(joint_names=list(names), points=points)
