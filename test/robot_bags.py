"""Bags of a robot this package has never seen, as a user's `ros2 bag record` would give them:
for the tests of ``jepa-world-model inspect`` and of ``action_alignment``.

The robot has three joints: ``shoulder`` (continuous, reported wrapped into [-pi, pi), so it
wraps around), ``wheel`` (continuous, reported unwrapped, spanning more than 2 pi) and
``elbow`` (limited). Frames come at 10 Hz; each command is the one computed from a frame,
stamped ``cmd_delay_ns`` after it (0: the package's own recorder's convention). The camera
can be a 640x480 JPEG ``CompressedImage`` stream.
"""

import math

import cv2
import numpy as np

from jepa_world_model.bags.writer import BagRecorder, RecorderTopics, typestore

START = 1_700_000_000_000_000_000      # ns
DT = 100_000_000                        # 10 Hz frames
PAUSE = 3_000_000_000                   # between episodes (a reset)
JOINT_SKEW = 2_000_000                  # joint states 2 ms after their frame
JOINTS = ['shoulder', 'wheel', 'elbow']
COMPRESSED_TOPIC = '/camera/image_raw/compressed'
#: Recorded ranges of the limited joint (rad) and of each command dimension (rad/s).
ELBOW_RANGE = (-0.8, 1.1)


def command(episode: int, t: int) -> np.ndarray:
    """The command computed from frame t of an episode: distinct for every frame, so a
    command given to the wrong frame shows. [3] rad/s."""
    return np.array([0.6 + 0.01 * t, 0.9 - 0.02 * t, 0.5 * math.sin(t + episode)])


def joint_positions(episode: int, t: int) -> np.ndarray:
    """shoulder wrapped into [-pi, pi); wheel unwrapped; elbow within ELBOW_RANGE. [3]"""
    shoulder = (2.5 + 0.6 * t + math.pi) % (2 * math.pi) - math.pi
    wheel = 0.9 * t * (1 if episode % 2 == 0 else -1)
    lo, hi = ELBOW_RANGE
    elbow = lo + (hi - lo) * (0.5 + 0.5 * math.sin(0.7 * t + episode))
    return np.array([shoulder, wheel, elbow])


def image(q: np.ndarray, height: int, width: int) -> np.ndarray:
    """A smooth picture with a bar where the elbow points (JPEG-friendly). uint8 [H, W, 3]"""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 2] = np.linspace(40, 160, width, dtype=np.uint8)[None, :]
    x = int((q[2] - ELBOW_RANGE[0]) / (ELBOW_RANGE[1] - ELBOW_RANGE[0]) * (width - 1))
    rgb[:, max(0, x - width // 16):x + width // 16, 0] = 230
    return rgb


def write_robot_bag(path, episodes=3, steps=12, cmd_delay_ns=0, compressed=False,
                    size=(480, 640), dropped_frames=(), twist=False):
    """Write the bag; ``dropped_frames``: frame indices of episode 0 without an image.

    Returns:
        [(frame stamps [T] ns, commands [T, 3]) per episode], as recorded.
    """
    topics = (RecorderTopics(action='/cmd_vel', action_type='twist_stamped',
                             action_fields=['linear.x', 'angular.z']) if twist else
              RecorderTopics())
    recorded = []
    stamp = START
    with BagRecorder(path, topics=topics, joint_names=JOINTS) as rec:
        for e in range(episodes):
            frame_t, cmds = [], []
            for t in range(steps):
                q = joint_positions(e, t)
                if not (e == 0 and t in dropped_frames):
                    _write_image(rec, stamp, image(q, *size), compressed)
                rec.write_joint_state(stamp + JOINT_SKEW, q, np.full(3, 0.5))
                a = command(e, t)[:2] if twist else command(e, t)
                rec.write_action(stamp + cmd_delay_ns, a)
                frame_t.append(stamp)
                cmds.append(a)
                stamp += DT
            recorded.append((np.array(frame_t), np.stack(cmds)))
            stamp += PAUSE
    return recorded


def _write_image(rec, stamp, rgb, compressed):
    if not compressed:
        rec.write_image(stamp, rgb)
        return
    ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    types = typestore().types
    sec, nanosec = divmod(stamp, 1_000_000_000)
    header = types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec), frame_id='camera')
    msg = types['sensor_msgs/msg/CompressedImage'](header=header, format='jpeg',
                                                   data=jpeg.reshape(-1))
    rec.write_message(COMPRESSED_TOPIC, 'sensor_msgs/msg/CompressedImage', msg, stamp)
