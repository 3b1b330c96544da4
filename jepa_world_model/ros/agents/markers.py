"""Agent forecasts as RViz / Foxglove markers: ``visualization_msgs/MarkerArray``.

Per agent (marker id = track id, so a new array replaces the previous one in place):

* ``agents``: a cylinder at its current position (person-sized);
* ``agent_paths``: a line strip from now through the predicted positions;
* ``agent_regions``: one flat disc per horizon time (id = track id * 10 + step), its radius
  the forecast's 90 % region, fading with the horizon;
* ``agent_ids``: the track id as text above the agent.

A DELETEALL marker comes first, so agents that left do not linger; every marker also carries
``lifetime``, so everything vanishes when the node stops publishing.
"""

from __future__ import annotations

from typing import List

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from ...core.agents.predictor import AgentForecast

__all__ = ['forecast_markers', 'NAMESPACES', 'REGION_COVERAGE']

NAMESPACES = ('agents', 'agent_paths', 'agent_regions', 'agent_ids')
REGION_COVERAGE = 0.9
_PERSON_RADIUS = 0.16   # m, drawn size of a tracked agent
_HEIGHT = 1.0           # m, drawn height of a tracked agent
_GREEN = ColorRGBA(r=0.2, g=0.8, b=0.3, a=0.9)
_YELLOW = ColorRGBA(r=1.0, g=0.8, b=0.1, a=0.9)
_WHITE = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)


def _duration(seconds: float) -> Duration:
    whole = int(seconds)
    return Duration(sec=whole, nanosec=int(round((seconds - whole) * 1e9)))


def _marker(header: Header, ns: str, marker_id: int, kind: int, lifetime: float) -> Marker:
    marker = Marker(header=header, ns=ns, id=int(marker_id), type=kind, action=Marker.ADD,
                    lifetime=_duration(lifetime))
    marker.pose.orientation.w = 1.0
    return marker


def forecast_markers(forecast: AgentForecast, header: Header, lifetime: float
                     ) -> MarkerArray:
    """The markers of ``forecast`` (see the module docstring), stamped with ``header``."""
    markers: List[Marker] = [Marker(header=header, action=Marker.DELETEALL)]
    regions = forecast.region(REGION_COVERAGE)
    for k, track_id in enumerate(forecast.track_ids):
        x, y = (float(v) for v in forecast.now[k])
        body = _marker(header, 'agents', track_id, Marker.CYLINDER, lifetime)
        body.pose.position = Point(x=x, y=y, z=_HEIGHT / 2)
        body.scale.x = body.scale.y = 2 * _PERSON_RADIUS
        body.scale.z = _HEIGHT
        body.color = _GREEN
        path = _marker(header, 'agent_paths', track_id, Marker.LINE_STRIP, lifetime)
        path.scale.x = 0.03
        path.color = _YELLOW
        path.points = [Point(x=x, y=y, z=0.05)] + [
            Point(x=float(p[0]), y=float(p[1]), z=0.05) for p in forecast.positions[k]]
        text = _marker(header, 'agent_ids', track_id, Marker.TEXT_VIEW_FACING, lifetime)
        text.pose.position = Point(x=x, y=y, z=_HEIGHT + 0.2)
        text.scale.z = 0.2
        text.color = _WHITE
        text.text = str(int(track_id))
        markers += [body, path, text]
        steps = len(forecast.times)
        for j in range(steps):
            disc = _marker(header, 'agent_regions', int(track_id) * 10 + j, Marker.CYLINDER,
                           lifetime)
            px, py = (float(v) for v in forecast.positions[k, j])
            disc.pose.position = Point(x=px, y=py, z=0.01)
            disc.scale.x = disc.scale.y = max(2.0 * float(regions[k, j]), 0.01)
            disc.scale.z = 0.02
            disc.color = ColorRGBA(r=1.0, g=0.5, b=0.1, a=0.45 * (1.0 - j / (steps + 1)))
            markers.append(disc)
    return MarkerArray(markers=markers)
