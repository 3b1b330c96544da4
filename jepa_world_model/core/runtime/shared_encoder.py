"""One loaded model for several runtimes of a process, and each camera frame encoded once.

When ``world_model_node`` and ``planner_node`` run in one process (``world_model_stack``),
both used to load the checkpoint and both ran the ViT on every frame. Here:

* :class:`SharedEncoder` holds ONE loaded model (on its device, in its dtype, eval mode)
  and a small cache of ViT passes: the patch tokens of the online and of the EMA target
  encoder for the last few images. A pass asked for twice, by any runtime, runs once.
* :class:`EncoderClient` is one runtime's handle on it: ``encode``,
  ``encode_with_image_joints`` and ``encode_with_scene`` as on the model, plus the
  runtime's own counts (``encodes``: ViT passes it ran; ``encode_cache_hits``: passes the
  cache served).
* :class:`EncoderPool` hands out one :class:`SharedEncoder` per (checkpoint file,
  device, dtype) to whoever asks while another runtime still holds it.

What the cache keys on: the preprocessed image itself (``o`` [1, 3, S, S], compared
element by element) and the encoder (online or target). The ViT is a pure function of the
image, so a hit returns exactly the tokens a new pass would. Stamp and frame_id are not
enough: the two nodes may resize the same message differently (``resize_mode``), and two
cameras may share a frame_id; comparing the image costs microseconds, a ViT pass
milliseconds. The latent ``z`` is NOT cached: it depends on the proprioception ``s`` each
runtime pairs with the frame (its own interpolation), and pooling the tokens is cheap.

Weights are never written after loading (inference only), so several threads may run the
shared model at once. A pass in progress is waited for (at most ``WAIT_TIMEOUT_S``, then
the waiter runs its own), so two runtimes asking for the same frame at the same moment
still encode it once. Pure PyTorch, no ROS.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import os
from pathlib import Path
import threading
from typing import Any, Deque, Dict, Optional, Tuple
import weakref

import torch
from torch import Tensor

from ..checkpoint import LoadedCheckpoint, load_checkpoint

__all__ = ['SharedEncoder', 'EncoderClient', 'EncoderPool', 'CACHED_FRAMES',
           'WAIT_TIMEOUT_S', 'LOAD_TIMEOUT_S']

CACHED_FRAMES = 4        # images remembered (per encoder); the two nodes are a frame apart
WAIT_TIMEOUT_S = 5.0     # longest wait for another runtime's pass of the same image
LOAD_TIMEOUT_S = 120.0   # longest wait for another runtime to finish loading a checkpoint


@dataclass(eq=False)
class _Pass:
    """One ViT pass of one image: done is set once ``tokens`` is there (or it failed)."""

    o: Tensor                          # [1, 3, S, S] the image, a private copy
    target: bool
    tokens: Optional[Tensor] = None    # [1, N, D]
    done: threading.Event = field(default_factory=threading.Event)

    def matches(self, o: Tensor, target: bool) -> bool:
        return (self.target == target and self.o.shape == o.shape and
                self.o.dtype == o.dtype and self.o.device == o.device and
                bool(torch.equal(self.o, o)))


class SharedEncoder:
    """One loaded model and its cache of ViT passes (see the module docstring).

    Args:
        checkpoint: From :func:`~..checkpoint.load_checkpoint`; its model is moved to
            ``device``/``dtype`` and put in eval mode.
        device: Where the model runs.
        dtype: Compute dtype of the weights and inputs.
        cached_frames: Images remembered per encoder (>= 1).
    """

    def __init__(self, checkpoint: LoadedCheckpoint, device: torch.device,
                 dtype: torch.dtype, cached_frames: int = CACHED_FRAMES) -> None:
        if cached_frames < 1:
            raise ValueError(f'cached_frames must be >= 1, got {cached_frames}')
        self.checkpoint = checkpoint
        self.device, self.dtype = device, dtype
        self.model = checkpoint.model.to(device=device, dtype=dtype).eval()
        self._lock = threading.Lock()
        self._passes: Deque[_Pass] = deque(maxlen=2 * cached_frames)

    def client(self) -> 'EncoderClient':
        """A new handle with its own counts, for one runtime."""
        return EncoderClient(self)

    def tokens(self, o: Tensor, target: bool = False) -> Tuple[Tensor, bool]:
        """Patch tokens [1, N, D] of image ``o`` [1, 3, S, S] in [0, 1], and whether they
        came from the cache (False: this call ran the pass).

        Raises:
            ValueError: ``o`` is not an image of the model's size.
        """
        size = self.model.cfg.image_size
        if o.dim() != 4 or tuple(o.shape[1:]) != (3, size, size):
            raise ValueError(f'expected images [B, 3, {size}, {size}], got {tuple(o.shape)}')
        if o.shape[0] != 1:   # batches are not frames: encode them directly
            return self._run(o, target), False
        if not self._lock.acquire(timeout=WAIT_TIMEOUT_S):
            return self._run(o, target), False
        try:
            found = next((p for p in self._passes if p.matches(o, target)), None)
            if found is None:
                mine = _Pass(o.detach().clone(), target)
                self._passes.append(mine)
        finally:
            self._lock.release()
        if found is None:
            try:
                mine.tokens = self._run(o, target)
            except BaseException:
                self._forget(mine)
                raise
            finally:
                mine.done.set()     # a failed pass leaves tokens None: waiters run their own
            return mine.tokens, False
        if found.done.wait(timeout=WAIT_TIMEOUT_S) and found.tokens is not None:
            return found.tokens, True
        return self._run(o, target), False

    def _forget(self, failed: _Pass) -> None:
        if self._lock.acquire(timeout=WAIT_TIMEOUT_S):
            try:
                if failed in self._passes:
                    self._passes.remove(failed)
            finally:
                self._lock.release()

    def _run(self, o: Tensor, target: bool) -> Tensor:
        with torch.inference_mode():
            return self.model.patch_tokens(o, target=target)


class EncoderClient:
    """One runtime's view of a :class:`SharedEncoder`: the model's encode methods, served
    from the shared cache, and this runtime's counts. Call it from one thread at a time."""

    def __init__(self, shared: SharedEncoder) -> None:
        self.shared = shared
        self.encodes = 0             # ViT passes this client ran
        self.encode_cache_hits = 0   # passes the cache served instead

    def counts(self) -> Dict[str, int]:
        """``{'encodes', 'encode_cache_hits'}`` since this client was made."""
        return {'encodes': self.encodes, 'encode_cache_hits': self.encode_cache_hits}

    def _tokens(self, o: Tensor, target: bool) -> Tensor:
        tokens, hit = self.shared.tokens(o, target)
        if hit:
            self.encode_cache_hits += 1
        else:
            self.encodes += 1
        return tokens

    def encode(self, o: Tensor, s: Optional[Tensor] = None, target: bool = False) -> Tensor:
        """``WorldModel.encode``: o [1, 3, S, S] in [0, 1], s [1, S] -> z [1, Z]."""
        model = self.shared.model
        with torch.inference_mode():
            return model.latent_from_tokens(self._tokens(o, target), s, target)

    def encode_with_image_joints(self, o: Tensor, s: Optional[Tensor] = None
                                 ) -> Tuple[Tensor, Tensor]:
        """``WorldModel.encode_with_image_joints``: -> (z [1, Z], joint reading [1, J])."""
        if self.shared.model.image_state_head is None:
            raise ValueError('this model has no image_state_head')
        return self._with_reading(o, s, self.shared.model.image_joints_from)

    def encode_with_image_links(self, o: Tensor, s: Optional[Tensor] = None
                                ) -> Tuple[Tensor, Tensor]:
        """``WorldModel.encode_with_image_links``: -> (z [1, Z], link reading [1, L, 3])."""
        if self.shared.model.link_readout is None:
            raise ValueError('this model has no kinematics (model.kinematics.goal_links)')
        return self._with_reading(o, s, self.shared.model.image_links_from)

    def _with_reading(self, o: Tensor, s: Optional[Tensor], read: Any) -> Tuple[Tensor, Tensor]:
        """(z, ``read(tokens, z)``) from one online-encoder pass (cached tokens)."""
        with torch.inference_mode():
            tokens = self._tokens(o, False)
            z = self.shared.model.latent_from_tokens(tokens, s)
            return z, read(tokens, z)

    def encode_with_scene(self, o: Tensor, s: Optional[Tensor] = None
                          ) -> Tuple[Tensor, Tensor]:
        """``WorldModel.encode_with_scene``: -> (z [1, Z], scene code [1, C])."""
        model = self.shared.model
        if model.scan_head is None or model.cfg.scan_source != 'tokens':
            raise ValueError("encode_with_scene needs scan_source 'tokens'")
        with torch.inference_mode():
            tokens = self._tokens(o, False)
            return model.latent_from_tokens(tokens, s), model.scan_head.scene(tokens)


