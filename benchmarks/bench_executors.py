"""Timer rate of an rclpy node that shares its executor with a subscriber, per executor kind.

One process, one context: a node with a 20 Hz timer that publishes a JointState, and a
second node that subscribes to it, both on one executor spinning in a background thread
(the layout of the in-process node tests). Prints one JSON object: timer ticks and received
messages per second for the single- and multi-threaded executor. A healthy executor gives
about 20/s for both.

Example:
    python benchmarks/bench_executors.py --seconds 3
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from jepa_world_model.ros_env import ensure_ros_libraries  # noqa: E402

TIMER_PERIOD_S = 0.05


def _spin(executor) -> None:
    try:
        executor.spin()
    except Exception:  # noqa: BLE001 - shutdown destroys handles under a spinning executor
        pass


def measure(kind: str, seconds: float, domain_id: int) -> dict:
    """Ticks and deliveries per second with executor ``kind`` (``single`` or ``multi``)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import JointState

    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    executor = (MultiThreadedExecutor(num_threads=3, context=context) if kind == 'multi'
                else SingleThreadedExecutor(context=context))
    talker = rclpy.create_node('bench_talker', context=context)
    listener = rclpy.create_node('bench_listener', context=context)
    publisher = talker.create_publisher(JointState, 'bench_joint_states', 10)
    ticks, received = [0], [0]

    def on_timer():
        ticks[0] += 1
        publisher.publish(JointState())

    talker.create_timer(TIMER_PERIOD_S, on_timer)
    listener.create_subscription(JointState, 'bench_joint_states',
                                 lambda _msg: received.__setitem__(0, received[0] + 1),
                                 QoSProfile(depth=50))
    executor.add_node(talker)
    executor.add_node(listener)
    thread = threading.Thread(target=_spin, args=(executor,), daemon=True)
    thread.start()
    time.sleep(seconds)
    result = {'timer_hz': ticks[0] / seconds, 'received_hz': received[0] / seconds,
              'expected_hz': 1.0 / TIMER_PERIOD_S}
    executor.shutdown(timeout_sec=5.0)
    thread.join(timeout=5.0)
    talker.destroy_node()
    listener.destroy_node()
    rclpy.try_shutdown(context=context)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=3.0)
    parser.add_argument('--domain-id', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 42)))
    args = parser.parse_args()
    ensure_ros_libraries()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    report = {kind: measure(kind, args.seconds, args.domain_id) for kind in ('single', 'multi')}
    from importlib import metadata
    try:
        report['rclpy'] = metadata.version('ros-jazzy-rclpy')
    except metadata.PackageNotFoundError:   # a sourced ROS 2 install, not the wheels
        report['rclpy'] = 'system'
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    main()
