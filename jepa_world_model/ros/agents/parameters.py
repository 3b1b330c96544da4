"""``agent_predictor_node``'s parameters, each declared once: :data:`PARAMS`.

One :class:`~jepa_world_model.core.settings_spec.ParamSpec` per parameter, as for
``world_model_node`` and ``planner_node`` (ros/common/parameter_table.py): the descriptors
(ranges that rclpy enforces), the settings snapshot :data:`AgentSettings` and the table in
docs/agents.md (``python -m jepa_world_model.ros.parameter_docs``) are derived from it. Every
setting is read at configure: the node holds no heavy resources, so a change takes effect at
the next configure (deactivate, cleanup, configure, activate).
"""

from __future__ import annotations

from typing import Any, Dict

from ..common.parameter_table import ParamSpec, read_table, settings_class, shared

__all__ = ['PARAMS', 'AgentSettings', 'AgentParameterError', 'read_settings']

PARAMS: Dict[str, ParamSpec] = {
    'model_path': ParamSpec('', 'Agent predictor (.safetensors, `jepa-world-model '
                            'agents-eval`); empty: constant velocity', 'configure'),
    **shared('autostart'),
    'use_map': ParamSpec(True, 'Drop scan returns the static map (topic `map`) explains',
                         'configure'),
    'use_planned_path': ParamSpec(True, "The robot's future from `planned_path` (nav_msgs/Path "
                                  'with stamps, e.g. planner_node/planned_path); else its '
                                  'twist held', 'configure'),
    'max_path_age': ParamSpec(1.0, 'A planned path older than this (s) is not used',
                              'configure', 0.0, 10.0),
    'max_odom_gap': ParamSpec(0.25, 'Farthest odometry sample (s) from a scan stamp used for '
                              'its pose', 'configure', 0.01, 2.0),
    'map_tolerance': ParamSpec(0.15, 'A return this close (m) to an occupied map cell is '
                               'static', 'configure', 0.0, 1.0),
    'cluster_gap': ParamSpec(0.35, 'Largest gap (m) between consecutive returns of one agent',
                             'configure', 0.01, 2.0),
    'max_width': ParamSpec(0.7, 'Widest cluster (m) taken as one agent', 'configure', 0.05,
                           5.0),
    'surface_offset': ParamSpec(0.12, 'Seen surface to body centre (m), along the bearing',
                                'configure', 0.0, 1.0),
    'gate': ParamSpec(0.5, 'Farthest detection (m) from a predicted track position that '
                      'updates it', 'configure', 0.01, 5.0),
    'min_hits': ParamSpec(3, 'Matched scans before a track is published', 'configure', 1,
                          100),
    'max_coast': ParamSpec(0.6, 'A track unseen for longer (s) is dropped', 'configure', 0.0,
                           10.0),
    'max_beams': ParamSpec(4096, 'Larger scans are refused (bounded work per scan)',
                           'configure', 8, 100000),
    'marker_lifetime': ParamSpec(0.5, 'Lifetime (s) of the RViz markers', 'configure', 0.0,
                                 60.0),
}

#: Snapshot of every parameter value (attribute names = parameter names).
AgentSettings = settings_class('AgentSettings', PARAMS, __name__,
                               'Snapshot of every agent_predictor_node parameter value.')


class AgentParameterError(ValueError):
    """A combination of parameter values the node cannot use (configure fails with it)."""


def read_settings(node: Any) -> Any:
    """Current parameter values of ``node`` (an :data:`AgentSettings`)."""
    return AgentSettings().with_updates(read_table(node, PARAMS))
