"""MuJoCo robots and exploration policies (no ROS): shapes, determinism, bounds, contacts.

Rendering is on only where a test looks at images (EGL offscreen, a few ms per 64x64 frame
once warm); the other tests step without rendering to stay fast on a shared CI machine.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from jepa_world_model.sim.exploration import make_policy, POLICY_KINDS
from jepa_world_model.sim.robots import ArmSim, make_robot, MobileBaseSim, SimObservation
from jepa_world_model.sim.robots import mujoco   # imported after MUJOCO_GL is set

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROBOT_NAMES = ('arm', 'mobile_base')


@pytest.fixture(scope='module', params=ROBOT_NAMES)
def robot(request):
    """One robot per kind for the whole module (creating the GL context costs ~0.3 s)."""
    sim = make_robot(request.param, image_size=64)
    try:
        yield sim
    finally:
        sim.close()


def _roll(sim, seed, actions, render=True):
    """Reset with ``seed``, apply ``actions``; return the observations (reset included)."""
    out = [sim.reset(seed, render=render)]
    for action in actions:
        out.append(sim.step(action, render=render))
    return out


def test_make_robot_types_and_errors():
    """make_robot maps names to classes and rejects unknown names and bad sizes."""
    with pytest.raises(ValueError, match='unknown robot'):
        make_robot('hexapod')
    with pytest.raises(ValueError, match='image_size'):
        make_robot('arm', image_size=2)
    assert ArmSim.joint_names == ('joint1', 'joint2', 'joint3')
    assert MobileBaseSim.joint_names == ('wheel_left_joint', 'wheel_right_joint')


def test_observation_shapes(robot):
    """Reset and step give images, joint states and the robot-specific fields."""
    obs = robot.reset(0)
    assert isinstance(obs, SimObservation) and obs.time == 0.0
    assert obs.image.shape == (64, 64, 3) and obs.image.dtype == np.uint8
    joints = len(robot.joint_names)
    assert obs.q.shape == obs.dq.shape == (joints,) and obs.q.dtype == np.float64
    assert robot.action_low.shape == robot.action_high.shape == (len(robot.action_names),)
    assert np.all(robot.action_low < robot.action_high)
    obs = robot.step(np.zeros(robot.action_dim))
    assert obs.time == pytest.approx(robot.dt) and 0.01 <= robot.dt <= 0.5
    assert isinstance(obs.contact, bool) and isinstance(obs.collision, bool)
    if robot.name == 'arm':
        assert obs.base_pose is None and obs.base_twist is None
        assert obs.target_pos.shape == (3,)
        assert np.hypot(*obs.target_pos[:2]) < 0.71   # within reach
    else:
        assert obs.base_pose.shape == (3,) and obs.base_twist.shape == (2,)
        assert obs.target_pos is None
    fx, fy, cx, cy, width, height = robot.camera_intrinsics()
    assert (width, height) == (64, 64) and cx == cy == 32.0
    assert fx == fy and 50.0 < fx < 200.0


def test_deterministic_images_and_states(robot):
    """Same seed + same actions: identical; another instance too; another seed: not."""
    rng = np.random.default_rng(3)
    actions = rng.uniform(robot.action_low, robot.action_high, size=(6, robot.action_dim))
    first = _roll(robot, 11, actions)
    second = _roll(robot, 11, actions)
    with make_robot(robot.name) as other:
        third = _roll(other, 11, actions)
    for a, b, c in zip(first, second, third):
        for x in (b, c):
            assert np.array_equal(a.image, x.image)
            assert np.array_equal(a.q, x.q) and np.array_equal(a.dq, x.dq)
            assert a.time == x.time and a.collision == x.collision
            for field in ('base_pose', 'base_twist', 'target_pos'):
                va, vx = getattr(a, field), getattr(x, field)
                assert (va is None and vx is None) or np.array_equal(va, vx)
    different = _roll(robot, 12, actions[:1])
    assert not np.array_equal(first[0].image, different[0].image)
    assert not np.array_equal(first[0].q, different[0].q) or robot.name == 'mobile_base'


def test_actions_are_clipped_and_validated(robot):
    """Out-of-range actions act exactly like the bounds; bad shapes and NaN raise."""
    robot.reset(4, render=False)
    with pytest.raises(ValueError, match='must have'):
        robot.step(np.zeros(robot.action_dim + 1), render=False)
    with pytest.raises(ValueError, match='non-finite'):
        robot.step(np.full(robot.action_dim, np.nan), render=False)
    huge = np.where(np.arange(robot.action_dim) % 2 == 0, 100.0, -100.0)
    bound = np.where(huge > 0, robot.action_high, robot.action_low)
    robot.reset(4, render=False)
    clipped = robot.step(huge, render=False)
    robot.reset(4, render=False)
    at_bound = robot.step(bound, render=False)
    assert np.array_equal(clipped.q, at_bound.q) and np.array_equal(clipped.dq, at_bound.dq)
    if robot.name == 'arm':
        # The velocity servos track the command (joint1 has the most inertia to swing).
        assert np.allclose(clipped.dq, bound, rtol=0.15)
    else:
        assert clipped.base_twist == pytest.approx(bound, abs=0.1)
        # Wheel speeds follow the base's motion: v = r (wl + wr) / 2.
        wheel_v = robot.WHEEL_RADIUS * clipped.dq.mean()
        assert wheel_v == pytest.approx(clipped.base_twist[0], abs=1e-6)


def test_arm_hits_obstacle():
    """Swinging the stretched-out arm toward the green block gives a collision."""
    with make_robot('arm') as sim:
        obs = sim.reset(0, render=False)
        obstacle_angle = math.atan2(*sim.model.geom('obstacle').pos[1::-1])
        collided = False
        for _ in range(60):
            goal = np.array([obstacle_angle, 0.0, 0.0])
            obs = sim.step(np.clip(3.0 * (goal - obs.q), sim.action_low, sim.action_high),
                           render=False)
            if obs.collision:
                collided = obs.contact
                break
        assert collided, 'the arm never touched the obstacle'


def test_base_hits_wall_and_stalls():
    """Driving forward eventually hits a wall or obstacle; the robot then stops moving."""
    with make_robot('mobile_base') as sim:
        obs = sim.reset(0, render=False)
        steps_in_collision = 0
        for _ in range(150):   # 15 s at 0.8 m/s: far more than the 3 m room
            obs = sim.step([sim.action_high[0], 0.0], render=False)
            steps_in_collision += obs.collision
            if steps_in_collision >= 5:
                break
        assert steps_in_collision >= 5 and obs.contact
        assert abs(obs.base_twist[0]) < 0.2, 'pushing through a wall'
        assert np.all(np.abs(obs.base_pose[:2]) < 1.5)


def test_base_scan_measures_the_room():
    """The planar scan reads the true distances: a wall straight ahead and behind, people
    and furniture too, and never the robot's own wheels or heading marker."""
    with make_robot('mobile_base') as sim:
        sim.reset(0, render=False)
        mocap = sim.data.mocap_pos
        mocap[sim._people, :2] = [[1.2, 1.2], [1.2, -1.2]]  # out of the way
        sim.data.qpos[sim._base_q] = [0.0, 0.0, 0.0]        # centre, facing +x
        mujoco.mj_forward(sim.model, sim.data)
        ranges, angles = sim.scan(), sim.scan_angles()
        assert ranges.shape == angles.shape == (sim.SCAN_BEAMS,)
        ahead, behind = np.argmin(np.abs(angles)), np.argmin(np.abs(np.abs(angles) - np.pi))
        assert ranges[ahead] == pytest.approx(sim.ROOM_HALF_EXTENT, abs=0.01)
        assert ranges[behind] == pytest.approx(sim.ROOM_HALF_EXTENT, abs=0.01)
        assert ranges.min() > sim.ROBOT_RADIUS + 0.1, 'the scan sees the robot itself'
        # A person 0.6 m ahead: the front beam returns its near surface.
        mocap[sim._people[0], :2] = [0.6, 0.0]
        mujoco.mj_forward(sim.model, sim.data)
        assert sim.scan()[ahead] == pytest.approx(0.6 - sim.PERSON_RADIUS, abs=0.02)
        obs = sim.step([0.0, 0.0], render=False)
        assert obs.scan is not None and obs.scan.shape == (sim.SCAN_BEAMS,)


