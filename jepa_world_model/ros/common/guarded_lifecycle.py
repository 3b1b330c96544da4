"""The lifecycle node base of ``world_model_node`` and ``planner_node``.

:class:`GuardedLifecycleNode` is rclpy's ``LifecycleNode`` with two of its services made safe:

* ``change_state`` refuses (``success: false``, a warning in the log) a transition that is not
  available in the current state. rclpy 7.1 (Jazzy) raises ``RCLError`` out of the service
  callback instead, which ends the executor's spin and the process (rclpy issue #1209, fixed
  upstream by rclpy PR #1319, not in the Jazzy wheels): ``ros2 lifecycle set`` typed in the
  wrong state, or a lifecycle manager's retry, killed the node.
* ``set_parameters`` applies a request as one batch, through ``set_parameters_atomically``:
  rclpy sets a request's parameters one at a time, so one bad value left the others applied
  (and a pair valid only together, like ``num_elites`` with ``num_samples``, could not be set
  at all). Every result of a rejected request carries the reason; nothing of it is applied.
  A request that cannot be parsed is refused the same way instead of raising.

The services are rclpy's own, found through the public ``services`` list: only their
callbacks are wrapped; nothing rclpy's ``Node`` owns is replaced. :func:`autostart` is the
``autostart`` parameter's start-up hook and ``~/enable`` is served here for both nodes.

The lifecycle bookkeeping both nodes share is here too: the state name
(:attr:`~GuardedLifecycleNode.lifecycle_state`), a configure that fails with a reason
(:meth:`~GuardedLifecycleNode._fail`: logged, kept for ``/diagnostics``, everything
released), cleanup, shutdown and error, which release everything (the node's own
:meth:`~GuardedLifecycleNode.release`, which ends in
:meth:`~GuardedLifecycleNode._release_runtime`), the node clock in seconds and the
``/diagnostics`` publisher on a steady-clock timer.
"""

from typing import Any, Callable, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
from rclpy.callback_groups import CallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import ParameterException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_srvs.srv import SetBool
import torch

__all__ = ['GuardedLifecycleNode', 'autostart']

Handler = Callable[[Any, Any], Any]


