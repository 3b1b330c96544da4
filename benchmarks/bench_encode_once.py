"""CPU per camera frame of world_model_node + planner_node: two processes vs one (encode once).

Runs the pair on one checkpoint, fed by one camera, in two modes, alternating for
``--rounds`` rounds per scenario:

* ``separate``: ``world_model_node`` and ``planner_node`` as two processes (as
  ``planner.launch.py with_world_model:=true`` starts them): each loads the model and runs
  its own ViT passes on each frame it takes;
* ``composed``: one ``world_model_stack`` process (launch/world_model_stack.launch.py): one
  model, each ViT pass of a frame run once for both nodes.

A scenario (``--scenario ENCODER@HZ:WxH``, repeatable) is a model, a camera rate and an image
size (default 640x480). ENCODER is
``shipped`` (models/arm_tiny.safetensors: a ViT pass takes about 1 ms, a small part of the
pair's work) or ``large`` (the arm model's architecture with a 128 px, 192-wide, 6-deep ViT,
random weights: about 20 ms a pass, where the encoder dominates, as with a real camera
model). This process plays the camera (bgr8; at 640x480 each node's resize is part of the
cost, at 64x64 there is none; every frame differs from all earlier ones, so the
content-keyed cache cannot hit by repetition), arm joint states at 100 Hz and a joint goal
the arm never reaches, so the planner plans on every tick (10 Hz). The world model's action
comes from the joint states (``action_source: joint_delta``). Over ``--duration`` measured
seconds it reads

* the CPU time (utime + stime, all threads) and resident memory of the node process(es)
  from /proc: **CPU per frame** = their CPU seconds / camera frames published;
* both nodes' ``/diagnostics``: ``count.encodes`` and ``count.encode_cache_hits`` (ViT
  passes run, and served by the shared cache), ``count.predictions`` and ``count.plans``
  (the work done, which must match between the modes for CPU per frame to compare), the
  planner's ``plan_ms`` and its stop counters.

CPU per frame compares only when both modes did the same work: compare
``predictions_per_frame`` and the planner's ``ticks_per_s`` (plans and stops) and
``plans_per_s`` too. Prints
one JSON object with the command, date and the machine's load average (the machines are
shared: CPU per frame is less sensitive to load than latency, but not immune). The figures
in docs/composition.md:

    python benchmarks/bench_encode_once.py --duration 60 --scenario shipped@30:64x64 \
        --scenario shipped@30:640x480 --scenario large@5:64x64 \
        --out docs/results/encode_once.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_node_latency import (NS, percentiles, print_result,  # noqa: E402
                                private_ros_graph, proc_sample, REPO_ROOT, stop_node,
                                SpinningDriver)

sys.path.insert(0, REPO_ROOT)

from jepa_world_model.resources import default_model_path  # noqa: E402

JOINTS = ('joint1', 'joint2', 'joint3')
GOALS = ((0.8, -0.6, 1.0), (-0.8, 0.6, -1.0))
NODES = ('world_model_node', 'planner_node')
COUNTERS = ('encodes', 'encode_cache_hits', 'predictions', 'plans', 'images_received')


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--duration', type=float, default=60.0,
                        help='measured seconds per mode and round (default 60)')
    parser.add_argument('--warmup', type=float, default=5.0, help='unmeasured seconds first')
    parser.add_argument('--rounds', type=int, default=1,
                        help='separate/composed pairs, alternating (default 1)')
    parser.add_argument('--scenario', action='append', default=[], metavar='ENCODER@HZ:WxH',
                        help='shipped@30:640x480 (default), large@5:64x64, ...; repeatable')
    parser.add_argument('--joint-rate', type=float, default=100.0)
    parser.add_argument('--num-threads', type=int, default=1, help='both nodes\' num_threads')
    parser.add_argument('--out', default='', help='also write the JSON here')
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rounds < 1:
        parser.error('--duration must be > 0 and --rounds >= 1')
    try:
        args.scenarios = [parse_scenario(text) for text in args.scenario or ['shipped@30']]
    except ValueError as exc:
        parser.error(str(exc))
    return args


def parse_scenario(text):
    """``'large@10:64x64'`` -> ``('large', 10.0, 64, 64)`` (size default 640x480);
    ValueError naming the problem."""
    encoder, _, rest = text.partition('@')
    rate, _, size = rest.partition(':')
    if encoder not in ('shipped', 'large'):
        raise ValueError(f'--scenario {text!r}: encoder must be shipped or large')
    try:
        hz = float(rate)
        width, height = (int(v) for v in (size or '640x480').split('x'))
    except ValueError:
        raise ValueError(f'--scenario {text!r}: expected ENCODER@HZ:WxH, e.g. '
                         'shipped@30:640x480') from None
    if not 0.0 < hz <= 120.0 or not (16 <= width <= 4096 and 16 <= height <= 4096):
        raise ValueError(f'--scenario {text!r}: the rate must be in (0, 120] Hz and the '
                         'image 16 to 4096 pixels a side')
    return encoder, hz, width, height


def scenario_model(encoder, folder):
    """The checkpoint of ``encoder``: the shipped arm, or its large-encoder variant saved
    (random weights) into ``folder``."""
    shipped = str(default_model_path('arm_tiny.safetensors'))
    if encoder == 'shipped':
        return shipped
    import dataclasses
    import torch
    from jepa_world_model.core.checkpoint import load_checkpoint, save_checkpoint
    from jepa_world_model.core.model.world_model import WorldModel
    config = load_checkpoint(shipped).config
    config = dataclasses.replace(config, model=dataclasses.replace(
        config.model, image_size=128, embed_dim=192, depth=6, num_heads=6))
    torch.manual_seed(0)
    path = os.path.join(folder, 'arm_large_encoder_random.safetensors')
    save_checkpoint(path, WorldModel(config.model), config, step=0)
    return path


def start(module, params_files, overrides, log):
    """Start ``python -m jepa_world_model.ros.<module>`` under ``NS`` with the parameter
    files ``config/ros/<params_files>``; the process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (REPO_ROOT, os.environ.get('PYTHONPATH')) if p))
    cmd = [sys.executable, '-m', f'jepa_world_model.ros.{module}', '--ros-args',
           '-r', f'__ns:={NS}', '--log-level', 'warn']
    for name in params_files:
        cmd += ['--params-file', os.path.join(REPO_ROOT, 'config', 'ros', name)]
    for name, value in overrides.items():
        cmd += ['-p', f'{name}:={value}']
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def start_pair(mode, model, num_threads, log):
    """The node processes of ``mode``: ``{label: Popen}``."""
    common = {'model_path': model, 'num_threads': num_threads, 'autostart': 'true'}
    world = dict(common, action_source='joint_delta')
    if mode == 'composed':   # -p applies to both nodes; only the world model declares these
        return {'world_model_stack': start('world_model_stack',
                                           ['planner.yaml', 'world_model.yaml'], world, log)}
    return {'world_model_node': start('world_model.node', ['world_model.yaml'], world, log),
            'planner_node': start('planner.node', ['planner.yaml'], common, log)}


