"""The agent-term comparison (issue #14 item 3) from plan-eval results: scan only (``risk``),
prediction only (``agents``) and both (``risk_agents``) on the base's two 50-goal sets.

Per condition and set: successes with Wilson 95 % intervals, collision episodes, and
stand-offs and stalls (:mod:`.stand_offs`); per condition the two sets together; and, per pair of
conditions, the seeds one reached and the other did not. Writes one JSON
(docs/results/agent_term_plan_eval.json)::

    python -m jepa_world_model.experiments.agent_term_report \\
        --set 1-50=outputs/agent_term/s1 --set 51-100=outputs/agent_term/s51

No ROS here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Any, Dict, List, Optional

from .results import wilson_interval
from .stand_offs import stand_off_summary, StandOffRule

__all__ = ['CONDITIONS', 'condition_report', 'build_report', 'add_arguments', 'run']

#: plan-eval condition -> what it is here.
CONDITIONS = {'risk': 'scan only (obstacle term, today\'s base condition)',
              'agents': 'prediction only (agent term)',
              'risk_agents': 'both (obstacle term + agent term)'}


def _results_file(folder: Path, condition: str) -> Optional[Path]:
    found = sorted(folder.glob(f'results_{condition}[0-9]*.json'))
    return found[0] if found else None


def condition_report(data: Dict[str, Any], rule: StandOffRule) -> Dict[str, Any]:
    """Counts of one plan-eval results file (one condition, one seed set)."""
    episodes = data['episodes']
    n = len(episodes)
    wins = sum(bool(e['success']) for e in episodes)
    dt = float(data['settings']['control_period_s'])
    return {
        'episodes': n, 'seeds': [int(e['seed']) for e in episodes],
        'successes': wins, 'success_rate': wins / n if n else None,
        'wilson_95': wilson_interval(wins, n),
        'collision_episodes': sum(e['collision_steps'] > 0 for e in episodes),
        'failed_seeds': [int(e['seed']) for e in episodes if not e['success']],
        'stand_offs': stand_off_summary(episodes, dt, rule),
        'steps_to_success_median': _median([e['steps_to_success'] for e in episodes
                                            if e['success']]),
        'run': data.get('run'), 'interrupted': data.get('interrupted'),
    }


def _median(values: List[float]) -> Optional[float]:
    values = sorted(values)
    if not values:
        return None
    mid = len(values) // 2
    return float(values[mid]) if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def build_report(sets: Dict[str, Path], rule: StandOffRule = StandOffRule()) -> Dict[str, Any]:
    """The comparison of the conditions found under each set's folder."""
    per_set: Dict[str, Dict[str, Any]] = {}
    outcomes: Dict[str, Dict[int, bool]] = {c: {} for c in CONDITIONS}
    for label, folder in sets.items():
        per_set[label] = {}
        for condition in CONDITIONS:
            path = _results_file(Path(folder), condition)
            if path is None:
                continue
            data = json.loads(path.read_text())
            per_set[label][condition] = dict(condition_report(data, rule), file=str(path))
            outcomes[condition].update({int(e['seed']): bool(e['success'])
                                        for e in data['episodes']})
    combined = {}
    for condition in CONDITIONS:
        parts = [s[condition] for s in per_set.values() if condition in s]
        if not parts:
            continue
        n, wins = sum(p['episodes'] for p in parts), sum(p['successes'] for p in parts)
        combined[condition] = {
            'episodes': n, 'successes': wins, 'success_rate': wins / n,
            'wilson_95': wilson_interval(wins, n),
            'collision_episodes': sum(p['collision_episodes'] for p in parts),
            'stand_off_episodes': sum(p['stand_offs']['episodes_with_stand_off']
                                      for p in parts),
            'stand_off_episodes_wilson_95': wilson_interval(
                sum(p['stand_offs']['episodes_with_stand_off'] for p in parts), n),
            'stand_off_seconds': round(sum(p['stand_offs']['stand_off_seconds']
                                           for p in parts), 1),
            'stall_episodes': sum(p['stand_offs']['episodes_with_stall'] for p in parts)}
    paired = {}
    names = [c for c in CONDITIONS if outcomes[c]]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = sorted(set(outcomes[a]) & set(outcomes[b]))
            paired[f'{a}_vs_{b}'] = {
                'seeds_in_both': len(common),
                f'only_{a}': [s for s in common if outcomes[a][s] and not outcomes[b][s]],
                f'only_{b}': [s for s in common if outcomes[b][s] and not outcomes[a][s]]}
    return {'conditions': CONDITIONS, 'stand_off_rule': rule.describe(), 'sets': per_set,
            'combined': combined, 'paired': paired}


def _commit() -> str:
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def _folders(items: List[str]) -> Optional[Dict[str, Path]]:
    """``{label: folder}`` of LABEL=FOLDER items; None (after a message) on a bad one."""
    out = {}
    for item in items:
        label, sep, folder = item.partition('=')
        if not sep or not Path(folder).is_dir():
            print(f'expected LABEL=FOLDER with an existing folder, got {item!r}',
                  file=sys.stderr)
            return None
        out[label] = Path(folder)
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The report's options (``jepa-world-model diagnose agent-term``)."""
    p.add_argument('--set', action='append', required=True, metavar='SEEDS=FOLDER',
                   help='a seed set label and the plan-eval --out folder holding its results')
    p.add_argument('--aside', action='append', default=[], metavar='LABEL=FOLDER',
                   help='other results reported per condition under "aside", not combined '
                   '(e.g. runs with other settings)')
    p.add_argument('--out', type=Path, default=Path('docs/results/agent_term_plan_eval.json'))
    p.add_argument('--command', action='append', default=[],
                   help='the plan-eval command lines that made the results (recorded)')


def run(args: argparse.Namespace) -> int:
    """Write the report; 2 when a set folder holds no results."""
    sets, aside = _folders(args.set), _folders(args.aside)
    if sets is None or aside is None:
        return 2
    report = build_report(sets)
    report['aside'] = {label: build_report({label: folder})['sets'][label]
                       for label, folder in aside.items()}
    report.update({'date': datetime.date.today().isoformat(), 'commit': _commit(),
                   'commands': args.command, 'load_average_at_report': os.getloadavg()})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + '\n')
    for condition, c in report['combined'].items():
        print(f'{condition:12s} {c["successes"]}/{c["episodes"]} '
              f'[{c["wilson_95"][0]:.2f}, {c["wilson_95"][1]:.2f}] collisions '
              f'{c["collision_episodes"]} stand-off episodes {c["stand_off_episodes"]} '
              f'({c["stand_off_seconds"]} s) stall episodes {c["stall_episodes"]}')
    return 0
