"""Stamped scalar outputs: surprise and plan figures as ``geometry_msgs/Vector3Stamped``.

``std_msgs`` has no stamped scalar and this pure-Python package cannot generate message types
(no rosidl build here), so the stamped figures use a standard message that has a header and
numeric fields every plotting tool reads: ``Vector3Stamped`` (header + three float64). Foxglove,
PlotJuggler and rqt_plot plot ``.vector.x`` directly, and ``message_filters`` synchronises on
its header. The alternatives do not fit: ``diagnostic_msgs/DiagnosticArray`` carries values as
strings (nothing plots them), ``std_msgs/Float32MultiArray`` has no header,
``sensor_msgs/Temperature`` and its siblings carry a physical unit that would mislead, and
``geometry_msgs/PointStamped`` is drawn as a point in 3D by RViz.

Field mapping (docs/world_model_node.md, docs/planner.md):

* ``~/surprise_stamped``: x = normalised surprise (the value of ``~/surprise``), y = raw L1
  prediction error, z = k of the k-step prediction it compares with.
* ``~/plan_figures``: x = predicted risk (max over the plan; NaN: the model has no risk
  head), y = ensemble disagreement (NaN: no ensemble), z = the plan's cost.

The header (stamp and ``frame_id``) is the input image's, like every other prediction.
"""

from __future__ import annotations

import math
from typing import Optional

from geometry_msgs.msg import Vector3, Vector3Stamped
from std_msgs.msg import Header

__all__ = ['vector3_stamped', 'surprise_stamped_msg', 'plan_figures_msg']


def _number(value: Optional[float]) -> float:
    """``value`` as a float; None (no such output) becomes NaN, which plots leave blank."""
    return math.nan if value is None else float(value)


def vector3_stamped(header: Header, x: Optional[float], y: Optional[float],
                    z: Optional[float]) -> Vector3Stamped:
    """Three scalars under ``header``; None becomes NaN."""
    return Vector3Stamped(header=header, vector=Vector3(x=_number(x), y=_number(y),
                                                        z=_number(z)))


def surprise_stamped_msg(header: Header, surprise: float, raw: Optional[float],
                         steps: int) -> Vector3Stamped:
    """``~/surprise_stamped``: x = surprise, y = raw L1 error, z = k of the k-step prediction.

    Args:
        header: Stamp and frame of the input image.
        surprise: Normalised surprise (what ``~/surprise`` carries).
        raw: L1 prediction error before normalisation, or None.
        steps: k of the k-step prediction the frame was compared with (>= 0).
    """
    return vector3_stamped(header, surprise, raw, steps)


def plan_figures_msg(header: Header, risk: Optional[float], disagreement: Optional[float],
                     cost: Optional[float]) -> Vector3Stamped:
    """``~/plan_figures``: x = predicted risk, y = ensemble disagreement, z = plan cost.

    Args:
        header: Stamp and frame of the image the plan started from.
        risk: Highest predicted risk along the plan, or None (no risk head).
        disagreement: Highest ensemble disagreement along the plan, or None (no ensemble).
        cost: The plan's objective value, or None.
    """
    return vector3_stamped(header, risk, disagreement, cost)
