"""The demo with the simulated arm: its driver (``policy``, ``nodes``), its kinematics and
camera projection (``kinematics``) and its animation (``overlay``); ``demo`` makes its nodes.

Only ``nodes`` imports rclpy; the rest is plain numpy, unit-tested in test/test_demo.py.
"""
