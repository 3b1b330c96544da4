"""The demo with the simulated mobile base: its room and camera (``geometry``), its driver
(``policy``, ``nodes``), what it measures on the predicted path (``analysis``) and its
animation (``overlay``); ``demo`` holds the base's parameters, nodes and path analysis.

Only ``nodes`` imports rclpy; the rest is plain numpy, unit-tested in test/test_demo.py.
"""
