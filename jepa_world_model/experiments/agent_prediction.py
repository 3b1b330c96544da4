"""Issue #14 item 1: learned, action-conditioned agent prediction against constant velocity
and no-change, on held-out simulated episodes.

``jepa-world-model agents-eval [--out docs/results/agent_prediction.json]`` builds (or reads
from ``--cache``) the samples of the train, validation and test seeds
(:data:`~.agent_dataset.SPLITS`), fits the ensemble on the training episodes, picks the
constant-velocity variant and calibrates the ensemble's spread on the validation episodes,
and reports on the test episodes:

* ADE/FDE at 1 s and 2 s of the learned predictor (given the robot's future as its plan
  says, and with its current twist held), constant velocity (the tracker's filtered velocity,
  and a finite difference over the track's last ``w`` s, ``w`` chosen on validation) and
  no-change, over all samples and the ``turn``, ``give_way`` and ``steady`` slices, with
  episode-bootstrap intervals and paired differences to the better constant velocity;
* the coverage of the ensemble's stated 50 % and 90 % regions (Wilson and episode-bootstrap
  intervals), with and without the validation calibration;
* how well the scan tracker finds the people.

Every input comes from the robot's scan, map and odometry; the simulator's people are labels.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
import subprocess
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np
import torch

from ..core.agents.features import HISTORY_PERIOD, HISTORY_STEPS, HORIZONS_S
from ..core.agents.predictor import AgentPredictor, region_radius, save_predictor
from ..core.agents.training import FitSettings, calibrate_spread, fit_predictor
from .agent_dataset import SPLITS, build
from .agent_metrics import coverage_table, error_table, errors

__all__ = ['run', 'predictions', 'CV_WINDOWS', 'SLICES']

#: Finite-difference windows [history steps] tried for the windowed constant velocity.
CV_WINDOWS = (1, 2, 3, 5, 9)
SLICES = ('all', 'turn', 'give_way', 'steady')


def _world(data: Dict[str, np.ndarray], local: np.ndarray) -> np.ndarray:
    """Agent-frame displacements ``[N, H, 2]`` -> odom positions."""
    return np.einsum('nij,nhj->nhi', data['rotation'], local) + data['now'][:, None, :]


def _history_world(data: Dict[str, np.ndarray]) -> np.ndarray:
    """``[N, HISTORY_STEPS, 2]`` track history relative to now, odom axes."""
    local = data['features'][:, :2 * HISTORY_STEPS].reshape(-1, HISTORY_STEPS, 2)
    return np.einsum('nij,ntj->nti', data['rotation'], local.astype(np.float64))


def predictions(model: AgentPredictor, data: Dict[str, np.ndarray], cv_window: int
                ) -> Dict[str, np.ndarray]:
    """Predicted positions ``[N, H, 2]`` (odom) of every method on ``data``."""
    h = np.asarray(HORIZONS_S)
    mean, _ = model.predict_local(data['features'])
    held, _ = model.predict_local(data['features_held'])
    history = _history_world(data)
    window_velocity = -history[:, -1 - cv_window, :] / (cv_window * HISTORY_PERIOD)
    return {
        'learned': _world(data, mean),
        'learned_held_twist': _world(data, held),
        'constant_velocity_filtered': data['now'][:, None, :] +
        data['velocity'][:, None, :] * h[None, :, None],
        'constant_velocity_window': data['now'][:, None, :] +
        window_velocity[:, None, :] * h[None, :, None],
        'no_change': np.repeat(data['now'][:, None, :], len(h), axis=1)}


def _best_cv_window(data: Dict[str, np.ndarray]) -> Dict[int, float]:
    """Validation ADE at 2 s of the windowed constant velocity per window."""
    history = _history_world(data)
    h = np.asarray(HORIZONS_S)
    scores = {}
    for w in CV_WINDOWS:
        velocity = -history[:, -1 - w, :] / (w * HISTORY_PERIOD)
        predicted = data['now'][:, None, :] + velocity[:, None, :] * h[None, :, None]
        scores[w] = float(errors(predicted, data['future']).mean())
    return scores


def _targets_local(data: Dict[str, np.ndarray]) -> np.ndarray:
    """True displacements in each sample's agent frame ``[N, H, 2]``."""
    offset = data['future'] - data['now'][:, None, :]
    return np.einsum('nji,nhj->nhi', data['rotation'], offset)


