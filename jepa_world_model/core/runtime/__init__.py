"""Running a trained world model on a robot's live inputs.

:class:`~.inference.WorldModelRuntime` (load, encode, predict, surprise) on the
:mod:`.devices` it names, with one loaded model and encode cache per process shared by its
users (:mod:`.shared_encoder`); the input rules and buffers both nodes apply
(:mod:`.input_rules`, :mod:`.streams`, :mod:`.state_sync`); the surprise signal
(:mod:`.surprise`). Pure PyTorch/numpy: no ROS imports.
"""
