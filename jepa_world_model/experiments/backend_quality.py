"""Planning success per inference backend: ``jepa-world-model offline-reach`` reports of the
same conditions and seeds run with ``--inference-backend torch``, ``onnxruntime`` and
``onnxruntime_int8``, or with a rollout student (``--rollout-model``: the column
``torch+<file name>``), side by side and paired seed by seed (docs/planner_quality.md,
"int8 planning"; docs/planner_speed.md, "A distilled rollout model").

The reports are grouped as :func:`~.compute_sweep.collect_reports` groups them (a condition
is the command without its sample count and seeds), then the conditions that differ only in
``--inference-backend`` are put together. For each sample count, every backend's success
count, Wilson 95 % interval, mean steps and plan time, and against the reference backend
(torch): the seeds where only one of the two succeeded, and the mean difference in steps to
the goal over the seeds both reached.

    python -m jepa_world_model.experiments.backend_quality REPORT.json ... --out SUMMARY.json
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

# _POINT_FLAGS: what a condition's points and seed batches may differ in (one definition).
from .compute_sweep import _POINT_FLAGS, collect_reports, read_points, TIMING_NOTE
from .conditions import ExperimentError

__all__ = ['REFERENCE', 'strip_backend', 'mcnemar_exact_p', 'paired', 'collect_backend_reports',
           'add_arguments', 'run']

#: The backend every other one is compared with.
REFERENCE = 'torch'
_BACKEND_FLAG = re.compile(r' --inference-backend (\S+)')
# A rollout student (planner_node's rollout_model) is a variant of the backend running it.
_STUDENT_FLAG = re.compile(r' --rollout-model (\S+)')


def strip_backend(command: str) -> str:
    """``command`` without its ``--inference-backend`` and ``--rollout-model`` options."""
    return _STUDENT_FLAG.sub('', _BACKEND_FLAG.sub('', command))


def _backend_of(command: str) -> str:
    """The backend's name, ``+`` the rollout student's file name when there is one (e.g.
    ``torch+arm_tiny_rollout.safetensors``)."""
    found = _BACKEND_FLAG.search(command)
    student = _STUDENT_FLAG.search(command)
    return (found.group(1) if found else REFERENCE) + (
        '+' + Path(student.group(1)).name if student else '')


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value of paired successes: under "no difference" each seed
    only one side reached is equally likely to be either side's (binomial, p = 1/2)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired(reference: Dict[str, Any], other: Dict[str, Any]) -> Dict[str, Any]:
    """Seed-by-seed comparison of two points of one condition and sample count (points of
    :func:`~.compute_sweep.collect_reports`, with ``seeds``, ``failed_seeds`` and
    ``per_seed_steps``).

    Returns:
        ``seeds`` (common), ``both``, ``reference_only``, ``other_only``, ``neither``
        (counts), ``reference_only_seeds``, ``other_only_seeds``, ``success_difference``
        (other - reference, over the common seeds), ``mcnemar_exact_p`` (of the seeds only
        one reached) and ``mean_steps_difference`` (other - reference, over the seeds both
        reached; None when none).

    Raises:
        ExperimentError: the two points share no seed.
    """
    common = sorted(set(reference['seeds']) & set(other['seeds']))
    if not common:
        raise ExperimentError('the two points share no seed: nothing to pair')
    ok_ref = {s for s in common if s not in reference['failed_seeds']}
    ok_other = {s for s in common if s not in other['failed_seeds']}
    both = sorted(ok_ref & ok_other)
    steps = [other['per_seed_steps'][s] - reference['per_seed_steps'][s] for s in both]
    return {'seeds': len(common), 'both': len(both),
            'reference_only': len(ok_ref - ok_other), 'other_only': len(ok_other - ok_ref),
            'neither': len(set(common) - ok_ref - ok_other),
            'reference_only_seeds': sorted(ok_ref - ok_other),
            'other_only_seeds': sorted(ok_other - ok_ref),
            'success_difference': (len(ok_other) - len(ok_ref)) / len(common),
            'mcnemar_exact_p': mcnemar_exact_p(len(ok_ref - ok_other), len(ok_other - ok_ref)),
            'mean_steps_difference': sum(steps) / len(steps) if steps else None}


_KEPT = ('num_elites', 'successes', 'episodes', 'success_rate', 'wilson95',
         'mean_steps_to_goal', 'mean_plan_ms', 'failed_seeds', 'collision_episodes',
         'commands', 'dates')


def collect_backend_reports(paths: Sequence[Path], reference: str = REFERENCE
                            ) -> Dict[str, Any]:
    """The reports in ``paths`` per condition and sample count, one column per backend,
    each paired with ``reference`` where it ran the same condition and samples.

    Raises:
        ExperimentError: a report that cannot be read, one seed in two reports of a point
            (:func:`~.compute_sweep.collect_reports`), or reports without ``per_episode``
            steps.
    """
    swept = collect_reports(paths)
    # The per-seed steps are dropped by collect_reports' summary: read them again.
    steps = _per_seed_steps(paths)
    conditions: Dict[str, Dict[str, Any]] = {}
    for entry in swept['conditions']:
        backend = _backend_of(entry['command'])
        command = strip_backend(entry['command'])
        merged = conditions.setdefault(command, {
            'label': entry['label'], 'robot': entry['robot'], 'command': command,
            'model': entry['model'], 'points': {}})
        for point in entry['points']:
            row = merged['points'].setdefault(point['num_samples'], {
                'num_samples': point['num_samples'], 'backends': {}})
            kept = {k: point[k] for k in _KEPT if k in point}
            kept['seeds'] = point['seeds']
            kept['per_seed_steps'] = steps[(command, backend, point['num_samples'])]
            row['backends'][backend] = kept
    for merged in conditions.values():
        merged['points'] = [_pair_row(merged['points'][n], reference)
                            for n in sorted(merged['points'])]
    return {'what': 'planning success per inference backend: offline-reach (planner_node\'s '
                    'PlanningController in process, no ROS, no plan deadline), the same '
                    'seeds on each backend, paired seed by seed with ' + reference,
            'collected': swept['collected'], 'reference_backend': reference,
            'note': TIMING_NOTE.replace('one torch thread',
                                        'one thread (torch, and onnxruntime intra-op)'),
            'conditions': list(conditions.values())}


def _per_seed_steps(paths: Sequence[Path]) -> Dict[Any, Dict[int, int]]:
    steps: Dict[Any, Dict[int, int]] = {}
    for report in read_points(paths):
        key = (strip_backend(_POINT_FLAGS.sub('', report['command'])),
               _backend_of(report['command']), report['num_samples'])
        for episode in report['per_episode']:
            if 'steps' not in episode:
                raise ExperimentError(f'{report["command"]}: an episode without steps')
            steps.setdefault(key, {})[episode['seed']] = episode['steps']
    return steps


def _pair_row(row: Dict[str, Any], reference: str) -> Dict[str, Any]:
    base = row['backends'].get(reference)
    row['paired_with_' + reference] = {
        name: paired(base, point) for name, point in row['backends'].items()
        if base is not None and name != reference}
    for point in row['backends'].values():
        point.pop('per_seed_steps')
    return row


def code_commit(repo: Path) -> Optional[str]:
    """The repository's HEAD commit (None outside git)."""
    try:
        done = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=repo, capture_output=True,
                              text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``jepa-world-model diagnose backend-quality``."""
    parser.add_argument('reports', type=Path, nargs='+', help='offline-reach JSON reports')
    parser.add_argument('--out', type=Path, required=True, help='the summary (JSON)')
    parser.add_argument('--note', default='', help='added to the summary as run_note')


def run(args: argparse.Namespace) -> int:
    """Collect the reports given on the command line; 2 with one line when it cannot."""
    try:
        summary = collect_backend_reports(args.reports)
    except ExperimentError as exc:
        sys.stderr.write(f'backend_quality: error: {exc}\n')
        return 2
    summary['commit_when_collected'] = code_commit(Path(__file__).resolve().parents[2])
    if args.note:
        summary['run_note'] = args.note
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + '\n', encoding='utf-8')
    return 0
