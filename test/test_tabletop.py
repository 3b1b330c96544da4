"""The tabletop manipulation robot (issue #13 item 1): physics that decides whether a grasp
holds, pushes that move the block, a distractor nothing controls, stable episodes, and object
poses recorded as ground truth beside (never inside) the robot's state."""

import numpy as np
import pytest

from jepa_world_model.bags.recording import make_policy, record, topics_for
from jepa_world_model.sim.robots import make_robot
from jepa_world_model.sim.robots import mujoco   # imported after MUJOCO_GL is set
from jepa_world_model.sim.tabletop import OBJECT_NAMES, TabletopSim
from jepa_world_model.sim.tabletop_materials import CUBE_MATERIALS, CubeMaterial, draw_material
from jepa_world_model.sim.tabletop_policies import HOLD_CHECK_STEPS, ScriptedTabletopPolicy

GRASP_ONLY = (0.0, 1.0, 0.0)
PUSH_ONLY = (1.0, 0.0, 0.0)


def _cube(mass, friction):
    """A TabletopSim whose cube always has this mass [kg] and friction."""
    class Fixed(TabletopSim):
        CUBE_MATERIALS = (CubeMaterial('fixed', (0.5, 0.5, 0.5, 1.0), (mass, mass),
                                       (friction, friction)),)
    return Fixed(image_size=32)


def _run(robot, policy, steps, seed):
    obs = robot.reset(seed, render=False)
    for _ in range(steps):
        obs = robot.step(policy(obs), render=False)
    return obs


@pytest.mark.parametrize('mass, friction, held', [(0.06, 1.0, True), (0.9, 0.2, False)])
def test_a_light_grippy_cube_stays_in_the_hand_and_a_heavy_slippery_one_slips(
        mass, friction, held):
    robot = _cube(mass, friction)
    outcomes = []
    for seed in (1, 2):
        policy = ScriptedTabletopPolicy(robot, seed, task_weights=GRASP_ONLY)
        _run(robot, policy, 75, seed)
        judged = [a.held for a in policy.attempts if a.held is not None]
        assert judged, 'no grasp was judged within 75 steps'
        outcomes.append(judged[0])
    robot.close()
    assert outcomes == [held, held]


def test_each_episode_draws_a_material_whose_colour_and_physics_go_together():
    """The cube's colour is its material's, its mass and friction are inside that material's
    ranges, and the material is reported as a label (never in the robot's state)."""
    robot = make_robot('tabletop', image_size=32)
    by_name = {m.name: m for m in CUBE_MATERIALS}
    seen = set()
    for seed in range(24):
        obs = robot.reset(seed, render=False)
        material = by_name[obs.labels['cube_material']]
        seen.add(material.name)
        assert robot.cube_material == material.name
        np.testing.assert_allclose(robot.model.geom_rgba[robot._cube_geom], material.rgba)
        assert material.mass_range[0] <= robot.cube_mass <= material.mass_range[1]
        assert material.friction_range[0] <= robot.cube_friction <= material.friction_range[1]
        assert robot.model.body_mass[robot._cube_body] == pytest.approx(robot.cube_mass)
    robot.close()
    assert seen == set(by_name), seen
    # The colours differ (the look is what tells the materials apart).
    colours = np.array([m.rgba[:3] for m in CUBE_MATERIALS])
    gaps = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
    assert gaps[~np.eye(len(colours), dtype=bool)].min() > 0.3


