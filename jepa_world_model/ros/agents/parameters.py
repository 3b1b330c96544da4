"""``agent_predictor_node``'s parameters: one table, read once at start-up (the node holds no
heavy resources, so a restart is how a setting changes; all are read-only)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

__all__ = ['PARAMETERS', 'descriptor', 'AgentParameterError']

# name: (default, description, (low, high) or None)
PARAMETERS: Dict[str, Tuple[Any, str, Optional[Tuple[float, float]]]] = {
    'model_path': ('', 'Agent predictor (.safetensors, jepa-world-model agents-eval); empty: '
                   'constant velocity', None),
    'use_map': (True, 'Drop scan returns the static map (topic map) explains', None),
    'use_planned_path': (True, "The robot's future from planned_path (nav_msgs/Path with "
                         'stamps, e.g. planner_node/planned_path); else its twist held', None),
    'max_path_age': (1.0, 'A planned path older than this [s] is not used', (0.0, 10.0)),
    'max_odom_gap': (0.25, 'Farthest odometry sample [s] from a scan stamp used for its pose',
                     (0.01, 2.0)),
    'map_tolerance': (0.15, 'A return this close [m] to an occupied map cell is static',
                      (0.0, 1.0)),
    'cluster_gap': (0.35, 'Largest gap [m] between consecutive returns of one agent',
                    (0.01, 2.0)),
    'max_width': (0.7, 'Widest cluster [m] taken as one agent', (0.05, 5.0)),
    'surface_offset': (0.12, 'Seen surface to body centre [m], along the bearing', (0.0, 1.0)),
    'gate': (0.5, 'Farthest detection [m] from a predicted track position that updates it',
             (0.01, 5.0)),
    'min_hits': (3, 'Matched scans before a track is published', (1, 100)),
    'max_coast': (0.6, 'A track unseen for longer [s] is dropped', (0.0, 10.0)),
    'max_beams': (4096, 'Larger scans are refused (bounded work per scan)', (8, 100000)),
    'marker_lifetime': (0.5, 'Lifetime [s] of the RViz markers', (0.0, 60.0)),
}


class AgentParameterError(ValueError):
    """A parameter value the node cannot use (the node does not start)."""


def descriptor(name: str) -> ParameterDescriptor:
    """Read-only descriptor of ``name`` with its description and range."""
    default, text, bounds = PARAMETERS[name]
    desc = ParameterDescriptor(description=text, read_only=True)
    if bounds and isinstance(default, int) and not isinstance(default, bool):
        desc.integer_range = [IntegerRange(from_value=int(bounds[0]), to_value=int(bounds[1]),
                                           step=0)]
    elif bounds:
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(bounds[0]), to_value=float(bounds[1]), step=0.0)]
    return desc
