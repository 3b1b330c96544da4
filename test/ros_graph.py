"""Helpers shared by the in-process real-DDS tests: a spinning rclpy graph and bounded waits.

Imported by test modules only after rclpy imported (their ``try`` block), so this file
never runs where ROS 2 is missing.

Why a *single*-threaded executor: with rclpy 7.1 (Jazzy), a ``MultiThreadedExecutor`` that
spins a timer node and a subscriber in one process delivered 14 of 60 timer ticks in 3 s
on our 2-core machines (the single-threaded one: 60 of 60; rclpy issue #1452 describes the
same starvation). The nodes' own ``main`` functions use the single-threaded executor too.

Why the spin loop catches and records: ``executor.spin()`` lets a callback's exception end
the spinning thread. A test harness that only swallowed it lost the executor silently, and
every later test of the module timed out waiting for messages it would never process (a CI
run failed that way, with no trace of the cause). Now the loop keeps spinning, keeps the
traceback in :attr:`Graph.errors`, and :meth:`Graph.raise_errors` fails the test it
happened in (the fixtures call it after each test), so a node callback that raises is a
visible defect, not a mystery timeout.
"""

import threading
import time
import traceback

import pytest
import rclpy
from rclpy.context import Context
from rclpy.exceptions import InvalidHandle
from rclpy.executors import ExternalShutdownException, ShutdownException, \
    SingleThreadedExecutor

SHUTDOWN_TIMEOUT_S = 5.0
SPIN_PERIOD_S = 0.1
DRAIN_TIMEOUT_S = 5.0


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
        self.errors = []              # tracebacks of callbacks that raised
        self.stale_handles = 0        # entities destroyed under the executor (harmless)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self):
        while not self._stop.is_set() and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=SPIN_PERIOD_S)
            except (ExternalShutdownException, ShutdownException):
                return
            except InvalidHandle:
                # An entity destroyed while it sat in the executor's wait set: a teardown
                # race of the test, not a fault of the node under test.
                self.stale_handles += 1
            except Exception:  # noqa: BLE001 - kept and reported by raise_errors
                if self._stop.is_set() or not self.context.ok():
                    return        # the context was shut down under the spinning executor
                self.errors.append(traceback.format_exc())

    def drain(self, timeout=DRAIN_TIMEOUT_S):
        """Return once the executor thread has finished whatever callback it was running.

        A task runs on the executor thread only between callbacks, so when it has run no
        callback of a node removed before this call is still in flight.
        """
        done = threading.Event()
        self.executor.create_task(done.set)
        self.executor.wake()
        return done.wait(timeout)

    def retire(self, node):
        """Remove ``node`` from the executor and wait until none of its callbacks runs."""
        self.executor.remove_node(node)
        self.drain()

    def raise_errors(self):
        """Fail with the tracebacks of callbacks that raised since the last call."""
        errors, self.errors = self.errors, []
        if errors:
            raise AssertionError('%d executor callback(s) raised:\n%s'
                                 % (len(errors), '\n'.join(errors)))

    def close(self):
        """Stop spinning (bounded) and shut the context down."""
        self._stop.set()
        self.executor.shutdown(timeout_sec=SHUTDOWN_TIMEOUT_S)
        self.thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        rclpy.try_shutdown(context=self.context)


@pytest.fixture(scope='module', name='graph')
def graph_fixture(ros_domain_id):
    """The module's graph spinning in a background thread. Importing it (and
    :func:`callbacks_do_not_raise`) into a test module makes it that module's ``graph``
    fixture; under its own name, test arguments named ``graph`` would shadow the import."""
    g = Graph(ros_domain_id)
    try:
        yield g
    finally:
        g.close()


@pytest.fixture(autouse=True)
def callbacks_do_not_raise(graph):
    """Fail the test in which any callback on the executor raised."""
    yield
    graph.raise_errors()