def test_the_look_predicts_the_grasp_mostly_steel_slips_and_rubber_holds():
    """Scripted grasps of a steel cube slip and of a rubber cube hold, at the middle of
    their ranges and at the corners of the ranges nearest the other outcome."""
    by_name = {m.name: m for m in CUBE_MATERIALS}
    steel, rubber = by_name['steel'], by_name['rubber']
    cases = [(steel, np.sqrt(np.prod(steel.mass_range)), np.mean(steel.friction_range), False),
             (steel, steel.mass_range[0], steel.friction_range[1], False),   # lightest, grippiest
             (rubber, np.sqrt(np.prod(rubber.mass_range)), np.mean(rubber.friction_range), True),
             (rubber, rubber.mass_range[1], rubber.friction_range[0], True)]  # heaviest, slickest
    for material, mass, friction, held in cases:
        robot = _cube(float(mass), float(friction))
        policy = ScriptedTabletopPolicy(robot, 1, task_weights=GRASP_ONLY)
        _run(robot, policy, 75, 1)
        robot.close()
        judged = [a.held for a in policy.attempts if a.held is not None]
        assert judged and judged[0] is held, (material.name, judged)


def test_material_draws_are_reproducible_and_bad_ranges_are_refused():
    a = draw_material(np.random.default_rng(4))
    b = draw_material(np.random.default_rng(4))
    assert a == b
    with pytest.raises(ValueError, match='mass_range'):
        CubeMaterial('bad', (0, 0, 0, 1), (0.2, 0.1), (0.5, 0.6))
    with pytest.raises(ValueError, match='rgba'):
        CubeMaterial('bad', (0, 0, 2, 1), (0.1, 0.2), (0.5, 0.6))
    with pytest.raises(ValueError, match='no cube materials'):
        draw_material(np.random.default_rng(0), ())


def test_pushes_move_the_block_and_the_distractor_ignores_the_robot():
    robot = make_robot('tabletop', image_size=32)
    moved = []
    for seed in (3, 4, 5):
        start = robot.reset(seed, render=False).objects['block'][:2].copy()
        end = _run(robot, ScriptedTabletopPolicy(robot, seed, task_weights=PUSH_ONLY), 60, seed)
        moved.append(float(np.linalg.norm(end.objects['block'][:2] - start)))
    assert sum(m > 0.03 for m in moved) >= 2, moved
    # Two different command sequences from the same seed: the robot ends elsewhere, the
    # distractor at the same place (it follows its own random path, touches nothing).
    paths = []
    for sign in (1.0, -1.0):
        obs = robot.reset(7, render=False)
        for _ in range(20):
            obs = robot.step([sign * 0.8, sign * 0.2, -0.1, 0.02], render=False)
        paths.append((obs.q.copy(), obs.objects['distractor'].copy()))
    assert np.abs(paths[0][0] - paths[1][0]).max() > 0.1
    np.testing.assert_array_equal(paths[0][1], paths[1][1])
    robot.close()


def test_same_seed_and_commands_give_identical_frames_and_poses():
    runs = []
    for _ in range(2):
        robot = make_robot('tabletop', image_size=32)
        obs = robot.reset(11)
        policy = make_policy('noisy', robot, 11)
        frames = [obs.image]
        for _ in range(5):
            obs = robot.step(policy(obs))
            frames.append(obs.image)
        runs.append((np.stack(frames), obs.q, obs.objects))
        robot.close()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    for name in OBJECT_NAMES:
        np.testing.assert_array_equal(runs[0][2][name], runs[1][2][name])
    assert runs[0][1].shape == (4,)          # the state is the robot's joints only


def test_scripted_episodes_stay_finite_and_record_both_grasp_outcomes():
    robot = make_robot('tabletop', image_size=32)
    outcomes = []
    for seed in range(6):
        policy = make_policy('scripted', robot, seed)
        obs = _run(robot, policy, 120, seed)
        warnings = sum(robot.data.warning[w].number for w in (
            mujoco.mjtWarning.mjWARN_BADQACC, mujoco.mjtWarning.mjWARN_BADQVEL,
            mujoco.mjtWarning.mjWARN_BADQPOS))
        assert warnings == 0, f'seed {seed}: the simulation diverged'
        for pose in obs.objects.values():
            assert np.all(np.isfinite(pose)) and np.abs(pose[:2]).max() < 1.0
        outcomes += [a.held for a in policy.attempts if a.held is not None]
    robot.close()
    assert True in outcomes and False in outcomes, outcomes
    assert HOLD_CHECK_STEPS > 0


