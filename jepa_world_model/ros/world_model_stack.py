"""``world_model_stack``: planner_node and world_model_node in one process, one model.

Run as two processes, the nodes each load the checkpoint and each run the ViT on every
camera frame. Here they share one :class:`~jepa_world_model.core.shared_encoder.EncoderPool`:
when both load the same checkpoint file on the same device in the same dtype, the second
to configure shares the first's model, and a frame's ViT pass (online or target encoder)
runs once for both (``count.encodes`` and ``count.encode_cache_hits`` in each node's
``/diagnostics``). Each node keeps its own state (history, surprise normaliser, goal,
warm start), parameters, lifecycle and services, exactly as in a process of its own; nodes
loading different files load them separately, as before.

Each node spins on its own executor thread (:func:`~.node_main.run_nodes`), so a plan in
progress never delays the world model's callbacks. SIGINT/SIGTERM, an exception or the end
of the context take every node through its shutdown transition, planner_node first: its
final zero command goes out before anything else is torn down.

``--ros-args`` apply to both nodes: ``-p model_path:=...`` makes them load the same file,
parameter files are keyed by node name (``/**/planner_node:``, ``/**/world_model_node:``),
and ``-r __node:=...`` would give both the same name (rename one with
``-r planner_node:__node:=...``). Example::

    ros2 run jepa_world_model world_model_stack --ros-args \\
        --params-file config/planner.yaml --params-file config/world_model.yaml \\
        -p model_path:=/path/to/model.safetensors -p autostart:=true
"""

from .ros_env import ensure_ros_libraries

try:  # Must run before rclpy is imported: it may re-execute the interpreter.
    ensure_ros_libraries()
except RuntimeError as _exc:
    raise ImportError(str(_exc)) from _exc

import sys  # noqa: E402
from typing import List, Optional  # noqa: E402

from ..core.shared_encoder import EncoderPool  # noqa: E402
from .guarded_lifecycle import autostart  # noqa: E402
from .node_main import run_nodes  # noqa: E402
from .planner_node import PlannerNode  # noqa: E402
from .world_model_node import WorldModelNode  # noqa: E402

__all__ = ['main']


def main(args: Optional[List[str]] = None) -> int:
    """Entry point of ``ros2 run jepa_world_model world_model_stack``; always shuts down."""
    pool = EncoderPool()
    return run_nodes('world_model_stack',
                     [lambda: PlannerNode(encoder_pool=pool),
                      lambda: WorldModelNode(encoder_pool=pool)],
                     args, start=autostart, release=lambda node: node.release())


if __name__ == '__main__':
    sys.exit(main())
