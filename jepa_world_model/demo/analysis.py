"""What the demo measures, as pure numpy functions (no rclpy): unit-tested on synthetic data.

* :func:`horizon_errors`: the mean absolute joint error [rad] of ``world_model_node``'s
  predicted trajectory at horizons 1..H against the joint states that were actually
  measured at those times, next to two baselines computed from the same samples: constant
  velocity ``q_t + k dt dq_t`` and "nothing changes" ``q_t``. Predictions and measurements
  are aligned by their stamps (the prediction's header stamp plus each point's
  ``time_from_start``), never by message order.
* :func:`surprise_windows`: ``~/surprise`` in a window around collision/contact onsets
  versus free motion (no contact, away from every onset).
* :func:`stamps_from_source_times`: stamps for header-less messages (``std_msgs/Bool``,
  ``std_msgs/Float32``) from the publisher-side send times DDS reports with each message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from ..json_values import json_safe

__all__ = ['Recording', 'interpolate_at', 'stamps_from_source_times', 'horizon_errors',
           'command_replay', 'onsets', 'flags_at', 'surprise_windows', 'describe',
           'choose_clip', 'json_safe', 'format_summary', 'SURPRISE_WINDOW_S']

#: Seconds before and after an onset that count as "around" it. A collision during the
#: step t -> t+1 first shows in frame t+1; the arm then stalls against the block while it
#: is pushed, which the model (fed the commanded velocities) does not expect either.
SURPRISE_WINDOW_S = (0.2, 1.0)
#: Stamps are integer nanoseconds; sums of stamps and durations differ by rounding only.
_STAMP_EPS = 1e-6


@dataclass
class Recording:
    """Everything the demo's recorder collected, as arrays sorted by stamp [s].

    Attributes:
        joint_names: Model joint order.
        joint_t, q, dq: Joint-state stamps [N], positions [N, J], velocities [N, J].
        pred_t, pred_q, pred_dt: Prediction stamps [M], predicted joint values [M, H, J] and
            each point's ``time_from_start`` [H] (same for every prediction).
        pred_kind: What ``pred_q`` holds: ``'position'``, or ``'velocity'`` for models whose
            state has joint velocities only (the mobile base: wheel angles grow unbounded).
        surprise_t, surprise: Stamps and values of ``~/surprise`` [K].
        flag_t, collision, contact: Stamps and flags of the simulator's Bools [F].
        image_t, images: Camera frame stamps [I] and frames [I, h, w, 3] uint8.
        joint_src, pred_src: Publisher send times [s] (wall clock) of the joint states and
            predictions.
        command_src, commands: Send times [C] and values [C, A] of the driver's commands.
    """

    joint_names: List[str]
    joint_t: np.ndarray
    q: np.ndarray
    dq: np.ndarray
    pred_t: np.ndarray
    pred_q: np.ndarray
    pred_dt: np.ndarray
    surprise_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    surprise: np.ndarray = field(default_factory=lambda: np.zeros(0))
    flag_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    collision: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    contact: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    image_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    images: Optional[np.ndarray] = None
    joint_src: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pred_src: np.ndarray = field(default_factory=lambda: np.zeros(0))
    command_src: np.ndarray = field(default_factory=lambda: np.zeros(0))
    commands: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    pred_kind: str = 'position'

    @property
    def measured(self) -> np.ndarray:
        """The measured joint values [N, J] that ``pred_q`` predicts (q or dq)."""
        return self.q if self.pred_kind == 'position' else self.dq


def interpolate_at(stamps: np.ndarray, values: np.ndarray, query: np.ndarray,
                   max_gap: float) -> tuple:
    """Values at ``query`` times by linear interpolation between the bracketing samples.

    Args:
        stamps: [N] increasing sample times.
        values: [N, ...] samples.
        query: [Q] times.
        max_gap: A query further than this from its nearest sample is invalid (a dropped
            message must not be bridged by interpolation over a long gap). Queries outside
            ``[stamps[0], stamps[-1]]`` are invalid (up to stamp rounding).

    Returns:
        ``(out [Q, ...], valid [Q] bool)``; invalid rows are NaN.
    """
    stamps = np.asarray(stamps, float)
    values = np.asarray(values, float)
    query = np.asarray(query, float)
    out = np.full((len(query),) + values.shape[1:], np.nan)
    if len(stamps) == 0 or len(query) == 0:
        return out, np.zeros(len(query), bool)
    hi = np.clip(np.searchsorted(stamps, query, side='left'), 1, max(len(stamps) - 1, 1))
    lo = hi - 1
    if len(stamps) == 1:
        hi = lo = np.zeros_like(hi)
    t0, t1 = stamps[lo], stamps[hi]
    span = np.where(t1 > t0, t1 - t0, 1.0)
    w = np.clip((query - t0) / span, 0.0, 1.0)
    w = w.reshape((-1,) + (1,) * (values.ndim - 1))
    nearest = np.minimum(np.abs(query - t0), np.abs(query - t1))
    # No extrapolation past the ends (beyond stamp rounding): a clamped value is wrong
    # for a moving joint.
    edge = min(max_gap, _STAMP_EPS)
    valid = (query >= stamps[0] - edge) & (query <= stamps[-1] + edge) & (nearest <= max_gap)
    out[valid] = ((1.0 - w) * values[lo] + w * values[hi])[valid]
    return out, valid


def stamps_from_source_times(query_src: np.ndarray, ref_src: np.ndarray,
                             ref_stamps: np.ndarray, max_gap: float) -> np.ndarray:
    """Stamp of each header-less message: that of the last reference sent before it.

    The simulator publishes ``~/collision`` right after the ``joint_states`` of the same
    step, and ``world_model_node`` publishes ``~/surprise`` right after the trajectory of
    the same frame, so the reference message sent last before (``max_gap`` at most) is the
    one it belongs to. Publisher send times are used, not arrival order: DDS does not
    order messages across topics.

    Returns:
        [Q] stamps, NaN where no reference was sent within ``max_gap`` before.
    """
    query_src = np.asarray(query_src, float)
    order = np.argsort(ref_src, kind='stable')
    ref_src = np.asarray(ref_src, float)[order]
    ref_stamps = np.asarray(ref_stamps, float)[order]
    out = np.full(len(query_src), np.nan)
    if len(ref_src) == 0:
        return out
    idx = np.searchsorted(ref_src, query_src, side='right') - 1
    ok = idx >= 0
    gap = query_src[ok] - ref_src[idx[ok]]
    good = np.flatnonzero(ok)[gap <= max_gap]
    out[good] = ref_stamps[idx[good]]
    return out


def horizon_errors(rec: Recording, max_gap: float) -> Dict[str, Any]:
    """Mean absolute joint error [rad] per horizon: the model and two baselines.

    For prediction i (stamp ``t_i``) and horizon k the truth is the joint state at
    ``t_i + pred_dt[k]``, interpolated from the measured joint states; ``q_t`` and
    ``dq_t`` are the measured state at ``t_i``. Only (i, k) pairs whose truth and start
    state are both measured count, and all three predictors are scored on the same pairs.

    Returns:
        A dict with ``horizon_steps``, ``horizon_s``, ``model``, ``constant_velocity``,
        ``nothing_changes`` (lists over horizons), ``pairs`` (pairs per horizon) and
        ``model_per_joint`` (joint -> list over horizons). Empty horizons give NaN.
    """
    pred_t, pred_q = np.asarray(rec.pred_t, float), np.asarray(rec.pred_q, float)
    dts = np.asarray(rec.pred_dt, float)
    steps = len(dts)
    q0, ok0 = interpolate_at(rec.joint_t, rec.q, pred_t, max_gap)
    dq0, okv = interpolate_at(rec.joint_t, rec.dq, pred_t, max_gap)
    names = list(rec.joint_names)
    result = {key: [] for key in ('model', 'constant_velocity', 'nothing_changes', 'pairs')}
    per_joint: Dict[str, List[float]] = {name: [] for name in names}
    velocity = rec.pred_kind == 'velocity'
    for k in range(steps):
        truth, ok = interpolate_at(rec.joint_t, rec.measured, pred_t + dts[k], max_gap)
        use = ok & ok0 & okv
        n = int(use.sum())
        result['pairs'].append(n)
        if n == 0:
            for key in ('model', 'constant_velocity', 'nothing_changes'):
                result[key].append(math.nan)
            for name in names:
                per_joint[name].append(math.nan)
            continue
        err_model = np.abs(pred_q[use, k] - truth[use])
        if velocity:   # predicted velocities: both baselines keep the current velocity
            err_cv = err_copy = np.abs(dq0[use] - truth[use])
        else:
            err_cv = np.abs(q0[use] + dts[k] * dq0[use] - truth[use])
            err_copy = np.abs(q0[use] - truth[use])
        result['model'].append(float(err_model.mean()))
        result['constant_velocity'].append(float(err_cv.mean()))
        result['nothing_changes'].append(float(err_copy.mean()))
        for j, name in enumerate(names):
            per_joint[name].append(float(err_model[:, j].mean()))
    result['horizon_steps'] = list(range(1, steps + 1))
    result['horizon_s'] = [float(d) for d in dts]
    result['model_per_joint'] = per_joint
    return result


def command_replay(rec: Recording, predict: Callable[..., np.ndarray],
                   min_difference: float = 0.05, tolerance: float = 1e-4) -> Dict[str, Any]:
    """Which command did the node use for each frame: the one for that frame, or the last?

    The driver answers each joint state with the command the simulator applies over the
    next step, so that is the action the model should get for the frame of the same
    stamp. It arrives a few milliseconds after the image, and the node takes the newest
    command when it processes the frame. Each frame where the two candidate commands
    differ by more than ``min_difference`` is replayed through the same model with both,
    and the published prediction (to within ``tolerance`` rad) tells which was used.

    Args:
        rec: A recording with images, joint states, predictions, ``joint_src``, and the
            driver's commands ``command_src`` [C] / ``commands`` [C, A].
        predict: ``predict(image, q, dq, action) -> [H, J]`` joint positions, the model
            the node ran (deterministic).

    Returns:
        ``{'frames': n, 'fresh': n, 'previous': n, 'neither': n, 'previous_fraction'}``.
    """
    order = np.argsort(rec.command_src, kind='stable')
    src, cmds = np.asarray(rec.command_src, float)[order], np.asarray(rec.commands)[order]
    counts = {'frames': 0, 'fresh': 0, 'previous': 0, 'neither': 0}
    for i, t in enumerate(rec.pred_t):
        j = np.flatnonzero(np.abs(rec.joint_t - t) <= _STAMP_EPS)
        f = np.flatnonzero(np.abs(rec.image_t - t) <= _STAMP_EPS)
        if not len(j) or not len(f):
            continue
        k = int(np.searchsorted(src, rec.joint_src[j[0]], side='right'))
        if k < 1 or k >= len(src) or np.max(np.abs(cmds[k] - cmds[k - 1])) <= min_difference:
            continue
        errors = [np.max(np.abs(predict(rec.images[f[0]], rec.q[j[0]], rec.dq[j[0]], a) -
                                rec.pred_q[i])) for a in (cmds[k], cmds[k - 1])]
        counts['frames'] += 1
        key = ('fresh' if errors[0] <= tolerance else 'previous' if errors[1] <= tolerance
               else 'neither')
        counts[key] += 1
    counts['previous_fraction'] = (counts['previous'] / counts['frames'] if counts['frames']
                                   else None)
    return counts


def onsets(stamps: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Stamps where ``flags`` turns true (a true first sample counts as an onset)."""
    flags = np.asarray(flags, bool)
    if flags.size == 0:
        return np.zeros(0)
    rising = flags & ~np.concatenate([[False], flags[:-1]])
    return np.asarray(stamps, float)[rising]