class Rig(SpinningDriver):
    """Camera, joint-state and goal publishers; /diagnostics of both nodes."""

    def __init__(self, args, camera_hz, size):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image, JointState

        from jepa_world_model.ros.common.image_conversion import rgb_to_image_msg

        self.node = rclpy.create_node('encode_once_driver', namespace=NS)
        self.lock = threading.Lock()
        self.published, self.diag = 0, {}
        self._to_msg, self._joint_state = rgb_to_image_msg, JointState
        self._base = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3),
                                                       dtype=np.uint8)
        self._block = min(64, size[0], size[1]) // 2
        self._rng = np.random.default_rng(1)
        self.image_pub = self.node.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.joint_pub = self.node.create_publisher(JointState, 'joint_states', 10)
        self.goal_pub = self.node.create_publisher(JointState, 'planner_node/goal_joint_state', 1)
        self.node.create_timer(1.0 / camera_hz, self._camera)
        self.node.create_timer(1.0 / args.joint_rate, self._joints)
        self.node.create_timer(5.0, self.goal)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._diagnostics,
                                      QoSProfile(depth=100,
                                                 reliability=ReliabilityPolicy.RELIABLE))
        self.goals_sent = 0
        self._start_spinning()

    def _camera(self):
        # A new random block in the middle (it survives center_crop and the resize): every
        # frame differs from every earlier one.
        rgb, b = self._base.copy(), self._block
        h, w = rgb.shape[0] // 2, rgb.shape[1] // 2
        rgb[h - b:h + b, w - b:w + b] = self._rng.integers(0, 256, (2 * b, 2 * b, 3),
                                                           dtype=np.uint8)
        msg = self._to_msg(rgb, 'bgr8')
        msg.header.stamp, msg.header.frame_id = self.node.get_clock().now().to_msg(), 'camera'
        self.image_pub.publish(msg)
        with self.lock:
            self.published += 1

    def _joints(self):
        t = time.time()
        msg = self._joint_state(name=list(JOINTS))
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.position = [0.3 * np.sin(0.2 * t), 0.2 * np.cos(0.2 * t), 0.1]
        msg.velocity = [0.06 * np.cos(0.2 * t), -0.04 * np.sin(0.2 * t), 0.0]
        self.joint_pub.publish(msg)

    def goal(self):
        """Send the next joint goal (the arm never reaches it: the planner plans every tick)."""
        msg = self._joint_state(name=list(JOINTS), position=list(GOALS[self.goals_sent % 2]))
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.goal_pub.publish(msg)
        self.goals_sent += 1

    def _diagnostics(self, msg):
        for status in msg.status:
            for node in NODES:
                if status.name.startswith(f'{NS.strip("/")}/{node}:'):
                    values = {kv.key: kv.value for kv in status.values}
                    with self.lock:
                        self.diag[node] = (self.published, values)

    def snapshot(self):
        """``{node: (frames published when it was sent, its latest diagnostics)}``."""
        with self.lock:
            return dict(self.diag)


