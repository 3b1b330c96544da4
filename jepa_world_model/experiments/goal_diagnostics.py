"""Offline diagnostics of goal-image objectives on the closed-loop experiment's arm tasks.

For the same seeded tasks as ``plan-eval --robot arm`` (no ROS, no planner), along the
straight joint-space line from each task's start to its goal (``points`` evenly spaced
configurations, each rendered by the oracle simulator):

* ``latent``: the image-goal objective of ``planner_node``, the mean L1 distance between the
  image part of the target-encoder latent of each frame and that of the goal image;
* ``pixel``: the pixel planner's objective, the mean squared pixel distance to the goal image.

A useful objective falls all the way along the line. Reported per objective: the mean
profile (each task's distances divided by its start value), the fraction of tasks whose
first tenth of the motion lowers it (``first_step_descends``) and the fraction of steps
that descend (``descending_steps``). For models with ``image_state_head``, also the end-
effector error of the joint positions the head reads from each goal image (how well the
image part pins the goal down).

``jepa-world-model diagnose goals --model M [M ...] --episodes 50 --out F`` writes F (JSON)
and F with ``.png`` (the profiles, :func:`plot_profiles`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import torch

from .arm_tasks import ArmTaskFactory
from .pixel_planner import pixel_distance
from .plots import finish_figure, new_figure

__all__ = ['profiles', 'summarise_profiles', 'plot_profiles', 'run']


def _image_latent(runtime: Any, rgb: np.ndarray) -> torch.Tensor:
    """Image part [Zi] of the target-encoder latent (zero state, as ``image_goal``)."""
    model = runtime.model
    s = torch.zeros(1, model.cfg.state_dim) if model.cfg.state_dim else None
    with torch.inference_mode():
        return model.image_part(model.encode(runtime.preprocess(rgb), s, target=True))[0]


def profiles(factory: ArmTaskFactory, runtimes: Dict[str, Any], seeds: Sequence[int],
             points: int = 11) -> Dict[str, np.ndarray]:
    """Objective values along each task's straight joint path.

    Returns:
        {'pixel': [T, P], 'latent:<name>': [T, P] per runtime, 'decoded_ee_error:<name>':
        [T] for runtimes with image_state_head}.
    """
    out: Dict[str, List[Any]] = {'pixel': []}
    for seed in seeds:
        task = factory.make_task(seed)
        frames = [factory.render_configuration(task.q_start + a * (task.q_goal - task.q_start))
                  for a in np.linspace(0.0, 1.0, points)]
        out['pixel'].append([pixel_distance(f, task.goal_image) for f in frames])
        for name, rt in runtimes.items():
            goal = _image_latent(rt, task.goal_image)
            out.setdefault(f'latent:{name}', []).append(
                [float((_image_latent(rt, f) - goal).abs().mean()) for f in frames])
            if getattr(rt.model, 'image_state_head', None) is not None:
                with torch.inference_mode():   # the reading planner_node's image goals use
                    q = rt.model.read_image_joints(
                        rt.preprocess(task.goal_image))[0].float().numpy()
                out.setdefault(f'decoded_ee_error:{name}', []).append(
                    float(np.linalg.norm(factory.ee_position(q) - task.ee_goal)))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def summarise_profiles(values: Dict[str, np.ndarray], tolerance: float = 0.05
                       ) -> Dict[str, Any]:
    """The figures of the module docstring from :func:`profiles`' output."""
    summary: Dict[str, Any] = {}
    for key, arr in values.items():
        if key.startswith('decoded_ee_error:'):
            summary[key] = {'median_m': float(np.median(arr)),
                            'within_tolerance': float(np.mean(arr <= tolerance)),
                            'tolerance_m': tolerance}
            continue
        rel = arr / np.maximum(arr[:, :1], 1e-12)
        steps = np.diff(arr, axis=1)
        summary[key] = {'mean_profile': rel.mean(axis=0).round(4).tolist(),
                        'first_step_descends': float(np.mean(steps[:, 0] < 0)),
                        'descending_steps': float(np.mean(steps < 0)),
                        'monotone_tasks': float(np.mean(np.all(steps < 0, axis=1)))}
    return summary


def plot_profiles(summary: Dict[str, Any], path: Path) -> Path:
    """Mean relative objective along the straight joint path, one line per objective."""
    fig, ax = new_figure()
    for key, s in summary.items():
        if 'mean_profile' in s:
            x = np.linspace(0, 100, len(s['mean_profile']))
            ax.plot(x, s['mean_profile'], 'o-', ms=3, label=f'{key} (first tenth descends in '
                    f'{s["first_step_descends"] * 100:.0f} % of tasks)')
    ax.set_xlabel('% of the straight joint-space path from start to goal')
    ax.set_ylabel('objective / objective at start')
    ax.set_ylim(bottom=0)
    return finish_figure(fig, ax, path)


def run(models: Sequence[Path], episodes: int, seed: int = 0, points: int = 11
        ) -> Dict[str, Any]:
    """Diagnostics for ``models`` on tasks of seeds ``seed + 1 .. seed + episodes``."""
    from ..core.runtime.inference import WorldModelRuntime
    from .conditions import model_label
    torch.set_num_threads(1)
    runtimes = {model_label(p): WorldModelRuntime.from_path(str(p)) for p in models}
    factory = ArmTaskFactory()
    try:
        seeds = list(range(seed + 1, seed + episodes + 1))
        values = profiles(factory, runtimes, seeds, points)
    finally:
        factory.close()
    return {'seeds': seeds, 'models': [str(p) for p in models], 'points': points,
            'summary': summarise_profiles(values)}
