"""End-to-end latency of world_model_node: camera image in -> predicted trajectory out.

Starts ``world_model_node`` as its own process (``python -m jepa_world_model.ros.world_model.node
--params-file config/ros/world_model.yaml -p autostart:=true``), then plays a camera at 30 Hz
(640x480 bgr8 by default, so the resize is part of the cost), joint states at 100 Hz and
``cmd_vel`` at 10 Hz from this process over real DDS. For every
``~/predicted_joint_trajectory`` it measures ``receive time - header.stamp`` (the stamp is the
camera stamp, set from the system clock right before publishing), which includes the DDS
hops both ways and this process's own callback delay, so it slightly overstates the node.

It also samples the node process's CPU time and resident memory (/proc) every
``--sample-every`` seconds, and checks for a backlog: the latency must not grow over the run,
and no prediction may arrive after the camera has stopped for longer than one frame.

Prints one JSON object. Targets (2 cores): p50 <= 15 ms, p99 <= 33 ms, flat memory, zero
backlog. Example (the figures in docs/node_benchmark.md):

    python benchmarks/bench_node_latency.py --duration 60
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from jepa_world_model.resources import default_model_path  # noqa: E402
from driver_rig import SpinningDriver  # noqa: E402 (bench_encode_once imports it from here)

NS = '/bench'
CLK_TCK = os.sysconf('SC_CLK_TCK')


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--duration', type=float, default=600.0,
                        help='measured seconds after warm-up (default 600)')
    parser.add_argument('--warmup', type=float, default=5.0, help='unmeasured seconds first')
    parser.add_argument('--model', default='', help='checkpoint (default: the shipped model; '
                        'if missing, random weights of config/train/gantry_tiny.yaml)')
    parser.add_argument('--camera-rate', type=float, default=30.0)
    parser.add_argument('--joint-rate', type=float, default=100.0)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--encoding', default='bgr8')
    parser.add_argument('--num-threads', type=int, default=1, help='node num_threads')
    parser.add_argument('--sample-every', type=float, default=5.0,
                        help='seconds between CPU/memory samples')
    parser.add_argument('--out', default='', help='also write the JSON here')
    return parser.parse_args(argv)


def resolve_model(path, tmp_dir):
    """The checkpoint to benchmark and a description of it (a stand-in goes to tmp_dir)."""
    if path:
        return path, 'given'
    shipped = default_model_path()
    if shipped.is_file():
        return str(shipped), 'shipped'
    import torch
    from jepa_world_model.core.checkpoint import save_checkpoint
    from jepa_world_model.core.config import load_config
    from jepa_world_model.core.model.world_model import WorldModel
    torch.manual_seed(0)
    config = load_config(os.path.join(REPO_ROOT, 'config', 'train', 'gantry_tiny.yaml'))
    out = os.path.join(tmp_dir, 'gantry_tiny_random.safetensors')
    save_checkpoint(out, WorldModel(config.model), config, step=0)
    return out, 'random weights, gantry_tiny architecture (shipped model not found)'


#: Node executable name -> the module ``python -m`` runs.
NODE_MODULES = {'world_model_node': 'jepa_world_model.ros.world_model.node',
                'planner_node': 'jepa_world_model.ros.planner.node'}


def start_node(name, params_file, extra_args):
    """Start ``NODE_MODULES[name]`` under ``NS`` with ``config/ros/<params_file>`` and
    ``autostart``; returns the process and the file its output goes to."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get('PYTHONPATH')) if p))
    cmd = [sys.executable, '-m', NODE_MODULES[name], '--ros-args',
           '-r', f'__ns:={NS}',
           '--params-file', os.path.join(REPO_ROOT, 'config', 'ros', params_file),
           '-p', 'autostart:=true', *extra_args, '--log-level', 'warn']
    log = tempfile.TemporaryFile(mode='w+')
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT), log