def _count(values, name):
    text = values.get(f'count.{name}', '')
    return int(text) if text else 0


def wait_until_working(rig, procs, log, timeout=120.0):
    """Wait for predictions and plans from both nodes; SystemExit with the log if not."""
    deadline = time.time() + timeout
    while True:
        diag = rig.snapshot()
        if (len(diag) == 2 and _count(diag['world_model_node'][1], 'predictions') > 0
                and _count(diag['planner_node'][1], 'plans') > 0):
            return
        if time.time() > deadline or any(p.poll() is not None for p in procs.values()):
            log.seek(0)
            raise SystemExit('the pair did not start working; output:\n' + log.read()[-5000:])
        rig.goal()   # until the planner's goal subscription is there
        time.sleep(0.5)


def measure(args, mode, model, camera_hz, size):
    """One run of ``mode``: start, warm up, measure ``args.duration`` s, stop; the figures."""
    import rclpy
    with tempfile.TemporaryFile(mode='w+') as log:
        procs = start_pair(mode, model, args.num_threads, log)
        rig = None
        try:
            rclpy.init()
            rig = Rig(args, camera_hz, size)
            wait_until_working(rig, procs, log)
            time.sleep(args.warmup)
            first, t0 = rig.snapshot(), time.time()
            cpu0 = {k: proc_sample(p.pid) for k, p in procs.items()}
            loads = [os.getloadavg()[0]]
            while time.time() - t0 < args.duration:
                time.sleep(min(5.0, max(0.0, args.duration - (time.time() - t0))))
                loads.append(os.getloadavg()[0])
            cpu1 = {k: proc_sample(p.pid) for k, p in procs.items()}
            elapsed = time.time() - t0
            time.sleep(1.5)   # one more diagnostics period
            last = rig.snapshot()
        finally:
            if rig is not None:
                rig.close()
            rclpy.try_shutdown()
            for proc in procs.values():
                stop_node(proc)
        return summarise(mode, procs, cpu0, cpu1, elapsed, first, last, loads)


