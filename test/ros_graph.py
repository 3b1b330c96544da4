"""Helpers shared by the in-process real-DDS tests: a spinning rclpy graph and bounded waits.

Imported by test modules only after rclpy imported (their ``try`` block), so this file
never runs where ROS 2 is missing.

Why a *single*-threaded executor: with rclpy 7.1 (Jazzy), a ``MultiThreadedExecutor`` that
spins a timer node and a subscriber in one process delivered 14 of 60 timer ticks in 3 s
on our 2-core machines (the single-threaded one: 60 of 60; rclpy issue #1452 describes the
same starvation). The nodes' own ``main`` functions use the single-threaded executor too.
"""

import threading
import time

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor

SHUTDOWN_TIMEOUT_S = 5.0


def wait_for(predicate, timeout=10.0, poll=0.02):
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(poll)


class Graph:
    """One rclpy context whose executor spins in a background thread."""

    def __init__(self, domain_id):
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self):
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - the context is shut down under a spinning executor
            pass

    def close(self):
        """Stop spinning (bounded) and shut the context down."""
        self.executor.shutdown(timeout_sec=SHUTDOWN_TIMEOUT_S)
        self.thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        rclpy.try_shutdown(context=self.context)
