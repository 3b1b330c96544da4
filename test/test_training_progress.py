"""The training progress line: its rate and time left count only the steps this process ran
(``train --resume`` used to divide the whole run's steps by this process's seconds)."""

import io
import re
import sys

import pytest
import yaml

from jepa_world_model import cli
from jepa_world_model.commands import train as train_command
from jepa_world_model.commands.training_progress import progress_printer
from tiny_models import TINY_GANTRY_CONFIG


class FakeClock:
    """Seconds that advance only when the test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _rate_and_eta(line):
    match = re.search(r'([\d.]+) it/s eta (\d+)s', line)
    assert match, line
    return float(match.group(1)), int(match.group(2))


def _logs(step):
    return {'step': step, 'total': 1.0, 'inverse_dynamics': 0.5, 'effective_rank': 4.0}


def test_rate_and_eta_count_only_the_steps_of_this_process(monkeypatch):
    """Resumed at step 1,000 of 1,200 and running at 1 step/s: 1.0 it/s, 190 s left after
    ten steps (not 101 it/s, 2 s left)."""
    clock, err = FakeClock(), io.StringIO()
    monkeypatch.setattr(sys, 'stderr', err)
    callback = progress_printer(1200, first_step=1000, clock=clock)
    clock.now += 10.0
    callback(_logs(1009))                     # the 1,010th step is done
    rate, eta = _rate_and_eta(err.getvalue())
    assert rate == pytest.approx(1.0) and eta == 190


def test_a_fresh_run_counts_from_zero(monkeypatch):
    clock, err = FakeClock(), io.StringIO()
    monkeypatch.setattr(sys, 'stderr', err)
    callback = progress_printer(100, clock=clock)
    clock.now += 5.0
    callback(_logs(9))
    assert _rate_and_eta(err.getvalue()) == (2.0, 45)


def test_train_resume_passes_the_steps_already_done(tmp_path, monkeypatch, capsys,
                                                    one_torch_thread):
    """`train --resume --steps 3` after a 2-step run: the progress line starts at step 2
    and ends at 3."""
    config = tmp_path / 'tiny.yaml'
    config.write_text(yaml.safe_dump(TINY_GANTRY_CONFIG))
    out = tmp_path / 'run'
    assert cli.main(['train', '--config', str(config), '--out', str(out)]) == 0
    seen = []

    def recording_printer(total, first_step=0, **kwargs):
        seen.append((total, first_step))
        return progress_printer(total, first_step, **kwargs)

    monkeypatch.setattr(train_command, 'progress_printer', recording_printer)
    assert cli.main(['train', '--config', str(config), '--out', str(out), '--resume',
                     '--steps', '3']) == 0
    capsys.readouterr()
    assert seen == [(3, 2)]