def test_recording_writes_object_poses_as_ground_truth_topics(tmp_path):
    robot = make_robot('tabletop', image_size=32)
    topics = topics_for('tabletop', robot)
    assert topics.objects == '/ground_truth'
    summary = record(robot, lambda seed: make_policy('scripted', robot, seed), tmp_path / 'bag',
                     episodes=1, steps=12, topics=topics, start_ns=10**18)
    robot.close()
    counts = summary['messages']
    assert all(counts[f'/ground_truth/{name}'] == 12 for name in OBJECT_NAMES), counts
    assert counts['/joint_states'] == 12
    assert counts['/ground_truth/cube_material'] == 12
    from jepa_world_model.experiments.tabletop_data import object_labels
    stamps, texts = object_labels([tmp_path / 'bag'])['cube_material']
    assert len(stamps) == 12 and stamps[0] == 10**18
    robot = make_robot('tabletop', image_size=32)
    expected = robot.reset(0, render=False).labels['cube_material']   # episode 0: seed 0
    robot.close()
    assert set(texts.tolist()) == {expected}


def test_project_puts_each_object_on_its_own_pixels_in_the_camera_image():
    """SimRobot.project: the block's centre lands on green pixels, the cube's on its
    material's colour; a point behind the camera has no pixel."""
    robot = TabletopSim(image_size=64)
    try:
        obs = robot.reset(3)
        poses = robot.object_poses()
        material = {m.name: m for m in CUBE_MATERIALS}[obs.labels['cube_material']]
        for name, colour in (('block', None), ('cube', material.rgba[:3])):
            u, v = robot.project(poses[name][:3])
            assert 0 <= u < 64 and 0 <= v < 64
            pixel = obs.image[int(v), int(u)].astype(float) / 255
            if colour is None:
                assert pixel[1] > pixel[0] + 0.2 and pixel[1] > pixel[2] + 0.2   # green
            else:
                assert np.abs(pixel - np.asarray(colour)).max() < 0.25
        cam = robot.model.camera(robot.camera).id
        behind = robot.data.cam_xpos[cam] + robot.data.cam_xmat[cam].reshape(3, 3)[:, 2]
        assert np.all(np.isnan(robot.project(behind)))
        assert robot.project(np.zeros((2, 5, 3))).shape == (2, 5, 2)
    finally:
        robot.close()


def test_open_loop_grasps_command_the_same_close_and_lift_whatever_the_cube_does():
    """``scripted_open_loop``: over the close and the judged part of the lift the commands
    of a grasp that held and of one that slipped are the same (the feedback policy's are
    not: its gripper command says how far the fingers closed)."""
    robot = make_robot('tabletop', image_size=32)
    windows = {}
    try:
        for kind in ('scripted', 'scripted_open_loop'):
            found = {}
            for seed in range(10):
                policy = make_policy(kind, robot, seed)
                obs, actions = robot.reset(seed, render=False), []
                for _ in range(150):
                    actions.append(policy(obs))
                    obs = robot.step(actions[-1], render=False)
                for attempt in policy.attempts:
                    start = attempt.lift_step - 5     # the close phase: 5 steps
                    if attempt.held is not None and attempt.held not in found:
                        found[attempt.held] = np.array(
                            actions[start:attempt.lift_step + HOLD_CHECK_STEPS])
                if len(found) == 2:
                    break
            assert set(found) == {True, False}, kind
            windows[kind] = found
    finally:
        robot.close()
    blind = windows['scripted_open_loop']
    np.testing.assert_array_equal(blind[True][:, 3], robot.action_low[3])   # full squeeze
    np.testing.assert_allclose(blind[True], blind[False], atol=0.01)
    feedback = windows['scripted']
    assert np.abs(feedback[True][:, 3] - feedback[False][:, 3]).max() > 0.02
    from jepa_world_model.bags.errors import RecordError
    with make_robot('arm', image_size=32) as arm, pytest.raises(RecordError, match='tabletop'):
        make_policy('scripted_open_loop', arm, 0)
