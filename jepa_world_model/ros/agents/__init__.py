"""``agent_predictor_node``: people tracked in the scan and their predicted positions."""
