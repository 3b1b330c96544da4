"""Issue #13 item 3: will the grip hold? Held-out ROC AUC of the grip head on several inputs.

``python -m jepa_world_model.experiments.grip_hold --checkpoint C --train-bag A
--test-bag B --train-seed 0 --test-seed 5000 --out docs/results/tabletop_grip.json
--head models/tabletop_tiny_grip.safetensors``

For every grasp of the scripted policy (experiments/tabletop_data.py) the question is asked at
the close frame (the gripper still open): will the cube be held ``HOLD_CHECK_STEPS`` frames
after the lift starts? The same logistic head (core/model/grip_head.py), fitted on the
training bag's grasps, scores the held-out grasps from:

* ``predicted``: the model's predicted latent of the judged frame, rolled out from the
  close frame under the recorded close and lift commands (the issue's question);
* ``encoded_close``: the encoded latent of the close frame (what the camera shows now);
* ``proprio_close``: the joint positions and velocities at the close frame;
* ``encoded_judged`` / ``proprio_judged``: the same at the judged frame, i.e. after the fact
  (a reference for what the latent and the joints carry once the outcome shows);
* ``physics``: log mass and friction of the cube (simulator ground truth from the episode
  seeds, with ``--train-seed``/``--test-seed``): how far the hidden physics decides.

AUC with a 95 % bootstrap interval over episodes (one cube per episode: its grasps share the
physics).
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from ..core.checkpoint import load_checkpoint
from ..core.model.grip_head import fit_grip_head, save_grip_head
from ..core.training.roc import bootstrap_auc_interval, roc_auc
from ..sim.tabletop_policies import HOLD_CHECK_STEPS
from .latent_rollouts import encoded_latents, predicted_latents
from .tabletop_data import CLOSE_STEPS, find_grasps, read_tabletop_episodes

__all__ = ['FEATURES', 'grasp_features', 'cube_physics', 'score', 'run', 'main']

FEATURES = ('predicted', 'encoded_close', 'proprio_close', 'encoded_judged',
            'proprio_judged', 'physics')


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


def grasp_features(model, episodes, physics: Optional[np.ndarray] = None
                   ) -> Dict[str, np.ndarray]:
    """Per grasp: every ``FEATURES`` entry [N, F], ``held`` [N] bool, ``episode`` [N]."""
    events = find_grasps(episodes)
    z_all = encoded_latents(model, episodes)
    feats: Dict[str, List[np.ndarray]] = {k: [] for k in FEATURES}
    for ev in events:
        ep, z = episodes[ev.episode], z_all[ev.episode]
        horizon = ev.judged - ev.close
        z_pred = predicted_latents(model, ep, z, horizon, np.array([ev.close]))
        feats['predicted'].append(z_pred[0, -1])
        feats['encoded_close'].append(z[ev.close])
        feats['proprio_close'].append(ep.s[ev.close])
        feats['encoded_judged'].append(z[ev.judged])
        feats['proprio_judged'].append(ep.s[ev.judged])
        feats['physics'].append(physics[ev.episode] if physics is not None
                                else np.zeros(2, np.float32))
    out = {k: np.asarray(v, dtype=np.float32) for k, v in feats.items()}
    out['held'] = np.array([ev.held for ev in events], dtype=bool)
    out['episode'] = np.array([ev.episode for ev in events], dtype=int)
    return out


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
        head_path: Optional[Path] = None) -> Dict[str, object]:
    """Module notes; writes the ``predicted`` head to ``head_path`` when given."""
    loaded = load_checkpoint(checkpoint)
    model, config = loaded.model, loaded.config
    sets = {}
    for split, bags, seed in (('train', train_bags, train_seed), ('test', test_bags, test_seed)):
        episodes = read_tabletop_episodes(bags, config)
        physics = None if seed is None else cube_physics(seed, len(episodes))
        sets[split] = grasp_features(model, episodes, physics)
    features = [f for f in FEATURES if f != 'physics' or train_seed is not None]
    results = {}
    for feature in features:
        scored = score(sets['train'], sets['test'], feature, l2)
        head = scored.pop('head')
        results[feature] = scored
        if feature == 'predicted' and head_path is not None:
            save_grip_head(head_path, head, {
                'checkpoint': Path(checkpoint).name, 'features': 'predicted latent',
                'start': 'close frame (gripper still open)', 'close_steps': CLOSE_STEPS,
                'hold_check_steps': HOLD_CHECK_STEPS,
                'horizon': CLOSE_STEPS + HOLD_CHECK_STEPS,
                'label': 'cube still above the table hold_check_steps after the lift began'})
    counts = {split: {'grasps': int(len(s['held'])), 'held': int(s['held'].sum()),
                      'slipped': int((~s['held']).sum()),
                      'episodes_with_grasps': int(len(np.unique(s['episode'])))}
              for split, s in sets.items()}
    return {'checkpoint': str(checkpoint), 'step': loaded.step,
            'train_bags': [str(b) for b in train_bags], 'test_bags': [str(b) for b in test_bags],
            'question_at': 'the close frame (gripper open); horizon close + '
                           f'{CLOSE_STEPS} close steps + {HOLD_CHECK_STEPS} lift steps',
            'counts': counts, 'l2': l2, 'auc': results,
            'head': str(head_path) if head_path else None}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (module notes)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoint', required=True)
    parser.add_argument('--train-bag', nargs='+', required=True)
    parser.add_argument('--test-bag', nargs='+', required=True)
    parser.add_argument('--train-seed', type=int, default=None,
                        help="the train bag's record --seed (for the physics reference)")
    parser.add_argument('--test-seed', type=int, default=None)
    parser.add_argument('--l2', type=float, default=1.0)
    parser.add_argument('--head', type=Path, default=None, help='write the predicted head here')
    parser.add_argument('--out', type=Path, default=None)
    args = parser.parse_args(argv)
    if (args.train_seed is None) != (args.test_seed is None):
        parser.error('give both --train-seed and --test-seed, or neither')
    result = run(args.checkpoint, args.train_bag, args.test_bag, args.train_seed,
                 args.test_seed, args.l2, args.head)
    result = {'command': 'python -m jepa_world_model.experiments.grip_hold '
                         + ' '.join(argv if argv is not None else sys.argv[1:]),
              'date': datetime.date.today().isoformat(), **result}
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + '\n', encoding='utf-8')
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
