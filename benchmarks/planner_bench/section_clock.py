"""Where the time of one ``PlanningController.act()`` goes, without touching the core.

:func:`instrumented` replaces instance attributes of the objects ``act()`` reads at each
call with timed wrappers, and restores them afterwards:

* ``runtime.encoder.encode*`` -> ``encode`` (the ViT pass and the latent);
* ``controller.planner.plan`` -> ``planner_search`` (sampling, clamping, top-k, refit: the
  search's own work); the step and the objective it is handed are wrapped per call, so the
  model steps are counted and timed as ``rollouts`` whatever step the controller passes
  (``runtime.model.predict`` or a prepared kernel), and the objective's own sum as
  ``objective_sum``;
* the objective's parts (:class:`TimedObjective`): ``objective:<terms>`` for the part built
  at the goal (``Objective.fn``, or the anchored image-goal part), ``objective:obstacles``
  and ``objective:clearance`` for the parts built per plan from the scan or the scene, and
  ``objective_setup`` for building them (``Objective.at``);
* ``controller._step`` / ``controller._hold_step`` / ``runtime.model.predict`` outside the
  search ->
  ``command_delay_rollforward`` (``command_delay_steps``);
* ``controller._limited`` -> ``limits`` (the command limits on the plan);
* ``act()`` itself -> ``other``: what is left (input checks, scan to points, the plan's
  risk and disagreement figures, poses along the plan, tensor conversions).

Sections are exclusive: a section's time leaves out the sections called inside it, so the
sections of one ``act()`` add up to its wall time.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import replace
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

__all__ = ['SectionClock', 'TimedObjective', 'instrumented', 'OTHER', 'ROLLOUTS']

OTHER = 'other'
ROLLOUTS = 'rollouts'
DELAY = 'command_delay_rollforward'
# Terms Objective.at() adds per plan (the rest are inside Objective.fn).
_PER_PLAN_TERMS = ('obstacles',)


class SectionClock:
    """Exclusive wall time and call count of named sections of nested calls."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)
        self.calls: Dict[str, int] = defaultdict(int)
        self._inner: List[float] = []   # time in timed calls inside each open section

    def wrap(self, name: str, fn: Callable) -> Callable:
        """``fn`` timed as section ``name``; the wrapper keeps ``fn`` as ``__wrapped__``."""
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.seconds[name] += elapsed - self._inner.pop()
                self.calls[name] += 1
                if self._inner:
                    self._inner[-1] += elapsed
        timed.__wrapped__ = fn
        timed.section = name
        if hasattr(fn, 'held_steps'):   # a held-action rollout student: the planner reads it
            timed.held_steps = fn.held_steps
        return timed

    def reset(self) -> None:
        """Forget what was measured."""
        self.seconds.clear()
        self.calls.clear()


def _unwrapped(fn: Callable) -> Callable:
    """``fn`` without a :class:`SectionClock` wrapper (so a call is timed once)."""
    return fn.__wrapped__ if hasattr(fn, 'section') else fn


def _timed_builder(clock: SectionClock, name: str, build: Optional[Callable]
                   ) -> Optional[Callable]:
    """A builder of objective parts whose parts are timed as ``name``."""
    if build is None:
        return None

    def timed_build(*args: Any) -> Callable:
        return clock.wrap(name, build(*args))
    return timed_build


class TimedObjective:
    """A built ``Objective`` whose parts run as timed sections; everything else is the
    objective's own (``terms``, ``needs_obstacles``, ...)."""

    def __init__(self, objective: Any, clock: SectionClock) -> None:
        self.inner = objective
        in_fn = [t for t in objective.terms if t not in _PER_PLAN_TERMS
                 and not (t == 'clearance' and objective.scene_term is not None)]
        self.goal_section = 'objective:' + '+'.join(in_fn)
        self._timed = replace(
            objective, fn=clock.wrap(self.goal_section, objective.fn),
            anchored=_timed_builder(clock, self.goal_section, objective.anchored),
            scene_term=_timed_builder(clock, 'objective:clearance', objective.scene_term),
            obstacle_term=_timed_builder(clock, 'objective:obstacles',
                                         objective.obstacle_term))
        self._at = clock.wrap('objective_setup', self._timed.at)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def at(self, *args: Any, **kwargs: Any) -> Callable:
        """``Objective.at`` with every part timed."""
        return self._at(*args, **kwargs)


class _Patches:
    """Instance attributes replaced for a while, and put back as they were."""

    def __init__(self) -> None:
        self._saved: List[Tuple[Any, str, bool, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        own = name in vars(owner)
        self._saved.append((owner, name, own, vars(owner).get(name)))
        setattr(owner, name, value)

    def restore(self) -> None:
        for owner, name, own, value in reversed(self._saved):
            if own:
                setattr(owner, name, value)
            else:
                delattr(owner, name)
        self._saved.clear()


def _timed_plan(clock: SectionClock, plan: Callable) -> Callable:
    """``planner.plan`` with its step counted and timed as ``rollouts`` and its objective as
    ``objective_sum``."""
    def plan_with_timed_parts(z0: Any, step: Callable, objective: Callable, *args: Any,
                              **kwargs: Any) -> Any:
        return plan(z0, clock.wrap(ROLLOUTS, _unwrapped(step)),
                    clock.wrap('objective_sum', objective), *args, **kwargs)
    return clock.wrap('planner_search', plan_with_timed_parts)


@contextmanager
def instrumented(controller: Any, clock: SectionClock) -> Iterator[Callable]:
    """Time the parts of ``controller.act()`` on ``clock`` inside the block (see the module
    docstring). Yields the timed ``act`` (its own time is :data:`OTHER`); goals set inside
    the block are timed too. Everything is restored on exit."""
    patches = _Patches()
    runtime = controller.runtime
    try:
        for name in ('encode', 'encode_with_image_joints', 'encode_with_scene'):
            if hasattr(runtime.encoder, name):
                patches.set(runtime.encoder, name,
                            clock.wrap('encode', getattr(runtime.encoder, name)))
        for owner, name in ((controller, '_step'), (controller, '_hold_step'),
                            (runtime.model, 'predict')):
            if hasattr(owner, name):
                patches.set(owner, name, clock.wrap(DELAY, getattr(owner, name)))
        patches.set(controller.planner, 'plan', _timed_plan(clock, controller.planner.plan))
        patches.set(controller, '_limited', clock.wrap('limits', controller._limited))
        set_goal = controller.set_goal

        def set_timed_goal(*args: Any, **kwargs: Any) -> Any:
            built = set_goal(*args, **kwargs)
            controller.objective = TimedObjective(controller.objective, clock)
            return built
        patches.set(controller, 'set_goal', set_timed_goal)
        if controller.objective is not None:
            controller.objective = TimedObjective(controller.objective, clock)
        yield clock.wrap(OTHER, controller.act)
    finally:
        patches.restore()
        if isinstance(controller.objective, TimedObjective):
            controller.objective = controller.objective.inner