def flags_at(stamps: np.ndarray, flags: np.ndarray, query: np.ndarray,
             max_gap: float) -> np.ndarray:
    """The flag of the nearest sample to each query time (False if none within max_gap)."""
    values, valid = interpolate_at(stamps, np.asarray(flags, float), query, max_gap)
    # Interpolation between a true and a false sample counts as true (contact during it).
    return valid & (np.nan_to_num(values) > 0.0)


def describe(values: np.ndarray) -> Dict[str, Any]:
    """``count``, ``mean``, ``median`` and ``p90`` (None when empty)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {'count': 0, 'mean': None, 'median': None, 'p90': None}
    return {'count': int(values.size), 'mean': float(values.mean()),
            'median': float(np.median(values)), 'p90': float(np.percentile(values, 90))}


def _near(times: np.ndarray, events: np.ndarray, before: float, after: float) -> np.ndarray:
    near = np.zeros(len(times), bool)
    for onset in events:
        near |= (times >= onset - before) & (times <= onset + after)
    return near


def surprise_windows(rec: Recording, max_gap: float,
                     window=SURPRISE_WINDOW_S) -> Dict[str, Any]:
    """Surprise around collision and contact onsets versus free motion.

    "Around" an onset is ``[onset - window[0], onset + window[1]]``. Free motion is every
    surprise sample with neither flag set and outside the windows of all onsets.

    Returns:
        ``{'window_s': [...], 'collision': {'onsets', 'near'}, 'contact': {...},
        'free_motion': {...}, 'ratio_mean_collision_to_free': float or None}``.
    """
    t = np.asarray(rec.surprise_t, float)
    s = np.asarray(rec.surprise, float)
    keep = np.isfinite(t) & np.isfinite(s)
    t, s = t[keep], s[keep]
    before, after = window
    out: Dict[str, Any] = {'window_s': [-before, after]}
    any_near = np.zeros(len(t), bool)
    for kind in ('collision', 'contact'):
        events = onsets(rec.flag_t, getattr(rec, kind))
        near = _near(t, events, before, after)
        any_near |= near
        out[kind] = {'onsets': int(len(events)), 'near': describe(s[near])}
    busy = flags_at(rec.flag_t, rec.collision, t, max_gap) | \
        flags_at(rec.flag_t, rec.contact, t, max_gap)
    free = ~any_near & ~busy
    out['free_motion'] = describe(s[free])
    near_mean = out['collision']['near']['mean']
    free_mean = out['free_motion']['mean']
    out['ratio_mean_collision_to_free'] = (near_mean / free_mean if near_mean is not None
                                           and free_mean else None)
    return out


def choose_clip(frame_t: np.ndarray, events: np.ndarray, length_s: float,
                lead_s: float = 3.0, start_s: Optional[float] = None) -> slice:
    """Frames of a clip of ``length_s`` seconds for the animation.

    The clip starts ``lead_s`` before the first event after ``start_s`` (so it shows normal
    motion, then a collision), or at ``start_s`` when there is no such event, and is shifted
    back when it would run past the last frame.
    """
    frame_t = np.asarray(frame_t, float)
    if frame_t.size == 0:
        return slice(0, 0)
    first = frame_t[0] if start_s is None else max(frame_t[0], start_s)
    later = [e for e in np.asarray(events, float) if e >= first + lead_s]
    begin = later[0] - lead_s if later else first
    begin = max(frame_t[0], min(begin, frame_t[-1] - length_s))
    lo = int(np.searchsorted(frame_t, begin, side='left'))
    hi = int(np.searchsorted(frame_t, begin + length_s, side='right'))
    return slice(lo, max(hi, lo + 1))


def _fmt(value: Optional[float], digits: int = 3) -> str:
    return 'n/a' if value is None or not math.isfinite(value) else f'{value:.{digits}f}'


def format_summary(errors: Dict[str, Any], surprise: Dict[str, Any]) -> List[str]:
    """The lines the demo prints: error by horizon, then surprise around onsets."""
    lines = ['joint prediction error, mean |q_pred - q_actual| [rad] over joints and frames:',
             f'  {"h":>3} {"t+[s]":>6} {"model":>8} {"const-vel":>10} {"no-change":>10} '
             f'{"pairs":>6}']
    for i, h in enumerate(errors['horizon_steps']):
        lines.append(f'  {h:>3} {errors["horizon_s"][i]:>6.2f} '
                     f'{_fmt(errors["model"][i]):>8} '
                     f'{_fmt(errors["constant_velocity"][i]):>10} '
                     f'{_fmt(errors["nothing_changes"][i]):>10} {errors["pairs"][i]:>6}')
    lo, hi = surprise['window_s']
    lines.append(f'surprise (~/surprise, 1.0 = as predictable as usual), window '
                 f'[{lo:+.1f}, {hi:+.1f}] s around onsets:')
    rows = [('collision onsets', surprise['collision']),
            ('contact onsets', surprise['contact'])]
    for label, part in rows:
        near = part['near']
        lines.append(f'  near {label:<17} ({part["onsets"]:>3} onsets): n={near["count"]:>4} '
                     f'mean {_fmt(near["mean"], 2):>6}  p90 {_fmt(near["p90"], 2):>6}')
    free = surprise['free_motion']
    lines.append(f'  free motion {"":<27}: n={free["count"]:>4} mean {_fmt(free["mean"], 2):>6}'
                 f'  p90 {_fmt(free["p90"], 2):>6}')
    return lines
