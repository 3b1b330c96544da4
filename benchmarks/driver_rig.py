"""The base of the node benchmarks' driver rigs (bench_node_latency, bench_planner_soak,
bench_encode_once): an rclpy node in this process, spun by its own executor thread, that
plays a camera to the node under test and keeps that node's latest ``/diagnostics``.

rclpy is imported inside the methods: the benchmarks set up their private ROS graph
(environment variables) before anything of ROS loads.
"""

import threading
import time

import numpy as np

#: Distinct random frames the camera plays in turn.
CAMERA_FRAMES = 8


class SpinningDriver:
    """``self.node`` (set by the subclass) spun by its own executor thread."""

    def _start_spinning(self):
        from rclpy.executors import SingleThreadedExecutor
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self):
        from rclpy.executors import ExternalShutdownException, ShutdownException
        try:
            self.executor.spin()
        except (ExternalShutdownException, ShutdownException):
            pass

    def close(self):
        """Stop spinning and destroy the node."""
        self.executor.shutdown(timeout_sec=2.0)
        self.thread.join(timeout=2.0)
        self.node.destroy_node()

    # -- camera ------------------------------------------------------------------------------
    def _start_camera(self, width, height, rate_hz, encoding='rgb8'):
        """Publish :data:`CAMERA_FRAMES` random [height, width, 3] frames in turn on ``image``
        (sensor-data QoS) at ``rate_hz``, each stamped just before it goes out (the latency
        reference). ``published`` counts them, ``last_image_wall`` is the wall time of the
        last one, and ``camera_on = False`` stops the camera."""
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        from jepa_world_model.ros.common.image_conversion import rgb_to_image_msg

        rng = np.random.default_rng(0)
        self.frames = [rgb_to_image_msg(rng.integers(0, 256, (height, width, 3),
                                                     dtype=np.uint8), encoding)
                       for _ in range(CAMERA_FRAMES)]
        for frame in self.frames:
            frame.header.frame_id = 'camera_optical'
        self.published, self.camera_on, self.last_image_wall = 0, True, None
        self.image_pub = self.node.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.node.create_timer(1.0 / rate_hz, self._next_frame)

    def _next_frame(self):
        if not self.camera_on:
            return
        msg = self.frames[self.published % len(self.frames)]
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.image_pub.publish(msg)
        self.published += 1
        self.last_image_wall = time.time()

    # -- diagnostics -------------------------------------------------------------------------
    def _watch_diagnostics(self, status_name):
        """Keep in ``diag`` the values of the newest ``/diagnostics`` status named
        ``status_name``, with its ``_level`` and ``_message`` (None until one arrives)."""
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        self.diag = None
        self._status_name = status_name
        self.node.create_subscription(
            DiagnosticArray, '/diagnostics', self._on_diagnostics,
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.name.startswith(self._status_name):
                diag = {kv.key: kv.value for kv in status.values}
                diag['_level'] = int.from_bytes(status.level, 'little')
                diag['_message'] = status.message
                self.diag = diag
