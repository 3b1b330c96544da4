"""``/diagnostics`` for ``world_model_node``: health rules and the DiagnosticArray message.

The node fills a :class:`HealthSnapshot` once per diagnostics period; :func:`assess` turns it
into a level and a one-line message and :func:`build_diagnostic_array` into the message that
``diagnostic_aggregator``, ``rqt_robot_monitor`` and Foxglove display. Both are pure
functions of the snapshot, so the rules are unit-tested without a ROS graph.

Levels:

* ERROR: the last configure failed (missing, corrupt or mismatched checkpoint), or the node
  is active and has not produced a prediction for ``stall_error_timeout`` seconds;
* WARN: predictions are paused for more than ``stale_timeout`` (stale or missing inputs,
  missing joints, sync failures...: the message names the latest cause), or inputs were
  rejected during the last period although predictions continue;
* OK: predicting, or intentionally idle (inactive, unconfigured, disabled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

__all__ = ['HealthSnapshot', 'assess', 'build_diagnostic_array', 'RejectionTally', 'OK',
           'WARN', 'ERROR']

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR


class RejectionTally:
    """Inputs rejected since the last diagnostics message, from the node's counters.

    Every counter is a rejected input except the node's own events: the names in
    ``events`` and those starting with one of ``event_prefixes``.
    """

    def __init__(self, events: Sequence[str], event_prefixes: Sequence[str] = ()) -> None:
        self._events, self._prefixes = frozenset(events), tuple(event_prefixes)
        self._reported = 0

    def total(self, counts: Mapping[str, int]) -> int:
        """Inputs rejected so far."""
        return sum(v for k, v in counts.items()
                   if k not in self._events and not k.startswith(self._prefixes))

    def since_last(self, counts: Mapping[str, int]) -> int:
        """Inputs rejected since the previous call (counters reset: from zero)."""
        total = self.total(counts)
        new = total - self._reported if total >= self._reported else total
        self._reported = total
        return new


@dataclass
class HealthSnapshot:
    """Everything one diagnostics message reports. Times in seconds, latencies in ms.

    Attributes:
        node_name: Fully qualified node name (the status name is derived from it).
        lifecycle_state: 'unconfigured', 'inactive', 'active', 'finalized'...
        enabled: State of the ``~/enable`` switch.
        config_error: Reason the last configure failed ('' if it did not).
        model: ``{'name', 'path', 'parameters', 'device', 'dtype', 'latent_dim', ...}``.
        since_prediction: Seconds since the last prediction (since activation if none).
        last_problem: ``(reason, message, seconds ago)`` of the latest rejection, or None.
        rejected_in_period: Inputs rejected during the last diagnostics period.
        rates: ``{'image', 'joint_states', 'action', 'prediction'}`` in Hz.
        ages: ``{'image', 'joint_states'}``: stamp age of the newest used input (node clock).
        since_received: ``{'image', 'joint_states', 'action'}``: wall seconds since the last
            message arrived (missing key: never).
        latency_ms: p50/p99/max of image-in to prediction-out inside the node.
        inference_ms: p50/p99/max of the model computation.
        skew_ms: p50/p99/max of |image stamp - joint state stamp|.
        counters: Event counters (rejections by reason, dropped frames...).
        surprise: ``{'last', 'raw', 'scale', 'calibrated'}``.
        goal_distance: Latent L1 distance to the captured goal, or None.
        stale_timeout: WARN threshold for paused predictions.
        stall_error_timeout: ERROR threshold for paused predictions.
        topics: Resolved input topic names, for the messages.
    """

    node_name: str
    lifecycle_state: str
    enabled: bool = True
    config_error: str = ''
    model: Dict[str, str] = field(default_factory=dict)
    since_prediction: float = 0.0
    last_problem: Optional[Tuple[str, str, float]] = None
    rejected_in_period: int = 0
    rates: Dict[str, float] = field(default_factory=dict)
    ages: Dict[str, Optional[float]] = field(default_factory=dict)
    since_received: Dict[str, float] = field(default_factory=dict)
    latency_ms: Dict[str, float] = field(default_factory=dict)
    inference_ms: Dict[str, float] = field(default_factory=dict)
    skew_ms: Dict[str, float] = field(default_factory=dict)
    counters: Dict[str, int] = field(default_factory=dict)
    surprise: Dict[str, object] = field(default_factory=dict)
    goal_distance: Optional[float] = None
    stale_timeout: float = 0.5
    stall_error_timeout: float = 5.0
    topics: Dict[str, str] = field(default_factory=dict)


def assess(h: HealthSnapshot) -> Tuple[bytes, str]:
    """Level (``DiagnosticStatus.OK/WARN/ERROR``) and message of a snapshot."""
    if h.config_error and h.lifecycle_state != 'active':
        return ERROR, f'{h.lifecycle_state}: configure failed: {h.config_error}'
    if h.lifecycle_state != 'active':
        return OK, f'{h.lifecycle_state} (not processing)'
    if not h.enabled:
        return OK, 'disabled through ~/enable'
    if h.since_prediction > h.stale_timeout:
        cause = _pause_cause(h)
        level = ERROR if h.since_prediction > h.stall_error_timeout else WARN
        return level, f'no prediction for {h.since_prediction:.1f} s: {cause}'
    if h.rejected_in_period and h.last_problem is not None:
        return WARN, (f'predicting; {h.rejected_in_period} input(s) rejected recently, '
                      f'last: {h.last_problem[1]}')
    return OK, 'predicting'


def _pause_cause(h: HealthSnapshot) -> str:
    """Best explanation of why predictions stopped."""
    image_topic = h.topics.get('image', 'image')
    image_silence = h.since_received.get('image')
    if image_silence is None:
        return f'no image received on {image_topic} (check the topic name and QoS reliability)'
    if image_silence > h.stale_timeout:
        return f'no new image on {image_topic} for {image_silence:.1f} s'
    if h.last_problem is not None and h.last_problem[2] <= h.since_prediction + 1e-6:
        return h.last_problem[1]
    if 'joint_states' not in h.since_received:
        return f'no joint state received on {h.topics.get("joint_states", "joint_states")}'
    return 'inputs are stale or not synchronised'


def _fmt(value: object) -> str:
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else f'{value:.3f}'
    return str(value)


def build_diagnostic_array(h: HealthSnapshot, stamp: object) -> DiagnosticArray:
    """One ``DiagnosticArray`` with a single status for the node.

    Args:
        h: The snapshot.
        stamp: ``builtin_interfaces/Time`` for the header.
    """
    level, message = assess(h)
    status = DiagnosticStatus()
    status.level = level
    status.name = f'{h.node_name.lstrip("/")}: world model'
    status.message = message
    status.hardware_id = h.model.get('device', '')
    values: List[Tuple[str, object]] = [
        ('lifecycle_state', h.lifecycle_state),
        ('enabled', h.enabled),
        ('config_error', h.config_error),
    ]
    values += [(f'model.{k}', v) for k, v in h.model.items()]
    values += [(f'rate_hz.{k}', v) for k, v in h.rates.items()]
    values += [(f'age_s.{k}', v) for k, v in h.ages.items()]
    values += [(f'since_received_s.{k}', v) for k, v in h.since_received.items()]
    for prefix, stats in (('latency_ms', h.latency_ms), ('inference_ms', h.inference_ms),
                          ('skew_ms', h.skew_ms)):
        values += [(f'{prefix}.{k}', v) for k, v in stats.items()]
    values += [(f'count.{k}', v) for k, v in sorted(h.counters.items())]
    values += [(f'surprise.{k}', v) for k, v in h.surprise.items()]
    values.append(('goal_distance', h.goal_distance))
    values.append(('since_prediction_s', h.since_prediction))
    if h.last_problem is not None:
        values.append(('last_problem', f'{h.last_problem[0]}: {h.last_problem[1]} '
                                       f'({h.last_problem[2]:.1f} s ago)'))
    status.values = [KeyValue(key=k, value=_fmt(v)) for k, v in values]
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = [status]
    return msg
