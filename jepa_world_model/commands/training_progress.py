"""What a training run shows while it runs: a progress line on stderr and TensorBoard
scalars (the ``train`` and ``demo-synthetic`` commands)."""

from __future__ import annotations

from pathlib import Path
import sys
import time
from typing import Any, Callable, Dict, Optional

from ..core.training.trainer import LOSS_TERMS

__all__ = ['MetricsLogger', 'progress_printer']


def progress_printer(total: int, first_step: int = 0,
                     clock: Callable[[], float] = time.monotonic
                     ) -> Callable[[Dict[str, float]], None]:
    """A Trainer callback that rewrites one stderr line: step of ``total``, loss, inverse
    dynamics, effective rank, rate and time left.

    ``first_step``: the steps done before this process started (``train --resume``). The
    rate and the time left count only the steps run here: counting the resumed steps too
    divided a whole run's steps by one process's seconds (e.g. "17.0 it/s" at 0.6 it/s).
    """
    started = clock()

    def callback(logs: Dict[str, float]) -> None:
        done = logs['step'] + 1
        rate = (done - first_step) / max(clock() - started, 1e-9)
        eta = (total - done) / max(rate, 1e-9)
        sys.stderr.write(f'\r[{done:>6}/{total}] loss {logs["total"]:.4f} '
                         f'idm {logs["inverse_dynamics"]:.3f} erank {logs["effective_rank"]:.1f} '
                         f'{rate:.1f} it/s eta {eta:.0f}s ')
        sys.stderr.flush()
    return callback


class MetricsLogger:
    """Sends every logged loss term and collapse metric to TensorBoard when it is installed.

    The Trainer always writes OUT/metrics.jsonl; without the tensorboard package this says so
    once and does nothing else.
    """

    COLLAPSE = ('z_std_mean', 'z_std_min', 'effective_rank', 'effective_rank_image',
                'dynamics_relative')

    def __init__(self, out_dir: Path, writer_factory: Optional[Callable[..., Any]] = None,
                 enabled: bool = True) -> None:
        self.writer = None
        if not enabled:         # e.g. ranks other than 0 of a data-parallel run
            return
        if writer_factory is None:
            try:
                from torch.utils.tensorboard import SummaryWriter as writer_factory
            except ImportError:
                sys.stderr.write(f'[train] tensorboard is not installed: metrics go to '
                                 f'{out_dir / "metrics.jsonl"} only (pip install tensorboard '
                                 f'for TensorBoard logs)\n')
                return
        self.writer = writer_factory(log_dir=str(out_dir / 'tensorboard'))

    def __call__(self, logs: Dict[str, float]) -> None:
        """Log one entry of the Trainer's history."""
        if self.writer is None:
            return
        for key, value in logs.items():
            if key == 'step' or not isinstance(value, (int, float)):
                continue
            group = ('loss' if key in LOSS_TERMS or key == 'total'
                     else 'collapse' if key in self.COLLAPSE else 'train')
            self.writer.add_scalar(f'{group}/{key}', value, logs['step'] + 1)

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()
