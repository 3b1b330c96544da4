"""The one ``main`` loop every node of the package runs: init, spin, always shut down.

Why the single-threaded executor: rclpy 7.1's ``MultiThreadedExecutor`` starves timers that
share a process with subscriptions (``benchmarks/bench_executors.py``: 1.7-6 of 20 timer
ticks per second), and each node's callbacks are short (model work runs on worker threads
or in one timer), so one executor thread is enough and costs the least CPU.
"""

from .ros_env import ensure_ros_libraries

try:  # Must run before rclpy is imported: it may re-execute the interpreter.
    ensure_ros_libraries()
except RuntimeError as _exc:
    raise ImportError(str(_exc)) from _exc

from typing import Callable, List, Optional, Tuple, Type  # noqa: E402

import rclpy  # noqa: E402
from rclpy._rclpy_pybind11 import RCLError  # noqa: E402
from rclpy.exceptions import ParameterException  # noqa: E402
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

__all__ = ['run_node', 'EXECUTOR_SHUTDOWN_TIMEOUT_S']

EXECUTOR_SHUTDOWN_TIMEOUT_S = 2.0


def run_node(name: str, make_node: Callable[[], Node], args: Optional[List[str]] = None,
             start: Optional[Callable[[Node], None]] = None,
             release: Optional[Callable[[Node], None]] = None,
             parameter_errors: Tuple[Type[BaseException], ...] = ()) -> int:
    """Create the node, spin it until Ctrl-C or shutdown, and always clean up.

    Args:
        name: Logger name for fatal errors.
        make_node: Builds the node (after ``rclpy.init``).
        args: Command-line arguments for ``rclpy.init``.
        start: Called once before spinning (e.g. lifecycle autostart).
        release: Called before ``destroy_node`` (free models, renderers, threads).
        parameter_errors: Extra exception types that mean an invalid parameter.

    Returns:
        0 on a clean stop, 2 on an invalid parameter.
    """
    rclpy.init(args=args)
    node: Optional[Node] = None
    executor = SingleThreadedExecutor()
    try:
        node = make_node()
        if start is not None:
            start(node)
        executor.add_node(node)
        executor.spin()
    except (ParameterException,) + tuple(parameter_errors) as exc:
        rclpy.logging.get_logger(name).fatal(f'invalid parameter: {exc}')
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        # A shutdown race inside rcl (context invalidated mid-publish) is a clean stop.
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            if release is not None:
                release(node)
            node.destroy_node()
        executor.shutdown(timeout_sec=EXECUTOR_SHUTDOWN_TIMEOUT_S)
        rclpy.try_shutdown()
    return 0
