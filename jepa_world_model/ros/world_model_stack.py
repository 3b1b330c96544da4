"""``world_model_stack``: planner_node and world_model_node in one process, one model.

Run as two processes, the nodes each load the checkpoint and each run the ViT on every
camera frame. Here they share one
:class:`~jepa_world_model.core.runtime.shared_encoder.EncoderPool`:
when both load the same checkpoint file on the same device in the same dtype, the second
to configure shares the first's model, and a frame's ViT pass (online or target encoder)
runs once for both (``count.encodes`` and ``count.encode_cache_hits`` in each node's
``/diagnostics``). Each node keeps its own state (history, surprise normaliser, goal,
warm start), parameters, lifecycle and services, exactly as in a process of its own; nodes
loading different files load them separately, as before.

Each node spins on its own executor thread (:func:`~.common.node_main.run_nodes`), so a plan in
progress never delays the world model's callbacks. SIGINT/SIGTERM, an exception or the end
of the context take every node through its shutdown transition, planner_node first: its
final zero command goes out before anything else is torn down.

``--ros-args`` apply to both nodes: ``-p model_path:=...`` makes them load the same file,
parameter files are keyed by node name (``/**/planner_node:``, ``/**/world_model_node:``),
and ``-r __node:=...`` would give both the same name (rename one with
``-r planner_node:__node:=...``). Example::

    ros2 run jepa_world_model world_model_stack --ros-args \\
        --params-file config/ros/planner.yaml --params-file config/ros/world_model.yaml \\
        -p model_path:=/path/to/model.safetensors -p autostart:=true
"""

import sys
from typing import List, Optional

from ..core.runtime.shared_encoder import EncoderPool
from .common.guarded_lifecycle import autostart
from .common.node_main import run_nodes
from .planner.node import PlannerNode
from .world_model.node import WorldModelNode

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
