"""Reaching in process, without ROS: the planning controller planner_node runs
(``core/planning``), called between simulator steps on the seeded tasks of ``plan-eval``.

Ablation harnesses next to ``plan-eval`` (the measurement of record, docs/closed_loop.md):
no plan is late or stale, so they isolate the model and the objective from ROS timing.

* :mod:`.arm`: goal images (or joint goals) with the arm, per objective;
* :mod:`.base`: pose goals with the mobile base, per risk term, map and command delay.

``jepa-world-model offline-reach --robot arm|mobile_base ...`` runs them
(``commands/offline_reach.py``) and prints the report as JSON.
"""
