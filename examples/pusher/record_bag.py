"""Record a random-exploration bag of the Pusher arm with the package's recorder.

    MUJOCO_GL=egl python examples/pusher/record_bag.py --out bags/pusher --episodes 80

Each episode starts from gymnasium's seeded reset (episode e: seed + e) and applies
piecewise-constant random torques (``RandomHoldPolicy``: each held 2-6 steps, half of them on
one joint only). The bag has ``/camera/image_raw`` (rgb8), ``/joint_states`` (the 7 arm
joints, positions and velocities), ``/commands`` (Float64MultiArray, the 7 torques, as a
``forward_effort_controller`` takes them), ``/contact`` and ``/collision``; every command is
stamped with the frame it was chosen on (docs/datasets.md, "Recording a simulated robot").
A robot recorded with ``ros2 bag record`` instead is read the same way; ``inspect`` then
measures how long after its frame each command comes (``action_alignment``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time

from jepa_world_model.bags.recording import RandomHoldPolicy, record
from jepa_world_model.bags.writer import RecorderTopics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pusher_robot import PusherRobot   # noqa: E402  (this example's own module)


def main(argv: list[str] | None = None) -> int:
    """Record; print a JSON summary (frames, messages, seconds)."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', type=Path, required=True, help='bag directory to create')
    p.add_argument('--episodes', type=int, default=80)
    p.add_argument('--steps', type=int, default=100, help='frames per episode (20 Hz)')
    p.add_argument('--image-size', type=int, default=64)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    robot = PusherRobot(args.image_size)
    topics = RecorderTopics(action='/commands', action_type='float64_multi_array',
                            contact='/contact', collision='/collision')
    started = time.monotonic()
    try:
        summary = record(robot, lambda seed: RandomHoldPolicy(robot.action_low,
                                                              robot.action_high, seed),
                         args.out, args.episodes, args.steps, topics, seed=args.seed,
                         info={'robot': 'gymnasium Pusher-v5', 'policy': 'random_hold',
                               'image_size': args.image_size})
    finally:
        robot.close()
    summary['seconds'] = round(time.monotonic() - started, 1)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
