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
4. The consequence read-out (experiments/consequence_readout.py): the displacement
   p_{t+h} - p_t read from (z_t, predicted z_{t+h}) by an MLP fitted on the training bag's
   rollouts, added to the true p_t (the privileged baselines' own start), with its controls:
   z_t alone, the encoded future, and z_t with the commands (no world model).

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
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..core.checkpoint import load_checkpoint
from ..core.training.data import Episode
from .consequence_readout import (consequence_features, ConsequenceReadout, FEATURES,
                                  save_readout)
from .latent_rollouts import encoded_latents, predicted_latents, RidgeReadout
from .plots import save_figure
from .results import git_commit
from .tabletop_data import (
    block_averaged_pixels, MOVE_M, OBJECTS, positions_of, read_tabletop_episodes, REST_M)

__all__ = ['MOVE_M', 'REST_M', 'METHODS', 'JUDGED', 'object_errors', 'summarise',
           'rollouts_of', 'displacement_labels', 'fit_consequence_readouts', 'run', 'plot',
           'add_arguments', 'run_cli']

METHODS = ('predicted', 'encoded_future', 'no_change', 'const_velocity',
           'perceived_no_change', 'perceived_const_velocity') + tuple(
               f'consequence_{kind}' for kind in FEATURES)
# Compared with the better privileged baseline at every h (paired, episode bootstrap).
JUDGED = ('predicted', 'consequence_predicted')


def object_errors(readout: RidgeReadout, episode: Episode, z: np.ndarray,
                  z_pred: np.ndarray, starts: np.ndarray, name: str,
                  displacements: Optional[Dict[str, np.ndarray]] = None
                  ) -> Dict[str, np.ndarray]:
    """Errors [K, H] in metres of every method (``METHODS``) for object ``name`` from the
    start frames ``starts`` [K] (t >= 1), z [T, Z] encoded, z_pred [K, H, Z] predicted, and
    the consequence read-outs' ``displacements`` {feature: [K, H, 3]} of this object (those
    given); also ``slice_contact`` and ``slice_contact_start`` [K] bool."""
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
    consequences = {f'consequence_{kind}': err(p[starts][:, None] + d)
                    for kind, d in (displacements or {}).items()}
    return {
        **consequences,
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


def _paired_diffs(errors: Dict[str, np.ndarray], method: str, keep: np.ndarray,
                  episode_ids: np.ndarray) -> List[Dict[str, object]]:
    """Per h: ``method`` minus the better privileged baseline there, mean [cm] and the
    episode-bootstrap 95 % interval."""
    diffs = []
    for k in range(errors[method].shape[1]):
        best = min(('no_change', 'const_velocity'),
                   key=lambda m: float(errors[m][keep][:, k].mean()))
        a, b = errors[method][keep][:, k] * 100, errors[best][keep][:, k] * 100
        diffs.append({'h': k + 1, 'baseline': best,
                      'mean_diff_cm': round(float(np.mean(a - b)), 3),
                      'ci95_cm': [round(v, 3) for v in
                                  _bootstrap_diff(a, b, episode_ids[keep], seed=k)]})
    return diffs


def summarise(errors: Dict[str, np.ndarray], episode_ids: np.ndarray) -> Dict[str, object]:
    """Per slice: sample count, and per method the mean and median error [cm] at every h;
    the paired difference of each ``JUDGED`` method - best privileged baseline at each h
    (mean, cm, with its episode-bootstrap 95 % interval)."""
    out: Dict[str, object] = {}
    for slice_name in ('all', 'contact', 'contact_start'):
        keep = (np.ones(len(episode_ids), dtype=bool) if slice_name == 'all'
                else errors[f'slice_{slice_name}'])
        entry: Dict[str, object] = {'samples': int(keep.sum()),
                                    'episodes': int(len(np.unique(episode_ids[keep])))}
        if keep.sum() == 0:
            out[slice_name] = entry
            continue
        for method in (m for m in METHODS if m in errors):
            e = errors[method][keep] * 100.0
            entry[method] = {'mean_cm': np.round(e.mean(0), 3).tolist(),
                             'median_cm': np.round(np.median(e, 0), 3).tolist()}
        for judged in (m for m in JUDGED if m in errors):
            entry[f'{judged}_minus_best_baseline'] = _paired_diffs(
                errors, judged, keep, episode_ids)
        out[slice_name] = entry
    return out


def rollouts_of(model, episodes: Sequence[Episode], latents: Sequence[np.ndarray],
                horizon: int) -> List[Dict[str, np.ndarray]]:
    """Per episode: the start frames [K] (t >= 1) and the model's rollouts [K, H, Z] from
    each under the recorded commands."""
    out = []
    for ep, z in zip(episodes, latents):
        starts = np.arange(1, len(ep) - horizon)
        out.append({'starts': starts,
                    'z_pred': predicted_latents(model, ep, z, horizon, starts)})
    return out


def displacement_labels(episode: Episode, starts: np.ndarray, horizon: int) -> np.ndarray:
    """p_{t+h} - p_t of every object, [K, H, 3 * len(OBJECTS)] in metres."""
    p = positions_of(episode)
    future = starts[:, None] + np.arange(1, horizon + 1)[None, :]
    return p[future] - p[starts][:, None]


def fit_consequence_readouts(train: Sequence[Episode], z_train: Sequence[np.ndarray],
                             rollouts: Sequence[Dict[str, np.ndarray]], image_dim: int,
                             steps: int, seed: int = 0, kinds: Sequence[str] = FEATURES
                             ) -> Dict[str, ConsequenceReadout]:
    """One :class:`ConsequenceReadout` per feature in ``kinds``, on the training rollouts
    (``starts`` [K] and ``z_pred`` [K, H, Z] per episode, as :func:`rollouts_of` gives them;
    labels: every object's displacement, :func:`displacement_labels`)."""
    y = np.concatenate([displacement_labels(ep, r['starts'], r['z_pred'].shape[1])
                        for ep, r in zip(train, rollouts)])
    readouts = {}
    for kind in kinds:
        x = np.concatenate([consequence_features(kind, z, r['z_pred'], ep.a, r['starts'],
                                                 image_dim)
                            for ep, z, r in zip(train, z_train, rollouts)])
        readouts[kind] = ConsequenceReadout.fit(x, y, steps=steps, seed=seed)
    return readouts


def encoded_position_errors(train: Sequence[Episode], test: Sequence[Episode],
                            z_train: np.ndarray, z_test: np.ndarray,
                            steps: int) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Where is each object in the *encoded* frames, read non-linearly? The consequence
    read-out's MLP (at h = 1 only) fitted from the encoded latent, and from the 16 x 16
    block-averaged pixels for comparison, to every object's position on the training frames;
    mean and median error [cm] on the held-out frames, next to always answering the training
    mean."""
    y_train = np.concatenate([positions_of(ep) for ep in train])
    y_test = np.concatenate([positions_of(ep) for ep in test])
    inputs = {'latent': (z_train, z_test),
              'pixels': (np.concatenate([block_averaged_pixels(ep, 4) for ep in train]),
                         np.concatenate([block_averaged_pixels(ep, 4) for ep in test]))}
    guesses = {'training_mean': np.broadcast_to(y_train.mean(0), y_test.shape)}
    for name, (x_train, x_test) in inputs.items():
        readout = ConsequenceReadout.fit(x_train[:, None], y_train[:, None], steps=steps)
        guesses[f'mlp_{name}'] = readout(x_test[:, None])[:, 0]
    out: Dict[str, Dict[str, Dict[str, float]]] = {}
    for j, obj in enumerate(OBJECTS):
        out[obj] = {}
        for name, guess in guesses.items():
            e = np.linalg.norm(guess[:, 3 * j:3 * j + 3] - y_test[:, 3 * j:3 * j + 3],
                               axis=1) * 100
            out[obj][name] = {'mean_cm': round(float(e.mean()), 2),
                              'median_cm': round(float(np.median(e)), 2)}
    return out


def write_consequence_gif(path: Path, test: Sequence[Episode],
                          rollouts: Sequence[Dict[str, np.ndarray]],
                          displacements: Sequence[np.ndarray], image_size: int,
                          frames: int) -> Dict[str, object]:
    """The predicted consequences over ``frames`` frames of the held-out episode with the
    most contact starts (experiments/tabletop_animation.py), as a GIF at ``path``."""
    from ..sim.tabletop import TabletopSim
    from .tabletop_animation import busiest_window, consequence_frames, write_gif
    horizon = displacements[0].shape[1]
    windows = [busiest_window(ep, r['starts'], horizon, frames)
               for ep, r in zip(test, rollouts)]
    index = int(np.argmax([count for _, count in windows]))   # the first of the busiest
    rows, contact_starts = windows[index]
    robot = TabletopSim(image_size=image_size)
    try:
        robot.reset(0, render=False)                     # the camera does not move
        images = consequence_frames(test[index], robot.project, rollouts[index]['starts'],
                                    displacements[index], rows)
    finally:
        robot.close()
    write_gif(images, Path(path), fps=10.0)
    starts = rollouts[index]['starts'][rows]
    return {'path': str(path), 'test_episode': index, 'frames': len(images),
            'first_frame': int(starts[0]), 'last_frame': int(starts[-1]),
            'contact_starts': contact_starts}


def run(checkpoint: str, train_bags: Sequence[str], test_bags: Sequence[str],
        horizon: int = 8, ridge: float = 1.0, consequence_steps: int = 4000,
        gif: Optional[Path] = None, gif_frames: int = 60,
        save_readout_to: Optional[Path] = None) -> Dict[str, object]:
    """Fit the read-outs on ``train_bags``, score on ``test_bags`` (module notes);
    ``consequence_steps`` trains each consequence read-out (0: leave them out); ``gif``:
    also draw the predicted consequences over ``gif_frames`` held-out frames there;
    ``save_readout_to``: write the ``predicted`` read-out there (what the demo draws)."""
    loaded = load_checkpoint(checkpoint)
    model, config = loaded.model, loaded.config
    train = read_tabletop_episodes(train_bags, config)
    test = read_tabletop_episodes(test_bags, config)
    z_train_parts = encoded_latents(model, train)
    z_train = np.concatenate(z_train_parts)
    z_test = encoded_latents(model, test)
    test_rollouts = rollouts_of(model, test, z_test, horizon)
    consequences: Dict[str, List[np.ndarray]] = {}
    image_dim = config.model.image_latent_dim
    positions: object = 'not run'
    if consequence_steps:
        positions = encoded_position_errors(train, test, z_train, np.concatenate(z_test),
                                            consequence_steps)
        readouts = fit_consequence_readouts(
            train, z_train_parts, rollouts_of(model, train, z_train_parts, horizon), image_dim,
            consequence_steps)
        consequences = {kind: [readouts[kind](consequence_features(
            kind, z, r['z_pred'], ep.a, r['starts'], image_dim)) for ep, z, r in
            zip(test, z_test, test_rollouts)] for kind in FEATURES}
    saved: object = None
    if save_readout_to is not None:
        if not consequence_steps:
            raise ValueError('saving the read-out needs consequence_steps > 0')
        saved = str(save_readout(save_readout_to, readouts['predicted'], {
            'feature': 'predicted', 'horizon': horizon, 'objects': list(OBJECTS),
            'checkpoint': Path(checkpoint).name, 'step': loaded.step,
            'train_bags': [str(b) for b in train_bags], 'steps': consequence_steps}))
    animation: object = None
    if gif is not None:
        if not consequence_steps:
            raise ValueError('the GIF draws the consequence read-out: consequence_steps > 0')
        animation = write_consequence_gif(gif, test, test_rollouts, consequences['predicted'],
                                          config.model.image_size, gif_frames)
    result: Dict[str, object] = {}
    for j, name in enumerate(OBJECTS):
        y_train = np.concatenate([ep.extras[f'{name}_xyz'] for ep in train])
        readout = RidgeReadout.fit(z_train, y_train, ridge)
        parts: Dict[str, List[np.ndarray]] = {}
        ids = []
        for index, (ep, z, r) in enumerate(zip(test, z_test, test_rollouts)):
            mine = {kind: d[index][..., 3 * j:3 * j + 3] for kind, d in consequences.items()}
            for key, value in object_errors(readout, ep, z, r['z_pred'], r['starts'], name,
                                            mine).items():
                parts.setdefault(key, []).append(value)
            ids.append(np.full(len(r['starts']), index))
        errors = {k: np.concatenate(v) for k, v in parts.items()}
        result[name] = summarise(errors, np.concatenate(ids))
    return {'checkpoint': str(checkpoint), 'step': loaded.step,
            'train_bags': [str(b) for b in train_bags], 'test_bags': [str(b) for b in test_bags],
            'train_frames': int(len(z_train)), 'test_episodes': len(test),
            'test_frames': int(sum(len(ep) for ep in test)), 'horizon': horizon,
            'ridge': ridge, 'read_out': 'ridge on the whole latent z (encoded training frames)',
            'consequence_read_out': (
                f'MLP (2 x 256, GELU) from the features to every object\'s displacement '
                f'p_(t+h) - p_t, {consequence_steps} AdamW steps of 512 on the training '
                'rollouts, added to the true p_t; features: ' + ', '.join(FEATURES)
                if consequence_steps else 'not run'),
            'encoded_position_mlp': positions, 'animation': animation,
            'saved_readout': saved,
            'slices': {'contact': f'the object moves > {MOVE_M * 100:g} cm within the horizon',
                       'contact_start': f'contact, and moved < {REST_M * 1000:g} mm from t-1 '
                                        'to t'},
            'objects': result}


# The figure's rows: position read-outs (top), then consequence forecasts from the true start
# position (bottom), each with the privileged baselines; their scales differ tenfold.
PLOT_ROWS = ((('predicted', 'C0o-'), ('encoded_future', 'k:'),
              ('perceived_const_velocity', 'C1x:'), ('no_change', 'C2s--'),
              ('const_velocity', 'C3^--')),
             (('consequence_predicted', 'C4D-'), ('consequence_predicted_image', 'C5P-'),
              ('consequence_commands', 'C6+:'), ('consequence_current', 'C7v:'),
              ('no_change', 'C2s--'), ('const_velocity', 'C3^--')))


def plot(result: Dict[str, object], path: Path) -> Path:
    """Mean error per horizon: a column per object and slice (all, contact start), a row
    per kind of forecast (``PLOT_ROWS``; the second only when the consequences ran)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = [(n, s) for n in OBJECTS for s in ('all', 'contact_start')]
    rows = [r for r in PLOT_ROWS
            if r[0][0] in result['objects'][OBJECTS[0]]['all']]
    fig, axes = plt.subplots(len(rows), len(panels), figsize=(3.2 * len(panels),
                                                              3.0 * len(rows)),
                             dpi=100, squeeze=False)
    h = np.arange(1, int(result['horizon']) + 1)
    for row, methods in enumerate(rows):
        for ax, (name, slice_name) in zip(axes[row], panels):
            entry = result['objects'][name][slice_name]
            for method, style in methods:
                if method in entry:
                    ax.plot(h, entry[method]['mean_cm'], style, markersize=3,
                            label=method.replace('_', ' '))
            ax.set_title(f'{name}, {slice_name.replace("_", " ")} (n={entry["samples"]})',
                         fontsize=8)
            ax.set_xlabel('horizon h (steps of 0.1 s)', fontsize=8)
            ax.set_ylabel('mean position error [cm]', fontsize=8)
            ax.grid(alpha=0.3)
        axes[row][1].legend(fontsize=6)
    return save_figure(fig, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The experiment's options (``jepa-world-model diagnose tabletop-objects``)."""
    parser.add_argument('--checkpoint', required=True, help='tabletop world model')
    parser.add_argument('--train-bag', nargs='+', required=True,
                        help='bags the read-outs are fitted on (encoded frames)')
    parser.add_argument('--test-bag', nargs='+', required=True, help='held-out bags')
    parser.add_argument('--horizon', type=int, default=8)
    parser.add_argument('--ridge', type=float, default=1.0)
    parser.add_argument('--consequence-steps', type=int, default=4000,
                        help='training steps of each consequence read-out (0: skip them)')
    parser.add_argument('--out', type=Path, default=None, help='JSON file to write')
    parser.add_argument('--plot', type=Path, default=None, help='figure to write (.png)')
    parser.add_argument('--gif', type=Path, default=None,
                        help='draw the predicted consequences over held-out frames (.gif)')
    parser.add_argument('--gif-frames', type=int, default=60)
    parser.add_argument('--save-readout', type=Path, default=None,
                        help='write the predicted-latent consequence read-out (.safetensors; '
                             'the tabletop demo draws it)')


def run_cli(args: argparse.Namespace, command: str) -> int:
    """Run, print and write the JSON (and the figure)."""
    result = run(args.checkpoint, args.train_bag, args.test_bag, args.horizon, args.ridge,
                 args.consequence_steps, args.gif, args.gif_frames, args.save_readout)
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
