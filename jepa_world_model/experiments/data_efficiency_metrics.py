"""What one run of the data-efficiency experiment scores (issue #13 item 5).

The same code paths as ``diagnose tabletop-objects`` and ``diagnose grip-hold``, applied to a
model in memory, on labelled tabletop episodes (experiments/tabletop_data.py):

* ``object_error_h4_cm``: per object (block, cube), the mean error [cm] of a ridge read-out
  of its (x, y, z), fitted on the *encoded* latents of the whole training bag, applied to the
  latents the model *predicts* 4 steps ahead from every start frame of the held-out bag under
  the recorded commands (tabletop_objects.object_errors); also on the ``contact_start``
  slice, and the read-out of the encoded future frame (the ceiling). The pixel objective never
  asks a predicted latent to equal the encoded latent of its frame (only its decoded image
  must match), so a read-out fitted on encoded latents can miss its predictions by far:
  ``predicted_fit_on_predicted_cm`` is the same error with the read-out fitted on the
  *predicted* latents at h = 4 of the training bag instead (fair to both objectives), and
  ``training_mean_position_cm`` the error of always answering the training frames' mean
  position (what a read-out gets from a latent that holds nothing of the object);
* ``consequence_cm``: per object, the error at h = 4 of the consequence read-out
  (experiments/consequence_readout.py: the displacement read from z_t and the predicted
  z_{t+4}, fitted on the training bag's rollouts, added to the true position at t), on all
  start frames and on ``contact_start``, next to no-change there: what the model predicts
  an action does to the object, which a position read-out cannot show when the latent does
  not locate the object (docs/tabletop.md, item 2);
* ``grip_auc``: grip_hold's held-out ROC AUC at the close frame, on the predicted latent under
  the nominal plan (``predicted_plan``, item 3's headline) and on the encoded close frame;
* ``readout_r2``: how much of each object's position the encoded latent holds: R^2 of the
  same kind of read-out on the held-out frames (x and y; the distractor is the item's
  question: JEPA should leave out what is unpredictable and irrelevant).

The read-outs are evaluation probes: they are always fitted on the whole training bag,
whatever fraction of it the model was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

from ..core.training.data import Episode
from .consequence_readout import consequence_features
from .grip_hold import grasp_features, nominal_plan, score
from .latent_rollouts import encoded_latents, predicted_latents, RidgeReadout
from .tabletop_data import OBJECTS, object_positions, read_tabletop_episodes
from .tabletop_objects import displacement_labels, fit_consequence_readouts, object_errors

__all__ = ['HORIZON', 'READOUT_OBJECTS', 'CONSEQUENCE_STEPS', 'EvaluationData',
           'load_evaluation_data', 'r2_score', 'evaluate']

#: The horizon the issue asks for (steps of 0.1 s).
HORIZON = 4
#: Objects whose position read-out R^2 is reported (the distractor moves on its own).
READOUT_OBJECTS = OBJECTS + ('distractor',)
#: Training steps of the consequence read-out in each run (half of the diagnosis's 4,000:
#: 24 runs are scored).
CONSEQUENCE_STEPS = 2000


@dataclass
class EvaluationData:
    """Labelled episodes (``<object>_xyz`` extras [T, 3]) of the training and held-out bags,
    and grip_hold's nominal plan [H, A] from the training grasps."""

    train: List[Episode]
    test: List[Episode]
    plan: np.ndarray


def _attach_distractor(episodes: Sequence[Episode], bags: Sequence[str]) -> None:
    """Add ``distractor_xyz`` [T, 3] to each episode, matched by frame stamp."""
    stamps, xyz = object_positions(bags, ('distractor',))['distractor']
    order = np.argsort(stamps, kind='stable')
    stamps, xyz = stamps[order], xyz[order]
    for ep in episodes:
        frame_t = ep.extras['stamp_ns']
        k = np.clip(np.searchsorted(stamps, frame_t), 0, len(stamps) - 1)
        if np.any(stamps[k] != frame_t):
            raise ValueError('distractor: a frame has no ground-truth position with its stamp')
        ep.extras['distractor_xyz'] = xyz[k]


def load_evaluation_data(train_bags: Sequence[str], test_bags: Sequence[str],
                         config) -> EvaluationData:
    """Read both bags once with their labels (the runs share them)."""
    sets = []
    for bags in (train_bags, test_bags):
        episodes = read_tabletop_episodes(bags, config)
        _attach_distractor(episodes, bags)
        sets.append(episodes)
    return EvaluationData(sets[0], sets[1], nominal_plan(sets[0]))


def r2_score(truth: np.ndarray, guess: np.ndarray) -> float:
    """1 - SSE / SST summed over the columns of truth, guess [N, D] (0: the mean's error)."""
    truth = np.asarray(truth, dtype=np.float64)
    sst = float(((truth - truth.mean(0)) ** 2).sum())
    sse = float(((truth - np.asarray(guess, dtype=np.float64)) ** 2).sum())
    return 1.0 - sse / max(sst, 1e-12)


