"""The end-to-end demo: a simulated arm or mobile base, ``world_model_node`` and an analysis.

``run_demo`` (ROS orchestration) starts ``sim_node`` and ``world_model_node`` as processes,
drives the arm or the mobile base (``base_demo``, ``base_nodes``) and records every topic
over DDS; ``analysis``, ``plots``, ``overlay``, ``kinematics``, ``policy`` and their base
counterparts ``base_analysis``, ``base_overlay``, ``base_geometry`` and ``base_policy`` are
pure functions and classes without rclpy, unit-tested on synthetic data
(test/test_demo.py). docs/demo.md explains the outputs.
"""
