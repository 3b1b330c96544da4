"""The end-to-end demo: a simulated arm or mobile base, ``world_model_node`` and an analysis.

``run_demo`` (ROS orchestration) starts ``sim_node`` and ``world_model_node`` as processes
(``jepa_world_model.node_runs``), drives the robot and records every topic over DDS with
the shared :class:`~.recorder.RecorderNode`. What both robots share is here: ``analysis``
(joint prediction errors, surprise), ``plots`` and the drawing helpers of ``overlay``. What
differs lives in ``arm/`` and ``base/`` (driver policy and node, geometry, animation; the
base's predicted-path analysis). Everything except the nodes is plain numpy without rclpy,
unit-tested on synthetic data (test/test_demo.py). docs/demo.md explains the outputs.
"""
