"""One entry-point style: every user action the docs show is a ``jepa-world-model``
sub-command (``export`` and ``diagnose goals|risk`` included); only the timing scripts in
``benchmarks/`` run as ``python benchmarks/x.py``.
"""

import json
import os
import re

import pytest
import torch

from jepa_world_model.cli import main
from jepa_world_model.core.checkpoint import load_checkpoint, save_checkpoint
from tiny_models import tiny_config, tiny_model

pytestmark = pytest.mark.usefixtures('one_torch_thread')   # the diagnostics set it to 1

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What the docs must no longer tell a user to run: a package module or inline Python
# (the nodes' own `python -m jepa_world_model.ros.<node>`, which the demo starts and the
# docs describe, is not a user action), or an experiment from benchmarks/.
OTHER_STYLES = re.compile(
    r'python3? -m jepa_world_model\.(?!ros\.)|python3? -c |python3? benchmarks/offline_')


def _docs():
    paths = [os.path.join(REPO_ROOT, 'README.md')]
    docs = os.path.join(REPO_ROOT, 'docs')
    paths += [os.path.join(docs, n) for n in sorted(os.listdir(docs)) if n.endswith('.md')]
    return paths


def test_docs_run_user_actions_through_the_cli():
    found = []
    for path in _docs():
        with open(path, encoding='utf-8') as handle:
            for lineno, line in enumerate(handle, 1):
                if OTHER_STYLES.search(line):
                    found.append(f'{os.path.relpath(path, REPO_ROOT)}:{lineno}: {line.strip()}')
    assert not found, 'use a jepa-world-model sub-command:\n' + '\n'.join(found)


def test_the_style_check_sees_the_old_commands():
    for line in ('python -m jepa_world_model.experiments.goal_diagnostics --episodes 50',
                 'python -c "from jepa_world_model.core.checkpoint import export_model"',
                 'python benchmarks/offline_base_reach.py --map'):
        assert OTHER_STYLES.search(line), line
    for line in ('python -m jepa_world_model.ros.sim_node', 'python benchmarks/bench_planner.py',
                 'jepa-world-model diagnose risk'):
        assert not OTHER_STYLES.search(line), line


def _training_checkpoint(path):
    """A tiny checkpoint with optimizer moments, as ``train`` writes it."""
    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    sum(p.sum() for p in model.parameters()).backward()
    optimizer.step()
    model.eval()
    return model, save_checkpoint(path, model, tiny_config(), 9, optimizer)


def test_export_drops_the_optimizer_state(tmp_path, capsys):
    model, src = _training_checkpoint(tmp_path / 'run' / 'checkpoint.safetensors')
    assert load_checkpoint(src).optimizer_state   # there is something to drop
    out = tmp_path / 'models' / 'shipped.safetensors'
    assert main(['export', '--checkpoint', str(src), '--out', str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    shipped = load_checkpoint(out)
    assert shipped.optimizer_state is None and shipped.step == 9
    assert out.stat().st_size < src.stat().st_size
    for key, value in model.state_dict().items():
        assert torch.equal(value, shipped.model.state_dict()[key]), key


def test_export_refuses_to_overwrite_its_source_and_reports_a_missing_one(tmp_path, capsys):
    _, src = _training_checkpoint(tmp_path / 'checkpoint.safetensors')
    size = src.stat().st_size
    assert main(['export', '--checkpoint', str(src), '--out', str(src)]) == 2
    assert '--out must differ' in capsys.readouterr().err and src.stat().st_size == size
    assert main(['export', '--checkpoint', str(tmp_path / 'none.safetensors'),
                 '--out', str(tmp_path / 'x.safetensors')]) == 2
    assert capsys.readouterr().err.startswith('jepa-world-model: error:')


def _diagnose(tmp_path, capsys, which, model, *options):
    """Run ``diagnose which``; (what it printed, what it wrote to --out), both JSON."""
    out = tmp_path / f'{which}.json'
    path = os.path.join(REPO_ROOT, 'models', model)
    assert main(['diagnose', which, '--model', path, '--out', str(out), *options]) == 0
    return json.loads(capsys.readouterr().out), json.loads(out.read_text())


def test_diagnose_risk_ranks_the_plans_of_a_few_starts(tmp_path, capsys):
    report, written = _diagnose(tmp_path, capsys, 'risk', 'mobile_base_tiny.safetensors',
                                '--starts', '3')
    assert report == written
    # 12 constant actions per start that is not already in collision (seeds 1-3: one is
    # free, and some of its plans collide and some do not).
    assert 1 <= report['starts'] <= 3 and report['plans'] == 12 * report['starts']
    assert report['starts_with_both'] >= 1 and 0 <= report['auc_within_start'] <= 1


def test_diagnose_goals_writes_the_profiles(tmp_path, capsys):
    summary, report = _diagnose(tmp_path, capsys, 'goals', 'arm_tiny.safetensors',
                                '--episodes', '2')
    assert report['seeds'] == [1, 2] and report['summary'] == summary
    # Every profile starts at 1 (each task's distance over its start value), 11 points.
    assert summary['pixel']['mean_profile'][0] == 1.0
    assert len(summary['latent:arm_tiny']['mean_profile']) == 11
    assert (tmp_path / 'goals.png').stat().st_size > 1000


def test_diagnose_needs_a_diagnostic(capsys):
    with pytest.raises(SystemExit) as info:
        main(['diagnose'])
    assert info.value.code == 2 and 'goals' in capsys.readouterr().err