def summarise(mode, procs, cpu0, cpu1, elapsed, first, last, loads):
    """The figures of one run (see the module docstring)."""
    frames = {n: last[n][0] - first[n][0] for n in NODES}        # published in its window
    counts = {n: {c: _count(last[n][1], c) - _count(first[n][1], c) for c in COUNTERS}
              for n in NODES}
    camera_frames = max(frames.values())
    cpu_s = {k: cpu1[k][0] - cpu0[k][0] for k in procs}
    total_cpu = sum(cpu_s.values())
    encodes = sum(counts[n]['encodes'] * camera_frames / max(frames[n], 1) for n in NODES)
    hits = sum(counts[n]['encode_cache_hits'] * camera_frames / max(frames[n], 1)
               for n in NODES)
    planner_first, planner = first['planner_node'][1], last['planner_node'][1]
    stops = {k[len('count.'):]: _count(planner, k[len('count.'):])
             - _count(planner_first, k[len('count.'):])
             for k in planner if k.startswith('count.stop_')}
    return {
        'mode': mode, 'processes': sorted(procs), 'measured_s': round(elapsed, 1),
        'camera_frames': camera_frames,
        'cpu_ms_per_frame': round(total_cpu / camera_frames * 1e3, 2),
        'cpu_percent_of_one_core': round(total_cpu / elapsed * 100.0, 1),
        'cpu_s_by_process': {k: round(v, 2) for k, v in cpu_s.items()},
        'rss_mib_by_process_end': {k: round(cpu1[k][1], 1) for k in procs},
        'rss_mib_total_end': round(sum(cpu1[k][1] for k in procs), 1),
        'vit_passes_per_frame': round(encodes / camera_frames, 3),
        'cache_hits_per_frame': round(hits / camera_frames, 3),
        'predictions_per_frame': round(counts['world_model_node']['predictions']
                                       / max(frames['world_model_node'], 1), 3),
        'plans_per_s': round(counts['planner_node']['plans'] / elapsed, 2),
        'ticks_per_s': round((counts['planner_node']['plans'] + sum(stops.values()))
                             / elapsed, 2),
        'counts_in_window': counts,
        'planner_plan_ms': {k.split('.', 1)[1]: float(v) for k, v in planner.items()
                            if k.startswith('plan_ms.') and v},
        'planner_stops_in_window': {k: v for k, v in stops.items() if v},
        'world_model_inference_ms': {k.split('.', 1)[1]: float(v) for k, v in
                                     last['world_model_node'][1].items()
                                     if k.startswith('inference_ms.') and v},
        'load_avg_1min': percentiles(loads),
        'exit_codes': {k: p.returncode for k, p in procs.items()},
    }


def run_scenario(args, scenario, folder):
    """``args.rounds`` alternating pairs of runs of one scenario; its JSON part."""
    encoder, camera_hz, width, height = scenario
    model = scenario_model(encoder, folder)
    runs = []
    for round_index in range(args.rounds):
        order = ('separate', 'composed')     # alternated: neither mode always runs first
        for mode in order if round_index % 2 == 0 else order[::-1]:
            runs.append(dict(measure(args, mode, model, camera_hz, (width, height)),
                             round=round_index + 1))
            print(json.dumps({k: runs[-1][k] for k in ('mode', 'round', 'cpu_ms_per_frame',
                                                       'vit_passes_per_frame')}),
                  file=sys.stderr)

    def median(mode, key):
        return round(float(np.median([r[key] for r in runs if r['mode'] == mode])), 3)

    keys = ('cpu_ms_per_frame', 'cpu_percent_of_one_core', 'vit_passes_per_frame',
            'cache_hits_per_frame', 'rss_mib_total_end', 'ticks_per_s', 'plans_per_s',
            'predictions_per_frame')
    summary = {mode: {k: median(mode, k) for k in keys} for mode in ('separate', 'composed')}
    summary['cpu_per_frame_saved_percent'] = round(
        100.0 * (1 - summary['composed']['cpu_ms_per_frame']
                 / summary['separate']['cpu_ms_per_frame']), 1)
    return {'encoder': encoder, 'camera_hz': camera_hz, 'image': f'{width}x{height} bgr8',
            'model': model,
            'summary_median': summary, 'runs': runs}


def main(argv=None):
    """Run the scenarios and print the JSON result."""
    args = parse_args(argv)
    private_ros_graph()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix='jwm_encode_once_') as folder:
        scenarios = [run_scenario(args, scenario, folder) for scenario in args.scenarios]
    result = {
        'command': 'python benchmarks/bench_encode_once.py ' + ' '.join(sys.argv[1:]),
        'date': time.strftime('%Y-%m-%d %H:%M'),
        'config': {'duration_s': args.duration, 'warmup_s': args.warmup,
                   'rounds': args.rounds,
                   'joint_states_hz': args.joint_rate, 'num_threads': args.num_threads,
                   'cpu_cores': os.cpu_count(), 'load_avg_1min_start': load_start,
                   'load_avg_1min_end': os.getloadavg()[0]},
        'scenarios': scenarios,
    }
    return print_result(result, args.out)


if __name__ == '__main__':
    sys.exit(main())
