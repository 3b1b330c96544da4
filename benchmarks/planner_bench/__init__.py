"""The planner benchmark's parts (``benchmarks/bench_planner.py`` is the command).

* :mod:`.rigs`: planner_node's settings for a goal kind, the :class:`PlanningController`
  they build, and a trace of real observations and goals from the simulated robots;
* :mod:`.section_clock`: exclusive wall time of the parts of one ``act()`` (encode,
  rollouts, each objective term, limits, the rest), by wrapping instance attributes;
* :mod:`.grid`: warm-up, timed ``act()`` calls and the breakdown for each search size and
  thread count;
* :mod:`.profiling`: torch.profiler and cProfile top entries for one configuration;
* :mod:`.compare`: this planner next to a patch-token predictor and the oracle pixel planner;
* :mod:`.synthetic`: the residual-MLP stand-in, for contrast.
"""
