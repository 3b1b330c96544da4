"""plan-eval's agent-term conditions, the lock-step command wait and the stand-off measure
(experiments/conditions.py, experiments/stand_offs.py). No ROS."""

import json

import numpy as np
import pytest

from jepa_world_model.cli import main as cli_main
from jepa_world_model.experiments.agent_term_report import build_report
from jepa_world_model.experiments.conditions import (CONDITIONS, ExperimentOptions,
                                                     planner_parameters, sim_parameters)
from jepa_world_model.experiments.stand_offs import (StandOffRule, stalls,
                                                     stand_off_summary, stand_offs)


def test_the_three_base_conditions_differ_in_their_scan_terms_alone():
    opts = ExperimentOptions(robot='mobile_base', conditions=['risk', 'agents', 'risk_agents'])
    scan, agents, both = (planner_parameters(opts, CONDITIONS[c], 'm.safetensors')
                          for c in ('risk', 'agents', 'risk_agents'))
    assert (scan['obstacle_weight'], scan['agent_weight']) == (20.0, 0.0)
    assert (agents['obstacle_weight'], agents['agent_weight']) == (0.0, 20.0)
    assert (both['obstacle_weight'], both['agent_weight']) == (20.0, 20.0)
    assert 'agent_model_path' not in scan
    assert agents['agent_model_path'].endswith('mobile_base_agents.safetensors')
    terms = ('obstacle_weight', 'agent_weight', 'agent_model_path')
    assert {k: v for k, v in both.items() if k not in terms} == \
        {k: v for k, v in scan.items() if k not in terms}


def test_command_wait_sets_the_lockstep_timeout_and_keeps_the_control_period():
    opts = ExperimentOptions(robot='mobile_base', lockstep=True, command_wait=0.5)
    params = sim_parameters(opts)
    assert params['rate_hz'] == pytest.approx(2.0) and params['control_period'] == 0.1
    assert sim_parameters(ExperimentOptions(robot='mobile_base', lockstep=True))['rate_hz'] \
        == 10.0
    with pytest.raises(ValueError, match='lockstep'):
        ExperimentOptions(robot='mobile_base', command_wait=0.5)
    with pytest.raises(ValueError):
        ExperimentOptions(robot='mobile_base', lockstep=True, command_wait=3.0)


def base_episode(wait_steps, wait_distance=1.0, seed=1):
    """Drive 1 m at 0.3 m/s, stand ``wait_steps`` steps ``wait_distance`` from the goal,
    drive on: (positions [T, 2], distances [T])."""
    x = list(np.arange(1, 11) * 0.03) + [0.3] * wait_steps + list(0.3 + np.arange(1, 11) * 0.03)
    xy = np.stack([x, np.zeros(len(x))], 1)
    dist = wait_distance + 0.3 - xy[:, 0]
    return {'seed': seed, 'position_trace': xy.tolist(), 'distance_trace': dist.tolist()}


def test_a_stand_off_is_a_long_enough_stop_far_enough_from_the_goal():
    long = base_episode(25)                  # standing at steps 11-35
    runs = stand_offs(long['position_trace'], long['distance_trace'], 0.1)
    assert len(runs) == 1
    first, steps = runs[0]
    # The stretch holds the 25 still steps, and the slow edges around them (mean speed).
    assert first <= 11 and first + steps - 1 >= 35 and steps <= 25 + 2 * 4
    short = base_episode(15)                 # 1.5 s: a pause, not a stand-off
    assert stand_offs(short['position_trace'], short['distance_trace'], 0.1) == []
    near = base_episode(25, wait_distance=0.2)   # waiting at the goal is not one
    assert stand_offs(near['position_trace'], near['distance_trace'], 0.1) == []
    loose = StandOffRule(min_duration=1.0)
    assert len(stand_offs(short['position_trace'], short['distance_trace'], 0.1, loose)) == 1
    summary = stand_off_summary([long, short, base_episode(30, seed=7)], 0.1)
    assert summary['episodes_with_stand_off'] == 2 and summary['seeds'] == [1, 7]
    assert 5.5 <= summary['stand_off_seconds'] <= 7.5
    assert summary['episodes_with_stall'] == 0    # 2.5-3 s waits: shorter than a stall
    with pytest.raises(ValueError, match='position trace'):
        stand_off_summary([{'seed': 3, 'distance_trace': [1.0], 'position_trace': []}], 0.1)


def test_dithering_far_from_the_goal_is_a_stall_and_not_a_stand_off():
    x = 0.3 + 0.1 * (np.arange(80) % 2)          # 1 m/s back and forth, getting nowhere
    xy = np.stack([x, np.zeros(80)], 1)
    dist = 1.5 - x
    assert stand_offs(xy, dist, 0.1) == []
    assert stalls(dist, 0.1) == [(1, 80)]
    closing = 1.5 - 0.02 * np.arange(80)           # 0.2 m/s toward the goal: no stall
    assert stalls(closing, 0.1) == []


def results_file(folder, condition, episodes):
    folder.mkdir(parents=True, exist_ok=True)
    data = {'settings': {'control_period_s': 0.1}, 'episodes': episodes, 'run': {},
            'interrupted': False}
    (folder / f'results_{condition}20_mobile_base_tiny.json').write_text(json.dumps(data))


def episode(seed, success, collision=0, wait_steps=0):
    e = base_episode(wait_steps, seed=seed)
    e.update(success=success, collision_steps=collision, steps_to_success=30 if success
             else None)
    return e


def test_the_report_counts_successes_collisions_and_stand_offs_per_set_and_pair(tmp_path):
    results_file(tmp_path / 's1', 'risk', [episode(1, False, wait_steps=30),
                                           episode(2, True)])
    results_file(tmp_path / 's1', 'risk_agents', [episode(1, True), episode(2, True)])
    results_file(tmp_path / 's51', 'risk', [episode(51, True, collision=2)])
    report = build_report({'1-50': tmp_path / 's1', '51-100': tmp_path / 's51'})
    scan = report['sets']['1-50']['risk']
    assert (scan['successes'], scan['episodes'], scan['failed_seeds']) == (1, 2, [1])
    assert scan['stand_offs']['seeds'] == [1]
    both = report['combined']['risk']
    assert (both['successes'], both['episodes'], both['collision_episodes']) == (2, 3, 1)
    assert both['stand_off_episodes'] == 1
    assert 0 < both['wilson_95'][0] < 2 / 3 < both['wilson_95'][1] < 1
    assert report['paired']['risk_vs_risk_agents']['only_risk_agents'] == [1]
    assert 'agents' not in report['combined']
    out = tmp_path / 'report.json'
    report_cli = ['diagnose', 'agent-term']
    assert cli_main(report_cli + ['--set', f'1-50={tmp_path / "s1"}',
                                  '--aside', f'other={tmp_path / "s51"}', '--out', str(out)]) == 0
    written = json.loads(out.read_text())
    assert written['combined']['risk_agents']['successes'] == 2
    assert written['combined']['risk']['episodes'] == 2          # the aside is not combined
    assert written['aside']['other']['risk']['collision_episodes'] == 1
    assert cli_main(report_cli + ['--set', f'1-50={tmp_path / "missing"}', '--out',
                                  str(out)]) == 2
