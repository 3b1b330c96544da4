"""The input layer ``world_model_node`` and ``planner_node`` share: one implementation each.

* :mod:`.rejects`: :class:`~.rejects.InputError` (a refused message and the counter it is
  counted under) and :class:`~.rejects.RejectLog` (count every reject, log it throttled).
* :mod:`.images`: raw ``Image`` and ``CompressedImage`` input (``image_transport``), the
  newest-frame slot with its counters, the pixel limit checked before decoding, and the
  conversion to the model's RGB input.
* :mod:`.state_inputs`: ``JointState`` and ``Odometry`` messages into one
  :class:`~jepa_world_model.core.runtime.state_sync.StateSync` (one pose format, one interpolation
  rule, the clock-reset, future-stamp and ``max_abs_input`` rules of
  :mod:`~jepa_world_model.core.runtime.input_rules`).

The pure logic (buffers, interpolation, staleness rules) is in ``core``; only the message
conversion is here. Constants both nodes use are defined below.
"""

#: Longest wait (s) for a node's lock (model, planner) before the caller gives up and says
#: so: a callback must never block an executor thread indefinitely.
LOCK_TIMEOUT_S = 1.0
