"""Issue #13 item 3: will the grip hold? Held-out ROC AUC of the grip head on several inputs.

``jepa-world-model diagnose grip-hold --checkpoint C --train-bag A --test-bag B
--train-seed 0 --test-seed 5000 --out docs/results/tabletop_grip.json
--head models/tabletop_tiny_grip.safetensors``

For every grasp of the scripted policy (experiments/tabletop_data.py) the question is asked at
the close frame (the gripper still open): will the cube be held ``HOLD_CHECK_STEPS`` frames
after the lift starts? The same logistic head (core/model/grip_head.py), fitted on the
training bag's grasps, scores the held-out grasps from:

* ``predicted``: the model's predicted latent of the judged frame, rolled out from the
  close frame under the recorded close and lift commands. Those come from the recording
  policy's feedback loop (its lift command reacts to how the hand actually rises, which a
  held heavy cube slows), so they carry some of the outcome: see ``commands``;
* ``predicted_plan``: the same rollout under the *nominal plan*, the mean close and lift
  commands of the training grasps, the same for every grasp: only what the close frame
  shows can tell the grasps apart (the issue's question, without the leak);
* ``commands``: the recorded commands from the close to the judged frame, alone;
* ``encoded_close``: the encoded latent of the close frame (what the camera shows now);
* ``proprio_close``: the joint positions and velocities at the close frame;
* ``colour_histogram_close``: how many pixels of each colour the close frame has
  (experiments/tabletop_data.py ``colour_histogram``; no model, never a model input): what
  the camera shows of the cube's material wherever the cube is;
* ``encoded_judged`` / ``proprio_judged``: the same at the judged frame, i.e. after the fact
  (a reference for what the latent and the joints carry once the outcome shows);
* ``physics``: log mass and friction of the cube (simulator ground truth from the episode
  seeds, with ``--train-seed``/``--test-seed``): how far the hidden physics decides;
* ``material``: the cube's material (``/ground_truth/cube_material``, one-hot), when the
  bags have it: the ceiling of what the cube's look alone can tell (each material's mass and
  friction ranges overlap the line between holding and slipping a little).

With ``--ask-before-close N`` the question is asked N frames before the close frame instead
(the ``*_close`` features are read there, and the nominal plan, the mean recorded commands
from there on, covers the rest of the approach too): at the close frame the lowered hand and
the boom hide much of the cube from the oblique camera; about 10 frames earlier the hand is
still above it.

AUC with a 95 % bootstrap interval over episodes (one cube per episode: its grasps share the
physics).
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from ..core.checkpoint import load_checkpoint
from ..core.model.grip_head import fit_grip_head, save_grip_head
from ..core.training.data import images_to_tensor
from ..core.training.roc import bootstrap_auc_interval, roc_auc
from .latent_rollouts import encoded_latents, predicted_latents, RidgeReadout
from .results import git_commit, wilson_interval
from .tabletop_data import (
    block_averaged_pixels, CLOSE_STEPS, colour_histogram, find_grasps, hold_rule,
    read_tabletop_episodes)

__all__ = ['FEATURES', 'grasp_features', 'cube_physics', 'nominal_plan', 'materials_of',
           'held_by_material', 'pooled_tokens', 'frame_features', 'material_readout',
           'score', 'run', 'add_arguments', 'run_cli']

FEATURES = ('predicted', 'predicted_plan', 'commands', 'encoded_close', 'proprio_close',
            'colour_histogram_close', 'encoded_judged', 'proprio_judged', 'physics',
            'material')


def cube_physics(seed: int, episodes: int) -> np.ndarray:
    """[episodes, 2] log mass and friction of the cube of recorded episodes ``seed + e``
    (``record`` seeds episode e with ``seed + e``)."""
    from ..sim.tabletop import TabletopSim
    robot = TabletopSim(image_size=16)
    out = []
    for e in range(episodes):
        robot.reset(seed + e, render=False)
        out.append((np.log(robot.cube_mass), robot.cube_friction))
    robot.close()
    return np.asarray(out, dtype=np.float32)


def asked_grasps(episodes, lead: int = 0):
    """The grasps of ``episodes`` whose question frame ``close - lead`` is in the episode."""
    if lead < 0:
        raise ValueError(f'the question comes before the close: lead must be >= 0, got {lead}')
    return [ev for ev in find_grasps(episodes) if ev.close - lead >= 0]


def nominal_plan(episodes, lead: int = 0) -> np.ndarray:
    """The mean recorded commands [H, A] from ``lead`` frames before the close frame over
    the grasps of ``episodes`` (H = lead + close steps + hold-check steps)."""
    plans = [episodes[ev.episode].a[ev.close - lead:ev.judged]
             for ev in asked_grasps(episodes, lead)]
    if not plans:
        raise ValueError('no grasp in the training episodes')
    return np.mean(plans, axis=0)


def materials_of(episodes) -> List[str]:
    """Sorted names of the cube materials in ``episodes`` (empty: the bags have none)."""
    return sorted({str(m) for ep in episodes for m in ep.extras.get('cube_material', ())})


def grasp_features(model, episodes, plan: np.ndarray, physics: Optional[np.ndarray] = None,
                   materials: Sequence[str] = (), lead: int = 0,
                   z_all: Optional[List[np.ndarray]] = None) -> Dict[str, np.ndarray]:
    """Per grasp: every ``FEATURES`` entry [N, F], ``held`` [N] bool, ``episode`` [N],
    ``material_name`` [N] text ('' without labels); ``plan`` [H, A] is the nominal plan
    (:func:`nominal_plan`); ``materials`` the one-hot order of ``material`` [N, M] (a name
    not in it is all zeros). The question is asked ``lead`` frames before the close (the
    ``*_close`` features are read there; ``plan`` must start there too). ``z_all``: the
    episodes' encoded latents when already computed."""
    events = asked_grasps(episodes, lead)
    z_all = encoded_latents(model, episodes) if z_all is None else z_all
    feats: Dict[str, List[np.ndarray]] = {k: [] for k in FEATURES}
    names: List[str] = []
    for ev in events:
        ep, z = episodes[ev.episode], z_all[ev.episode]
        ask = ev.close - lead
        z_pred = predicted_latents(model, ep, z, ev.judged - ask, np.array([ask]))
        feats['predicted'].append(z_pred[0, -1])
        with torch.no_grad():
            param = next(model.parameters())
            z_plan = model.rollout(torch.from_numpy(z[ask:ask + 1]).to(param),
                                   torch.from_numpy(plan[None]).to(param))
        feats['predicted_plan'].append(z_plan[0, -1].float().numpy())
        feats['commands'].append(ep.a[ask:ev.judged].reshape(-1))
        feats['encoded_close'].append(z[ask])
        feats['proprio_close'].append(ep.s[ask])
        feats['colour_histogram_close'].append(colour_histogram(ep.images[ask:ask + 1])[0])
        feats['encoded_judged'].append(z[ev.judged])
        feats['proprio_judged'].append(ep.s[ev.judged])
        feats['physics'].append(physics[ev.episode] if physics is not None
                                else np.zeros(2, np.float32))
        name = str(ep.extras['cube_material'][ev.close]) if 'cube_material' in ep.extras else ''
        feats['material'].append(np.array([name == m for m in materials], np.float32))
        names.append(name)
    out = {k: np.asarray(v, dtype=np.float32) for k, v in feats.items()}
    out['material_name'] = np.asarray(names, dtype=str)
    out['held'] = np.array([ev.held for ev in events], dtype=bool)
    out['episode'] = np.array([ev.episode for ev in events], dtype=int)
    return out