def _slice_masks(data: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    turn, give_way = data['turn'].astype(bool), data['give_way'].astype(bool)
    return {'all': np.ones_like(turn), 'turn': turn, 'give_way': give_way,
            'steady': ~turn & ~give_way}


def _tracking_report(data: Dict[str, np.ndarray]) -> Dict[str, Any]:
    near, found, tracks, false = (int(v) for v in data['tracking'])
    gap = np.linalg.norm(data['now'] - data['truth_now'], axis=-1)
    return {'people_steps_within_3m': near, 'of_them_tracked_within_0.3m': found,
            'recall': round(found / max(near, 1), 4), 'track_steps': tracks,
            'false_track_steps': false,
            'labelled_track_position_error_m': {'median': round(float(np.median(gap)), 4),
                                                'p90': round(float(np.quantile(gap, 0.9)), 4)}}


def _commit() -> str:
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
                              timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ''


def run(out: Path, model_out: Path, cache: Optional[Path], steps: int = 600,
        fit: FitSettings = FitSettings(), command: str = '', train_stride: int = 3,
        splits: Dict[str, Sequence[int]] = SPLITS,
        progress: Callable[[str], None] = print) -> Dict[str, Any]:
    """Build, fit, calibrate and evaluate (module docstring); write ``out`` (JSON), its
    figure (``docs/figures/agent_prediction.png`` beside ``out``'s ``docs``) and the model."""
    torch.manual_seed(fit.seed)
    data = {name: build(list(seeds), steps, cache, progress) for name, seeds in splits.items()}
    train, validation, test = data['train'], data['validation'], data['test']
    progress(f'samples: train {len(train["features"])}, validation '
             f'{len(validation["features"])}, test {len(test["features"])}')
    # Samples 0.1 s apart are nearly copies; every ``train_stride``-th step trains as well.
    keep = train['step'] % train_stride == 0
    model = fit_predictor(train['features'][keep], _targets_local(train)[keep], fit, progress)
    uncalibrated = model.predict_local(test['features'])[1]
    scale = calibrate_spread(model, validation['features'], _targets_local(validation), 0.9)
    windows = _best_cv_window(validation)
    cv_window = min(windows, key=windows.get)
    predicted = predictions(model, test, cv_window)
    errs = {name: errors(p, test['future']) for name, p in predicted.items()}
    cv_val = {'constant_velocity_filtered': float(errors(predictions(
        model, validation, cv_window)['constant_velocity_filtered'],
        validation['future']).mean()), 'constant_velocity_window': windows[cv_window]}
    reference = min(cv_val, key=cv_val.get)
    masks = _slice_masks(test)
    _, spread = model.predict_local(test['features'])
    report: Dict[str, Any] = {
        'command': command, 'date': datetime.date.today().isoformat(), 'commit': _commit(),
        'horizons_s': list(HORIZONS_S),
        'seeds': {name: [int(min(s)), int(max(s))] for name, s in splits.items()},
        'episode_steps': steps, 'control_dt_s': 0.1,
        'counts': {name: {'episodes': int(d['episodes']), 'samples': int(len(d['features'])),
                          'agent_seconds': float(d['agent_seconds']),
                          'robot_collision_steps': int(d['collisions'])}
                   for name, d in data.items()},
        'tracking_test': _tracking_report(test),
        'fit': {**fit.__dict__, 'train_stride': train_stride,
                'train_samples_used': int(keep.sum()),
                'spread_scale': [round(float(v), 4) for v in scale]},
        'constant_velocity': {'reference': reference, 'window_steps': cv_window,
                              'validation_ade_2s_by_window': {str(k): round(v, 4) for k, v in
                                                              windows.items()},
                              'validation_ade_2s': {k: round(v, 4) for k, v in cv_val.items()}},
        'errors': {}, 'coverage': {}}
    for name, mask in masks.items():
        sliced = {k: v[mask] for k, v in errs.items()}
        table = error_table(sliced, test['episode'][mask], HORIZONS_S, reference)
        report['errors'][name] = {'samples': int(mask.sum()),
                                  'episodes': int(len(np.unique(test['episode'][mask]))),
                                  'methods': table,
                                  'mean_error_by_horizon_m': {
                                      k: [round(float(x), 4) for x in v.mean(0)]
                                      for k, v in sliced.items()}}
    for coverage in (0.5, 0.9):
        for label, spread_used in (('calibrated', spread), ('uncalibrated', uncalibrated)):
            report['coverage'][f'{label}_{int(coverage * 100)}'] = coverage_table(
                errs['learned'], region_radius(spread_used, coverage), test['episode'],
                HORIZONS_S, coverage)
    model_out.parent.mkdir(parents=True, exist_ok=True)
    save_predictor(model, model_out, {'seeds': report['seeds'], 'steps': steps,
                                      'fit': report['fit'], 'date': report['date']})
    report['model'] = str(model_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + '\n')
    from .agent_plots import plot_errors
    report['figure'] = str(plot_errors(report, out.parent.parent / 'figures' /
                                       'agent_prediction.png'))
    out.write_text(json.dumps(report, indent=1) + '\n')
    return report
