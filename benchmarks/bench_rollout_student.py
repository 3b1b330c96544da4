"""Step time of the planner's rollout models at planning batch size: the teacher ensemble's
frozen step (core/model/rollout_step.py) against rollout students of several widths
(core/model/rollout_student.py, untrained: the time does not depend on the weights), at
``--batch`` samples on each ``--threads`` count. How the students' size was chosen
(docs/planner_speed.md, "A distilled rollout model"). Prints JSON (``--out``: also to a file).

    python benchmarks/bench_rollout_student.py --model models/arm_tiny.safetensors
    python benchmarks/bench_rollout_student.py --hidden 96 128 192 --threads 1 2
"""

import argparse
import json
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jepa_world_model.core.checkpoint import load_checkpoint  # noqa: E402
from jepa_world_model.core.model.rollout_step import RolloutStep  # noqa: E402
from jepa_world_model.core.model.rollout_student import (RolloutStudent,  # noqa: E402
                                                         StudentStep)


def median_ms(step, z, a, repeats: int) -> float:
    """Median milliseconds of ``step(z, a)`` over ``repeats`` calls after 20 untimed ones."""
    with torch.inference_mode():
        for _ in range(20):
            step(z, a)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step(z, a)
            times.append(time.perf_counter() - start)
    return round(float(np.median(times)) * 1e3, 4)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default=os.path.join(REPO_ROOT, 'models',
                                                        'arm_tiny.safetensors'))
    parser.add_argument('--hidden', type=int, nargs='+', default=[96, 128, 192])
    parser.add_argument('--depth', type=int, default=2)
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--repeats', type=int, default=300)
    parser.add_argument('--out', default='')
    args = parser.parse_args(argv)
    teacher = load_checkpoint(args.model).model.eval()
    cfg = teacher.cfg
    torch.manual_seed(0)
    z = torch.randn(args.batch, cfg.latent_dim)
    a = torch.rand(args.batch, cfg.action_dim) * 2 - 1
    steps = {f'teacher ({cfg.dynamics_ensemble_size} x hidden {cfg.dynamics_hidden_dim}, '
             f'depth {cfg.dynamics_depth})': RolloutStep(teacher)}
    for hidden in args.hidden:
        steps[f'student hidden {hidden}, depth {args.depth}'] = StudentStep(
            RolloutStudent.for_teacher(teacher, hidden, args.depth))
    before = torch.get_num_threads()
    rows = []
    try:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for name, step in steps.items():
                rows.append({'step': name, 'threads': threads,
                             'median_ms': median_ms(step, z, a, args.repeats)})
    finally:
        torch.set_num_threads(before)
    result = {'model': os.path.relpath(args.model, REPO_ROOT), 'batch': args.batch,
              'load_average': list(os.getloadavg()), 'rows': rows}
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text + '\n')
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