class GuardedLifecycleNode(LifecycleNode):
    """A ``LifecycleNode`` whose ``change_state`` and parameter-set services cannot be used to
    crash it or to half-apply a batch (see the module docstring)."""

    def __init__(self, node_name: str, **kwargs: Any) -> None:
        """Create the node (rclpy creates its services), then wrap the two callbacks."""
        super().__init__(node_name, **kwargs)
        for srv in self.services:
            if srv.srv_type is ChangeState and srv.srv_name.endswith('/change_state'):
                srv.callback = self._refusing_invalid(srv.callback)
            elif srv.srv_type is SetParameters and srv.srv_name.endswith('/set_parameters'):
                srv.callback = self._serve_set_parameters
            elif srv.srv_type is SetParametersAtomically:
                srv.callback = self._serve_set_parameters_atomically
        self._state = 'unconfigured'
        self._config_error = ''   # why the last configure failed ('' if it did not)
        self.runtime: Any = None   # the loaded WorldModelRuntime while configured
        self._own_services: List[Any] = []   # not _services: that list is rclpy Node's

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def lifecycle_state(self) -> str:
        """'unconfigured', 'inactive', 'active' or 'finalized'."""
        return self._state

    def release(self) -> None:
        """Free what configure and activate created (idempotent); nodes extend it."""

    def _fail(self, reason: str) -> TransitionCallbackReturn:
        """End a configure that cannot succeed: log ``reason``, keep it for
        ``/diagnostics``, release what was made."""
        self._config_error = reason
        self.get_logger().error(f'configure failed: {reason}')
        self.release()
        return TransitionCallbackReturn.FAILURE

    def _release_to(self, state: str) -> TransitionCallbackReturn:
        """Release everything and record ``state`` (cleanup, shutdown, error)."""
        self.release()
        self._state = state
        return TransitionCallbackReturn.SUCCESS

    def _release_runtime(self) -> None:
        """Destroy the node's own services and drop the runtime (emptying the CUDA cache
        when it ran there)."""
        for srv in self._own_services:
            self.destroy_service(srv)
        self._own_services = []
        cuda = self.runtime is not None and self.runtime.device.type == 'cuda'
        self.runtime = None
        if cuda:
            torch.cuda.empty_cache()

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the model, publishers and services."""
        return self._release_to('unconfigured')

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything, from any state."""
        return self._release_to('finalized')

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: release everything and return to unconfigured."""
        return self._release_to('unconfigured')

    def _now(self) -> float:
        """The node clock in seconds (ROS time: follows /clock with use_sim_time)."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _start_diagnostics(self, period: float, publish: Callable[[], None],
                           callback_group: Optional[CallbackGroup] = None) -> None:
        """The ``/diagnostics`` publisher and a timer calling ``publish`` every ``period``
        seconds. Steady clock: diagnostics keep flowing while simulated time is paused or
        absent."""
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._diag_timer = self.create_timer(period, publish, callback_group=callback_group,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))

    def transition_refusal(self, transition: Transition) -> Optional[str]:
        """Why ``transition`` cannot be taken now, or None if it is available.

        rclpy takes the label when one is given, else the id; so does this check.
        """
        state = self._state_machine.current_state[1]
        available = self._state_machine.available_transitions   # (id, label, ...) tuples
        if transition.label:
            if any(t[1] == transition.label for t in available):
                return None
            what = f'{transition.label!r}'
        else:
            if any(t[0] == transition.id for t in available):
                return None
            what = f'id {transition.id}'
        names = ', '.join(f'{t[1]} ({t[0]})' for t in available) or 'none'
        return f'transition {what} is not available in state {state} (available: {names})'

    def _refusing_invalid(self, change_state: Handler) -> Handler:
        def guarded(request: ChangeState.Request, response: ChangeState.Response) -> Any:
            reason = self.transition_refusal(request.transition)
            if reason is None:
                return change_state(request, response)
            self.get_logger().warning(f'change_state refused: {reason}')
            response.success = False
            return response
        return guarded

    # -- parameters ------------------------------------------------------------------------
    def _set_batch(self, messages: List[Any]) -> SetParametersResult:
        """Validate and apply parameter messages as one batch; the one result."""
        try:
            params = [Parameter.from_parameter_msg(m) for m in messages]
            result = self.set_parameters_atomically(params)
        except (ParameterException, ValueError, TypeError) as exc:
            # Undeclared names (ParameterNotDeclaredException), unknown type ids.
            result = SetParametersResult(successful=False, reason=str(exc))
        if not result.successful and len(messages) > 1:
            result.reason = f'nothing of the batch was applied: {result.reason}'
        return result

    def _serve_set_parameters(self, request: SetParameters.Request,
                              response: SetParameters.Response) -> SetParameters.Response:
        result = self._set_batch(request.parameters)
        response.results = [SetParametersResult(successful=result.successful,
                                                reason=result.reason)
                            for _ in request.parameters]
        return response

    def _serve_set_parameters_atomically(
            self, request: SetParametersAtomically.Request,
            response: SetParametersAtomically.Response) -> SetParametersAtomically.Response:
        response.result = self._set_batch(request.parameters)
        return response

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> Any:
        """``~/enable``: sets the ``enabled`` parameter (validated like any other change)."""
        result = self.set_parameters([Parameter('enabled', value=bool(request.data))])[0]
        response.success = result.successful
        response.message = result.reason or ('enabled' if request.data else 'disabled')
        return response


def autostart(node: Any) -> None:
    """Configure and activate at start when the node's ``autostart`` setting says so."""
    if node.settings.autostart and node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
        node.trigger_activate()
