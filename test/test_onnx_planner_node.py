"""planner_node with ``inference_backend: onnxruntime`` over real DDS plans as the torch node
does (docs/deployment.md; issue #15 item 6).

Two planner nodes of the same tiny arm checkpoint, one per backend, each in its own
namespace with its own feeder, get the same joint goal and the same camera frames (the
same message: pixels and stamp) while their joint states stream. The search is seeded
(``seed``) and re-seeded at the goal, so with the same frames in the same order both nodes
draw the same samples; the backends differ only by float32 rounding in the model's graphs.
Each node plans once per frame (frames at ~4 Hz, plan timer at 10 Hz), so the commands of a
frame (matched by the image stamp they carry) are compared: within COMMAND_TOL, and inside
the command limits.
"""

import math
import time

import numpy as np
import pytest

try:
    from ros_feeders import graph_fixture, one_thread  # noqa: F401
    from ros_feeders import save_tiny, stamp_key
    from ros_graph import wait_for
    from test_planner_node import close_node, command_values, Feeder, make_node

    from jepa_world_model.ros.common.image_conversion import rgb_to_image_msg
except ImportError:   # conftest skips (or with JWM_REQUIRE_ROS=1 fails) the ros-marked tests
    pass

from dds_marks import IN_PROCESS_NODE_MARKS
from jepa_world_model.core.checkpoint import load_checkpoint
from jepa_world_model.core.export.onnx_export import export_onnx

pytest.importorskip('onnxruntime')
pytestmark = IN_PROCESS_NODE_MARKS

#: Largest |command difference| (rad/s) between the backends for one frame. The command is
#: the mean of the elite samples, and both searches draw the same samples: while float32
#: rounding of the rollouts does not reorder the elites, the commands are equal; a different
#: search would differ by the sampling spread (init_std 0.2 here).
COMMAND_TOL = 1e-3
#: Relative difference of the plan costs between the backends (measured: up to 2e-3).
COST_RTOL = 1e-2
FRAMES = 8
LIMIT = 0.5


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """(the shared tiny arm checkpoint, its ONNX export directory)."""
    ckpt = save_tiny(tmp_path_factory, 'onnx_planner', 'tiny', 3)
    onnx_dir = ckpt.parent / 'onnx'
    export_onnx(load_checkpoint(ckpt).model, onnx_dir, int8=False)
    return ckpt, onnx_dir


def test_onnxruntime_planner_publishes_the_torch_planners_commands(graph, exported):
    ckpt, onnx_dir = exported
    nodes, feeders = {}, {}
    try:
        for backend in ('torch', 'onnxruntime'):
            ns = f'/onnx_planner_{backend}'
            # A generous plan deadline: both searches run all their iterations (a search
            # cut short by a loaded machine would differ for that reason alone).
            nodes[backend] = make_node(graph, ckpt, ns, inference_backend=backend,
                                       onnx_dir=str(onnx_dir), seed=11, init_std=0.2,
                                       max_plan_time=2.0, stale_timeout=5.0,
                                       command_min=[-LIMIT], command_max=[LIMIT],
                                       acceleration_max=[10.0])
            feeders[backend] = Feeder(graph, ns)   # JointTrajectory commands: stamped
        assert nodes['onnxruntime'].runtime.backend.name == 'onnxruntime'
        assert nodes['torch'].runtime.backend.name == 'torch'
        # The planner's rollouts run in the backend's graph, not torch's module.
        assert type(nodes['onnxruntime'].controller._step).__name__ == 'OnnxStep'
        for feeder in feeders.values():
            feeder.joints_on.set()   # joint states only; the frames are sent below
            assert wait_for(lambda f=feeder: f.goal_joint_pub.get_subscription_count() > 0)
            feeder.goal_joints({'joint_b': -0.5, 'joint_a': 0.5})
        assert wait_for(lambda: all(n.goal is not None for n in nodes.values()))
        time.sleep(0.2)   # joint-state history on both sides of the first frame
        clock, rng, keys = feeders['torch'].node.get_clock(), np.random.default_rng(5), []
        for _ in range(FRAMES):
            image = rgb_to_image_msg(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8),
                                     'bgr8')
            image.header.stamp, image.header.frame_id = clock.now().to_msg(), 'camera_optical'
            for feeder in feeders.values():
                feeder.image_pub.publish(image)
            keys.append(stamp_key(image.header.stamp))
            time.sleep(0.25)
        assert wait_for(lambda: all(n.counters.get('plans') >= FRAMES - 2
                                    for n in nodes.values())), \
            {name: n.counters.snapshot() for name, n in nodes.items()}
        time.sleep(0.3)   # the last frame's plan
        # Commands carry the stamp of the frame they were planned from (stops carry the
        # time they were sent, matching no frame).
        by_frame = {name: {stamp_key(m.header.stamp): command_values(m)
                           for m in feeder.out['cmd']} for name, feeder in feeders.items()}
        both = [k for k in keys if k in by_frame['torch'] and k in by_frame['onnxruntime']]
        # A frame one node dropped (a loaded machine) changes its warm start and previous
        # command from then on: compare the frames up to the first one not planned by both.
        common = []
        for k in keys:
            if k not in both:
                break
            common.append(k)
        differences = [float(np.max(np.abs(by_frame['torch'][k] - by_frame['onnxruntime'][k])))
                       for k in common]
        print('max |command onnxruntime - torch| per frame:', differences,
              [by_frame['torch'][k].tolist() for k in common])
        assert len(common) >= 3 and max(differences) < COMMAND_TOL, (differences, both)
        for commands in by_frame.values():
            for v in commands.values():
                assert np.all(np.abs(v) <= LIMIT + 1e-9) and all(math.isfinite(x) for x in v)
        # The plan costs (~/plan_figures z, stamped) come from each backend's encoder and
        # rollouts: close, rounding apart (frames' costs differ by tens of percent).
        costs = {name: {stamp_key(m.header.stamp): m.vector.z for m in feeder.out['figures']}
                 for name, feeder in feeders.items()}
        pairs = np.array([[costs['torch'][k], costs['onnxruntime'][k]] for k in common
                          if k in costs['torch'] and k in costs['onnxruntime']])
        print('plan costs torch, onnxruntime', pairs.tolist())
        assert len(pairs) >= 3
        np.testing.assert_allclose(pairs[:, 1], pairs[:, 0], rtol=COST_RTOL)
        # Not trivially equal: the plans move the joints, by different commands per frame.
        moving = [by_frame['torch'][k] for k in common]
        assert len({tuple(v) for v in moving}) > 1 and any(np.any(v != 0) for v in moving)
    finally:
        for feeder in feeders.values():
            feeder.close()
        for node in nodes.values():
            close_node(graph, node)
