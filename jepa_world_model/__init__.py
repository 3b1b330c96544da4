"""jepa_world_model: a JEPA world model for ROS 2 robots.

The package has two layers with imports in one direction:

* ``jepa_world_model.core``: pure PyTorch/numpy (models, masks, losses, EMA, planner, data,
  training). It never imports rclpy or any ROS message package.
* ``jepa_world_model.ros``: the thin ROS 2 layer (nodes and message <-> array converters).

Around them: ``sim`` (MuJoCo robots), ``bags`` (rosbag2 recording and reading), ``demo`` and
``experiments`` (the demo and the closed-loop planning evaluation, which start the nodes as
processes), ``cli`` (the ``jepa-world-model`` command, dispatching to one module per
sub-command in ``commands``; their shared data loading is ``episode_sources``), and
``launch_support`` (helpers for the launch files only: it imports launch_ros, so nothing
else imports it).
"""

__version__ = '0.1.0'