def _consequence_errors(model, data: EvaluationData, z_train, z_test, rollouts_train,
                        rollouts_test, train_starts, test_starts, steps: int):
    """Displacement error vectors [K, 3 * len(OBJECTS)] at h = ``HORIZON`` of the consequence
    read-out on the held-out start frames, in start order; None when ``steps`` is 0."""
    if not steps:
        return None
    image_dim = model.cfg.image_latent_dim
    train = [{'starts': s, 'z_pred': zp} for s, zp in zip(train_starts, rollouts_train)]
    readout = fit_consequence_readouts(data.train, z_train, train, image_dim, steps,
                                       kinds=('predicted',))['predicted']
    guess = np.concatenate([readout(consequence_features('predicted', z, zp, ep.a, s,
                                                         image_dim))
                            for ep, z, zp, s in zip(data.test, z_test, rollouts_test,
                                                    test_starts)])
    truth = np.concatenate([displacement_labels(ep, s, HORIZON)
                            for ep, s in zip(data.test, test_starts)])
    return (guess - truth)[:, HORIZON - 1]


def evaluate(model, data: EvaluationData, ridge: float = 1.0,
             consequence_steps: int = CONSEQUENCE_STEPS) -> Dict[str, object]:
    """Every metric of the module notes for ``model`` (a WorldModel in memory);
    ``consequence_steps`` 0 leaves the consequence read-out out."""
    z_train = encoded_latents(model, data.train)
    z_test = encoded_latents(model, data.test)
    z_train_all = np.concatenate(z_train)
    starts = [np.arange(1, len(ep) - HORIZON) for ep in data.test]
    z_pred = [predicted_latents(model, ep, z, HORIZON, s)
              for ep, z, s in zip(data.test, z_test, starts)]
    train_starts = [np.arange(1, len(ep) - HORIZON) for ep in data.train]
    rollouts_train = [predicted_latents(model, ep, z, HORIZON, s)
                      for ep, z, s in zip(data.train, z_train, train_starts)]
    z_pred_train = np.concatenate([zp[:, -1] for zp in rollouts_train])
    consequence = _consequence_errors(model, data, z_train, z_test, rollouts_train, z_pred,
                                      train_starts, starts, consequence_steps)
    objects: Dict[str, Dict[str, float]] = {}
    for j, name in enumerate(OBJECTS):
        y_train = np.concatenate([ep.extras[f'{name}_xyz'] for ep in data.train])
        readout = RidgeReadout.fit(z_train_all, y_train, ridge)
        parts = [object_errors(readout, ep, z, zp, s, name)
                 for ep, z, zp, s in zip(data.test, z_test, z_pred, starts)]
        # The read-out of predicted latents, fitted on predicted latents (h = 4).
        y_future = np.concatenate([ep.extras[f'{name}_xyz'][s + HORIZON]
                                   for ep, s in zip(data.train, train_starts)])
        on_predicted = RidgeReadout.fit(z_pred_train, y_future, ridge)
        guess = on_predicted(np.concatenate([zp[:, -1] for zp in z_pred]))
        truth = np.concatenate([ep.extras[f'{name}_xyz'][s + HORIZON]
                                for ep, s in zip(data.test, starts)])
        fit_on_predicted = np.linalg.norm(guess - truth, axis=-1) * 100
        # The floor of knowing nothing: always the training frames' mean position.
        know_nothing = np.linalg.norm(y_train.mean(0) - truth, axis=-1) * 100
        predicted = np.concatenate([p['predicted'][:, HORIZON - 1] for p in parts]) * 100
        ceiling = np.concatenate([p['encoded_future'][:, HORIZON - 1] for p in parts]) * 100
        contact = np.concatenate([p['slice_contact_start'] for p in parts])
        no_change = np.concatenate([p['no_change'][:, HORIZON - 1] for p in parts]) * 100
        if consequence is not None:
            err = np.linalg.norm(consequence[:, 3 * j:3 * j + 3], axis=-1) * 100
            conseq = {'consequence_cm': round(float(err.mean()), 3),
                      'consequence_contact_start_cm': round(float(err[contact].mean()), 3),
                      'no_change_cm': round(float(no_change.mean()), 3),
                      'no_change_contact_start_cm': round(float(no_change[contact].mean()), 3)}
        else:
            conseq = {}
        objects[name] = {**conseq, 'predicted_cm': round(float(predicted.mean()), 3),
                         'predicted_fit_on_predicted_cm': round(float(fit_on_predicted.mean()),
                                                                3),
                         'predicted_contact_start_cm': round(float(predicted[contact].mean()), 3),
                         'encoded_future_cm': round(float(ceiling.mean()), 3),
                         'training_mean_position_cm': round(float(know_nothing.mean()), 3),
                         'samples': int(len(predicted)),
                         'contact_start_samples': int(contact.sum())}
    r2 = {}
    for name in READOUT_OBJECTS:
        y_train = np.concatenate([ep.extras[f'{name}_xyz'][:, :2] for ep in data.train])
        y_test = np.concatenate([ep.extras[f'{name}_xyz'][:, :2] for ep in data.test])
        readout = RidgeReadout.fit(z_train_all, y_train, ridge)
        r2[name] = round(r2_score(y_test, readout(np.concatenate(z_test))), 4)
    sets = [grasp_features(model, eps, data.plan, z_all=z)
            for eps, z in ((data.train, z_train), (data.test, z_test))]
    grip = {}
    for feature in ('predicted_plan', 'encoded_close'):
        scored = score(sets[0], sets[1], feature)
        grip[feature] = {'auc': scored['auc'], 'ci95': scored['ci95']}
    return {'object_error_h4_cm': objects, 'readout_r2_encoded_xy': r2, 'grip_auc': grip,
            'grasps': {'train': int(len(sets[0]['held'])), 'test': int(len(sets[1]['held']))}}
