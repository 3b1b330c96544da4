"""Reproducible experiments that run the package's nodes end to end (no rclpy at import).

* :mod:`.closed_loop`: ``jepa-world-model plan-eval``, success rates of ``planner_node``
  driving ``sim_node`` over ROS 2 topics (docs/closed_loop.md).
"""
