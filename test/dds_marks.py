"""The module marks of the tests that time real DDS traffic on a shared 2-core machine.

Not a test module, and it needs no ROS: a test module assigns one of these lists to its
``pytestmark`` before it knows whether rclpy imports (conftest.py then skips, or with
``JWM_REQUIRE_ROS=1`` fails, the ``ros``-marked tests). The reruns are
pytest-rerunfailures': a timing flake gets another try, a real fault fails every try.
"""

import pytest

#: The node under test runs in the test process (test/ros_graph.py), fed through DDS:
#: two more tries.
IN_PROCESS_NODE_MARKS = [pytest.mark.ros, pytest.mark.dds_timing,
                         pytest.mark.flaky(reruns=2, reruns_delay=2)]

#: The nodes run in child processes (test/lifecycle_driver.py) whose start-up dominates the
#: run time: one more try, with fresh processes.
CHILD_PROCESS_MARKS = [pytest.mark.ros, pytest.mark.dds_timing,
                       pytest.mark.flaky(reruns=1, reruns_delay=1)]
