"""Latency of planner_node's planner on the shipped models, with their real objectives.

Times ``PlanningController.act(observation)``, the call planner_node makes every control
period, on the controller its configure step builds (planner_node's settings: the arm's
config/ros/planner.yaml, the base's plan-eval ``risk`` condition), from real observations
recorded in the simulators: camera frames and joint states with joint goals or real goal
images (arm), frames, odometry, the room's static map and a 360-beam range scan with pose
goals (mobile base). For each search size (CEM samples x horizon 8 x 3 iterations, elites
samples / 8 as in the YAML) and thread count it reports median and p99 per act(), the
warm-up, and where the time goes (encode, rollouts, each objective term, limits, other).
Details: benchmarks/planner_bench/ and docs/planner_speed.md. Prints JSON (--out: also to
a file).

    python benchmarks/bench_planner.py                    # joint, image, pose goals
    python benchmarks/bench_planner.py --goal pose --samples 256 --threads 2
    python benchmarks/bench_planner.py --goal image --samples 256 --threads 1 --profile
    python benchmarks/bench_planner.py --samples 256 --inference-backend torch onnxruntime_int8
    python benchmarks/bench_planner.py --goal joint --samples 256 \
        --rollout-model ensemble models/arm_tiny_rollout.safetensors
    python benchmarks/bench_planner.py --compare --samples 128 256
    python benchmarks/bench_planner.py --synthetic        # the MLP stand-in, for contrast
"""

import argparse
import itertools
import datetime
import os
import platform
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402

from bench_node_latency import print_result  # noqa: E402
from jepa_world_model.core.runtime.backend_names import BACKENDS  # noqa: E402
from jepa_world_model.node_runs.models import ModelChoiceError  # noqa: E402
from planner_bench.compare import compare  # noqa: E402
from planner_bench.grid import HOW_MEASURED, time_configuration, top_parts  # noqa: E402
from planner_bench.profiling import profile_configuration  # noqa: E402
from planner_bench.rigs import (BenchmarkError, build_controller, GOAL_KINDS,  # noqa: E402
                                load_runtime, node_settings, record_trace, ROBOT_OF_GOAL,
                                SCAN_BEAMS, Search, settings_summary)
from planner_bench.synthetic import run_synthetic  # noqa: E402

#: ``--rollout-model`` value of the dynamics ensemble (planner_node's rollout_model '').
ENSEMBLE = 'ensemble'


