"""The demo's PNG plots (matplotlib, Agg backend: no display needed) and its animation file.

* ``joints.png``: each joint's measured angle over the run, with the model's predictions
  for horizons 1, H/2 and H drawn at the time they were predicted *for*; collisions shaded.
* ``error_vs_horizon.png``: mean absolute joint error per horizon, model vs baselines.
* ``surprise.png``: ``~/surprise`` over time with collision onsets and contact shaded.
* ``path.png`` (mobile base): top view of the odometry path and the predicted positions.
* ``object_motion.png``, ``grip.png`` (tabletop): object position error by horizon, model
  vs no-change; the grip prediction per grasp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')   # before pyplot: headless machines and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .analysis import onsets, Recording  # noqa: E402

__all__ = ['plot_joint_trajectories', 'plot_error_vs_horizon', 'plot_surprise',
           'plot_base_path', 'plot_object_motion', 'plot_grip', 'write_animation',
           'ERROR_CURVES']

#: (key in the error dict, legend label, line style) of the error-by-horizon plot.
ERROR_CURVES = (('model', 'world model', 'o-'),
                ('constant_velocity', 'constant velocity', 's--'),
                ('nothing_changes', 'nothing changes (q_t)', '^:'))


def _shade(ax, t: np.ndarray, flags: np.ndarray, dt: float, color: str, label: str) -> None:
    """Shade the intervals where ``flags`` is set (one label for the legend)."""
    t, flags = np.asarray(t, float), np.asarray(flags, bool)
    first = True
    for start in onsets(t, flags):
        after = (t >= start) & ~flags
        end = t[np.argmax(after)] if after.any() else t[-1] + dt
        ax.axvspan(start, end, color=color, alpha=0.25, lw=0, label=label if first else None)
        first = False


def _save(fig, path: Path) -> Path:
    """Lay out ``fig``, write it to ``path`` as PNG and free it (pyplot keeps open figures)."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_joint_trajectories(rec: Recording, path: Path, dt: float) -> Path:
    """Measured joint angles and the predictions for horizons 1, H/2 and H."""
    steps = len(rec.pred_dt)
    picks = sorted({1, max(1, steps // 2), steps}) if steps else []
    colors = plt.cm.viridis(np.linspace(0.15, 0.85, max(len(picks), 1)))
    fig, axes = plt.subplots(len(rec.joint_names), 1, figsize=(11, 2.4 * len(rec.joint_names)),
                             sharex=True, squeeze=False)
    for j, name in enumerate(rec.joint_names):
        ax = axes[j, 0]
        _shade(ax, rec.flag_t, rec.collision, dt, 'red', 'collision')
        ax.plot(rec.joint_t, rec.measured[:, j], color='black', lw=1.4, label='actual')
        for color, k in zip(colors, picks):
            ax.plot(rec.pred_t + rec.pred_dt[k - 1], rec.pred_q[:, k - 1, j], '.', ms=2.5,
                    color=color, label=f'predicted {rec.pred_dt[k - 1]:.1f} s ahead')
        ax.set_ylabel(f'{name} [rad]' if rec.pred_kind == 'position' else f'{name} [rad/s]')
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc='upper right', fontsize=8, ncol=len(picks) + 2)
    axes[-1, 0].set_xlabel('simulation time [s]')
    fig.suptitle('Joint angles: measured vs world_model_node predictions (plotted at the '
                 'time they predict)')
    return _save(fig, path)


def plot_error_vs_horizon(errors: Dict[str, Any], path: Path,
                          ylabel: str = 'mean |q_pred - q_actual| [rad]',
                          title: str = 'Joint prediction error by horizon',
                          curves: Sequence[Tuple[str, str, str]] = ERROR_CURVES) -> Path:
    """Mean error vs horizon: model and baselines (``curves``: key, label, style)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    h = np.asarray(errors['horizon_s'], float)
    for key, label, style in curves:
        ax.plot(h, np.asarray(errors[key], float), style, label=label)
    ax.set_xlabel('horizon [s]')
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_surprise(rec: Recording, path: Path, dt: float,
                  window: Sequence[float] = (0.2, 1.0)) -> Path:
    """``~/surprise`` over time, collision onsets as red lines, contact shaded."""
    fig, ax = plt.subplots(figsize=(11, 3.6))
    _shade(ax, rec.flag_t, rec.contact, dt, 'orange', 'contact')
    first = True
    for onset in onsets(rec.flag_t, rec.collision):
        ax.axvline(onset, color='red', lw=1.0, alpha=0.8,
                   label='collision onset' if first else None)
        ax.axvspan(onset - window[0], onset + window[1], color='red', alpha=0.08, lw=0)
        first = False
    ax.plot(rec.surprise_t, rec.surprise, color='tab:blue', lw=1.0, label='~/surprise')
    ax.axhline(1.0, color='grey', lw=0.8, ls='--')
    ax.set_xlabel('simulation time [s]')
    ax.set_ylabel('surprise (1 = usual)')
    ax.set_title('Surprise of world_model_node; shaded red: window counted as "around an '
                 'onset"')
    ax.grid(alpha=0.3)
    ax.legend(loc='upper right', fontsize=8)
    return _save(fig, path)


def plot_base_path(rec: Recording, base: Any, room: Any, path: Path) -> Path:
    """Top view: the odometry path, the model's H-ahead positions, collision onsets.

    ``base`` is a :class:`~.base.analysis.PathRecording`, ``room`` a
    :class:`~.base.geometry.BaseRoom`.
    """
    half_extent, obstacles = room.half_extent, room.obstacles
    odom_t, odom_pose = base.odom_t, base.odom_pose
    fig, ax = plt.subplots(figsize=(6.2, 6.2))
    wall = plt.Rectangle((-half_extent, -half_extent), 2 * half_extent, 2 * half_extent,
                         fill=False, color='dimgrey', lw=2)
    ax.add_patch(wall)
    for x, y, r in np.asarray(obstacles, float).reshape(-1, 3):
        ax.add_patch(plt.Circle((x, y), r, color='saddlebrown', alpha=0.3, lw=0))
    ax.plot(odom_pose[:, 0], odom_pose[:, 1], color='black', lw=1.0, label='odometry')
    if len(base.path_t):
        ax.plot(base.path_pose[:, -1, 0], base.path_pose[:, -1, 1], '.', ms=2.5,
                color='tab:cyan', label=f'predicted {base.path_dt[-1]:.1f} s ahead')
    hits = onsets(rec.flag_t, rec.collision)
    if len(hits) and len(odom_t):
        at = np.clip(np.searchsorted(odom_t, hits), 0, len(odom_t) - 1)
        ax.plot(odom_pose[at, 0], odom_pose[at, 1], 'x', color='red', ms=7,
                label='collision onset')
    lim = half_extent + 0.15
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect('equal')
    ax.set_xlabel('x [m]')
    ax.set_ylabel('y [m]')
    ax.set_title('Base path (odometry) and the model\'s predictions')
    ax.grid(alpha=0.3)
    ax.legend(loc='upper right', fontsize=8)
    return _save(fig, path)


def plot_object_motion(motion: Dict[str, Any], path: Path) -> Path:
    """Tabletop: per object, the mean error [cm] by horizon of the predicted position (true
    p_t plus the read-out's displacement) and of no-change, on the frames where it moved."""
    names = [k for k, v in motion.items() if isinstance(v, dict) and 'moving' in v]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    h = np.arange(1, motion['horizon'] + 1)
    for ax, name in zip(axes[0], names):
        moving = motion[name]['moving']
        if moving['model_cm'] is not None:
            ax.plot(h, moving['model_cm'], 'o-', label='world model (consequence read-out)')
            ax.plot(h, moving['no_change_cm'], '^:', label='no change')
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, 'never moved', ha='center', transform=ax.transAxes)
        ax.set_title(f'{name}: {motion[name]["moving_starts"]} frames it moved')
        ax.set_xlabel('horizon [steps of 0.1 s]')
        ax.set_ylabel('position error [cm]')
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_grip(grip: Dict[str, Any], path: Path) -> Path:
    """Tabletop: p(held) of each grasp, coloured by what happened, with the 0.5 line."""
    grasps = grip['grasps']
    fig, ax = plt.subplots(figsize=(6, 3.4))
    x = np.arange(len(grasps))
    colours = ['tab:green' if g['held'] else 'tab:red' for g in grasps]
    ax.bar(x, [g['p_held'] for g in grasps], color=colours)
    ax.axhline(0.5, color='grey', lw=1, ls='--')
    ax.set_xticks(x, [str(g['close_frame']) for g in grasps])
    ax.set_xlabel('grasp (close frame); green held, red slipped')
    ax.set_ylabel('predicted p(held)')
    ax.set_ylim(0, 1)
    ax.set_title(grip['note'], fontsize=8)
    return _save(fig, path)


def write_animation(frames: List[np.ndarray], path: Path, fps: float) -> Path:
    """Write frames as a looping GIF (or MP4 when ``path`` ends in .mp4, needs ffmpeg)."""
    import imageio.v3 as iio   # imported here: only the animation needs it
    if not frames:
        raise ValueError('no frames to write')
    if path.suffix.lower() == '.mp4':
        iio.imwrite(path, np.stack(frames), fps=fps, codec='libx264')
    else:
        iio.imwrite(path, np.stack(frames), duration=1000.0 / fps, loop=0)
    return path