def held_by_material(features: Dict[str, np.ndarray]) -> Dict[str, List[int]]:
    """Material name -> [held, grasps] over the grasps of ``features`` (labelled only)."""
    out = {}
    for name in sorted(set(features['material_name'].tolist()) - {''}):
        mask = features['material_name'] == name
        out[name] = [int(features['held'][mask].sum()), int(mask.sum())]
    return out


@torch.no_grad()
def pooled_tokens(model, episode, batch_size: int = 256) -> np.ndarray:
    """The online encoder's patch tokens of every frame, max- and mean-pooled over the
    patches: [T, 2 D] (what the encoder holds before it pools into the latent)."""
    model.eval()
    param = next(model.parameters())
    out = []
    for i in range(0, len(episode), batch_size):
        tokens = model.patch_tokens(images_to_tensor(episode.images[i:i + batch_size]).to(param))
        out.append(torch.cat([tokens.amax(1), tokens.mean(1)], -1).float().cpu().numpy())
    return np.concatenate(out)


def frame_features(episodes, z_all: Sequence[np.ndarray], materials: Sequence[str],
                   block: int = 8, model=None) -> Dict[str, np.ndarray]:
    """Every frame of ``episodes``: ``encoded`` latent [N, Z], ``pixels`` (the image averaged
    over ``block`` x ``block`` pixel blocks, [N, (H / block) (W / block) 3], in [0, 1]),
    its ``colour_histogram`` [N, 512], ``proprio`` [N, S], the one-hot ``material`` [N, M]
    and, given ``model``, its
    :func:`pooled_tokens` ``tokens`` [N, 2 D]: for asking whether the latent keeps what the
    pixels show of the cube's material."""
    names = np.concatenate([ep.extras['cube_material'] for ep in episodes])
    out = {'encoded': np.concatenate(z_all),
           'pixels': np.concatenate([block_averaged_pixels(ep, block) for ep in episodes]),
           'colour_histogram': np.concatenate([colour_histogram(ep.images)
                                               for ep in episodes]),
           'proprio': np.concatenate([ep.s for ep in episodes]),
           'material': np.stack([names == m for m in materials], axis=1).astype(np.float32)}
    if model is not None:
        out['tokens'] = np.concatenate([pooled_tokens(model, ep) for ep in episodes])
    return out