def test_base_static_map_marks_walls_and_furniture():
    """The occupancy grid holds the walls and each obstacle, and leaves the floor free."""
    with make_robot('mobile_base') as sim:
        occupied, origin = sim.occupancy_grid(0.05)

        def at(x, y):
            col, row = np.floor((np.array([x, y]) - origin) / 0.05).astype(int)
            return bool(occupied[row, col])
        assert at(-1.6, 0.0) and at(1.6, 0.3) and at(0.0, 1.6) and at(0.0, -1.6)
        for x, y, _ in sim.obstacle_circles:
            assert at(x, y)
        assert not at(0.0, 0.0) and not at(1.2, -1.2) and not at(-1.2, 0.2)


@pytest.mark.parametrize('name', ROBOT_NAMES)
def test_robot_is_visible(name):
    """Moving the robot changes a robot-sized patch of pixels, nothing else.

    Two rollouts from one seed, one with a zero action: the people move identically in
    both, so every pixel that differs is due to the robot's own motion.
    """
    with make_robot(name) as sim:
        move = np.array([1.0, -1.0, 1.0]) if name == 'arm' else np.array([0.6, 1.0])
        still = _roll(sim, 7, [np.zeros(sim.action_dim)] * 5)[-1]
        moved = _roll(sim, 7, [move] * 5)[-1]
    changed = np.any(still.image != moved.image, axis=2)
    assert changed.sum() >= 25, 'robot motion barely changes the image'
    assert changed.sum() < 0.25 * changed.size, 'far too much of the image changed'
    if name == 'mobile_base':
        # The robot's blue body shows up as a sizeable blob (8 px across at 64x64).
        rgb = moved.image.astype(int)
        blue = (rgb[..., 2] > 150) & (rgb[..., 0] < 80) & (rgb[..., 1] < 120)
        assert blue.sum() >= 20
        assert not np.allclose(still.base_pose, moved.base_pose)


