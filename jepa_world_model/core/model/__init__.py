"""The world model itself: what it is made of and what it reads out.

The ViT encoder (:mod:`.vit`, :mod:`.layers`), the action-conditioned predictor and the
read-out heads (:mod:`.world_model`, :mod:`.range_readout`), their configuration
(:mod:`.model_config`), what the proprio vector ``s`` holds (:mod:`.state_layout`), the
I-JEPA/V-JEPA masks (:mod:`.masks`), the EMA target (:mod:`.ema`), and the heads fitted on
its frozen latents (:mod:`.risk_head`, :mod:`.probes`). Pure PyTorch: no ROS imports.
"""