def parse_args(argv=None):
    """Command-line options (exit 2 on bad values)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--goal', nargs='+', choices=GOAL_KINDS, default=None,
                        help='goal kinds (default: all; --compare: image)')
    parser.add_argument('--model', default='', help="checkpoint (default: the goal's robot's "
                        'shipped model; all goals must be of one robot)')
    parser.add_argument('--samples', type=int, nargs='+', default=[128, 256, 512])
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--rollout-dtype', nargs='+', default=['float32'],
                        choices=['float32', 'bfloat16'],
                        help="planner_node's rollout_dtype (each one in turn)")
    parser.add_argument('--inference-backend', nargs='+', default=['torch'], choices=BACKENDS,
                        help="planner_node's inference_backend (each one in turn; the "
                        'onnxruntime ones with --threads intra-op threads per session, as '
                        'num_threads; --profile/--compare: the first)')
    parser.add_argument('--rollout-model', nargs='+', default=[ENSEMBLE],
                        help="planner_node's rollout_model, each in turn: 'ensemble' (the "
                        "dynamics ensemble, rollout_model '') or a rollout student file "
                        "(jepa-world-model distill-rollout; torch backend only)")
    parser.add_argument('--horizon', type=int, default=8)
    parser.add_argument('--iterations', type=int, default=3)
    parser.add_argument('--elite-fraction', type=float, default=None,
                        help="elites per sample (default: the node settings' ratio, 1/8)")
    parser.add_argument('--warmup', type=int, default=10, help='act() calls before timing')
    parser.add_argument('--repeats', type=int, default=200, help='timed act() calls')
    parser.add_argument('--breakdown-repeats', type=int, default=50,
                        help='act() calls of the breakdown pass (0: none)')
    parser.add_argument('--trace-seeds', type=int, default=3, help='episodes recorded')
    parser.add_argument('--trace-steps', type=int, default=40, help='control steps each')
    parser.add_argument('--profile', action='store_true', help='torch.profiler and cProfile '
                        'top entries for the first goal, samples and threads')
    parser.add_argument('--profile-acts', type=int, default=30)
    parser.add_argument('--top', type=int, default=15, help='profile entries shown')
    parser.add_argument('--compare', action='store_true', help='this planner vs a patch-token '
                        'predictor vs the oracle pixel planner (image goals)')
    parser.add_argument('--compare-repeats', type=int, default=5,
                        help='decisions timed for the two slower planners')
    parser.add_argument('--synthetic', action='store_true', help='the residual-MLP stand-in')
    parser.add_argument('--latent-dim', type=int, default=128, help='--synthetic only')
    parser.add_argument('--action-dim', type=int, default=4, help='--synthetic only')
    parser.add_argument('--hidden', type=int, default=256, help='--synthetic only')
    parser.add_argument('--layers', type=int, default=2, help='--synthetic only')
    parser.add_argument('--methods', nargs='+', default=['cem', 'mppi'],
                        choices=['cem', 'mppi'], help='--synthetic only')
    parser.add_argument('--trust-region-l1', type=float, default=None, help='--synthetic only')
    parser.add_argument('--out', default='', help='also write the JSON here')
    args = parser.parse_args(argv)
    for name in ('horizon', 'iterations', 'repeats', 'trace_seeds', 'trace_steps',
                 'profile_acts', 'top', 'compare_repeats'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    if args.warmup < 0 or args.breakdown_repeats < 0:
        parser.error('--warmup and --breakdown-repeats must be >= 0')
    if min(args.samples) < 2 or min(args.threads) < 1:
        parser.error('--samples must be >= 2 and --threads >= 1')
    if args.elite_fraction is not None and not 0 < args.elite_fraction <= 1:
        parser.error('--elite-fraction must be in (0, 1]')
    if sum((args.profile, args.compare, args.synthetic)) > 1:
        parser.error('choose one of --profile, --compare, --synthetic')
    args.goal = args.goal or (['image'] if args.compare else list(GOAL_KINDS))
    if args.compare and args.goal != ['image']:
        parser.error('--compare runs on image goals only (the pixel planner is an arm '
                     'image-goal planner)')
    if args.model and len({ROBOT_OF_GOAL[g] for g in args.goal}) > 1:
        parser.error('--model is one robot\'s model: give --goal of that robot only '
                     '(joint/image: arm, pose: mobile_base)')
    return args


def code_version():
    """The commit and the uncommitted changes to the package and config (what was timed)."""
    def git(*args):
        try:
            done = subprocess.run(['git', *args], cwd=REPO_ROOT, capture_output=True,
                                  text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return ''
        return done.stdout
    changed = git('status', '--porcelain', '--', 'jepa_world_model', 'config')
    return {'commit': git('rev-parse', '--short', 'HEAD').strip(),
            'uncommitted': [line[3:] for line in changed.splitlines()]}


def header(argv):
    """What every result records about the run and the machine."""
    return {'benchmark': 'planner_act', 'command': ' '.join(['python', *argv]),
            'code': code_version(),
            'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'torch': torch.__version__, 'python': platform.python_version(),
            'machine': platform.machine(), 'cpu_count': os.cpu_count(),
            'load_average_at_start': load_average()}


def searches(args, settings):
    """The search sizes under test; elites at the node settings' ratio unless given."""
    fraction = (args.elite_fraction if args.elite_fraction is not None
                else settings.num_elites / settings.num_samples)
    return [Search(n, max(1, round(n * fraction)), args.horizon, args.iterations)
            for n in args.samples]


def load_average():
    """The 1, 5 and 15 minute load averages (other work on the CPU while timing)."""
    return [round(x, 2) for x in os.getloadavg()]


class BackendRuntimes:
    """The goal's model on each (inference backend, threads), loaded when first asked for,
    as planner_node loads it at configure: onnxruntime sessions are opened with
    ``num_threads`` intra-op threads, so each thread count has its own runtime. The torch
    runtime is shared (torch's threads are set per configuration)."""

    def __init__(self, goal, model, torch_runtime):
        self.goal, self.model = goal, model
        self._runtimes = {'torch': torch_runtime}
        #: Seconds to load each onnxruntime runtime (the export to the cache, the first
        #: time for a model, and opening the sessions): part of a node's configure.
        self.load_s = {}

    def get(self, backend, threads):
        key = backend if backend == 'torch' else f'{backend}/{threads}'
        if key not in self._runtimes:
            started = time.perf_counter()
            self._runtimes[key] = load_runtime(self.goal, self.model, backend, threads)[0]
            self.load_s[key] = round(time.perf_counter() - started, 3)
        return self._runtimes[key]


