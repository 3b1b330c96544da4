"""hard_scenes_report: counts, Wilson intervals, time to the goal and paired seeds from
plan-eval results files; results of another scene or repeated seeds are refused."""

import json

import pytest

from jepa_world_model.experiments.hard_scenes_report import run, scene_report
from jepa_world_model.experiments.results import wilson_interval


def _episode(seed, success, steps, collision=False):
    """A plan-eval episode moving 0.05 m per step straight to the goal (no stand-off)."""
    n = steps if success else 150
    distances = [max(0.1, 2.0 - 0.05 * k) for k in range(n)]
    return {'seed': seed, 'success': success, 'steps_to_success': steps if success else None,
            'start_distance': 2.0,
            'collision_steps': 3 if collision else 0, 'distance_trace': distances,
            'position_trace': [[0.05 * k, 0.0] for k in range(n)]}


def _write(folder, condition, scene, episodes):
    folder.mkdir(parents=True, exist_ok=True)
    sim = {'robot': 'mobile_base'} if scene == 'default' else {'robot': 'mobile_base',
                                                               'scene': scene}
    data = {'settings': {'control_period_s': 0.1, 'sim_node': sim}, 'episodes': episodes,
            'run': {'wall_s': 1.0}, 'interrupted': False}
    (folder / f'results_{condition}20_mobile_base_tiny_{scene}.json').write_text(json.dumps(data))


def test_counts_times_and_paired_seeds(tmp_path):
    a, b = tmp_path / 's1', tmp_path / 's11'
    _write(a, 'risk_agents', 'crowd', [_episode(1, True, 30), _episode(2, True, 50)])
    _write(b, 'risk_agents', 'crowd', [_episode(11, False, 0, collision=True)])
    _write(a, 'risk', 'crowd', [_episode(1, False, 0), _episode(2, True, 40)])
    _write(b, 'risk', 'crowd', [_episode(11, True, 70)])
    report = scene_report('crowd', [a, b])
    both, scan = report['risk_agents'], report['risk']
    assert (both['successes'], both['episodes'], both['collision_episodes']) == (2, 3, 1)
    assert both['wilson_95'] == wilson_interval(2, 3)
    assert both['time_to_goal_s']['each'] == [3.0, 5.0]
    assert both['time_to_goal_s']['median'] == 4.0
    assert scan['time_to_goal_s']['median'] == 5.5
    assert both['speed_to_goal_m_s_median'] == pytest.approx(0.5 * (2.0 / 3.0 + 2.0 / 5.0),
                                                             abs=1e-3)
    assert report['paired'] == {'seeds_both_ran': 3, 'only_risk_agents_reached': [1],
                                'only_risk_reached': [11]}
    assert report['people'] == 5


def test_refuses_other_scene_and_repeated_seeds(tmp_path, capsys):
    _write(tmp_path / 'x', 'risk', 'crossing', [_episode(1, True, 30)])
    with pytest.raises(ValueError, match="ran scene 'crossing', not 'crowd'"):
        scene_report('crowd', [tmp_path / 'x'])
    _write(tmp_path / 'y', 'risk', 'crossing', [_episode(1, True, 20)])
    assert run(['--scene', f'crossing={tmp_path / "x"}', '--scene',
                f'crossing={tmp_path / "y"}', '--out', str(tmp_path / 'r.json')]) == 2
    assert 'repeats seeds' in capsys.readouterr().err
    assert run(['--scene', f'party={tmp_path / "x"}']) == 2
    assert run(['--scene', f'crossing={tmp_path / "x"}', '--out', str(tmp_path / 'r.json')]) == 0
    written = json.loads((tmp_path / 'r.json').read_text())
    assert written['scenes']['crossing']['risk']['successes'] == 1
    assert written['scenes']['crossing']['risk_agents'] is None
