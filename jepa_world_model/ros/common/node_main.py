"""The one ``main`` loop every node of the package runs: init, spin, always shut down.

Why the single-threaded executor: rclpy 7.1's ``MultiThreadedExecutor`` starves timers that
share a process with subscriptions (``benchmarks/bench_executors.py``: 1.7-6 of 20 timer
ticks per second), and each node's callbacks are short (model work runs on worker threads
or in one timer), so one executor thread is enough and costs the least CPU.

Why own signal handlers: rclpy's (``rclpy.init``'s default) shut the context down inside
the signal, so nothing could be published after it: planner_node's last command stayed the
one the robot was moving with. Here SIGINT and SIGTERM only ask the spin loop to stop (it
polls every ``SIGNAL_POLL_S``); then a lifecycle node takes its shutdown transition while
the context still works (planner_node sends its final zero command), and everything is
destroyed. Both signals are handled even when the process inherited SIGINT as ignored, as
background processes of a CI job do. An exception that ends the spin takes the same way out
before it propagates.

:func:`run_nodes` runs several nodes in one process (``world_model_stack``) the same way,
each with its own single-threaded executor on its own thread, like rclcpp's
``component_container_isolated``: one node's long callback (a plan) never delays another
node's callbacks, so each keeps the timing it has in a process of its own. The way out
takes the nodes in the order given (planner_node first: its final zero command goes out
before anything else is torn down).
"""

import signal
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type

import rclpy
from rclpy._rclpy_pybind11 import InvalidHandle, RCLError
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

__all__ = ['run_node', 'run_nodes', 'EXECUTOR_SHUTDOWN_TIMEOUT_S', 'SIGNAL_POLL_S',
           'STOP_SIGNALS']

EXECUTOR_SHUTDOWN_TIMEOUT_S = 2.0
SIGNAL_POLL_S = 0.1      # longest wait between a stop signal and the start of the way out
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopRequest:
    """Signal handler that records the stop request; the spin loop polls it."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None

    def __call__(self, signum: int, frame: Any) -> None:
        self.signum = signum


def _install(handler: Any) -> Dict[int, Any]:
    """Install ``handler`` for the stop signals; the handlers it replaced.

    Only the main thread may set handlers; elsewhere (an embedding application) the
    application's handling stays as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}


def _leave_lifecycle(node: Node, name: str) -> None:
    """A lifecycle node not yet finalized takes its shutdown transition (from any primary
    state): it releases what it holds; planner_node sends its final zero command first."""
    if not isinstance(node, LifecycleNode):
        return
    try:
        node.trigger_shutdown()
    except (RCLError, InvalidHandle) as exc:
        # Already finalized, or the context is gone: nothing can be published any more.
        rclpy.logging.get_logger(name).debug(f'no shutdown transition at exit: {exc}')


def _run(name: str, args: Optional[List[str]],
         parameter_errors: Tuple[Type[BaseException], ...],
         serve: Callable[[_StopRequest], None], tear_down: Callable[[], None]) -> int:
    """What both runners share: ``rclpy.init`` with the stop handlers installed, ``serve``
    until it returns (a stop was asked for) or raises, then always ``tear_down``, shut rclpy
    down and put the previous handlers back.

    Returns:
        0 on a clean stop, 2 on an invalid parameter.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = _StopRequest()
    previous = _install(stop)
    try:
        serve(stop)
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
        tear_down()
        rclpy.try_shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def run_node(name: str, make_node: Callable[[], Node], args: Optional[List[str]] = None,
             start: Optional[Callable[[Node], None]] = None,
             release: Optional[Callable[[Node], None]] = None,
             parameter_errors: Tuple[Type[BaseException], ...] = ()) -> int:
    """Create the node, spin it until SIGINT, SIGTERM or shutdown, and always clean up.

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
    nodes: List[Node] = []
    executors: List[SingleThreadedExecutor] = []

    def serve(stop: _StopRequest) -> None:
        executors.append(SingleThreadedExecutor())   # made after rclpy.init: it needs it
        nodes.append(make_node())
        if start is not None:
            start(nodes[0])
        executors[0].add_node(nodes[0])
        while stop.signum is None and rclpy.ok():
            executors[0].spin_once(timeout_sec=SIGNAL_POLL_S)

    def tear_down() -> None:
        _tear_down(nodes, name, release)
        for executor in executors:
            executor.shutdown(timeout_sec=EXECUTOR_SHUTDOWN_TIMEOUT_S)

    return _run(name, args, parameter_errors, serve, tear_down)


def _tear_down(nodes: Sequence[Node], name: str,
               release: Optional[Callable[[Node], None]]) -> None:
    """The way out, node by node in order: shutdown transition, release, destroy."""
    for node in nodes:
        _leave_lifecycle(node, name)
        if release is not None:
            release(node)
        node.destroy_node()


class _Spinner:
    """One node's executor, spun on its own thread until ``halt`` is set or the context
    ends; an exception out of a callback is kept for the main thread and halts all."""

    def __init__(self, node: Node, halt: threading.Event) -> None:
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(node)
        self.error: Optional[BaseException] = None
        self._halt = halt
        self.thread = threading.Thread(target=self._spin, daemon=True,
                                       name=f'spin_{node.get_name()}')
        self.thread.start()

    def _spin(self) -> None:
        try:
            while not self._halt.is_set() and rclpy.ok():
                self.executor.spin_once(timeout_sec=SIGNAL_POLL_S)
        except ExternalShutdownException:
            pass
        except Exception as exc:  # noqa: BLE001 - re-raised by the main thread after the way out
            self.error = exc
        finally:
            self._halt.set()


def run_nodes(name: str, makers: Sequence[Callable[[], Node]],
              args: Optional[List[str]] = None,
              start: Optional[Callable[[Node], None]] = None,
              release: Optional[Callable[[Node], None]] = None,
              parameter_errors: Tuple[Type[BaseException], ...] = ()) -> int:
    """:func:`run_node` for several nodes in one process (see the module docstring).

    Args:
        name: Logger name for fatal errors.
        makers: Build the nodes (after ``rclpy.init``), in the order of the way out.
        args: Command-line arguments for ``rclpy.init`` (they apply to every node).
        start: Called once per node before spinning (e.g. lifecycle autostart).
        release: Called per node before ``destroy_node``.
        parameter_errors: Extra exception types that mean an invalid parameter.

    Returns:
        0 on a clean stop, 2 on an invalid parameter.
    """
    nodes: List[Node] = []
    halt = threading.Event()
    spinners: List[_Spinner] = []

    def serve(stop: _StopRequest) -> None:
        for make in makers:
            nodes.append(make())
        if start is not None:
            for node in nodes:
                start(node)
        spinners.extend(_Spinner(node, halt) for node in nodes)
        while stop.signum is None and not halt.is_set() and rclpy.ok():
            halt.wait(timeout=SIGNAL_POLL_S)
        error = next((s.error for s in spinners if s.error is not None), None)
        if error is not None:
            raise error

    def tear_down() -> None:
        halt.set()
        for spinner in spinners:   # a callback in progress (a plan) ends first
            spinner.thread.join(timeout=EXECUTOR_SHUTDOWN_TIMEOUT_S)
        _tear_down(nodes, name, release)
        for spinner in spinners:
            spinner.executor.shutdown(timeout_sec=EXECUTOR_SHUTDOWN_TIMEOUT_S)

    return _run(name, args, parameter_errors, serve, tear_down)
