"""experiments/backend_quality.py: offline-reach reports of one condition on several
inference backends, side by side per sample count and paired seed by seed with torch."""

import json

import pytest

from jepa_world_model.cli import main
from jepa_world_model.experiments.backend_quality import (collect_backend_reports,
                                                          mcnemar_exact_p, paired,
                                                          strip_backend)
from jepa_world_model.experiments.conditions import ExperimentError
from jepa_world_model.experiments.results import wilson_interval

ARM = 'jepa-world-model offline-reach --robot arm --episodes 4 --objective joint_goal'


def _report(path, backend, samples, outcomes, first_seed=1):
    """A report of seeds first_seed.. with (success, steps) ``outcomes``."""
    flag = '' if backend == 'torch' else f' --inference-backend {backend}'
    episodes = [{'seed': first_seed + i, 'success': ok, 'steps': steps,
                 'plan_ms_p50': 10.0, 'plan_ms_mean': 10.0}
                for i, (ok, steps) in enumerate(outcomes)]
    report = {'command': f'{ARM}{flag} --num-samples {samples}', 'robot': 'arm',
              'objective': 'joint_goal', 'date': '2026-12-04T08:00:00+00:00',
              'num_samples': samples, 'num_elites': samples // 8, 'per_episode': episodes}
    path.write_text(json.dumps(report))
    return path


def test_backends_side_by_side_and_paired(tmp_path):
    paths = [
        _report(tmp_path / 't64.json', 'torch', 64, [(1, 20), (1, 30), (0, 80), (1, 10)]),
        _report(tmp_path / 'q64.json', 'onnxruntime_int8', 64,
                [(1, 24), (0, 80), (1, 40), (1, 10)]),
        _report(tmp_path / 't256.json', 'torch', 256, [(1, 20)] * 4),
    ]
    summary = collect_backend_reports(paths)
    [condition] = summary['conditions']
    assert condition['command'] == ARM.replace(' --episodes 4', '')
    at64, at256 = condition['points']
    assert (at64['num_samples'], at256['num_samples']) == (64, 256)
    torch64, int8 = at64['backends']['torch'], at64['backends']['onnxruntime_int8']
    assert (torch64['successes'], int8['successes']) == (3, 3)
    assert int8['wilson95'] == pytest.approx(wilson_interval(3, 4))
    assert int8['failed_seeds'] == [2] and torch64['failed_seeds'] == [3]
    pair = at64['paired_with_torch']['onnxruntime_int8']
    assert (pair['both'], pair['reference_only'], pair['other_only'], pair['neither']) \
        == (2, 1, 1, 0)
    assert (pair['reference_only_seeds'], pair['other_only_seeds']) == ([2], [3])
    assert pair['success_difference'] == 0.0 and pair['mcnemar_exact_p'] == 1.0
    assert pair['mean_steps_difference'] == pytest.approx(((24 - 20) + (10 - 10)) / 2)
    # 256 samples ran on torch only: nothing to pair.
    assert list(at256['backends']) == ['torch'] and at256['paired_with_torch'] == {}


def test_mcnemar_exact_p():
    # 3 vs 1 discordant seeds: 2 x (1 + 4) / 16; 0 vs 6: 2 / 64; none: no evidence.
    assert mcnemar_exact_p(3, 1) == pytest.approx(0.625)
    assert mcnemar_exact_p(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact_p(0, 0) == 1.0


def test_pairing_needs_common_seeds():
    a = {'seeds': [1, 2], 'failed_seeds': [], 'per_seed_steps': {1: 3, 2: 4}}
    b = {'seeds': [3], 'failed_seeds': [], 'per_seed_steps': {3: 5}}
    with pytest.raises(ExperimentError, match='share no seed'):
        paired(a, b)


def test_strip_backend_keeps_the_rest():
    assert strip_backend(f'{ARM} --inference-backend onnxruntime --num-samples 8') == \
        f'{ARM} --num-samples 8'


def test_the_command_line_writes_the_summary_or_says_why_not(tmp_path, capsys):
    report = _report(tmp_path / 'a.json', 'onnxruntime', 8, [(1, 5)])
    out = tmp_path / 'summary.json'
    assert main(['diagnose', 'backend-quality', str(report), '--out', str(out), '--note',
                 'loaded machine']) == 0
    written = json.loads(out.read_text())
    assert written['run_note'] == 'loaded machine'
    assert written['conditions'][0]['points'][0]['backends']['onnxruntime']['successes'] == 1
    (tmp_path / 'bad.json').write_text('not json')
    assert main(['diagnose', 'backend-quality', str(tmp_path / 'bad.json'), '--out',
                 str(out)]) == 2
    assert 'cannot read the report' in capsys.readouterr().err