def material_readout(train: Dict[str, np.ndarray], test: Dict[str, np.ndarray], feature: str,
                     ridge: float = 1.0) -> Dict[str, object]:
    """Does ``feature`` tell the cube's material? A ridge read-out of the one-hot material
    from ``train[feature]``, scored on the test grasps: accuracy of its arg-max, with a Wilson
    interval, next to always guessing the training grasps' commonest material."""
    readout = RidgeReadout.fit(train[feature], train['material'], ridge)
    guess = np.argmax(readout(test[feature]), axis=1)
    truth = np.argmax(test['material'], axis=1)
    labelled = test['material'].sum(axis=1) > 0
    right = int((guess == truth)[labelled].sum())
    n = int(labelled.sum())
    common = int(np.argmax(train['material'].sum(axis=0)))
    return {'correct': right, 'samples': n, 'accuracy': round(right / max(n, 1), 3),
            'ci95': [round(v, 3) for v in wilson_interval(right, n)],
            'commonest_material_accuracy': round(float((truth == common)[labelled].mean()), 3)}


def score(train: Dict[str, np.ndarray], test: Dict[str, np.ndarray], feature: str,
          l2: float = 1.0) -> Dict[str, object]:
    """Fit the head on ``train[feature]``, score ``test[feature]``: AUC and its interval."""
    head = fit_grip_head(torch.from_numpy(train[feature]), torch.from_numpy(train['held']), l2)
    with torch.no_grad():
        p = head(torch.from_numpy(test[feature])).numpy()
    low, high = bootstrap_auc_interval(p, test['held'], test['episode'])
    return {'auc': round(roc_auc(p, test['held']), 3), 'ci95': [round(low, 3), round(high, 3)],
            'head': head}


