"""Issue #13 item 2: object consequences from pixels, on held-out tabletop episodes.

``jepa-world-model diagnose tabletop-objects --checkpoint C --train-bag A --test-bag B
--out docs/results/tabletop_objects.json --plot docs/figures/tabletop_objects.png``

1. A ridge read-out from the latent z to each object's (x, y, z) is fitted on the *encoded*
   latents of the training bag's frames (labels: the bag's ``/ground_truth`` poses, which the
   model never saw).
2. On the held-out bag, from every frame t, the model rolls out its own latents under the
   recorded commands (h = 1..H), and the read-out is applied to them.
3. The error at t + h [m] is compared with no-change (p_t) and constant velocity
   (p_t + h (p_t - p_{t-1})) of the *true* position (privileged: exact positions no camera
   gives), with the same baselines on the read-out of the encoded current frame (what a
   perception-only tracker could do), and with the read-out of the encoded future frame
   (the ceiling: what the read-out gets when the prediction is perfect).

Slices, per object and start frame t: ``all``; ``contact``, the object moves more than
``MOVE_M`` within the next H frames (only the arm moves the block and the cube, so this is the
arm touching it); ``contact_start``, contact frames at which the object is still at rest
(moved less than ``REST_M`` since t - 1): where no-change and constant velocity must fail.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from ..core.checkpoint import load_checkpoint
from ..core.training.data import Episode
from .latent_rollouts import encoded_latents, predicted_latents, RidgeReadout
from .plots import save_figure
from .results import git_commit
from .tabletop_data import OBJECTS, read_tabletop_episodes

__all__ = ['MOVE_M', 'REST_M', 'METHODS', 'object_errors', 'summarise', 'run', 'plot',
           'add_arguments', 'run_cli']

MOVE_M = 0.01
REST_M = 0.002
METHODS = ('predicted', 'encoded_future', 'no_change', 'const_velocity',
           'perceived_no_change', 'perceived_const_velocity')


def object_errors(readout: RidgeReadout, episode: Episode, z: np.ndarray,
                  z_pred: np.ndarray, starts: np.ndarray, name: str) -> Dict[str, np.ndarray]:
    """Errors [K, H] in metres of every method (``METHODS``) for object ``name`` from the
    start frames ``starts`` [K] (t >= 1), z [T, Z] encoded, z_pred [K, H, Z] predicted; also
    ``slice_contact`` and ``slice_contact_start`` [K] bool."""
    horizon = z_pred.shape[1]
    p = episode.extras[f'{name}_xyz'].astype(np.float64)            # [T, 3]
    h = np.arange(1, horizon + 1)
    future = starts[:, None] + h[None, :]                           # [K, H]
    truth = p[future]                                               # [K, H, 3]
    seen = readout(z)                                               # [T, 3]
    velocity = p[starts] - p[starts - 1]
    seen_velocity = seen[starts] - seen[starts - 1]

    def err(guess: np.ndarray) -> np.ndarray:
        return np.linalg.norm(guess - truth, axis=-1)

    moved = np.linalg.norm(truth - p[starts][:, None], axis=-1).max(axis=1) > MOVE_M
    at_rest = np.linalg.norm(velocity, axis=-1) < REST_M
    return {
        'predicted': err(readout(z_pred)),
        'encoded_future': err(seen[future]),
        'no_change': err(np.broadcast_to(p[starts][:, None], truth.shape)),
        'const_velocity': err(p[starts][:, None] + h[None, :, None] * velocity[:, None]),
        'perceived_no_change': err(np.broadcast_to(seen[starts][:, None], truth.shape)),
        'perceived_const_velocity': err(seen[starts][:, None]
                                        + h[None, :, None] * seen_velocity[:, None]),
        'slice_contact': moved, 'slice_contact_start': moved & at_rest}


def _bootstrap_diff(a: np.ndarray, b: np.ndarray, episode_ids: np.ndarray, seed: int = 0,
                    samples: int = 1000) -> List[float]:
    """95 % episode-bootstrap interval of mean(a - b) over samples [K]."""
    groups = [np.flatnonzero(episode_ids == e) for e in np.unique(episode_ids)]
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(samples):
        pick = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
        means.append(float(np.mean(a[pick] - b[pick])))
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def summarise(errors: Dict[str, np.ndarray], episode_ids: np.ndarray) -> Dict[str, object]:
    """Per slice: sample count, and per method the mean and median error [cm] at every h;
    the paired difference predicted - best privileged baseline at each h (mean, cm, with
    its episode-bootstrap 95 % interval)."""
    out: Dict[str, object] = {}
    for slice_name in ('all', 'contact', 'contact_start'):
        keep = (np.ones(len(episode_ids), dtype=bool) if slice_name == 'all'
                else errors[f'slice_{slice_name}'])
        entry: Dict[str, object] = {'samples': int(keep.sum()),
                                    'episodes': int(len(np.unique(episode_ids[keep])))}
        if keep.sum() == 0:
            out[slice_name] = entry
            continue
        for method in METHODS:
            e = errors[method][keep] * 100.0
            entry[method] = {'mean_cm': np.round(e.mean(0), 3).tolist(),
                             'median_cm': np.round(np.median(e, 0), 3).tolist()}
        diffs = []
        for k in range(errors['predicted'].shape[1]):
            best = min(('no_change', 'const_velocity'),
                       key=lambda m: float(errors[m][keep][:, k].mean()))
            a, b = errors['predicted'][keep][:, k] * 100, errors[best][keep][:, k] * 100
            diffs.append({'h': k + 1, 'baseline': best,
                          'mean_diff_cm': round(float(np.mean(a - b)), 3),
                          'ci95_cm': [round(v, 3) for v in
                                      _bootstrap_diff(a, b, episode_ids[keep], seed=k)]})
        entry['predicted_minus_best_baseline'] = diffs
        out[slice_name] = entry
    return out


def run(checkpoint: str, train_bags: Sequence[str], test_bags: Sequence[str],
        horizon: int = 8, ridge: float = 1.0) -> Dict[str, object]:
    """Fit the read-outs on ``train_bags``, score on ``test_bags`` (module notes)."""
    loaded = load_checkpoint(checkpoint)
    model, config = loaded.model, loaded.config
    train = read_tabletop_episodes(train_bags, config)
    test = read_tabletop_episodes(test_bags, config)
    z_train = np.concatenate(encoded_latents(model, train))
    z_test = encoded_latents(model, test)
    result: Dict[str, object] = {}
    for name in OBJECTS:
        y_train = np.concatenate([ep.extras[f'{name}_xyz'] for ep in train])
        readout = RidgeReadout.fit(z_train, y_train, ridge)
        parts: Dict[str, List[np.ndarray]] = {}
        ids = []
        for index, (ep, z) in enumerate(zip(test, z_test)):
            starts = np.arange(1, len(ep) - horizon)
            z_pred = predicted_latents(model, ep, z, horizon, starts)
            for key, value in object_errors(readout, ep, z, z_pred, starts, name).items():
                parts.setdefault(key, []).append(value)
            ids.append(np.full(len(starts), index))
        errors = {k: np.concatenate(v) for k, v in parts.items()}
        result[name] = summarise(errors, np.concatenate(ids))
    return {'checkpoint': str(checkpoint), 'step': loaded.step,
            'train_bags': [str(b) for b in train_bags], 'test_bags': [str(b) for b in test_bags],
            'train_frames': int(len(z_train)), 'test_episodes': len(test),
            'test_frames': int(sum(len(ep) for ep in test)), 'horizon': horizon,
            'ridge': ridge, 'read_out': 'ridge on the whole latent z (encoded training frames)',
            'slices': {'contact': f'the object moves > {MOVE_M * 100:g} cm within the horizon',
                       'contact_start': f'contact, and moved < {REST_M * 1000:g} mm from t-1 '
                                        'to t'},
            'objects': result}


def plot(result: Dict[str, object], path: Path) -> Path:
    """Mean error per horizon, one panel per object and slice (all, contact start)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = [(n, s) for n in OBJECTS for s in ('all', 'contact_start')]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), dpi=100)
    h = np.arange(1, int(result['horizon']) + 1)
    for ax, (name, slice_name) in zip(axes, panels):
        entry = result['objects'][name][slice_name]
        for method, style in (('predicted', 'o-'), ('encoded_future', 'k:'),
                              ('no_change', 's--'), ('const_velocity', '^--'),
                              ('perceived_const_velocity', 'x:')):
            if method in entry:
                ax.plot(h, entry[method]['mean_cm'], style, label=method.replace('_', ' '),
                        markersize=3)
        ax.set_title(f'{name}, {slice_name.replace("_", " ")} (n={entry["samples"]})',
                     fontsize=8)
        ax.set_xlabel('horizon h (steps of 0.1 s)', fontsize=8)
        ax.set_ylabel('mean position error [cm]', fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The experiment's options (``jepa-world-model diagnose tabletop-objects``)."""
    parser.add_argument('--checkpoint', required=True, help='tabletop world model')
    parser.add_argument('--train-bag', nargs='+', required=True,
                        help='bags the read-outs are fitted on (encoded frames)')
    parser.add_argument('--test-bag', nargs='+', required=True, help='held-out bags')
    parser.add_argument('--horizon', type=int, default=8)
    parser.add_argument('--ridge', type=float, default=1.0)
    parser.add_argument('--out', type=Path, default=None, help='JSON file to write')
    parser.add_argument('--plot', type=Path, default=None, help='figure to write (.png)')


def run_cli(args: argparse.Namespace, command: str) -> int:
    """Run, print and write the JSON (and the figure)."""
    result = run(args.checkpoint, args.train_bag, args.test_bag, args.horizon, args.ridge)
    result = {'command': command, 'date': datetime.date.today().isoformat(),
              'commit': git_commit(), **result}
    if args.plot:
        result['plot'] = str(plot(result, args.plot))
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + '\n', encoding='utf-8')
    print(text)
    return 0
