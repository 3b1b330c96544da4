"""Rollout students on disk: safetensors weights + JSON metadata. Nothing is unpickled.

A student file (e.g. ``models/arm_tiny_rollout.safetensors``) belongs to one teacher
checkpoint: its metadata holds the teacher file's sha256, the architecture
(:meth:`RolloutStudent.describe`: latent/action dims, hidden, depth, ``held_steps``), the
resolved distillation settings and the held-out errors measured after distillation.

:func:`load_student` checks, before allocating anything: the format tag, the architecture's
sizes (bounded), the teacher's hash against the checkpoint actually loaded, the latent and
action dims against that checkpoint's model, and that the header lists exactly the tensors
the architecture implies with their shapes. Every failure raises
:class:`RolloutModelError` naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..atomic_files import atomic_writer
from ..safetensors_header import read_header_metadata, read_tensor_header
from .rollout_student import check_shape, RolloutStudent

__all__ = ['FORMAT', 'RolloutModelError', 'file_sha256', 'save_student', 'load_student',
           'read_student_metadata']

FORMAT = 'jepa_world_model/rollout_student/1'
_ARCH_KEYS = ('latent_dim', 'action_dim', 'hidden', 'depth', 'held_steps')
_FLOAT_DTYPES = frozenset({'F16', 'BF16', 'F32', 'F64'})


class RolloutModelError(ValueError):
    """A rollout student file is missing, corrupt, or does not belong to the loaded model."""


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def save_student(path: str | Path, student: RolloutStudent, teacher_path: str | Path,
                 distillation: Dict[str, Any]) -> Path:
    """Write ``student`` atomically with the teacher's hash and ``distillation`` (the
    resolved settings and measured errors, JSON-serialisable) in the metadata."""
    path = Path(path)
    tensors = {k: v.detach().float().contiguous().cpu() for k, v in student.state_dict().items()}
    metadata = {'format': FORMAT, 'architecture': json.dumps(student.describe()),
                'teacher_sha256': file_sha256(teacher_path),
                'teacher_file': Path(teacher_path).name,
                'distillation': json.dumps(distillation, sort_keys=True)}
    with atomic_writer(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_student_metadata(path: str | Path) -> Dict[str, Any]:
    """The metadata of a student file, parsed: ``architecture`` and ``distillation`` as
    dicts, ``teacher_sha256`` and ``teacher_file`` as strings.

    Raises:
        RolloutModelError: no such file, not safetensors, another format, missing or
            malformed keys, or sizes out of range.
    """
    path = Path(path)
    raw = read_header_metadata(path, FORMAT, RolloutModelError, 'rollout model',
                               ' (a rollout student file)')
    out: Dict[str, Any] = {}
    for key in ('architecture', 'distillation'):
        try:
            out[key] = json.loads(raw[key])
        except (KeyError, json.JSONDecodeError) as exc:
            raise RolloutModelError(f'{path}: metadata {key!r} missing or not JSON: '
                                    f'{exc}') from None
        if not isinstance(out[key], dict):
            raise RolloutModelError(f'{path}: metadata {key!r} is not a JSON object')
    arch = out['architecture']
    try:
        check_shape(*(arch[k] for k in _ARCH_KEYS))
    except KeyError as exc:
        raise RolloutModelError(f'{path}: architecture lacks {exc}') from None
    except ValueError as exc:
        raise RolloutModelError(f'{path}: architecture: {exc}') from None
    for key in ('teacher_sha256', 'teacher_file'):
        if not isinstance(raw.get(key), str):
            raise RolloutModelError(f'{path}: metadata {key!r} is missing')
    out['teacher_sha256'], out['teacher_file'] = raw['teacher_sha256'], raw['teacher_file']
    return out


def _expected(arch: Dict[str, Any]) -> Dict[str, Tuple[int, ...]]:
    """Name -> shape of every tensor the architecture implies (built on the meta device)."""
    with torch.device('meta'):
        module = RolloutStudent(*(arch[k] for k in _ARCH_KEYS[:4]), held_steps=arch['held_steps'])
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def load_student(path: str | Path, teacher: torch.nn.Module, teacher_path: str | Path,
                 teacher_sha256: Optional[str] = None) -> Tuple[RolloutStudent, Dict[str, Any]]:
    """The student in ``path`` for the loaded ``teacher`` (read from ``teacher_path``), and
    its parsed metadata (:func:`read_student_metadata`).

    Args:
        teacher_sha256: The teacher file's hash when the caller has it (else computed).

    Raises:
        RolloutModelError: see the module notes.
    """
    path = Path(path)
    meta = read_student_metadata(path)
    arch = meta['architecture']
    digest = teacher_sha256 or file_sha256(teacher_path)
    if meta['teacher_sha256'] != digest:
        raise RolloutModelError(
            f'{path}: distilled from another model ({meta["teacher_file"]}, sha256 '
            f'{meta["teacher_sha256"][:12]}...), not from {teacher_path} (sha256 '
            f'{digest[:12]}...); distil one for this model (jepa-world-model distill-rollout)')
    for key, have in (('latent_dim', teacher.cfg.latent_dim),
                      ('action_dim', teacher.cfg.action_dim)):
        if arch[key] != have:
            raise RolloutModelError(f'{path}: {key} {arch[key]} does not match the model\'s '
                                    f'{have}')
    expected, found = _expected(arch), read_tensor_header(path, RolloutModelError)
    if set(found) != set(expected):
        raise RolloutModelError(f'{path}: tensors {sorted(found)} do not match the '
                                f'architecture\'s {sorted(expected)}')
    for key, shape in expected.items():
        got_shape, got_dtype = found[key]
        if got_shape != shape or got_dtype not in _FLOAT_DTYPES:
            raise RolloutModelError(f'{path}: tensor {key!r} is {got_dtype} {got_shape}, '
                                    f'expected a float tensor of shape {shape}')
    try:
        with safe_open(str(path), framework='pt') as f:
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RolloutModelError(f'{path}: tensor data unreadable (truncated?): '
                                f'{exc}') from None
    for key, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise RolloutModelError(f'{path}: tensor {key!r} contains NaN or inf')
    student = RolloutStudent(*(arch[k] for k in _ARCH_KEYS[:4]), held_steps=arch['held_steps'])
    student.load_state_dict(tensors, strict=True)
    return student.eval(), meta
