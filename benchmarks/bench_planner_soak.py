"""Soak of planner_node: plan time, command latency, CPU and memory over a long run.

Starts ``planner_node`` as its own process with ``config/ros/planner.yaml`` and the shipped arm
model (``autostart``), then plays a 64x64 camera at 30 Hz and the arm's joint states at 100 Hz
from this process over real DDS, and sends a joint goal every ``--goal-every`` seconds
(alternating between two poses). The joint states never reach the goal, so the node plans on
every tick for the whole run: the worst case for plan time and memory.

Measured: for every ``~/recommended_joint_trajectory``, ``receive time - header.stamp`` (the
stamp is the camera frame's, so this is camera-to-command latency including both DDS hops);
the node's own plan-time window (``plan_ms.*`` in ``/diagnostics``), its stop counters
(``count.stop_*``), and the node process's CPU time and resident memory from /proc.

Prints one JSON object (the figures in docs/safety.md). Example:

    python benchmarks/bench_planner_soak.py --duration 600 --out docs/results/planner_soak.json
"""

import argparse
import os
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_node_latency import (NS, percentiles, print_result,  # noqa: E402
                                private_ros_graph, process_samples, process_summary,
                                SpinningDriver, start_node, stop_node, wait_for_first)

JOINTS = ('joint1', 'joint2', 'joint3')
GOALS = ((0.8, -0.6, 1.0), (-0.8, 0.6, -1.0))


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--duration', type=float, default=600.0,
                        help='measured seconds after warm-up (default 600)')
    parser.add_argument('--warmup', type=float, default=5.0, help='unmeasured seconds first')
    parser.add_argument('--model', default='', help='checkpoint (default: the shipped arm)')
    parser.add_argument('--num-samples', type=int, default=0,
                        help='planner num_samples (default: config/ros/planner.yaml)')
    parser.add_argument('--camera-rate', type=float, default=30.0)
    parser.add_argument('--width', type=int, default=64, help='camera width (px)')
    parser.add_argument('--height', type=int, default=64, help='camera height (px)')
    parser.add_argument('--joint-rate', type=float, default=100.0)
    parser.add_argument('--set', action='append', default=[], metavar='NAME:=VALUE',
                        help='another planner_node parameter (repeatable), e.g. '
                             'num_threads:=2 or rollout_dtype:=bfloat16')
    parser.add_argument('--goal-every', type=float, default=10.0)
    parser.add_argument('--sample-every', type=float, default=5.0,
                        help='seconds between CPU/memory/diagnostics samples')
    parser.add_argument('--out', default='', help='also write the JSON here')
    return parser.parse_args(argv)


class Rig(SpinningDriver):
    """Camera, joint-state and goal publishers; command and diagnostics subscribers."""

    def __init__(self, args):
        import rclpy
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory

        self.node = rclpy.create_node('planner_soak_driver', namespace=NS)
        self.lock = threading.Lock()
        self.latencies, self.nonzero, self.goals_sent = [], 0, 0
        self._start_camera(args.width, args.height, args.camera_rate)
        self._watch_diagnostics(NS.strip('/') + '/planner_node')
        self.joint_pub = self.node.create_publisher(JointState, 'joint_states', 10)
        self.goal_pub = self.node.create_publisher(JointState, 'planner_node/goal_joint_state', 1)
        self.node.create_timer(1.0 / args.joint_rate, self._joints)
        self.node.create_timer(args.goal_every, self._goal)
        self.node.create_subscription(JointTrajectory,
                                      'planner_node/recommended_joint_trajectory',
                                      self._command,
                                      QoSProfile(depth=100,
                                                 reliability=ReliabilityPolicy.RELIABLE))
        self._msg_types = (JointState,)
        self._start_spinning()

    def _joints(self):
        t = time.time()
        msg = self._msg_types[0](name=list(JOINTS))
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.position = [0.3 * np.sin(0.2 * t), 0.2 * np.cos(0.2 * t), 0.1]
        msg.velocity = [0.0, 0.0, 0.0]
        self.joint_pub.publish(msg)

    def _goal(self):
        msg = self._msg_types[0](name=list(JOINTS))
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.position = list(GOALS[self.goals_sent % len(GOALS)])
        self.goal_pub.publish(msg)
        self.goals_sent += 1

    def _command(self, msg):
        now = time.time()
        sent = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        moving = any(any(v != 0.0 for v in p.velocities) for p in msg.points[:1])
        with self.lock:
            self.latencies.append((now - sent) * 1e3)
            self.nonzero += int(moving)


def main(argv=None):
    """Run the soak and print the JSON result."""
    args = parse_args(argv)
    private_ros_graph()
    extra = ['-p', f'model_path:={args.model}'] if args.model else []
    if args.num_samples:
        extra += ['-p', f'num_samples:={args.num_samples}']
    for item in args.set:
        if ':=' not in item:
            raise SystemExit(f'--set expects NAME:=VALUE, got {item!r}')
        extra += ['-p', item]
    proc, node_log = start_node('planner_node', 'planner.yaml', extra)
    import rclpy
    rclpy.init()
    rig = None
    try:
        rig = Rig(args)
        wait_for_first(rig.latencies, proc, node_log, 90.0, 'command', poke=rig._goal,
                       poll_s=0.5)
        time.sleep(args.warmup)
        with rig.lock:
            rig.latencies.clear()
            rig.nonzero = 0
        samples, windows = [], []
        for sample in process_samples(proc.pid, args.duration, args.sample_every):
            samples.append(sample)
            if rig.diag and len(samples) > 1:   # windows of the measured run only
                windows.append({k: rig.diag[k] for k in ('plan_ms.p50', 'plan_ms.p99',
                                                         'plan_ms.max') if k in rig.diag})
        with rig.lock:
            latencies, nonzero = list(rig.latencies), rig.nonzero
        diag = dict(rig.diag or {})
    finally:
        if rig is not None:
            rig.close()
        rclpy.try_shutdown()
        stop_node(proc)
    result = {
        'command': 'python benchmarks/bench_planner_soak.py ' + ' '.join(sys.argv[1:]),
        'date': time.strftime('%Y-%m-%d'),
        'config': {'duration_s': args.duration, 'camera_hz': args.camera_rate,
                   'joint_states_hz': args.joint_rate, 'goal_every_s': args.goal_every,
                   'num_samples': args.num_samples or 'config/ros/planner.yaml',
                   'image': f'{args.width}x{args.height}', 'parameters': args.set,
                   'cpu_cores': os.cpu_count(), 'load_avg_1min_end': os.getloadavg()[0]},
        'camera_to_command_ms': percentiles(latencies),
        'commands_received': len(latencies), 'moving_commands': nonzero,
        'plan_ms_windows': windows,
        'node_counters': {k: v for k, v in diag.items() if k.startswith('count.')},
        **process_summary(samples),
        'node_exit_code': proc.returncode,
    }
    return print_result(result, args.out)


if __name__ == '__main__':
    sys.exit(main())
