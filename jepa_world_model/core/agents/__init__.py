"""Other agents (people) from the robot's own scan: detection, tracking and a learned,
action-conditioned prediction of where they will be (pure torch/numpy, no ROS)."""
