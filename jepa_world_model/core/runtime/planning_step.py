"""Where the planner's model step comes from: the teacher ensemble or a rollout student.

planner_node's ``rollout_model`` (and offline-reach's / bench_planner's ``--rollout-model``):

* ``''`` (the default): the runtime backend's step, the dynamics ensemble's mean
  (:meth:`~.backends.TorchBackend.rollout_step`);
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

from pathlib import Path
from typing import Any, Dict, Tuple

from ..model.rollout_step import compute_dtype
from ..model.rollout_student import held_steps_of, StudentStep
from ..model.rollout_student_file import file_sha256, load_student

__all__ = ['planning_step', 'resolve_rollout_model', 'single_step']

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


def planning_step(runtime: Any, rollout_dtype: str = 'float32', rollout_model: str = '') -> Any:
    """The planner's batched ``step(z [B, Z], a [B, A]) -> [B, Z]`` for ``runtime``
    (a :class:`~.inference.WorldModelRuntime`); a student's step carries ``held_steps``.

    Raises:
        ValueError: an unknown ``rollout_dtype``; RolloutModelError (a ValueError): the
            student file is missing, corrupt, or another model's.
    """
    if not rollout_model:
        return runtime.backend.rollout_step(rollout_dtype)
    dtype = compute_dtype(rollout_dtype)
    teacher_path = Path(runtime.checkpoint.path)
    student, _ = load_student(resolve_rollout_model(rollout_model, teacher_path),
                              runtime.model, teacher_path, _teacher_hash(teacher_path))
    student = student.to(runtime.device)
    return StudentStep(student, dtype)


def single_step(runtime: Any, step: Any, rollout_dtype: str = 'float32') -> Any:
    """A step of exactly one model step: ``step`` itself unless it holds more (a held-action
    student), then the teacher's (for rolling the command in flight forward by
    ``command_delay_steps`` model steps)."""
    if held_steps_of(step) == 1:
        return step
    return runtime.backend.rollout_step(rollout_dtype)
