"""Deployment: ONNX export of a world model's encoder, dynamics and read-outs, and the
onnxruntime sessions that run them (docs/deployment.md). No ROS."""
