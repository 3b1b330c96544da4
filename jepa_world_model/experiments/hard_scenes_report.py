"""The harder scenes among people (issue #14 item 4) from plan-eval results: per scene type
(``plan-eval --scene``) and condition (``risk_agents``: obstacle + agent term, ``risk``: scan
only), successes with Wilson 95 % intervals, collision episodes, time to the goal, stand-offs
and stalls (:mod:`.stand_offs`), and the seeds one condition reached and the other did not.
Writes one JSON (docs/results/hard_scenes.json)::

    python -m jepa_world_model.experiments.hard_scenes_report \\
        --scene crowd=outputs/hard_scenes/crowd --scene crossing=outputs/hard_scenes/crossing

No ROS here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path
import statistics
import subprocess
import sys
from typing import Any, Dict, List, Optional

from .agent_term_report import condition_report
from .stand_offs import StandOffRule
from ..sim.people_scenes import SCENE_PEOPLE

__all__ = ['CONDITIONS', 'scene_report', 'build_report', 'run']

#: plan-eval condition -> what it is here (the best condition of issue #14 item 3 first).
CONDITIONS = {'risk_agents': 'obstacle term on the scan + agent term on predicted people',
              'risk': 'obstacle term on the scan only'}


def _results(folders: List[Path], condition: str, scene: str) -> Optional[Dict[str, Any]]:
    """The plan-eval results of ``condition`` in ``folders`` (seed sets of one scene, their
    episodes joined), checked to be of ``scene`` and to share no seed."""
    merged: Optional[Dict[str, Any]] = None
    for folder in folders:
        found = sorted(Path(folder).glob(f'results_{condition}[0-9]*.json'))
        if not found:
            continue
        data = json.loads(found[0].read_text())
        ran = (data['settings'].get('sim_node') or {}).get('scene', 'default')
        if ran != scene:
            raise ValueError(f'{found[0]} ran scene {ran!r}, not {scene!r}')
        if merged is None:
            merged = dict(data, files=[str(found[0])], run=[data.get('run')])
            continue
        seeds = {e['seed'] for e in merged['episodes']}
        if seeds & {e['seed'] for e in data['episodes']}:
            raise ValueError(f'{found[0]} repeats seeds of {merged["files"]}')
        merged['episodes'] = merged['episodes'] + data['episodes']
        merged['files'].append(str(found[0]))
        merged['run'].append(data.get('run'))
        merged['interrupted'] = merged.get('interrupted') or data.get('interrupted')
    return merged


def _seconds(steps: List[int], dt: float) -> Dict[str, Any]:
    """Time to the goal [s] of the successful episodes: median, p90 and each one."""
    times = sorted(round(s * dt, 2) for s in steps)
    if not times:
        return {'median': None, 'p90': None, 'each': []}
    return {'median': round(statistics.median(times), 2),
            'p90': times[min(len(times) - 1, int(0.9 * len(times)))], 'each': times}


def _speed(episodes: List[Dict[str, Any]], dt: float) -> Optional[float]:
    """Median over successful episodes of start distance / time to the goal [m/s]: time to
    the goal with the route's length taken out (the scenes' goals differ in distance)."""
    rates = [e['start_distance'] / (e['steps_to_success'] * dt) for e in episodes
             if e['success'] and e['steps_to_success']]
    return round(statistics.median(rates), 3) if rates else None


def scene_report(scene: str, folders: List[Path], rule: StandOffRule = StandOffRule()
                 ) -> Dict[str, Any]:
    """Both conditions of one scene, with the seeds they share compared."""
    out: Dict[str, Any] = {'people': SCENE_PEOPLE[scene], 'folders': [str(f) for f in folders]}
    reached: Dict[str, Dict[int, bool]] = {}
    for condition in CONDITIONS:
        data = _results(folders, condition, scene)
        if data is None:
            out[condition] = None
            continue
        row = condition_report(data, rule)
        dt = float(data['settings']['control_period_s'])
        row['time_to_goal_s'] = _seconds([e['steps_to_success'] for e in data['episodes']
                                          if e['success']], dt)
        row['start_distance_m_median'] = round(statistics.median(
            e['start_distance'] for e in data['episodes']), 2)
        row['speed_to_goal_m_s_median'] = _speed(data['episodes'], dt)
        row['files'] = data['files']
        out[condition] = row
        reached[condition] = {int(e['seed']): bool(e['success']) for e in data['episodes']}
    if len(reached) == 2:
        a, b = reached['risk_agents'], reached['risk']
        shared = sorted(set(a) & set(b))
        out['paired'] = {'seeds_both_ran': len(shared),
                         'only_risk_agents_reached': [s for s in shared if a[s] and not b[s]],
                         'only_risk_reached': [s for s in shared if b[s] and not a[s]]}
    return out


def _commit() -> str:
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def build_report(scenes: Dict[str, List[Path]], commands: List[str]) -> Dict[str, Any]:
    """The JSON of docs/results/hard_scenes.json."""
    rule = StandOffRule()
    return {'conditions': CONDITIONS, 'scenes': {s: scene_report(s, f, rule)
                                                 for s, f in scenes.items()},
            'date': datetime.date.today().isoformat(), 'commit': _commit(),
            'commands': commands,
            'load_average_at_report': list(os.getloadavg())}


def run(argv: Optional[List[str]] = None) -> int:
    """CLI; 2 on bad arguments or results of another scene."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--scene', action='append', required=True, metavar='NAME=FOLDER',
                   help='a scene type and the plan-eval --out folder of a run (repeat a '
                   'scene for more seed sets)')
    p.add_argument('--command', action='append', default=[],
                   help='a command line that made the results (recorded as given)')
    p.add_argument('--out', type=Path, default=Path('docs/results/hard_scenes.json'))
    args = p.parse_args(argv)
    scenes: Dict[str, List[Path]] = {}
    for item in args.scene:
        name, sep, folder = item.partition('=')
        if not sep or name not in SCENE_PEOPLE:
            print(f'hard_scenes_report: --scene needs NAME=FOLDER with NAME one of '
                  f'{list(SCENE_PEOPLE)}, got {item!r}', file=sys.stderr)
            return 2
        scenes.setdefault(name, []).append(Path(folder))
    try:
        report = build_report(scenes, args.command)
    except ValueError as err:
        print(f'hard_scenes_report: {err}', file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(report, indent=1) + '\n')
    for scene, rows in report['scenes'].items():
        for condition in CONDITIONS:
            r = rows.get(condition)
            if r:
                lo, hi = r['wilson_95']
                print(f'{scene:<9} {condition:<12} {r["successes"]}/{r["episodes"]} '
                      f'[{lo * 100:.0f}, {hi * 100:.0f}] %, collisions {r["collision_episodes"]}, '
                      f'time to goal median {r["time_to_goal_s"]["median"]} s')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(run())
