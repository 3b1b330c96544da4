"""Training a world model: data in, losses, the resumable trainer, evaluation.

Episodes and batches (:mod:`.data`, :mod:`.synthetic`), the JEPA losses (:mod:`.losses`),
one training step and the trainer (:mod:`.trainer`), several processes (:mod:`.distributed`),
and what training is judged by (:mod:`.metrics`, :mod:`.evaluation`). Pure PyTorch/numpy: no
ROS imports.
"""
