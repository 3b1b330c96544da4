"""The tabletop variant of the demo: its driver, recorder and world_model_node settings.

:mod:`~jepa_world_model.demo.run_demo` runs the processes and the common analysis (joint
predictions, surprise); the tabletop adds :class:`~.nodes.TabletopDriverNode` with the
recording policy in its blind-grasp form (``scripted_open_loop``: pushes, grasps that hold
and grasps that slip) and the object-motion and grip analysis of :mod:`.analysis`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from ...experiments.tabletop_data import OBJECTS

__all__ = ['make_nodes', 'head_paths', 'analyse', 'format_summary']


def make_nodes(robot: Any, joints: Sequence[str], namespace: str, seed: int, context: Any):
    """``(driver, recorder)`` for the tabletop; ``robot`` a
    :class:`~jepa_world_model.sim.tabletop.TabletopSim` for the policy's kinematics."""
    from ...sim.tabletop_policies import ScriptedTabletopPolicy
    from .nodes import TabletopDriverNode, TabletopRecorderNode
    policy = ScriptedTabletopPolicy(robot, seed, open_loop_grasp=True)
    return (TabletopDriverNode(policy, list(joints), namespace, context=context),
            TabletopRecorderNode(list(joints), namespace, context=context))


def head_paths(model_path: Path) -> Dict[str, Path]:
    """The read-outs of a tabletop model: ``<stem>_consequence.safetensors`` (object motion)
    and ``<stem>_grip.safetensors`` (the grip head) beside it, else, for a model installed
    under a shipped name, where the package's models are found (``resources``: an installed
    model's share directory may predate a read-out added to the source tree since); the
    path beside the model when neither exists."""
    from ...resources import default_model_path
    model_path = Path(model_path)
    paths = {}
    for kind in ('consequence', 'grip'):
        name = f'{model_path.stem}_{kind}.safetensors'
        beside, installed = model_path.with_name(name), default_model_path(name)
        paths[kind] = installed if not beside.is_file() and installed.is_file() else beside
    return paths


def analyse(rec: Any, poses: Dict[str, Any], model_path: Path, robot: Any, dt: float,
            clip_frames: int, out: Path
            ) -> Tuple[Dict[str, Any], List[np.ndarray], Dict[str, Path]]:
    """(report parts, animation frames, plot files): object motion and grip predictions on
    the recorded episode (:mod:`.analysis`) with the model at ``model_path`` and its
    read-outs (:func:`head_paths`). The frames draw the predicted object paths over
    ``clip_frames`` frames around the first grasp (else those with the most contact starts)
    with the grip prediction written on; none when the consequence read-out is missing."""
    import torch
    from ...core.checkpoint import load_checkpoint
    from ...experiments.consequence_readout import load_readout
    from ...experiments.latent_rollouts import encoded_latents
    from ...experiments.tabletop_animation import busiest_window, consequence_frames
    from .analysis import episode_from_recording, grip_predictions, object_motion
    from ..plots import plot_grip, plot_object_motion
    from .overlay import caption_grip, clip_rows
    torch.set_num_threads(1)
    files: Dict[str, Path] = {}
    try:
        episode, _ = episode_from_recording(rec, poses, match_s=0.5 * dt)
    except ValueError as exc:   # e.g. no ground-truth poses arrived: say so, keep the rest
        skipped = {'skipped': f'no episode to analyse: {exc}'}
        return {'object_motion': skipped, 'grip': skipped, 'tabletop_frames': 0}, [], {}
    loaded = load_checkpoint(str(model_path))
    model = loaded.model.eval()
    z = encoded_latents(model, [episode])[0]          # both read-outs start from these
    heads = head_paths(model_path)
    grip = (grip_predictions(model, episode, heads['grip'], z) if heads['grip'].is_file() else
            {'skipped': f'no grip head at {heads["grip"]}'})
    grasps = grip.get('grasps', [])
    if grasps:
        files['grip_png'] = plot_grip(grip, out / 'grip.png')
    frames: List[np.ndarray] = []
    readout = load_readout(heads['consequence']) if heads['consequence'].is_file() else None
    fitted_on = None if readout is None else readout[1].get('step')
    if readout is None:
        motion: Dict[str, Any] = {'skipped': f'no consequence read-out at '
                                             f'{heads["consequence"]}'}
    elif fitted_on not in (None, loaded.step):
        motion = {'skipped': f'{heads["consequence"]} was fitted on a model at step '
                             f'{fitted_on}, this one is at {loaded.step}'}
    else:
        motion, starts, displacement = object_motion(model, episode, *readout,
                                                     str(heads['consequence']), z)
        files['object_motion_png'] = plot_object_motion(motion, out / 'object_motion.png')
        busiest, _ = busiest_window(episode, starts, motion['horizon'], clip_frames)
        rows = clip_rows(starts, grasps, clip_frames, busiest)
        frames = caption_grip(consequence_frames(episode, robot.project, starts,
                                                 displacement, rows, step_s=dt),
                              starts[rows], grasps)
    return {'object_motion': motion, 'grip': grip, 'tabletop_frames': len(episode)}, frames, files


def format_summary(parts: Dict[str, Any]) -> List[str]:
    """Lines for the terminal: object motion at the last horizon, and the grasps."""
    lines = []
    motion = parts.get('object_motion', {})
    if 'skipped' in motion:
        lines.append(f'[demo] object motion: {motion["skipped"]}')
    else:
        h = motion['horizon']
        for name in OBJECTS:
            moving = motion[name]['moving']
            if moving['model_cm'] is None:
                lines.append(f'[demo] {name}: never moved')
                continue
            lines.append(f'[demo] {name} over the next {h} steps, on the '
                         f'{motion[name]["moving_starts"]} frames it moved: predicted '
                         f'{moving["model_cm"][-1]:.1f} cm off, no-change '
                         f'{moving["no_change_cm"][-1]:.1f} cm')
    grip = parts.get('grip', {})
    if 'skipped' in grip:
        lines.append(f'[demo] grip: {grip["skipped"]}')
    else:
        for g in grip['grasps']:
            lines.append(f'[demo] grasp at frame {g["close_frame"]}: p(held) '
                         f'{g["p_held"]:.2f}, {"held" if g["held"] else "slipped"}')
        lines.append(f'[demo] grip head: {grip["note"]}')
    return lines