def test_people_walk_on_their_own():
    """The two people move without any robot action."""
    with make_robot('mobile_base') as sim:
        sim.reset(2, render=False)
        before = sim.people_positions()
        for _ in range(10):
            sim.step([0.0, 0.0], render=False)
        moved = np.linalg.norm(sim.people_positions() - before, axis=1)
    assert np.all(moved > 0.2)   # >= 0.3 m/s for 1 s


@pytest.mark.parametrize('kind', POLICY_KINDS)
def test_policies_visit_varied_states(robot, kind):
    """Every policy moves the robot through a wide range of states within 150 steps (200
    for seek_wait, which stands still for about a quarter of them)."""
    obs = robot.reset(0, render=False)
    if kind == 'scripted_open_loop' and robot.name != 'tabletop':
        with pytest.raises(ValueError, match='tabletop'):    # only the tabletop grasps
            make_policy(kind, robot, seed=0)
        return
    policy = make_policy(kind, robot, seed=0)
    states, collisions = [], 0
    for _ in range(200 if kind == 'seek_wait' else 150):
        action = policy(obs)
        assert action.shape == (robot.action_dim,)
        assert np.all(action >= robot.action_low) and np.all(action <= robot.action_high)
        obs = robot.step(action, render=False)
        states.append(obs.q if obs.base_pose is None else obs.base_pose[:2])
        collisions += obs.collision
    spread = np.ptp(np.array(states), axis=0)
    if robot.name == 'arm':
        assert np.all(spread > 1.0), spread             # rad, every joint
    else:
        assert np.hypot(*spread) > 1.0, spread          # m, across the room
    assert 0 < collisions < 0.5 * len(states) or kind == 'random'


def test_seek_wait_holds_exact_zero_commands_that_seek_never_gives():
    """seek_wait's waits are runs of 5-20 exact zero commands (the robot then stands still),
    a sizeable share of the steps; seek's noise never commands zero."""
    with make_robot('mobile_base') as sim:
        runs = {}
        for kind in ('seek', 'seek_wait'):
            obs = sim.reset(0, render=False)
            policy, zero, speeds = make_policy(kind, sim, seed=3), [], []
            for _ in range(400):
                action = policy(obs)
                zero.append(not np.any(action))
                obs = sim.step(action, render=False)
                if zero[-1]:
                    speeds.append(np.abs(obs.dq).max())
            lengths, n = [], 0
            for z in zero + [False]:
                if z:
                    n += 1
                elif n:
                    lengths.append(n)
                    n = 0
            runs[kind] = (lengths, speeds)
    assert runs['seek'][0] == []
    lengths, speeds = runs['seek_wait']
    # The last wait may be cut by the end of the 400 steps.
    assert len(lengths) >= 3 and all(5 <= k <= 20 for k in lengths[:-1]), lengths
    assert 0.1 < sum(lengths) / 400 < 0.5
    assert np.median(speeds) < 1e-3    # a zero command stops the wheels within a step


def test_make_policy_errors_and_seeding():
    """Unknown kinds raise; one seed gives one action sequence."""
    with make_robot('arm') as sim:
        with pytest.raises(ValueError, match='unknown policy'):
            make_policy('greedy', sim)
        obs = sim.reset(0, render=False)
        a = [make_policy('noisy', sim, 9)(obs) for _ in range(2)]
        b = make_policy('noisy', sim, 10)(obs)
    assert np.array_equal(a[0], a[1]) and not np.array_equal(a[0], b)


_NO_ROS_IMPORT = r'''
import importlib.abc, sys

class Guard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.split('.')[0]
        if top in ('rclpy', 'cv_bridge') or top.endswith(('_msgs', '_srvs')) \
                or name.startswith('jepa_world_model.ros'):
            raise ImportError('sim must not import ' + name)
        return None

sys.meta_path.insert(0, Guard())
import jepa_world_model.sim.robots, jepa_world_model.sim.exploration
print('OK')
'''


def test_sim_imports_without_ros():
    """jepa_world_model.sim is pure Python + MuJoCo: importable where ROS is refused."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    result = subprocess.run([sys.executable, '-c', _NO_ROS_IMPORT], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and 'OK' in result.stdout, result.stdout + result.stderr
