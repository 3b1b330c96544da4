"""jepa_world_model: a JEPA world model for ROS 2 robots.

The package has two layers with imports in one direction:

* ``jepa_world_model.core``: pure PyTorch/numpy (models, masks, losses, EMA, planner, data,
  training). It never imports rclpy or any ROS message package.
* ``jepa_world_model.ros``: the thin ROS 2 layer (nodes and message <-> array converters).
"""

__version__ = '0.1.0'