def run(checkpoint: str, train_bags: Sequence[str], test_bags: Sequence[str],
        train_seed: Optional[int], test_seed: Optional[int], l2: float = 1.0,
        head_path: Optional[Path] = None, lead: int = 0) -> Dict[str, object]:
    """Module notes; writes the ``predicted_plan`` head to ``head_path`` when given; the
    question is asked ``lead`` frames before the close frame."""
    loaded = load_checkpoint(checkpoint)
    model, config = loaded.model, loaded.config
    sets, frames, plan, materials = {}, {}, None, None
    for split, bags, seed in (('train', train_bags, train_seed), ('test', test_bags, test_seed)):
        episodes = read_tabletop_episodes(bags, config)
        plan = nominal_plan(episodes, lead) if plan is None else plan   # training grasps
        materials = materials_of(episodes) if materials is None else materials
        physics = None if seed is None else cube_physics(seed, len(episodes))
        z_all = encoded_latents(model, episodes)
        sets[split] = grasp_features(model, episodes, plan, physics, materials, lead, z_all)
        if materials:
            frames[split] = frame_features(episodes, z_all, materials, model=model)
    hold_check_steps = hold_rule()[1]
    features = [f for f in FEATURES if (f != 'physics' or train_seed is not None)
                and (f != 'material' or materials)]
    results = {}
    for feature in features:
        scored = score(sets['train'], sets['test'], feature, l2)
        head = scored.pop('head')
        results[feature] = scored
        if feature == 'predicted_plan' and head_path is not None:
            save_grip_head(head_path, head, {
                'checkpoint': Path(checkpoint).name,
                'features': 'predicted latent under the planned close and lift commands',
                'start': f'{lead} frames before the close frame (gripper open)',
                'close_steps': CLOSE_STEPS, 'hold_check_steps': hold_check_steps,
                'horizon': lead + CLOSE_STEPS + hold_check_steps,
                'label': 'cube still above the table hold_check_steps after the lift began',
                'train_bags': [str(b) for b in train_bags],
                'held_out_auc': round(float(scored['auc']), 3)})
    readouts = ({f: material_readout(sets['train'], sets['test'], f)
                 for f in ('encoded_close', 'predicted_plan', 'proprio_close',
                           'colour_histogram_close')}
                if materials else {})
    if materials:
        readouts['every_frame'] = {f: material_readout(frames['train'], frames['test'], f)
                                   for f in ('encoded', 'tokens', 'pixels', 'colour_histogram',
                                             'proprio')}
    counts = {split: {'grasps': int(len(s['held'])), 'held': int(s['held'].sum()),
                      'slipped': int((~s['held']).sum()),
                      'episodes_with_grasps': int(len(np.unique(s['episode']))),
                      'held_by_material': held_by_material(s)}
              for split, s in sets.items()}
    return {'checkpoint': str(checkpoint), 'step': loaded.step,
            'train_bags': [str(b) for b in train_bags], 'test_bags': [str(b) for b in test_bags],
            'question_at': f'{lead} frames before the close frame (gripper open); horizon '
                           f'{lead} + {CLOSE_STEPS} close steps + {hold_check_steps} lift steps',
            'ask_frames_before_close': lead,
            'counts': counts, 'materials': list(materials), 'l2': l2, 'auc': results,
            'material_readout': readouts,
            'nominal_plan': np.round(plan, 4).tolist(),
            'head': str(head_path) if head_path else None}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The experiment's options (``jepa-world-model diagnose grip-hold``)."""
    parser.add_argument('--checkpoint', required=True, help='tabletop world model')
    parser.add_argument('--train-bag', nargs='+', required=True,
                        help='bags whose grasps the heads are fitted on')
    parser.add_argument('--test-bag', nargs='+', required=True, help='held-out bags')
    parser.add_argument('--train-seed', type=int, default=None,
                        help="the train bag's record --seed (for the physics reference)")
    parser.add_argument('--test-seed', type=int, default=None)
    parser.add_argument('--l2', type=float, default=1.0)
    parser.add_argument('--ask-before-close', type=int, default=0, metavar='FRAMES',
                        help='ask this many frames before the close frame (0: at the close; '
                             '10: about where the hand starts down over the cube)')
    parser.add_argument('--head', type=Path, default=None,
                        help='write the head on predicted_plan latents here (.safetensors)')
    parser.add_argument('--out', type=Path, default=None, help='JSON file to write')


def run_cli(args: argparse.Namespace, command: str) -> int:
    """Run, print and write the JSON."""
    if (args.train_seed is None) != (args.test_seed is None):
        raise ValueError('give both --train-seed and --test-seed, or neither')
    result = run(args.checkpoint, args.train_bag, args.test_bag, args.train_seed,
                 args.test_seed, args.l2, args.head, args.ask_before_close)
    result = {'command': command, 'date': datetime.date.today().isoformat(),
              'commit': git_commit(), 'seeds': {'train': args.train_seed, 'test': args.test_seed},
              **result}
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + '\n', encoding='utf-8')
    print(text)
    return 0
