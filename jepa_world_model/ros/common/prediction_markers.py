"""Predictions as RViz / Foxglove markers: ``visualization_msgs/MarkerArray``.

What a model predicts is joints (and, with a pose output, the base pose); where the joints
put the robot's links needs its kinematics, which this package only knows when it is told:
``marker_link_lengths`` describes a planar serial chain (the simulated arm is one), and then
the predicted end effector and arm are drawn. Namespaces (each marker keeps its id from
frame to frame, so a new array replaces the previous one in place):

* ``predicted_joints``: one text per joint (id = joint index): its value now + 1 step and
  at the end of the horizon, stacked above the frame origin. Any robot.
* ``predicted_path``: the base path (id 0, line strip through the H + 1 poses) and the
  final pose (id 1, arrow). Models with a pose output.
* ``predicted_end_effector``: the end effector's path over steps 1..H (id 0, line strip) and
  its final position (id 1, sphere). With ``marker_link_lengths``.
* ``predicted_arm``: the arm at the end of the horizon (id 0, line strip base -> joints ->
  end effector). With ``marker_link_lengths``.

Every marker carries the input image's stamp and a lifetime, so markers vanish when the
predictions stop. Joint texts and the arm are drawn in the header's frame (the robot's base
frame: joints move the robot relative to it), the path in ``path_frame_id`` (the odometry
frame its poses are in); :func:`delete_all_markers` clears them at once (deactivate).
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

from geometry_msgs.msg import Point
import numpy as np
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from .node_io import duration_msg

__all__ = ['NAMESPACES', 'planar_chain_points', 'prediction_markers', 'delete_all_markers']

NAMESPACES = ('predicted_joints', 'predicted_path', 'predicted_end_effector', 'predicted_arm')
_TEXT_HEIGHT = 0.06     # m, letter height of the joint texts
_LINE_WIDTH = 0.015     # m
_BLUE = ColorRGBA(r=0.15, g=0.45, b=0.95, a=0.9)
_ORANGE = ColorRGBA(r=1.0, g=0.55, b=0.1, a=0.9)
_GREY = ColorRGBA(r=0.6, g=0.6, b=0.6, a=0.8)
_WHITE = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)


def planar_chain_points(angles: np.ndarray, lengths: Sequence[float]) -> np.ndarray:
    """Forward kinematics of a planar serial chain whose joints all rotate about z.

    Args:
        angles: [H, N] joint angles (rad), joint n turning link n relative to link n - 1.
        lengths: N link lengths (m), the last one to the end effector.

    Returns:
        [H, N + 1, 2] (x, y) of the base (always 0), each joint after the first, and the end
        effector (the last point), in the frame of the first joint.

    Raises:
        ValueError: ``angles`` is not [H, N] for N = ``len(lengths)``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    links = np.asarray(lengths, dtype=np.float64)
    if angles.ndim != 2 or angles.shape[1] != links.size:
        raise ValueError(f'angles must be [H, {links.size}] for {links.size} links, '
                         f'got {angles.shape}')
    heading = np.cumsum(angles, axis=1)                                # [H, N] link angles
    links_xy = links[None, :, None] * np.stack([np.cos(heading), np.sin(heading)], axis=-1)
    chain = np.cumsum(links_xy, axis=1)                                # [H, N, 2]
    return np.concatenate([np.zeros((angles.shape[0], 1, 2)), chain], axis=1)


def _marker(header: Header, ns: str, marker_id: int, kind: int, lifetime: float,
            color: ColorRGBA) -> Marker:
    marker = Marker(header=header, ns=ns, id=marker_id, type=kind, action=Marker.ADD)
    marker.lifetime = duration_msg(lifetime)
    marker.color = color
    marker.pose.orientation.w = 1.0
    return marker


def _points(xy: np.ndarray, z: float = 0.0) -> List[Point]:
    return [Point(x=float(x), y=float(y), z=z) for x, y in xy]


def _line(header: Header, ns: str, marker_id: int, xy: np.ndarray, lifetime: float,
          color: ColorRGBA) -> Marker:
    marker = _marker(header, ns, marker_id, Marker.LINE_STRIP, lifetime, color)
    marker.scale.x = _LINE_WIDTH
    marker.points = _points(xy)
    return marker


