"""Parameters of ``world_model_node``: the table that declares each one once, and the
batch validation.

:data:`PARAMS` is the only declaration of a parameter (type, default, range or choices,
description, when a change applies, the core field it sets); the rest is derived from it:
the ``ParameterDescriptor`` (``ros2 param describe`` shows the limits), the settings snapshot
:data:`NodeSettings`, the checks of one value (:func:`validate_value`), the arguments of the
surprise normaliser (:func:`surprise_arguments`) and the table in docs/world_model_node.md
(``python -m jepa_world_model.ros.parameter_docs``). The node's on-set callback runs
:func:`validate_updates` on the whole batch: one bad value rejects the batch with a reason
and nothing is applied.

When a change takes effect (``PARAMS[name].applies``):

* ``runtime``: the next frame (horizon, sync limits, rates, surprise, publishing);
* ``configure``: the next ``configure`` transition (model, device, action source);
* ``activate``: the next ``activate`` transition (topics);
* ``startup``: read-only, set it in the params file or on the command line.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from rcl_interfaces.msg import ParameterDescriptor

from ...core.settings_spec import core_arguments
from ...core.runtime.surprise import SurpriseNormalizer
from .action_sources import ACTION_SOURCES, TRAJECTORY_FIELDS
from ..common.parameter_table import (check_value, declare_table, DISTINCT_NAMES_RULE, ModelFacts,
                                      parameter_descriptor, parameter_updates, ParamSpec,
                                      read_table, Rule, settings_class, shared, TWIST_FIELDS_RULE)

# ParamSpec, ModelFacts and parameter_updates live in parameter_table (shared with the
# planner); they stay importable from here, where world_model_node takes them from.
__all__ = ['ParamSpec', 'PARAMS', 'NodeSettings', 'ModelFacts', 'CORE_TARGETS',
           'declare_parameters', 'read_settings', 'validate_updates', 'validate_value',
           'parameter_updates', 'surprise_arguments']

RELIABILITY = ('best_effort', 'reliable')
_FLOAT32_MAX = 3.4028234663852886e38
_TOPIC_RE = re.compile(r'^[~/A-Za-z_][\w/~{}]*$')


def _scale_problem(value: Tuple[float, ...]) -> Optional[str]:
    # The action is float32: a larger factor would make the action source refuse it.
    if len(value) and all(abs(v) <= _FLOAT32_MAX for v in value):
        return None
    return (f'expected 1 or action_dim values within float32 (|v| <= {_FLOAT32_MAX:.4g}), '
            f'got {list(value)}')


def _link_lengths_problem(value: Tuple[float, ...]) -> Optional[str]:
    # An empty list means the same as unset; a zero or negative length is a typo.
    if all(0.0 < v < 1e3 for v in value):
        return None
    return f'expected link lengths in metres, each > 0 and < 1000, got {list(value)}'


def _topic_problem(value: str) -> Optional[str]:
    return None if not value or _TOPIC_RE.match(value) else \
        f'expected a valid topic name, got {value!r}'


PARAMS: Dict[str, ParamSpec] = {
    'model_path': ParamSpec('', 'Checkpoint (.safetensors); empty: the model shipped in the '
                            'package share directory (models/gantry_tiny.safetensors)',
                            'configure'),
    **shared('device', 'dtype', 'num_threads', 'inference_backend', 'onnx_dir',
             'autostart'),
    'horizon': ParamSpec(10, 'Predicted steps H', 'runtime', 1, 200),
    'model_step_period': ParamSpec(0.1, 'Seconds per model step (time_from_start of the '
                                   'predicted points, surprise matching)', 'runtime',
                                   0.001, 60.0),
    'max_prediction_rate': ParamSpec(0.0, 'Process at most this many frames per second '
                                     '(Hz); 0: every frame the model keeps up with',
                                     'runtime', 0.0, 1000.0),
    **shared('image_transport', 'resize_mode'),
    # Deprecated: ROS 2's qos_overrides.<topic>.subscription.* replace these (ros/common/
    # topic_qos.py). Unset by default; a value set still becomes the subscription's default.
    'image_reliability': ParamSpec('', 'Deprecated, use `qos_overrides./<image topic>.'
                                   'subscription.reliability`; empty: best_effort',
                                   'startup', choices=('',) + RELIABILITY),
    'joint_states_reliability': ParamSpec('', 'Deprecated, use `qos_overrides./<joint_states '
                                          'topic>.subscription.reliability`; empty: '
                                          'best_effort', 'startup',
                                          choices=('',) + RELIABILITY),
    'action_reliability': ParamSpec('', 'Deprecated, use `qos_overrides./<action topic>.'
                                    'subscription.reliability`; empty: best_effort',
                                    'startup', choices=('',) + RELIABILITY),
    'image_qos_depth': ParamSpec(0, 'Deprecated, use `qos_overrides./<image topic>.'
                                 'subscription.depth`; 0: 1 (latest frame only)', 'startup',
                                 0, 100),
    'joint_states_qos_depth': ParamSpec(0, 'Deprecated, use `qos_overrides./<joint_states '
                                        'topic>.subscription.depth`; 0: 10', 'startup',
                                        0, 1000),
    **shared('max_skew'),
    'sync_mode': ParamSpec('interpolate', 'Joint state at the image stamp', 'runtime',
                           choices=('interpolate', 'nearest')),
    'stale_timeout': ParamSpec(0.5, 'Inputs further than this (s) from the node clock are '
                               'rejected; predictions paused this long turn diagnostics to '
                               'WARN', 'runtime', 0.01, 3600.0),
    'max_future_stamp': ParamSpec(0.25, 'Joint states, odometry and images stamped further '
                                  'than this (s) ahead of the node clock are rejected '
                                  '(`joint_state_stamp_in_future`, `odom_stamp_in_future`, '
                                  '`image_stamp_in_future`) and never enter the history, so '
                                  'one bad stamp cannot block the valid messages after it',
                                  'runtime', 0.0, 3600.0),
    'max_abs_input': ParamSpec(1e5, 'Plausibility bound: joint positions and velocities, '
                               'odometry x/y and action commands of larger magnitude are '
                               'rejected (`joint_state_out_of_range`, `odom_out_of_range`, '
                               '`action_invalid`)', 'runtime', 1e-3, 1e12),
    **shared('max_image_pixels'),
    'stall_error_timeout': ParamSpec(5.0, 'Diagnostics go to ERROR after this long (s) '
                                     'without a prediction while active (>= `stale_timeout`)',
                                     'runtime', 0.1, 3600.0),
    'action_source': ParamSpec('twist', 'Where the action comes from', 'configure',
                               choices=tuple(sorted(ACTION_SOURCES))),
    'action_topic': ParamSpec('', 'Action topic; empty: cmd_vel (twist*), joint_trajectory, '
                              'commands (float64_multi_array)', 'activate',
                              rule=Rule(_topic_problem, 'a topic name')),
    'action_fields': ParamSpec(['linear.x', 'linear.y'], 'Twist fields in model action order',
                               'configure', rule=TWIST_FIELDS_RULE),
    'action_joint_names': ParamSpec(None, 'Joints of joint_trajectory actions in model order; '
                                    'unset: the model joints', 'configure',
                                    kind=Tuple[str, ...], rule=DISTINCT_NAMES_RULE),
    'action_trajectory_field': ParamSpec('positions', 'JointTrajectory field used as the '
                                         'action', 'configure', choices=TRAJECTORY_FIELDS),
    'action_scale': ParamSpec([1.0], 'Action multiplier: one value for all dims or one per '
                              'dim (e.g. m/s -> model units; must match the model)', 'runtime',
                              rule=Rule(_scale_problem, '1 or action-dim values, float32')),
    'action_timeout': ParamSpec(0.5, 'A command older than this (s) counts as zero',
                                'runtime', 0.0, 3600.0),
    'action_alignment': ParamSpec('', 'Which command the transition from frame t uses: '
                                  '`at_or_before` (the latest received at or before the '
                                  'frame stamp) or `after_frame` (the first received in '
                                  '(t, t + window]; the worker waits for it at most the window, '
                                  'then holds the previous one and counts `action_late`); '
                                  'empty: the rule the checkpoint was trained with',
                                  'configure', choices=('', 'at_or_before', 'after_frame')),
    'action_alignment_window_s': ParamSpec(0.0, '`after_frame` window (s), shorter than '
                                           '`model_step_period`; 0: the checkpoint\'s',
                                           'configure', 0.0, 10.0),
    'publish_latent': ParamSpec(False, 'Publish `~/latent` (Float32MultiArray)', 'runtime'),
    'path_frame_id': ParamSpec('odom', 'frame_id of `~/predicted_path` and the path '
                               'markers: the odometry frame the predicted poses are in; '
                               'empty: the image frame', 'runtime'),
    'base_frame_id': ParamSpec('base_link', 'The robot base frame: frame_id of '
                               '`~/predicted_joint_trajectory` and the joint and arm markers '
                               '(joint-space outputs); empty: the image frame', 'runtime'),
    'publish_markers': ParamSpec(True, 'Publish `~/markers` (visualization_msgs/MarkerArray: '
                                 'predicted joints, base path, planar-arm end effector)',
                                 'runtime'),
    'marker_link_lengths': ParamSpec(None, 'Link lengths (m) of a planar serial chain driven by '
                                     'the first model joints, each rotating about z of the '
                                     'marker frame: `~/markers` then draws the predicted arm '
                                     'and end effector (the simulated arm: [0.30, 0.25, 0.16]); '
                                     'unset: no arm markers', 'runtime', kind=Tuple[float, ...],
                                     rule=Rule(_link_lengths_problem,
                                               'positive, finite, at most one per joint')),
    'surprise_window': ParamSpec(300, 'Frames in the running median that normalises '
                                 '`~/surprise`', 'runtime', 1, 100000,
                                 core='surprise.window'),
    'surprise_min_samples': ParamSpec(30, 'Frames before `~/surprise` is published '
                                      '(calibration; <= `surprise_window`)', 'runtime',
                                      1, 100000, core='surprise.min_samples'),
    'surprise_scale': ParamSpec(0.0, 'Fixed surprise divisor; 0: running median', 'runtime',
                                0.0, 1e9, core='surprise.fixed_scale'),
    'enabled': ParamSpec(True, 'Process frames (also set by the `~/enable` service)',
                         'runtime'),
    **shared('diagnostics_period', 'log_throttle_period'),
}

#: Snapshot of every parameter value: a frozen dataclass, one field per :data:`PARAMS` entry
#: (same name, type and default), so ``NodeSettings(horizon=5)`` and ``replace`` work.
NodeSettings = settings_class('NodeSettings', PARAMS, __name__,
                              'Snapshot of every world_model_node parameter value '
                              '(attribute names = parameter names).')

#: The core objects the ``core`` fields of :data:`PARAMS` name (``'surprise.window'``).
CORE_TARGETS = {'surprise': SurpriseNormalizer}


def descriptor(name: str) -> ParameterDescriptor:
    """The ``ParameterDescriptor`` of ``name`` (description, range, read-only)."""
    return parameter_descriptor(PARAMS[name])


def declare_parameters(node: Any) -> None:
    """Declare every parameter on ``node`` (overrides from YAML / command line apply).

    Raises:
        rclpy.exceptions.InvalidParameterValueException: An override is out of range.
        rclpy.exceptions.InvalidParameterTypeException: An override has the wrong type.
    """
    declare_table(node, PARAMS)


def read_settings(node: Any) -> Any:
    """Current parameter values of ``node`` as :data:`NodeSettings`."""
    return NodeSettings().with_updates(read_table(node, PARAMS))


def validate_value(name: str, value: Any) -> Optional[str]:
    """Check one value on its own; return the reason it is invalid, or None."""
    return check_value(PARAMS, name, value)


def surprise_arguments(settings: Any) -> Dict[str, Any]:
    """Keyword arguments of :class:`SurpriseNormalizer` (and its ``reconfigure``)."""
    return core_arguments(PARAMS, settings, 'surprise')


def validate_updates(updates: Mapping[str, Any], current: Any,
                     model: Optional[ModelFacts] = None) -> Optional[str]:
    """Validate a batch of changes against the current settings (and the loaded model).

    Args:
        updates: ``{name: new value}``, the whole batch.
        current: Settings before the batch.
        model: Facts of the loaded model, for cross-checks (None when unconfigured).

    Every value of the result is checked, the changed ones first, so ``updates`` empty
    checks the current settings: configure runs it that way, and a value from a parameter
    file (which rclpy only checks for type and range) gets the same rules as a change.

    Returns:
        None if the whole batch is valid, else the reason (the first problem found).
    """
    for name, value in updates.items():
        reason = validate_value(name, value)
        if reason:
            return reason
    new = current.with_updates(updates)
    for name in (n for n in settings_names() if n not in updates):
        reason = validate_value(name, getattr(new, name))
        if reason:
            return reason
    if new.surprise_min_samples > new.surprise_window:
        return (f'surprise_min_samples ({new.surprise_min_samples}) must not exceed '
                f'surprise_window ({new.surprise_window})')
    if new.stall_error_timeout < new.stale_timeout:
        return (f'stall_error_timeout ({new.stall_error_timeout}) must be >= stale_timeout '
                f'({new.stale_timeout})')
    if model is not None:
        return check_against_model(new, model)
    return None


def check_against_model(settings: Any, model: ModelFacts) -> Optional[str]:
    """Cross-check settings with the loaded model; return the reason of a mismatch or None."""
    scale = settings.action_scale
    if len(scale) not in (1, model.action_dim):
        return (f'action_scale has {len(scale)} values; the model action has '
                f'{model.action_dim} dims (use 1 or {model.action_dim})')
    source = settings.action_source
    if source in ('twist', 'twist_stamped') and len(settings.action_fields) != model.action_dim:
        return (f'action_fields lists {len(settings.action_fields)} fields '
                f'{list(settings.action_fields)}, the model action has {model.action_dim}')
    joints = settings.action_joint_names or model.joint_names
    if source == 'joint_trajectory' and len(joints) != model.action_dim:
        return (f'action_joint_names has {len(joints)} joints, the model action has '
                f'{model.action_dim}')
    links = settings.marker_link_lengths or ()
    if len(links) > len(model.joint_names):
        return (f'marker_link_lengths has {len(links)} links, the model has '
                f'{len(model.joint_names)} joints')
    if source == 'joint_delta' and len(model.joint_names) != model.action_dim:
        return (f'action_source joint_delta needs as many model joints '
                f'({len(model.joint_names)}) as action dims ({model.action_dim})')
    return None


def settings_names() -> List[str]:
    """Names of all parameters (declaration order)."""
    return list(PARAMS)