def grid(args, sizes):
    """The configurations to time: (search, threads, rollout_dtype, backend, rollout_model);
    bfloat16 rollouts and rollout students only on torch (the onnxruntime backends run their
    own graphs)."""
    return [(search, threads, dtype, backend, student) for search, threads, dtype, backend,
            student in itertools.product(sizes, args.threads, args.rollout_dtype,
                                         args.inference_backend, args.rollout_model)
            if backend == 'torch' or (dtype == 'float32' and student == ENSEMBLE)]


def run_goal(args, goal):
    """The benchmark of one goal kind in the chosen mode."""
    runtime, path = load_runtime(goal, args.model)
    runtimes = BackendRuntimes(goal, args.model, runtime)
    settings = node_settings(goal, path)
    started = time.perf_counter()
    # Recorded with the node's own search size: the same inputs for every configuration.
    trace = record_trace(goal, runtime, build_controller(runtime, settings),
                         list(range(1, args.trace_seeds + 1)), args.trace_steps)
    out = {'goal': goal, 'model': os.path.relpath(path, REPO_ROOT),
           'node_settings': settings_summary(settings),
           'trace': {'episodes': len(trace.goals), 'observations': len(trace.observations),
                     'record_s': round(time.perf_counter() - started, 2),
                     'scan_beams': SCAN_BEAMS if goal == 'pose' else None,
                     'static_map': trace.static_map is not None}}
    sizes = searches(args, settings)
    if args.profile or args.compare:
        backend = args.inference_backend[0]
        out['inference_backend'] = backend
        chosen = runtimes.get(backend, args.threads[0])
    if args.profile:
        out['profile'] = profile_configuration(chosen, settings, trace, sizes[0],
                                               args.threads[0], args.warmup,
                                               args.profile_acts, args.top)
    elif args.compare:
        out['compare'] = compare(chosen, settings, trace, sizes, args.threads[0],
                                 args.warmup, args.repeats, args.compare_repeats)
    else:
        out['configurations'] = []
        for search, threads, dtype, backend, student in grid(args, sizes):
            load_before = load_average()
            rollout_model = '' if student == ENSEMBLE else student
            config = time_configuration(runtimes.get(backend, threads), settings.with_updates(
                {'rollout_dtype': dtype, 'rollout_model': rollout_model}), trace, search,
                threads, args.warmup, args.repeats, args.breakdown_repeats)
            config['rollout_dtype'] = dtype
            config['inference_backend'] = backend
            config['rollout_model'] = student
            # Other work on the CPU slows every figure: keep the load next to it.
            config['load_average'] = {'before': load_before, 'after': load_average()}
            out['configurations'].append(config)
            # A full grid takes many minutes: say how far it got.
            print(f'bench_planner: {goal} {search.samples} samples, {threads} threads, {dtype}, '
                  f"{backend}, {os.path.basename(student)}: median {config['median_ms']:.1f} "
                  f"ms, p99 {config['p99_ms']:.1f} ms (load {load_before[0]:.1f})",
                  file=sys.stderr, flush=True)
        out['top5_by_share'] = [
            {'samples': c['samples'], 'threads': c['threads'],
             'rollout_dtype': c['rollout_dtype'], 'inference_backend': c['inference_backend'],
             'rollout_model': c['rollout_model'], 'top': top_parts(c)}
            for c in out['configurations'] if c['breakdown']]
    out['backend_load_s'] = runtimes.load_s
    return out


def main(argv=None):
    """Run the benchmark; 0 on success, 2 when it cannot run as asked."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    result = header([os.path.relpath(os.path.abspath(__file__), REPO_ROOT), *argv])
    started = time.perf_counter()
    try:
        if args.synthetic:
            result.update(run_synthetic(args))
        else:
            result['mode'] = ('profile' if args.profile else
                              'compare' if args.compare else 'grid')
            result['how_measured'] = HOW_MEASURED
            result['goals'] = [run_goal(args, goal) for goal in args.goal]
    except (BenchmarkError, ModelChoiceError) as exc:
        print(f'bench_planner: {exc}', file=sys.stderr)
        return 2
    result['elapsed_s'] = round(time.perf_counter() - started, 1)
    result['load_average_at_end'] = load_average()
    return print_result(result, args.out)


if __name__ == '__main__':
    sys.exit(main())
