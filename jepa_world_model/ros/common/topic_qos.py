"""QoS of the nodes' topics: one default profile per kind of topic, changed with ROS 2's own
QoS overrides.

Every subscription and publisher of ``world_model_node`` and ``planner_node`` is created with
:func:`overridable` (``QoSOverridingOptions.with_default_policies()``): rclpy then declares
read-only parameters named after the fully resolved topic,
``qos_overrides.<topic>.<subscription|publisher>.<history|depth|reliability>``, which take
their value from the parameter file or command line like any other parameter::

    world_model_node:
      ros__parameters:
        qos_overrides:
          /camera/image_raw:
            subscription:
              reliability: reliable
              depth: 5

(remapped topics use the name after remapping; ``ros2 param list`` shows them once the
entity exists). The overrides are read when the entity is created (configure or activate)
and cannot be changed on a running node, as everywhere in ROS 2.

rclpy writes the overrides into the profile it is given, so each function returns a new
profile: a shared constant would carry one node's overrides to the next node in the process.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy)
from rclpy.qos_overriding_options import QoSOverridingOptions

__all__ = ['overridable', 'input_qos', 'output_qos', 'latched_map_qos', 'QOS_OVERRIDES_PREFIX',
           'is_qos_override', 'DEPRECATED_QOS_PARAMETERS', 'deprecated_qos_warnings']

#: Prefix of the parameters rclpy declares for :func:`overridable` entities.
QOS_OVERRIDES_PREFIX = 'qos_overrides.'


def overridable() -> QoSOverridingOptions:
    """History, depth and reliability overridable through ``qos_overrides.*`` parameters."""
    return QoSOverridingOptions.with_default_policies()


def is_qos_override(name: str) -> bool:
    """Whether ``name`` is one of the ``qos_overrides.*`` parameters rclpy declares itself."""
    return name.startswith(QOS_OVERRIDES_PREFIX)


def input_qos(depth: int, reliability: str = 'best_effort') -> QoSProfile:
    """Keep-last ``depth``, volatile; best effort (it also receives reliable publishers,
    the sensor-data choice) unless ``reliability`` is ``'reliable'``."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      durability=DurabilityPolicy.VOLATILE,
                      reliability=(ReliabilityPolicy.RELIABLE if reliability == 'reliable'
                                   else ReliabilityPolicy.BEST_EFFORT))


def output_qos(depth: int) -> QoSProfile:
    """Keep-last ``depth``, reliable, volatile: what both reliable and best-effort
    subscribers (RViz, ``ros2 topic echo``, controllers) receive."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE)


def latched_map_qos() -> QoSProfile:
    """map_server's QoS: reliable, transient local, depth 1, so a map published once,
    before the subscriber existed, still arrives."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


#: world_model_node's own QoS parameters from before the standard overrides:
#: ``{parameter: (subscription, policy)}``. Still honoured (as the default that an override
#: replaces) so existing parameter files keep working, but each use logs a warning.
DEPRECATED_QOS_PARAMETERS: Dict[str, tuple] = {
    'image_reliability': ('image', 'reliability'),
    'image_qos_depth': ('image', 'depth'),
    'joint_states_reliability': ('joint_states', 'reliability'),
    'joint_states_qos_depth': ('joint_states', 'depth'),
    'action_reliability': ('action', 'reliability'),
}


def deprecated_qos_warnings(values: Mapping[str, Any],
                            topics: Mapping[str, str]) -> List[str]:
    """One warning per deprecated QoS parameter that is set (non-empty, non-zero).

    Args:
        values: ``{parameter: value}`` of (at least) :data:`DEPRECATED_QOS_PARAMETERS`.
        topics: ``{subscription: resolved topic}`` (``image``, ``joint_states``,
            ``action``), to name the override that replaces each parameter.
    """
    warnings = []
    for name, (subscription, policy) in DEPRECATED_QOS_PARAMETERS.items():
        value = values.get(name)
        if value in (None, '', 0):
            continue
        topic = topics.get(subscription, f'<{subscription} topic>')
        warnings.append(f'parameter {name} is deprecated and will be removed: set '
                        f'qos_overrides.{topic}.subscription.{policy}: {value} instead '
                        f'(docs/world_model_node.md, "QoS")')
    return warnings
