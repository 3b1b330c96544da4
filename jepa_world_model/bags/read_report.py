"""What reading a bag did with every message: :class:`ReadReport`.

Nothing the reader drops (undecodable images, incomplete joint states, repeated stamps,
frames without a paired state, short episodes) goes uncounted; ``train`` writes the report
beside the run and ``inspect`` prints it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict

__all__ = ['ReadReport']


@dataclass
class ReadReport:
    """What happened to every message; nothing is dropped without being counted here."""

    bags: int = 0
    images_read: int = 0
    decode_failures: int = 0
    joint_states_read: int = 0
    joint_states_incomplete: int = 0    # lacking a model joint (or velocities when used)
    commands_read: int = 0
    out_of_order: Dict[str, int] = field(default_factory=dict)   # per topic, sorted back
    duplicates: Dict[str, int] = field(default_factory=dict)     # per topic, dropped
    frames_resampled_out: int = 0
    frames_without_joint_state: int = 0
    frames_without_command: int = 0     # zero action used (none yet, or timed out)
    gaps: int = 0                       # episode splits at gaps > max_gap_s
    episodes_too_short: int = 0
    frames_in_short_episodes: int = 0
    episodes: int = 0
    frames: int = 0

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict (for report.json)."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One line per non-zero count."""
        lines = []
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if v}
            if value:
                lines.append(f'  {key}: {value}')
        return '\n'.join(lines)

    def _count(self, name: str, topic: str, n: int) -> None:
        table = getattr(self, name)
        table[topic] = table.get(topic, 0) + int(n)
