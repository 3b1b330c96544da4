"""The mobile-base variant of the demo (``jepa-world-model demo --robot mobile_base``).

:mod:`~jepa_world_model.demo.run_demo` runs the processes and the common analysis; this
module holds what differs for the base:

* parameters: ``sim_node robot:=mobile_base`` subscribes to ``cmd_vel`` as
  ``geometry_msgs/Twist`` (``use_twist_stamped:=false``, set explicitly), and
  ``world_model_node`` reads the same topic with ``action_source:=twist`` and
  ``action_fields:=[linear.x, angular.z]``, the action order the model was trained with;
* nodes: :class:`~.nodes.BaseDriverNode` with :class:`~.policy.DemoBasePolicy`
  and :class:`~.nodes.BaseRecorderNode`;
* analysis: the predicted path against odometry (:func:`~.analysis.path_errors`),
  its plots and the animation with the path drawn into the overhead camera image.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, Tuple

from .. import plots
from ..analysis import Recording
from .analysis import format_path_summary, path_errors, PathRecording
from .geometry import BaseRoom
from .policy import DemoBasePolicy

__all__ = ['JOINTS', 'parameters', 'make_nodes',
           'analyse_path', 'path_arrays', 'format_path_summary']

JOINTS = ('wheel_left_joint', 'wheel_right_joint')
ACTION_FIELDS = ['linear.x', 'angular.z']   # = the model's action_names linear_x, angular_z


def parameters() -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Extra ``(sim_node, world_model_node)`` parameters for the base."""
    sim = {'use_twist_stamped': False}   # cmd_vel is geometry_msgs/Twist ...
    wm = {'action_source': 'twist',      # ... and the node reads that same type
          'action_fields': ACTION_FIELDS, 'path_frame_id': 'odom'}
    return sim, wm


def make_nodes(room: BaseRoom, joints, namespace: str, seed: int, context: Any):
    """``(driver, recorder)`` for the base (imports rclpy: call after ensure_ros_libraries)."""
    from .nodes import BaseDriverNode, BaseRecorderNode
    policy = DemoBasePolicy(room, seed=seed)
    return (BaseDriverNode(policy, namespace, context=context),
            BaseRecorderNode(list(joints), namespace, context=context))


def path_arrays(base: PathRecording) -> Dict[str, Any]:
    """The path recording's arrays, prefixed ``base_`` for recording.npz."""
    return {f'base_{k}': v for k, v in asdict(base).items()}


def analyse_path(rec: Recording, base: PathRecording, room: BaseRoom, out: Path,
                 gap: float) -> Tuple[Dict[str, Any], Dict[str, Path]]:
    """Path errors by horizon and their plots: ``(errors, files)``."""
    errors = path_errors(base, gap)
    curves = (('model', 'world model (~/predicted_path)', 'o-'),
              ('model_anchored', 'world model motion from the odom pose', 'd-.'),
              ('constant_velocity', 'constant twist (odom)', 's--'),
              ('nothing_changes', 'nothing changes (odom pose)', '^:'))
    error_png = plots.plot_error_vs_horizon(
        errors, out / 'path_error_vs_horizon.png', ylabel='mean |xy_pred - xy_odom| [m]',
        title='Base position prediction error by horizon', curves=curves)
    return errors, {'path_error_png': error_png,
                    'path_png': plots.plot_base_path(rec, base, room, out / 'path.png')}
