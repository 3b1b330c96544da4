"""Smoke test of benchmarks/bench_planner.py: the real mode runs the shipped models with tiny
repeats and reports positive times and a breakdown whose parts add up to at most the act()
time, with the model steps the search must make; the section clock is exact on a fake clock.
"""

import json
import os
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          'benchmarks')
sys.path.insert(0, BENCHMARKS)

import bench_planner  # noqa: E402
from planner_bench import section_clock  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_torch_thread')

TINY = ['--samples', '16', '--threads', '1', '--repeats', '3', '--warmup', '1',
        '--breakdown-repeats', '2', '--trace-seeds', '1', '--trace-steps', '3']


def _run(tmp_path, args, capsys):
    out = tmp_path / 'bench.json'
    assert bench_planner.main(args + ['--out', str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed == written
    return written


def test_real_mode_times_act_and_its_parts(tmp_path, capsys):
    result = _run(tmp_path, ['--goal', 'image', 'pose'] + TINY, capsys)
    for field in ('command', 'torch', 'cpu_count', 'load_average_at_start', 'date'):
        assert result[field], field
    assert [g['goal'] for g in result['goals']] == ['image', 'pose']
    for goal in result['goals']:
        assert goal['trace']['observations'] >= 1
        [config] = goal['configurations']
        assert (config['samples'], config['elites'], config['threads']) == (16, 2, 1)
        assert config['count'] == 3
        assert 0 < config['median_ms'] <= config['p99_ms'] <= config['max_ms']
        assert config['warm_up']['warm_up_plan_ms'] > 0
        assert config['warm_up']['first_act_ms'] > 0
        breakdown = config['breakdown']
        parts = breakdown['parts']
        for name in ('encode', 'rollouts', 'objective:goal', 'limits', 'planner_search',
                     'other'):
            assert parts[name]['mean_ms'] > 0, name
        assert sum(p['mean_ms'] for p in parts.values()) <= breakdown['act_mean_ms'] + 1e-3
        assert sum(p['share'] for p in parts.values()) == pytest.approx(1.0, abs=1e-3)
        # Every iteration's samples and the final mean, horizon x action_repeat steps each.
        repeat = config['settings']['action_repeat']
        assert breakdown['rollout_calls_per_act'] == config['expected_rollout_calls_per_act'] \
            == (3 + 1) * 8 * repeat
        assert goal['top5_by_share'][0]['top'][0]['share'] > 0
    image, pose = result['goals']
    assert 'objective:obstacles' not in image['configurations'][0]['breakdown']['parts']
    pose_parts = pose['configurations'][0]['breakdown']['parts']
    assert pose_parts['objective:obstacles']['mean_ms'] > 0
    assert pose_parts['command_delay_rollforward']['calls_per_act'] == 1
    assert pose['trace']['scan_beams'] == 360 and pose['trace']['static_map']


def test_synthetic_mode_stays(tmp_path, capsys):
    result = _run(tmp_path, ['--synthetic', '--latent-dim', '8', '--hidden', '16',
                             '--samples', '8', '--threads', '1', '--repeats', '2',
                             '--warmup', '0', '--methods', 'cem'], capsys)
    [row] = result['results']
    assert result['mode'] == 'synthetic' and row['count'] == 2 and row['median_ms'] > 0


@pytest.mark.parametrize('args', [['--samples', '1'], ['--threads', '0'],
                                  ['--profile', '--compare'], ['--compare', '--goal', 'pose'],
                                  ['--model', 'x.safetensors', '--goal', 'joint', 'pose']])
def test_bad_options_exit_2(args, capsys):
    with pytest.raises(SystemExit) as stop:
        bench_planner.parse_args(args)
    assert stop.value.code == 2
    assert 'error' in capsys.readouterr().err


def test_a_missing_model_is_a_clear_error(tmp_path, capsys):
    assert bench_planner.main(['--goal', 'joint', '--model', str(tmp_path / 'none')] + TINY) == 2
    assert 'model not found' in capsys.readouterr().err


def test_section_clock_counts_nested_time_once(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(section_clock.time, 'perf_counter', lambda: now[0])

    def inner():
        now[0] += 2.0

    clock = section_clock.SectionClock()
    timed_inner = clock.wrap('inner', inner)

    def outer():
        now[0] += 1.0
        timed_inner()
        timed_inner()
        now[0] += 3.0

    clock.wrap('outer', outer)()
    assert dict(clock.seconds) == {'inner': 4.0, 'outer': 4.0}
    assert dict(clock.calls) == {'inner': 2, 'outer': 1}


def test_compare_and_profile_report_every_planner(tmp_path, capsys):
    tiny = TINY[:TINY.index('--breakdown-repeats')] + ['--trace-seeds', '1', '--trace-steps', '2']
    compared = _run(tmp_path, ['--compare', '--compare-repeats', '1'] + tiny, capsys)
    [row] = compared['goals'][0]['compare']['results']
    assert row['pixel_own_settings']['candidates'] == 27
    for name in ('token_predictor', 'pixel_own_settings', 'pixel_equal_samples'):
        assert row[name]['median_ms'] > 0 and row['ratios_to_this'][name] > 0, name
    profiled = _run(tmp_path, ['--profile', '--goal', 'joint', '--profile-acts', '1',
                               '--top', '3'] + tiny, capsys)
    profile = profiled['goals'][0]['profile']
    assert len(profile['torch_profiler_top_self_cpu']) == 3
    assert len(profile['cprofile_top_tottime']) == 3
    assert profile['torch_profiler_top_self_cpu'][0]['self_ms_per_act'] > 0
