"""Embedded MuJoCo robots (a planar arm, a differential-drive base) for data and demos.

Pure Python + MuJoCo + numpy: nothing here imports rclpy or ROS messages. The ROS face of
these robots is :mod:`jepa_world_model.ros.sim_node`. Importing :mod:`.robots` selects
headless EGL rendering (``MUJOCO_GL=egl``) unless the environment already chose a backend.
"""
