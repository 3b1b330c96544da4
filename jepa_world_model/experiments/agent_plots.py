"""The figure of docs/agents.md: mean displacement error against the horizon, per method,
overall and on the turn and give-way slices (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

__all__ = ['plot_errors', 'LABELS']

LABELS = {'learned': 'learned (robot plan)', 'learned_held_twist': 'learned (twist held)',
          'constant_velocity_filtered': 'constant velocity (filtered)',
          'constant_velocity_window': 'constant velocity (finite difference)',
          'no_change': 'no change'}


def plot_errors(report: Dict[str, Any], path: Path) -> Path:
    """Write the figure of ``report`` (:func:`~.agent_prediction.run`) to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    horizons = report['horizons_s']
    slices = ('all', 'turn', 'give_way', 'steady')
    fig, axes = plt.subplots(1, len(slices), figsize=(14, 3.8), sharey=True)
    for ax, name in zip(axes, slices):
        block = report['errors'][name]
        for method, values in block['mean_error_by_horizon_m'].items():
            style = '-' if method.startswith('learned') else '--'
            ax.plot(horizons, values, style, marker='o', label=LABELS.get(method, method))
        ax.set_title(f'{name.replace("_", " ")} ({block["samples"]} samples, '
                     f'{block["episodes"]} episodes)', fontsize=9)
        ax.set_xlabel('horizon [s]')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('mean displacement error [m]')
    axes[0].legend(fontsize=7)
    fig.suptitle('Agent prediction on held-out episodes (simulated base, tracks from the scan)',
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
