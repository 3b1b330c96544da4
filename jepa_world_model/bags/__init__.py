"""rosbag2 recording and datasets, through rosbags (pure Python): no rclpy, no message packages.

* :mod:`.writer`: :class:`~.writer.BagRecorder` writes standard ROS 2 Jazzy messages.
* :mod:`.reader`: :func:`~.reader.read_bag_episodes` turns bags into aligned episodes.
* :mod:`.recording`: drives a simulated robot with an exploration policy into a bag.
"""
