"""The end-to-end demo: a simulated arm, ``world_model_node`` and an analysis of its output.

``run_demo`` (ROS orchestration) starts ``sim_node`` and ``world_model_node`` as processes,
drives the arm and records every topic over DDS; ``analysis``, ``plots``, ``overlay``,
``kinematics`` and ``policy`` are pure functions and classes without rclpy, unit-tested on
synthetic data (test/test_demo.py). docs/demo.md explains the outputs.
"""
