"""The in-process test graph (test/ros_graph.py) survives and reports a raising callback.

Before, a callback that raised ended the executor thread without a word, and every later
test in the module timed out waiting for messages nothing processed any more.
"""

import pytest

try:
    import rclpy

    from ros_graph import Graph, wait_for
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

pytestmark = pytest.mark.ros


def test_a_raising_callback_is_recorded_and_spinning_goes_on(ros_domain_id):
    graph = Graph(ros_domain_id)
    try:
        node = rclpy.create_node('raiser', context=graph.context)
        ticks = []

        def tick():
            ticks.append(len(ticks))
            if len(ticks) == 1:
                raise ValueError('first tick fails')

        node.create_timer(0.02, tick)
        graph.executor.add_node(node)
        assert wait_for(lambda: len(ticks) >= 5, 5.0), ticks   # spinning went on
        graph.retire(node)
        count = len(ticks)
        assert graph.drain()
        assert len(ticks) == count                               # retired: no more ticks
        node.destroy_node()
        assert len(graph.errors) == 1 and 'first tick fails' in graph.errors[0]
        with pytest.raises(AssertionError, match='first tick fails'):
            graph.raise_errors()
        graph.raise_errors()                                     # reported once, then clear
    finally:
        graph.close()
    assert not graph.thread.is_alive()
