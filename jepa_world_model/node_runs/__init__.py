"""Running this package's nodes as child processes, shared by ``demo`` and ``experiments``.

* :mod:`.processes`: the children's environment (a private ``ROS_DOMAIN_ID``, one thread),
  their ``--ros-args`` and :class:`~.processes.NodeProcess`, a node in a child process with
  bounded SIGINT -> SIGTERM -> SIGKILL shutdown;
* :mod:`.models`: the checkpoint the nodes load (the user's or the robot's shipped model),
  checked against the robot before anything starts.

No rclpy at import: the callers bootstrap ROS (``ensure_ros_libraries``) themselves.
"""
