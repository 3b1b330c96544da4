"""Reproducible experiments, each run through a ``jepa-world-model`` sub-command (no rclpy at
import; docs/closed_loop.md has the results).

* :mod:`.closed_loop`: ``plan-eval``, success rates of ``planner_node`` driving ``sim_node``
  over ROS 2 topics (its nodes start as child processes: ``node_runs``);
* :mod:`.offline_reach`: ``offline-reach``, the same tasks in process without ROS, with the
  planning controller planner_node runs;
* :mod:`.goal_diagnostics` and :mod:`.risk_diagnostics`: ``diagnose goals|risk``, offline
  checks of the planner's goal-image and risk objectives.
"""
