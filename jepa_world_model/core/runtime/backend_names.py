"""The names of the inference backends, declared once (no torch import: command-line help
and option checks read them without loading a model; core/runtime/backends.py builds them).
"""

__all__ = ['BACKENDS']

#: ``inference_backend`` values: ``torch`` (the model itself), ``onnxruntime`` (its ONNX
#: export, float32, CPU) and ``onnxruntime_int8`` (the same with int8 dynamics).
BACKENDS = ('torch', 'onnxruntime', 'onnxruntime_int8')
