"""ROS 2 layer: nodes and message <-> array converters."""