def stop_node(proc, timeout=15.0):
    """SIGTERM (SIGINT is ignored in background shells), then kill after ``timeout``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def proc_sample(pid):
    """(cpu seconds, resident MiB, machine 1-min load average) of process ``pid`` from /proc.

    The load average is kept with each sample because the machines are shared: a latency or
    plan-time percentile means little without the load it was measured under.
    """
    with open(f'/proc/{pid}/stat', encoding='ascii') as handle:
        fields = handle.read().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK     # utime + stime
    rss_kib = 0
    with open(f'/proc/{pid}/status', encoding='ascii') as handle:
        for line in handle:
            if line.startswith('VmRSS:'):
                rss_kib = int(line.split()[1])
    return cpu, rss_kib / 1024.0, os.getloadavg()[0]


def wait_for_first(records, proc, node_log, timeout_s, what, poke=None, poll_s=0.1):
    """Wait until ``records`` (a list the rig's subscriber fills) has an entry, calling
    ``poke`` (e.g. send the goal again) every ``poll_s``; SystemExit with the node's output
    when the node exits or ``timeout_s`` passes first."""
    deadline = time.time() + timeout_s
    while not records:
        if time.time() > deadline or proc.poll() is not None:
            node_log.seek(0)
            raise SystemExit(f'no {what} within {timeout_s:g} s; node output:\n'
                             + node_log.read())
        if poke is not None:
            poke()
        time.sleep(poll_s)


def process_samples(pid, duration, every):
    """Yield ``(t, cpu s, rss MiB, load)`` of process ``pid`` (:func:`proc_sample`) now, at
    t = 0, then every ``every`` seconds until ``duration`` seconds have passed."""
    start = time.time()
    yield (0.0,) + proc_sample(pid)
    while time.time() - start < duration:
        time.sleep(min(every, max(0.0, duration - (time.time() - start))))
        yield (time.time() - start,) + proc_sample(pid)


def process_summary(samples):
    """CPU share, memory trend and machine load from ``(t, cpu s, rss MiB, load)`` samples."""
    times = np.array([s[0] for s in samples])
    cpu = np.array([s[1] for s in samples])
    rss = np.array([s[2] for s in samples])
    load = np.array([s[3] for s in samples])
    slope = float(np.polyfit(times, rss, 1)[0] * 60.0) if len(samples) > 2 else float('nan')
    half = len(samples) // 2     # the first half includes allocator warm-up
    slope2 = (float(np.polyfit(times[half:], rss[half:], 1)[0] * 60.0)
              if len(samples) - half > 2 else float('nan'))
    return {
        'machine_load_avg_1min': {'min': round(float(load.min()), 2),
                                  'median': round(float(np.median(load)), 2),
                                  'max': round(float(load.max()), 2)},
        'node_cpu_percent_of_one_core': round(float((cpu[-1] - cpu[0]) / (times[-1] - times[0])
                                                    * 100.0), 1) if len(samples) > 1 else None,
        'node_rss_mib': {'start': round(float(rss[0]), 1), 'end': round(float(rss[-1]), 1),
                         'max': round(float(rss.max()), 1),
                         'slope_mib_per_min': round(slope, 3),
                         'slope_second_half_mib_per_min': round(slope2, 3),
                         'samples': [[round(float(t), 1), round(float(r), 2)]
                                     for t, r in zip(times, rss)]}}


def print_result(result, out=None):
    """Print ``result`` as JSON and, with ``out``, also write it there; exit status 0."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        with open(out, 'w', encoding='utf-8') as handle:
            handle.write(text + '\n')
    return 0


def percentiles(values):
    """p50/p99/max/mean of a list (ms), rounded."""
    if not values:
        return {}
    arr = np.asarray(values)
    return {'p50': round(float(np.percentile(arr, 50)), 2),
            'p99': round(float(np.percentile(arr, 99)), 2),
            'max': round(float(arr.max()), 2), 'mean': round(float(arr.mean()), 2),
            'count': len(values)}


def private_ros_graph():
    """A random ROS_DOMAIN_ID and localhost discovery, unless the caller set them."""
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(120, 200)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')


class Rig(SpinningDriver):
    """The camera/joint/command publishers and the prediction subscriber."""

    def __init__(self, args):
        import rclpy
        from geometry_msgs.msg import Twist
        from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory

        self.rclpy, self.args = rclpy, args
        self.node = rclpy.create_node('bench_driver', namespace=NS)
        self.lock = threading.Lock()
        self.latencies = []        # (receive wall time, latency ms)
        self._start_camera(args.width, args.height, args.camera_rate, args.encoding)
        self._watch_diagnostics(NS.strip('/') + '/world_model_node')
        self.joint_pub = self.node.create_publisher(JointState, 'joint_states',
                                                    qos_profile_sensor_data)
        self.cmd_pub = self.node.create_publisher(Twist, 'cmd_vel', 10)
        self.joint_msg = JointState(name=['joint_x', 'joint_y'])
        self.twist = Twist()
        self.node.create_timer(1.0 / args.joint_rate, self._joints)
        self.node.create_timer(0.1, self._cmd)
        self.node.create_subscription(JointTrajectory,
                                      'world_model_node/predicted_joint_trajectory',
                                      self._prediction,
                                      QoSProfile(depth=100,
                                                 reliability=ReliabilityPolicy.RELIABLE))
        self._start_spinning()

    def _now_msg(self):
        return self.node.get_clock().now().to_msg()

    def _joints(self):
        t = time.time()
        msg = self.joint_msg
        msg.header.stamp = self._now_msg()
        msg.position = [0.5 + 0.3 * np.sin(t), 0.5 + 0.3 * np.cos(t)]
        msg.velocity = [0.3 * np.cos(t), -0.3 * np.sin(t)]
        self.joint_pub.publish(msg)

    def _cmd(self):
        t = time.time()
        self.twist.linear.x, self.twist.linear.y = float(np.sin(t)), float(np.cos(t))
        self.cmd_pub.publish(self.twist)

    def _prediction(self, msg):
        now = time.time()
        sent = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self.lock:
            self.latencies.append((now, (now - sent) * 1e3))


def main(argv=None):
    """Run the benchmark and print the JSON result."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='jwm_bench_') as tmp_dir:
        return run(args, tmp_dir)


def run(args, tmp_dir):
    """Start the node, drive it for the configured time and report."""
    private_ros_graph()
    model, model_note = resolve_model(args.model, tmp_dir)
    proc, node_log = start_node('world_model_node', 'world_model.yaml', [
        '-p', f'model_path:={model}', '-p', f'num_threads:={args.num_threads}'])
    import rclpy
    rclpy.init()
    rig = None
    try:
        rig = Rig(args)
        wait_for_first(rig.latencies, proc, node_log, 60.0, 'prediction')
        time.sleep(args.warmup)
        with rig.lock:
            rig.latencies.clear()
        published0 = rig.published
        samples = list(process_samples(proc.pid, args.duration, args.sample_every))
        rig.camera_on = False
        stop_wall = rig.last_image_wall
        published = rig.published - published0
        time.sleep(1.0)
        with rig.lock:
            records = list(rig.latencies)
        result = summarise(args, model, model_note, records, samples, published, stop_wall,
                           rig.diag)
    finally:
        if rig is not None:
            rig.close()
        rclpy.try_shutdown()
        stop_node(proc)
    result['node_exit_code'] = proc.returncode
    return print_result(result, args.out)


def summarise(args, model, model_note, records, samples, published, stop_wall, diag):
    """Turn the raw records into the JSON result."""
    latencies = [lat for _, lat in records]
    n = len(latencies)
    tenth = max(n // 10, 1)
    late = [t - stop_wall for t, _ in records if stop_wall and t > stop_wall]
    return {
        'command': 'python benchmarks/bench_node_latency.py ' + ' '.join(sys.argv[1:]),
        'model': model, 'model_note': model_note,
        'config': {'duration_s': args.duration, 'camera_hz': args.camera_rate,
                   'joint_states_hz': args.joint_rate, 'image': f'{args.width}x{args.height} '
                   f'{args.encoding}', 'num_threads': args.num_threads,
                   'cpu_cores': os.cpu_count(), 'load_avg_1min_end': os.getloadavg()[0]},
        'latency_ms': percentiles(latencies),
        'latency_first_10pct_ms': percentiles(latencies[:tenth]),
        'latency_last_10pct_ms': percentiles(latencies[-tenth:]),
        'frames_published': published, 'predictions_received': n,
        'processed_fraction': round(n / published, 3) if published else None,
        'predictions_after_camera_stopped': len(late),
        'max_delay_after_camera_stopped_ms': round(max(late) * 1e3, 1) if late else 0.0,
        **process_summary(samples),
        'node_diagnostics': {k: v for k, v in (diag or {}).items()
                             if k.startswith(('latency_ms', 'inference_ms', 'skew_ms',
                                              'count.', 'rate_hz', '_'))},
    }


if __name__ == '__main__':
    sys.exit(main())
