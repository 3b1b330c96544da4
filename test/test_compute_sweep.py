"""Quality per unit of compute (``experiments/compute_sweep.py``, issue #16 item 5): the
offline-reach reports gathered into success against samples per condition, the knee of each
curve, and the figure; through ``jepa-world-model offline-reach --collect``."""

import json

import pytest

from jepa_world_model.cli import main
from jepa_world_model.experiments.compute_sweep import collect_reports, knee
from jepa_world_model.experiments.conditions import ExperimentError
from jepa_world_model.experiments.offline_reach.summary import summarise_episodes
from jepa_world_model.experiments.results import wilson_interval

BASE_COMMAND = ('jepa-world-model offline-reach --robot mobile_base --risk scan --map '
                '--command-delay 1')


def _episodes(wins, n, steps=20, plan_ms=10.0, first_seed=1):
    return [{'seed': first_seed + s, 'success': s < wins, 'steps': steps if s < wins else 80,
             'plan_ms_mean': plan_ms} for s in range(n)]


def _report(samples, wins, n=10, robot='arm', objective='joint_goal', plan_ms=10.0,
            first_seed=1):
    """A report as offline-reach writes it (the fields collect_reports reads)."""
    episodes = _episodes(wins, n, plan_ms=plan_ms, first_seed=first_seed)
    if robot == 'mobile_base':   # one collision episode, among the failed ones
        for e in episodes:
            e['first_collision_step'] = 7 if e['seed'] == first_seed + n - 1 else None
    command = ((f'jepa-world-model offline-reach --robot arm --objective {objective}'
                if robot == 'arm' else BASE_COMMAND) +
               f' --first-seed {first_seed} --episodes {n} --num-samples {samples}')
    report = {'command': command, 'robot': robot, 'date': '2026-12-04T00:00:00+00:00',
              'num_samples': samples, 'num_elites': samples // 8, 'first_seed': first_seed,
              'summary': summarise_episodes(episodes), 'per_episode': episodes}
    report.update({'objective': objective} if robot == 'arm' else {'risk': 'scan'})
    return report


def _write(path, data):
    path.write_text(json.dumps(data), encoding='utf-8')
    return path


def test_summary_counts_wins_steps_and_plan_time():
    episodes = _episodes(3, 4, steps=10, plan_ms=5.0)
    episodes[-1]['plan_ms_mean'] = 25.0            # the failed one: 80 steps at 25 ms
    summary = summarise_episodes(episodes)
    assert (summary['successes'], summary['episodes'], summary['mean_steps_to_goal']) == \
        (3, 4, 10.0)
    # Weighted by steps: (3 x 10 x 5 + 80 x 25) / 110 ms.
    assert summary['mean_plan_ms'] == pytest.approx((150 + 2000) / 110)
    low, high = summary['wilson95']
    assert 0.3 < low < 0.75 < high < 1.0
    assert summarise_episodes(_episodes(0, 2))['mean_steps_to_goal'] is None
    with pytest.raises(ValueError):
        summarise_episodes([])


def _point(samples, wins, n):
    return {'num_samples': samples, 'success_rate': wins / n,
            'wilson95': wilson_interval(wins, n)}


def test_the_knee_is_the_fewest_samples_within_the_noise_of_the_best():
    # 50 episodes: 40 wins is well below 48 (interval 0.67-0.89); 46 is within its noise.
    points = [_point(64, 40, 50), _point(128, 46, 50), _point(256, 48, 50),
              _point(512, 47, 50)]
    assert knee(points) == 128
    # Ten times the episodes: 46 of 50 becomes 460 of 500, distinguishable from 0.96.
    many = [_point(64, 400, 500), _point(128, 460, 500), _point(256, 480, 500)]
    assert knee(many) == 256
    flat = [_point(n, 30, 30) for n in (1024, 64, 256)]
    assert knee(flat) == 64
    with pytest.raises(ValueError):
        knee([])


def test_reports_are_grouped_by_condition_and_sorted_by_samples(tmp_path):
    sweep = {'points': [_report(256, 10), _report(64, 6)]}   # one --num-samples list
    paths = [_write(tmp_path / 'arm.json', sweep),
             _write(tmp_path / 'arm128.json', _report(128, 9)),
             _write(tmp_path / 'base.json', _report(64, 7, robot='mobile_base'))]
    summary = collect_reports(paths)
    arm, base = summary['conditions']
    assert arm['label'] == 'arm, joint goals' and arm['shipped_num_samples'] == 64
    assert arm['command'] == 'jepa-world-model offline-reach --robot arm --objective joint_goal'
    assert [(p['num_samples'], p['successes']) for p in arm['points']] == \
        [(64, 6), (128, 9), (256, 10)]
    assert arm['knee_num_samples'] == 256 and arm['points'][0]['seeds'] == list(range(1, 11))
    assert base['shipped_num_samples'] == 64 and base['points'][0]['collision_episodes'] == 1
    assert base['knee_num_samples'] == 64


def test_batches_of_other_seeds_join_their_point(tmp_path):
    first = _report(128, 9, n=10, first_seed=1)
    more = _report(128, 4, n=5, first_seed=11)
    summary = collect_reports([_write(tmp_path / 'a.json', more),
                               _write(tmp_path / 'b.json', first)])
    [condition] = summary['conditions']
    [point] = condition['points']
    assert point['seeds'] == list(range(1, 16))
    assert point['failed_seeds'] == [10, 15]   # each batch's last seeds lost
    assert (point['successes'], point['episodes']) == (13, 15)
    assert point['commands'] == [more['command'], first['command']]


def test_bad_reports_are_refused(tmp_path):
    with pytest.raises(ExperimentError, match='cannot read'):
        collect_reports([tmp_path / 'missing.json'])
    with pytest.raises(ExperimentError, match='not an offline-reach report'):
        collect_reports([_write(tmp_path / 'old.json', {'per_episode': []})])
    overlapping = [_write(tmp_path / f'{i}.json', _report(64, 5, first_seed=i))
                   for i in (1, 10)]
    with pytest.raises(ExperimentError, match=r'seeds \[10\] are in two reports'):
        collect_reports(overlapping)


def test_collect_through_the_cli_writes_the_table_and_the_figure(tmp_path, capsys):
    paths = [_write(tmp_path / f'{n}.json', _report(n, w, plan_ms=n / 4))
             for n, w in ((64, 5), (128, 8), (256, 8))]
    out, plot = tmp_path / 'out' / 'table.json', tmp_path / 'figure.png'
    assert main(['offline-reach', '--collect', *map(str, paths), '--out', str(out),
                 '--plot', str(plot)]) == 0
    written = json.loads(out.read_text(encoding='utf-8'))
    assert written == json.loads(capsys.readouterr().out)
    assert written['conditions'][0]['knee_num_samples'] == 128
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and plot.stat().st_size > 10_000
    assert main(['offline-reach', '--plot', str(plot)]) == 2
    assert '--plot: only with --collect' in capsys.readouterr().err
