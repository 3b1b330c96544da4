"""Goal messages of ``planner_node`` -> :class:`~jepa_world_model.core.planning.goals.Goal`.

Each function validates one kind of goal message and raises
:class:`~..common.rejects.InputError` with a ``goal_*`` reason, the counter the node
increments, so a bad goal is counted apart from the camera's and joint states' own counters
and the old goal stays. The objectives built from a goal are in
:mod:`~jepa_world_model.core.planning.goals`.

Goal numbers get the plausibility bound the other inputs get (``max_abs_input``,
:func:`~jepa_world_model.core.runtime.input_rules.magnitude_problem`): a finite but absurd goal
(1e30 rad, a pose 1e30 m away) would otherwise be planned toward, and the costs built from
it overflow.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

from geometry_msgs.msg import PoseStamped
import numpy as np
from sensor_msgs.msg import Image, JointState
import torch

from ...core.planning.command_limits import CommandLimits
from ...core.planning.frames import FrameLookupError, FrameSource, ParameterFrames, Planar
from ...core.planning.goals import Goal, image_goal, joint_state_goal, pose_goal
from ...core.planning.relocation import PlacedPose
from ...core.runtime.inference import WorldModelRuntime
from ...core.runtime.input_rules import magnitude_problem
from ...core.model.state_layout import planar_pose
from ..common.images import image_to_model_rgb
from ..common.rejects import InputError
from ..common.state_inputs import joint_state_arrays
from .parameters import PARAMS

#: The bound a caller that passes no ``max_abs`` gets: the parameter's default.
DEFAULT_MAX_ABS = float(PARAMS['max_abs_input'].default)

__all__ = ['joint_goal_from_msg', 'pose_goal_from_msg', 'placed_pose_goal_from_msg',
           'image_goal_from_msg']


def joint_goal_from_msg(msg: JointState, joint_names: Sequence[str],
                        action_joints: Sequence[str], limits: CommandLimits,
                        max_abs: float = DEFAULT_MAX_ABS) -> Goal:
    """A joint-state goal in model order [J]; it must lie within the joint position limits.

    Raises:
        InputError: ``goal_`` + a joint-state reason
            (:func:`~..common.state_inputs.joint_state_arrays`),
            ``goal_joint_state_out_of_range`` (a model joint beyond ``max_abs``) or
            ``goal_out_of_limits``.
    """
    try:
        q, _ = joint_state_arrays(msg, joint_names)
    except InputError as exc:
        raise InputError('goal_' + exc.reason, str(exc)) from None
    problem = magnitude_problem(q, max_abs, 'goal joint positions')
    if problem:
        raise InputError('goal_joint_state_out_of_range', problem)
    idx = [list(joint_names).index(j) for j in action_joints]
    if limits.has_positions and not (np.all(q[idx] >= limits.position_min)
                                     and np.all(q[idx] <= limits.position_max)):
        raise InputError('goal_out_of_limits', f'goal {q.tolist()} is outside the joint '
                         'position limits')
    return joint_state_goal(q)


def pose_goal_from_msg(msg: PoseStamped, has_pose: bool, path_frame_id: str,
                       yaw_weight: float, max_abs: float = DEFAULT_MAX_ABS,
                       frames: Optional[FrameSource] = None) -> Goal:
    """The goal of :func:`placed_pose_goal_from_msg`."""
    return placed_pose_goal_from_msg(msg, has_pose, path_frame_id, yaw_weight, max_abs,
                                     frames)[0]


def placed_pose_goal_from_msg(msg: PoseStamped, has_pose: bool, path_frame_id: str,
                              yaw_weight: float, max_abs: float = DEFAULT_MAX_ABS,
                              frames: Optional[FrameSource] = None
                              ) -> Tuple[Goal, Optional[PlacedPose]]:
    """A planar pose goal (x, y, yaw) in ``path_frame_id``; heading only when
    ``yaw_weight`` is set. A goal in another frame (a Nav2 or RViz goal in ``map``) is
    transformed into ``path_frame_id`` by ``frames`` (TF's ``map -> odom`` at the time the
    goal arrives); without ``frames``, or while the transform is unknown, it is refused.
    Returns the goal and, for a goal given in another frame, how it was placed (None in
    ``path_frame_id``): the planner places it again when that frame moves.

    Raises:
        InputError: ``goal_pose_unsupported`` (the model has no pose output),
            ``goal_pose_no_frame`` (empty ``header.frame_id``), ``goal_pose_wrong_frame``,
            or ``goal_pose_out_of_range`` (a position or orientation value that is not
            finite or is beyond ``max_abs``).
    """
    frame = msg.header.frame_id
    if not has_pose:
        raise InputError('goal_pose_unsupported', 'the model has no pose output; use '
                         'goal_joint_state, goal_image or capture_goal')
    if not frame:
        # An empty frame_id names no frame at all: taking the numbers as path_frame_id
        # coordinates would plan toward a guess (e.g. a map-frame goal sent without a header).
        wanted = repr(path_frame_id) if path_frame_id else 'the frame its position is in'
        raise InputError('goal_pose_no_frame', 'goal pose has an empty header.frame_id; set '
                         f'it to {wanted}')
    into = Planar()
    if path_frame_id and frame != path_frame_id:
        try:
            into = (frames or ParameterFrames()).into(path_frame_id, frame)
        except FrameLookupError as exc:
            raise InputError('goal_pose_wrong_frame', f'goal frame {frame!r} is not '
                             f'path_frame_id {path_frame_id!r}: {exc}') from None
    p, o = msg.pose.position, msg.pose.orientation
    # The orientation too: NaN or huge quaternion entries give a NaN or meaningless yaw.
    problem = magnitude_problem([p.x, p.y, p.z, o.x, o.y, o.z, o.w], max_abs,
                                'goal pose (position x, y, z, orientation x, y, z, w)')
    if problem:
        raise InputError('goal_pose_out_of_range', problem)
    given = planar_pose(p, o)
    x, y, yaw = into.apply_pose(*given)
    placed = (PlacedPose(frame, tuple(float(v) for v in given), into)
              if path_frame_id and frame != path_frame_id else None)
    return pose_goal(x, y, yaw if yaw_weight else None, yaw_weight), placed


def image_goal_from_msg(msg: Image, runtime: WorldModelRuntime, resize_mode: str) -> Goal:
    """The latent of a goal image, as the model's target encoder sees it."""
    try:
        rgb = image_to_model_rgb(msg, False, runtime.image_size, resize_mode)
    except InputError as exc:   # counted apart from the camera's image_* counters
        raise InputError('goal_' + exc.reason, str(exc)) from None
    with torch.inference_mode():
        return image_goal(runtime.model, runtime.preprocess(rgb))
