"""``world_model_node``: camera and joints in; predicted trajectory, path and surprise out.

The lifecycle node (:mod:`.node`), its frame pipeline (:mod:`.frame_pipeline`), where its
actions come from (:mod:`.action_sources`) and its parameters (:mod:`.parameters`).
"""
