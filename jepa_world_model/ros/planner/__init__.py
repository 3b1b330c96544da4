"""``planner_node``: recommends robot commands by planning in the world model's latent space.

The lifecycle node (:mod:`.node`), its goal and plan-timer callbacks around the core
planning controller (:mod:`.callbacks`), goals (:mod:`.goals`), inputs (:mod:`.inputs`),
the static map (:mod:`.map_input`), command outputs (:mod:`.outputs`) and its parameters
(:mod:`.parameters`, :mod:`.parameter_table`).
"""