def _joint_texts(header: Header, names: Sequence[str], values: np.ndarray, unit: str,
                 step_period: float, lifetime: float) -> List[Marker]:
    horizon_s = values.shape[0] * step_period
    out = []
    for j, name in enumerate(names):
        marker = _marker(header, 'predicted_joints', j, Marker.TEXT_VIEW_FACING, lifetime,
                         _WHITE)
        marker.scale.z = _TEXT_HEIGHT
        # Stacked upwards in model joint order, clear of the origin's own markers.
        marker.pose.position.z = 0.3 + 1.5 * _TEXT_HEIGHT * (len(names) - 1 - j)
        marker.text = (f'{name}: {values[0, j]:+.3f} -> {values[-1, j]:+.3f} {unit} '
                       f'(+{horizon_s:.2g} s)')
        out.append(marker)
    return out


def _path_markers(header: Header, poses: np.ndarray, lifetime: float) -> List[Marker]:
    line = _line(header, 'predicted_path', 0, poses[:, :2], lifetime, _BLUE)
    arrow = _marker(header, 'predicted_path', 1, Marker.ARROW, lifetime, _BLUE)
    x, y, yaw = (float(v) for v in poses[-1])
    arrow.pose.position.x, arrow.pose.position.y = x, y
    arrow.pose.orientation.z, arrow.pose.orientation.w = math.sin(0.5 * yaw), math.cos(0.5 * yaw)
    arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.25, 0.05, 0.05
    return [line, arrow]


def _arm_markers(header: Header, positions: np.ndarray, lengths: Sequence[float],
                 lifetime: float) -> List[Marker]:
    chain = planar_chain_points(positions[:, :len(lengths)], lengths)   # [H, N + 1, 2]
    tip = _marker(header, 'predicted_end_effector', 1, Marker.SPHERE, lifetime, _ORANGE)
    tip.pose.position.x, tip.pose.position.y = (float(v) for v in chain[-1, -1])
    tip.scale.x = tip.scale.y = tip.scale.z = 0.05
    return [_line(header, 'predicted_end_effector', 0, chain[:, -1], lifetime, _ORANGE), tip,
            _line(header, 'predicted_arm', 0, chain[-1], lifetime, _GREY)]


def prediction_markers(header: Header, joint_names: Sequence[str],
                       positions: Optional[np.ndarray], velocities: Optional[np.ndarray],
                       poses: Optional[np.ndarray], step_period: float, lifetime: float,
                       link_lengths: Sequence[float] = (), path_frame_id: str = ''
                       ) -> MarkerArray:
    """The markers of one prediction (see the module docstring for namespaces and ids).

    Args:
        header: Stamp of the input image; ``frame_id`` the frame the markers are drawn in.
        joint_names: J joint names in model order.
        positions: [H, J] predicted joint positions (steps 1..H), or None.
        velocities: [H, J] predicted joint velocities, or None (texts show them only when
            there are no positions).
        poses: [H + 1, 3] predicted base poses (x, y, yaw), now and steps 1..H, or None.
        step_period: Seconds per model step.
        lifetime: Seconds a marker stays without a newer one (> 0).
        link_lengths: Planar chain of the first ``len(link_lengths)`` joints (m); empty:
            no arm markers (also when there are no predicted positions).
        path_frame_id: Frame of the path markers; empty: ``header.frame_id``.

    Raises:
        ValueError: More links than joints, shapes that do not match ``joint_names``, or a
            lifetime <= 0.
    """
    if not lifetime > 0:
        raise ValueError(f'lifetime must be > 0 s, got {lifetime}')
    if len(link_lengths) > len(joint_names):
        raise ValueError(f'{len(link_lengths)} links but only {len(joint_names)} joints')
    markers: List[Marker] = []
    values, unit = ((positions, 'rad') if positions is not None else (velocities, 'rad/s'))
    if values is not None:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] != len(joint_names):
            raise ValueError(f'joint predictions must be [H >= 1, {len(joint_names)}], got '
                             f'{values.shape}')
        markers += _joint_texts(header, joint_names, values, unit, step_period, lifetime)
        if positions is not None and len(link_lengths):
            markers += _arm_markers(header, values, link_lengths, lifetime)
    if poses is not None:
        poses = np.asarray(poses, dtype=np.float64)
        if poses.ndim != 2 or poses.shape[0] < 1 or poses.shape[1] != 3:
            raise ValueError(f'poses must be [H + 1, 3], got {poses.shape}')
        markers += _path_markers(Header(stamp=header.stamp,
                                        frame_id=path_frame_id or header.frame_id),
                                 poses, lifetime)
    return MarkerArray(markers=markers)


def delete_all_markers(header: Header) -> MarkerArray:
    """A DELETEALL marker per namespace of :data:`NAMESPACES`: the markers go at once.

    One per namespace because viewers differ in whether DELETEALL clears the whole topic or
    only its own namespace; repeated, it clears everything in both.
    """
    return MarkerArray(markers=[Marker(header=header, ns=ns, action=Marker.DELETEALL)
                                for ns in NAMESPACES])
