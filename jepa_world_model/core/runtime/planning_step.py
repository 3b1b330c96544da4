"""Where the planner's model step comes from: the teacher ensemble or a rollout student.

planner_node's ``rollout_model`` (and offline-reach's / bench_planner's ``--rollout-model``):

* ``''`` (the default): the runtime backend's step, the dynamics ensemble's mean
  (:meth:`~.backends.TorchBackend.rollout_step`);
* ``auto`` (config/ros/planner.yaml): the student shipped beside the model
  (``<model name>_rollout.safetensors``, :func:`student_path_for`) when there is one, it was
  distilled from this very file and its held steps divide ``action_repeat``; else the
  ensemble (the reason is logged). Any model, shipped or not, works with it;
* a file path, or a bare file name looked up beside the checkpoint (the shipped students lie
  beside their models: ``arm_tiny_rollout.safetensors``): a rollout student distilled from
  *this* checkpoint
  (core/model/rollout_student.py, ``jepa-world-model distill-rollout``), run by torch in
  ``rollout_dtype`` whatever the backend (it is a few small GEMMs). Loading checks the file
  against the loaded checkpoint's hash and dims (:class:`~..model.rollout_student_file.
  RolloutModelError`, a ValueError, otherwise).

Only the search's rollouts use the student. What needs the ensemble's members still uses
the teacher, on the latents the student predicted: the disagreement term
(``disagreement_weight``: E member passes per planned action, which gives back most of the
student's saving) and the ``max_disagreement`` stop. The command-delay roll-forward
(``command_delay_steps``, counted in model steps) uses the teacher when the student holds
more than one model step per call (:func:`single_step`). Pure torch, no ROS.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

from ..model.rollout_step import compute_dtype
from ..model.rollout_student import calls_per_action, held_steps_of, StudentStep
from ..model.rollout_student_file import file_sha256, load_student, RolloutModelError

__all__ = ['AUTO', 'planning_step', 'resolve_rollout_model', 'rollout_source', 'single_step',
           'student_path_for']

#: ``rollout_model`` value: the student beside the model if it fits, else the ensemble.
AUTO = 'auto'
_LOG = logging.getLogger(__name__)

# (checkpoint path, size, mtime) -> sha256: a node reconfigured many times hashes once.
_HASHES: Dict[Tuple[str, int, float], str] = {}


def _teacher_hash(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime)
    if key not in _HASHES:
        _HASHES[key] = file_sha256(path)
    return _HASHES[key]


def resolve_rollout_model(rollout_model: str, teacher_path: Path) -> Path:
    """``rollout_model`` as a path: itself when it is a file, else a bare file name found
    beside the checkpoint ``teacher_path``; otherwise itself (loading then says not found)."""
    path = Path(rollout_model)
    if not path.is_file() and path.name == rollout_model:
        beside = Path(teacher_path).parent / path
        if beside.is_file():
            return beside
    return path


def student_path_for(teacher_path: Path) -> Path:
    """Where ``auto`` looks for a model's student: ``<stem>_rollout.safetensors`` beside it."""
    teacher_path = Path(teacher_path)
    return teacher_path.with_name(teacher_path.stem + '_rollout.safetensors')


def _student_step(runtime: Any, path: Path, dtype: Any) -> StudentStep:
    teacher_path = Path(runtime.checkpoint.path)
    student, _ = load_student(path, runtime.model, teacher_path, _teacher_hash(teacher_path))
    step = StudentStep(student.to(runtime.device), dtype)
    step.source = str(path)
    return step


def planning_step(runtime: Any, rollout_dtype: str = 'float32', rollout_model: str = '',
                  action_repeat: Optional[int] = None,
                  warn: Optional[Callable[[str], None]] = None) -> Any:
    """The planner's batched ``step(z [B, Z], a [B, A]) -> [B, Z]`` for ``runtime``
    (a :class:`~.inference.WorldModelRuntime`); a student's step carries ``held_steps`` and
    ``source`` (its file).

    Args:
        action_repeat: The search's; ``auto`` keeps the ensemble when the student's held
            steps do not divide it (None: not checked).
        warn: Told why ``auto`` keeps the ensemble (a node passes its ROS logger, so the
            reason reaches ``/rosout``); default: this module's Python logger.

    Raises:
        ValueError: an unknown ``rollout_dtype``; RolloutModelError (a ValueError): the
            named student file is missing, corrupt, or another model's.
    """
    dtype = compute_dtype(rollout_dtype)
    if not rollout_model:
        return runtime.backend.rollout_step(rollout_dtype)
    teacher_path = Path(runtime.checkpoint.path)
    if rollout_model != AUTO:
        return _student_step(runtime, resolve_rollout_model(rollout_model, teacher_path), dtype)
    path = student_path_for(teacher_path)
    if not path.is_file():
        return runtime.backend.rollout_step(rollout_dtype)
    try:
        step = _student_step(runtime, path, dtype)
    except RolloutModelError as exc:
        (warn or _LOG.warning)(f'rollout_model auto: the dynamics ensemble plans ({exc})')
        return runtime.backend.rollout_step(rollout_dtype)
    if action_repeat is not None:
        try:
            calls_per_action(step, action_repeat)
        except ValueError:
            (warn or _LOG.warning)(
                f'rollout_model auto: the dynamics ensemble plans ({path} covers '
                f'{step.held_steps} model steps per call, action_repeat is {action_repeat})')
            return runtime.backend.rollout_step(rollout_dtype)
    return step


def rollout_source(step: Any) -> str:
    """What runs a planner step, for logs: the student's file, else the ensemble."""
    return getattr(step, 'source', '') or 'the dynamics ensemble'


def single_step(runtime: Any, step: Any, rollout_dtype: str = 'float32') -> Any:
    """A step of exactly one model step: ``step`` itself unless it holds more (a held-action
    student), then the teacher's (for rolling the command in flight forward by
    ``command_delay_steps`` model steps)."""
    if held_steps_of(step) == 1:
        return step
    return runtime.backend.rollout_step(rollout_dtype)