class EncoderPool:
    """One :class:`SharedEncoder` per (checkpoint file, device, dtype) in a process.

    The pool holds its encoders weakly: an encoder lives while a runtime holds it, and the
    next request after the last one let go loads the file again. The file's size and
    modification time are part of the key, so a checkpoint replaced on disk is loaded anew.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._encoders: 'weakref.WeakValueDictionary[tuple, SharedEncoder]' = \
            weakref.WeakValueDictionary()

    def acquire(self, path: str | Path, device: torch.device, dtype: torch.dtype
                ) -> Tuple[SharedEncoder, bool]:
        """The encoder for ``path`` on ``device``/``dtype``, and whether another runtime
        already held it (True: nothing was loaded).

        Raises:
            CheckpointError: The file cannot be loaded. TimeoutError: another runtime has
            been loading for more than ``LOAD_TIMEOUT_S``.
        """
        resolved = Path(path).expanduser().resolve()
        try:
            stat = os.stat(resolved)
            key: tuple = (str(resolved), stat.st_size, stat.st_mtime_ns, str(device), dtype)
        except OSError:
            key = (str(resolved), None, None, str(device), dtype)   # load_checkpoint says why
        if not self._lock.acquire(timeout=LOAD_TIMEOUT_S):
            raise TimeoutError(f'model pool busy for {LOAD_TIMEOUT_S:.0f} s (another node '
                               f'is loading a checkpoint); {resolved} not loaded')
        try:
            shared = self._encoders.get(key)
            if shared is not None:
                return shared, True
            shared = SharedEncoder(load_checkpoint(resolved, device=device, dtype=dtype),
                                   device, dtype)
            self._encoders[key] = shared
            return shared, False
        finally:
            self._lock.release()

    def __len__(self) -> int:
        """Encoders alive now."""
        return len(self._encoders)
