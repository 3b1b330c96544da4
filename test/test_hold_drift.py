"""diagnose hold-drift (experiments/hold_drift.py): the simulator's side is the ground truth
(a zero command stops the base) and every model gets its own predicted change."""

import argparse
import json

import pytest

from jepa_world_model.experiments.hold_drift import add_arguments, measure, run
from tiny_models import save_tiny, tiny_base_runtime


def test_simulator_stops_and_each_model_is_reported(tmp_path):
    runtime = tiny_base_runtime(tmp_path)
    report = measure({'tiny': runtime}, episodes=2, seed=5, every=10, length=20, steps=4)
    assert report['states'] == 4
    # The simulated base stops within a step of a zero command: under 5 cm in 0.4 s even
    # from full speed, and no turn to speak of.
    assert report['simulator']['position_change_m']['max'] < 0.05
    assert report['simulator']['heading_change_rad']['max'] < 0.1
    stats = report['models']['tiny']
    assert set(stats) == {'position_change_m', 'heading_change_rad'}
    assert all(v >= 0 for part in stats.values() for v in part.values())


def test_bad_counts_are_refused(tmp_path):
    with pytest.raises(ValueError, match='must all be >= 1'):
        measure({'tiny': tiny_base_runtime(tmp_path)}, episodes=1, seed=0, every=0, length=5,
                steps=2)


def test_cli_writes_the_report(tmp_path, capsys):
    path = save_tiny(tmp_path / 'base.safetensors', joint_names=['wheel_left', 'wheel_right'],
                     use_joint_position=False, pose_in_state=True)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / 'drift.json'
    args = parser.parse_args(['--model', str(path), '--episodes', '1', '--every', '5',
                              '--length', '5', '--steps', '2', '--out', str(out)])
    assert run(args) == 0
    report = json.loads(out.read_text())
    assert report['states'] == 1 and report['zero_steps'] == 2
    assert list(report['models']) == [str(path)]
    assert json.loads(capsys.readouterr().out) == report
