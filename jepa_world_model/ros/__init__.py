"""ROS 2 layer: the nodes and their message <-> array glue.

* :mod:`.common`: what both nodes share: the input layer (images, joint states, odometry,
  counted rejects), lifecycle and diagnostics helpers, parameter tables, ``run_node``.
* :mod:`.world_model`: ``world_model_node`` (camera and joints in, predictions out).
* :mod:`.planner`: ``planner_node`` (goals and inputs in, limited commands out).
* :mod:`.sim_node` (the embedded MuJoCo simulator), :mod:`.world_model_stack` (both nodes in
  one process), :mod:`.parameter_docs` (the docs' parameter tables).

The ROS bootstrap runs here, once: a package's ``__init__`` runs before any of its modules,
so every module below imports rclpy and the message packages normally. It must come before
the first rclpy import because it may re-execute the interpreter with the ROS 2 wheels'
libraries on ``LD_LIBRARY_PATH`` (:mod:`jepa_world_model.ros_env`, which lives outside this
package so it can be imported without triggering the bootstrap).
"""

from ..ros_env import ensure_ros_libraries

try:
    ensure_ros_libraries()
except RuntimeError as _exc:
    raise ImportError(str(_exc)) from _exc
