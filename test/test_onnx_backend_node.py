"""world_model_node with ``inference_backend: onnxruntime`` over real DDS gives the torch
node's predictions (docs/deployment.md).

Two nodes of the same checkpoint, one per backend, each in its own namespace with its own
feeder, get the same frames (same pixels), the same constant joint state and the same
command; the trajectory each publishes for a frame depends on nothing else (not on timing:
the joints do not move). Frames both nodes processed are compared: joint positions within
FLOAT32_TOL. Fast: the module's tiny 32 px model.
"""

import time

import pytest

try:
    from geometry_msgs.msg import Twist
    from ros_feeders import graph_fixture, one_thread  # noqa: F401
    from ros_graph import wait_for
    from test_world_model_node import close_node, Feeder, make_node
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import IN_PROCESS_NODE_MARKS
from jepa_world_model.core.checkpoint import load_checkpoint
from jepa_world_model.core.export.onnx_export import export_onnx
from tiny_models import save_tiny

pytest.importorskip('onnxruntime')
pytestmark = IN_PROCESS_NODE_MARKS

FLOAT32_TOL = 1e-4
JOINTS = {'extra_joint': 0.0, 'joint_b': 0.25, 'joint_a': -0.4}


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """(checkpoint, its ONNX export directory) of a tiny model with joints joint_a/b."""
    folder = tmp_path_factory.mktemp('onnx_node')
    ckpt = save_tiny(folder / 'tiny.safetensors', seed=7)
    export_onnx(load_checkpoint(ckpt).model, folder / 'onnx', int8=False)
    return ckpt, folder / 'onnx'


def test_onnxruntime_node_publishes_the_torch_nodes_predictions(graph, exported):
    ckpt, onnx_dir = exported
    nodes, feeders = {}, {}
    try:
        for backend in ('torch', 'onnxruntime'):
            ns = f'/onnx_node_{backend}'
            nodes[backend] = make_node(graph, ckpt, ns, horizon=5, max_skew=0.5,
                                       inference_backend=backend, onnx_dir=str(onnx_dir))
            feeders[backend] = Feeder(graph, ns)
        assert nodes['onnxruntime'].runtime.backend.name == 'onnxruntime'
        assert nodes['torch'].runtime.backend.name == 'torch'
        keys = {name: [] for name in feeders}
        for feeder in feeders.values():
            cmd = Twist()
            cmd.linear.x, cmd.angular.z = 0.5, -0.2
            feeder.cmd_pub.publish(cmd)
        for i in range(8):
            for name, feeder in feeders.items():
                # The joints stand still, so either node's interpolation gives this state.
                for _ in range(3):
                    feeder.joint_state(names=list(JOINTS), positions=list(JOINTS.values()))
                    time.sleep(0.01)
                keys[name].append(feeder.image(seed=i))
            time.sleep(0.1)
        assert wait_for(lambda: all(len(f.out['trajectory']) >= 4 for f in feeders.values()))
        time.sleep(0.3)   # the last frames' predictions
        compared = []
        for i in range(8):
            found = [feeders[n].predictions_for(keys[n][i]) for n in feeders]
            if not all(found):
                continue   # dropped by one of the nodes (a loaded machine)
            torch_msg, onnx_msg = found[0][0], found[1][0]
            diff = max(abs(a - b) for p, q in zip(torch_msg.points, onnx_msg.points)
                       for a, b in zip(p.positions, q.positions))
            compared.append(diff)
        print('max |positions onnxruntime - torch| per frame:', compared)
        assert len(compared) >= 3, compared
        assert max(compared) < FLOAT32_TOL, compared
        # Not trivially equal: the frames' predictions differ from each other.
        firsts = [feeders['torch'].predictions_for(k) for k in keys['torch']]
        positions = {tuple(m[0].points[0].positions) for m in firsts if m}
        assert len(positions) > 1
    finally:
        for feeder in feeders.values():
            feeder.close()
        for node in nodes.values():
            close_node(graph, node)
