"""Issue #13 items 2-3 evaluation code: object poses never reach training inputs, grasp events
and their outcomes from commands and poses, object errors of the read-out against no-change
and constant velocity, ROC AUC and its bootstrap interval, the grip head's fit and file."""

import dataclasses

import numpy as np
import pytest
import torch

from jepa_world_model.core.checkpoint import save_checkpoint
from jepa_world_model.core.config import load_config
from jepa_world_model.core.model.grip_head import fit_grip_head, load_grip_head, save_grip_head
from jepa_world_model.core.model.world_model import WorldModel
from jepa_world_model.core.training.data import Episode
from jepa_world_model.core.training.roc import bootstrap_auc_interval, roc_auc
from jepa_world_model.experiments.consequence_readout import (
    consequence_features, ConsequenceReadout, FEATURES)
from jepa_world_model.experiments.latent_rollouts import RidgeReadout
from jepa_world_model.experiments.tabletop_data import CLOSE_STEPS, find_grasps
from jepa_world_model.experiments.tabletop_objects import object_errors
from jepa_world_model.sim.tabletop_policies import HOLD_CHECK_STEPS

CONFIG = 'config/train/tabletop_tiny.yaml'


def _tiny_config(image_size: int):
    """The tabletop config with a model small enough for tests (``image_size`` px)."""
    config = load_config(CONFIG)
    m = config.model
    m.image_size, m.embed_dim, m.depth, m.image_latent_dim = image_size, 16, 1, 8
    m.predictor_embed_dim, m.dynamics_hidden_dim = 16, 32
    return config


def _tiny_model(image_size: int) -> WorldModel:
    """A seeded untrained tabletop model of :func:`_tiny_config`, in eval mode."""
    torch.manual_seed(0)
    return WorldModel(_tiny_config(image_size).model).eval()


def test_roc_auc_counts_ordered_pairs_and_ties_half():
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, 60).astype(float)          # many ties
    y = rng.random(60) < 0.4
    pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a in s[y] for b in s[~y]]
    assert roc_auc(s, y) == pytest.approx(np.mean(pairs))
    with pytest.raises(ValueError, match='both classes'):
        roc_auc([0.1, 0.2], [1, 1])


def test_bootstrap_interval_over_clusters_brackets_the_auc_and_is_wider_than_per_sample():
    rng = np.random.default_rng(1)
    clusters = np.repeat(np.arange(20), 5)
    y = np.repeat(rng.random(20) < 0.5, 5)            # one outcome per cluster
    # Scores shared within a cluster (its hidden physics): 20 independent draws, not 100.
    s = y + np.repeat(rng.normal(0, 1.0, 20), 5) + rng.normal(0, 0.1, 100)
    auc = roc_auc(s, y)
    low, high = bootstrap_auc_interval(s, y, clusters, samples=400)
    assert low < auc < high
    low1, high1 = bootstrap_auc_interval(s, y, None, samples=400)
    assert high - low > high1 - low1


def test_grip_head_separates_and_round_trips(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(80, 6)
    held = x[:, 2] + 0.3 * x[:, 4] > 0.2
    head = fit_grip_head(x, held)
    assert roc_auc(head(x).detach().numpy(), held.numpy()) > 0.98
    path = save_grip_head(tmp_path / 'grip.safetensors', head, {'horizon': 15})
    loaded, info = load_grip_head(path)
    assert info == {'horizon': 15}
    torch.testing.assert_close(loaded(x), head(x))
    with pytest.raises(ValueError, match='expected features'):
        loaded(torch.zeros(3, 5))
    with pytest.raises(ValueError, match='held and grasps that slipped'):
        fit_grip_head(x, torch.ones(80, dtype=torch.bool))
    # The fit does not depend on the global random state (wide features, few samples: a
    # random start left two fits apart after the iteration budget).
    wide = torch.randn(40, 300)
    labels = wide[:, 0] > 0
    torch.manual_seed(1)
    first = fit_grip_head(wide, labels, steps=5)
    torch.manual_seed(2)
    second = fit_grip_head(wide, labels, steps=5)
    torch.testing.assert_close(first.linear.weight, second.linear.weight, rtol=0, atol=0)


def _episode(t=40, close=10, lift_q=-0.21, cube_z=None, arm_still=True, opening=0.05,
             lift_speed=0.3):
    """An episode with the scripted grasp's command pattern (every command a velocity): the
    arm moves, then from ``close`` holds still for CLOSE_STEPS frames while the gripper
    closes, then lifts at ``lift_speed``; ``close`` None: no grasp."""
    s = np.zeros((t, 8), np.float32)
    a = np.full((t, 4), 0.05, np.float32)           # moving toward the cube
    s[:, 2], s[:, 3] = lift_q, opening
    if close is not None:
        lift = close + CLOSE_STEPS
        a[close:lift, :3] = 0.0 if arm_still else 0.05
        a[close:, 3] = -0.1
        a[lift:, :2], a[lift:, 2] = 0.0, lift_speed
        s[close + 1:, 3] = 0.025                      # the fingers stop on the cube
    cube = np.zeros((t, 3), np.float32)
    cube[:, 2] = 0.03 if cube_z is None else cube_z
    return Episode(images=np.zeros((t, 4, 4, 3), np.uint8), s=s, a=a,
                   extras={'cube_xyz': cube})


def test_grasps_are_found_at_the_close_command_and_judged_by_the_cube_height():
    cube_z = np.full(40, 0.03, np.float32)
    judged = 10 + CLOSE_STEPS + HOLD_CHECK_STEPS
    cube_z[judged] = 0.12
    events = find_grasps([_episode(cube_z=cube_z), _episode(),
                          _episode(lift_q=-0.02, cube_z=cube_z),    # a close in the air
                          _episode(arm_still=False),                 # closing while moving
                          _episode(opening=0.01),                    # the hand was closed
                          _episode(close=None)])
    assert [(e.episode, e.close, e.lift, e.judged, e.held) for e in events] == [
        (0, 10, 10 + CLOSE_STEPS, judged, True), (1, 10, 10 + CLOSE_STEPS, judged, False)]
    assert find_grasps([_episode(close=30)]) == []   # judged past the end: left out


def test_object_errors_of_an_exact_prediction_beat_no_change_only_where_the_object_moves():
    t, horizon = 30, 4
    p = np.zeros((t, 3))
    p[:, 0] = np.where(np.arange(t) < 15, 0.3, 0.3 + 0.02 * (np.arange(t) - 14))  # pushed
    ep = Episode(images=np.zeros((t, 4, 4, 3), np.uint8), s=np.zeros((t, 8), np.float32),
                 a=np.zeros((t, 4), np.float32), extras={'block_xyz': p.astype(np.float32)})
    z = np.concatenate([p, np.random.default_rng(0).normal(size=(t, 2))], axis=1)
    readout = RidgeReadout.fit(z, p, ridge=1e-6)
    starts = np.arange(1, t - horizon)
    z_pred = z[starts[:, None] + np.arange(1, horizon + 1)[None, :]]   # a perfect model
    e = object_errors(readout, ep, z, z_pred, starts, 'block')
    assert e['predicted'].max() < 1e-3
    contact_start = e['slice_contact_start']
    # Frames 11..14 are at rest and the push starts within 4 steps: exactly those.
    assert starts[contact_start].tolist() == [11, 12, 13, 14]
    assert np.all(e['no_change'][contact_start][:, -1] > 0.01)
    assert np.all(e['const_velocity'][contact_start][:, -1] > 0.01)
    # Moving at constant speed (after frame 16) constant velocity is exact, no-change is not.
    moving = starts >= 16
    assert e['const_velocity'][moving].max() < 1e-6
    assert e['no_change'][moving][:, 0].min() == pytest.approx(0.02)


def test_consequence_features_line_up_with_their_horizon():
    rng = np.random.default_rng(0)
    t, horizon, image_dim = 12, 3, 2
    z = rng.normal(size=(t, 5))
    a = rng.normal(size=(t, 2))
    starts = np.array([1, 4, 8])
    z_pred = rng.normal(size=(3, horizon, 5))
    f = {kind: consequence_features(kind, z, z_pred, a, starts, image_dim) for kind in FEATURES}
    for kind, x in f.items():
        assert x.shape[:2] == (3, horizon) and x.dtype == np.float32
        np.testing.assert_allclose(x[:, :, :5], np.repeat(z[starts][:, None], horizon, 1),
                                   rtol=1e-6)
    np.testing.assert_allclose(f['predicted'][..., 5:], z_pred, rtol=1e-6)
    np.testing.assert_allclose(f['predicted_image'][..., 5:], z_pred[..., :2], rtol=1e-6)
    assert f['current'].shape[2] == 5
    np.testing.assert_allclose(f['encoded_future'][1, 2, 5:], z[4 + 3], rtol=1e-6)
    # Commands: row h - 1 holds the commands of t .. t+h-1, the rest zero.
    cmd = f['commands'][1, :, 5:].reshape(horizon, horizon, 2)
    np.testing.assert_allclose(cmd[0], [a[4], [0, 0], [0, 0]], rtol=1e-6)
    np.testing.assert_allclose(cmd[2], a[4:7], rtol=1e-6)
    with pytest.raises(ValueError, match='unknown consequence feature'):
        consequence_features('pixels', z, z_pred, a, starts, image_dim)
    with pytest.raises(ValueError, match='starts'):
        consequence_features('current', z, z_pred, a, starts[:2], image_dim)


def test_consequence_readout_learns_a_push_only_from_a_feature_that_carries_it():
    """The displacement is set by a 'contact' feature (pushed when positive, by h x 1 cm
    times its size); the read-out fitted on it beats no-change on held-out samples, the same
    read-out on a feature of noise does not."""
    rng = np.random.default_rng(1)
    horizon, n = 4, 3000

    def sample(size):
        contact = rng.normal(size=(size, 1))
        h = np.arange(1, horizon + 1)[None, :, None]
        y = np.where(contact[:, None] > 0, 0.01 * h * contact[:, None], 0.0)   # [N, H, 1]
        y = np.concatenate([y, np.zeros_like(y)], -1)                           # x moves, y not
        x = np.repeat(np.concatenate([contact, rng.normal(size=(size, 3))], 1)[:, None],
                      horizon, 1)
        return x, y

    x, y = sample(n)
    x_test, y_test = sample(500)
    informed = ConsequenceReadout.fit(x, y, steps=400, seed=0)
    blind = ConsequenceReadout.fit(x[..., 1:], y, steps=400, seed=0)
    no_change = np.abs(y_test).sum(-1).mean()
    assert np.abs(informed(x_test) - y_test).sum(-1).mean() < 0.2 * no_change
    assert np.abs(blind(x_test[..., 1:]) - y_test).sum(-1).mean() > 0.8 * no_change
    assert informed(x_test).shape == y_test.shape
    with pytest.raises(ValueError, match='need x'):
        ConsequenceReadout.fit(x[:, 0], y, steps=1)


def test_consequence_readout_round_trips_and_bad_files_are_refused(tmp_path):
    """save_readout / load_readout: the same answers after a round trip, and a file that is
    not one, or whose tensors disagree with its declared sizes, is refused before use."""
    import json
    from safetensors.torch import load_file, save_file
    from jepa_world_model.experiments.consequence_readout import load_readout, save_readout
    x = np.random.default_rng(0).normal(size=(16, 3, 5)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(16, 3, 2)) * 0.01
    readout = ConsequenceReadout.fit(x, y, steps=20, hidden=8)
    path = save_readout(tmp_path / 'r.safetensors', readout, {'horizon': 3, 'step': 7})
    loaded, info = load_readout(path)
    assert info == {'horizon': 3, 'step': 7}
    np.testing.assert_array_equal(loaded(x), readout(x))
    with pytest.raises(FileNotFoundError):
        load_readout(tmp_path / 'missing.safetensors')
    tensors = load_file(str(path))
    save_file(tensors, str(tmp_path / 'plain.safetensors'))
    with pytest.raises(ValueError, match='not a consequence read-out'):
        load_readout(tmp_path / 'plain.safetensors')
    header = {'sizes': {'in': 8 + 3, 'hidden': 9, 'out': 2}, 'info': {}}
    save_file(tensors, str(tmp_path / 'lying.safetensors'),
              metadata={'consequence_readout': json.dumps(header)})
    with pytest.raises(ValueError, match='do not match'):
        load_readout(tmp_path / 'lying.safetensors')
    header['sizes']['hidden'] = 10 ** 9          # refused before anything is allocated
    save_file(tensors, str(tmp_path / 'huge.safetensors'),
              metadata={'consequence_readout': json.dumps(header)})
    with pytest.raises(ValueError, match='outside'):
        load_readout(tmp_path / 'huge.safetensors')


def test_object_errors_score_a_consequence_from_the_true_start_position():
    t, horizon = 20, 3
    p = np.zeros((t, 3))
    p[:, 0] = 0.3 + 0.01 * np.maximum(np.arange(t) - 9, 0)
    ep = Episode(images=np.zeros((t, 4, 4, 3), np.uint8), s=np.zeros((t, 8), np.float32),
                 a=np.zeros((t, 4), np.float32), extras={'block_xyz': p.astype(np.float32)})
    z = np.random.default_rng(0).normal(size=(t, 3))
    starts = np.arange(1, t - horizon)
    future = starts[:, None] + np.arange(1, horizon + 1)[None, :]
    exact = p[future] - p[starts][:, None]
    e = object_errors(RidgeReadout.fit(z, p), ep, z, z[future], starts, 'block',
                      {'predicted': exact, 'current': np.zeros_like(exact)})
    assert e['consequence_predicted'].max() < 1e-6
    np.testing.assert_allclose(e['consequence_current'], e['no_change'])
    assert 'consequence_commands' not in e


mujoco = pytest.importorskip('mujoco')


def test_object_poses_never_enter_training_inputs(tmp_path):
    """The same seeded episode recorded with and without /ground_truth topics reads into
    identical training inputs, which hold the joints only; the evaluation reader adds the
    poses as labels."""
    from jepa_world_model.bags.reader import BagDatasetConfig, read_bag_episodes
    from jepa_world_model.bags.recording import make_policy, record, topics_for
    from jepa_world_model.experiments.tabletop_data import read_tabletop_episodes
    from jepa_world_model.sim.robots import make_robot

    config = load_config(CONFIG)
    config.model.image_size = 32
    robot = make_robot('tabletop', image_size=32)
    with_poses = topics_for('tabletop', robot)
    bags = {}
    for name, topics in (('with', with_poses), ('without', dataclasses.replace(with_poses,
                                                                               objects=''))):
        bags[name] = tmp_path / name
        record(robot, lambda seed: make_policy('scripted', robot, seed), bags[name],
               episodes=1, steps=12, topics=topics, start_ns=10**18, seed=3)
    robot.close()
    reader_cfg = BagDatasetConfig.from_experiment(config)
    (a,), _ = read_bag_episodes([bags['with']], reader_cfg)
    (b,), _ = read_bag_episodes([bags['without']], reader_cfg)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.s, b.s)
    np.testing.assert_array_equal(a.a, b.a)
    assert set(a.extras) == {'stamp_ns'} and a.s.shape == (12, 8)
    (labelled,) = read_tabletop_episodes([bags['with']], config)
    assert labelled.extras['cube_xyz'].shape == (12, 3)
    assert np.all(np.abs(labelled.extras['cube_xyz'][:, 2] - 0.03) < 0.01)   # on the table
    robot = make_robot('tabletop', image_size=32)
    material = robot.reset(3, render=False).labels['cube_material']
    robot.close()
    assert labelled.extras['cube_material'].tolist() == [material] * 12
    with pytest.raises(ValueError, match='no ground-truth topic'):
        read_tabletop_episodes([bags['without']], config)


def test_read_out_on_predicted_latents_runs_end_to_end_on_a_tiny_recording(tmp_path):
    from jepa_world_model.bags.recording import make_policy, record, topics_for
    from jepa_world_model.experiments import tabletop_objects
    from jepa_world_model.sim.robots import make_robot

    config = _tiny_config(32)
    robot = make_robot('tabletop', image_size=32)
    record(robot, lambda seed: make_policy('scripted', robot, seed), tmp_path / 'bag',
           episodes=2, steps=14, topics=topics_for('tabletop', robot), start_ns=10**18)
    robot.close()
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / 'm.safetensors', WorldModel(config.model), config, 0)
    result = tabletop_objects.run(str(path), [tmp_path / 'bag'], [tmp_path / 'bag'],
                                  horizon=3, consequence_steps=5, gif=tmp_path / 'c.gif',
                                  gif_frames=4)
    assert result['animation']['frames'] == 4 and (tmp_path / 'c.gif').stat().st_size > 0
    for name in ('block', 'cube'):
        entry = result['objects'][name]['all']
        assert entry['samples'] == 2 * (14 - 3 - 1)
        assert len(entry['consequence_predicted_minus_best_baseline']) == 3
        positions = result['encoded_position_mlp'][name]
        assert set(positions) == {'training_mean', 'mlp_latent', 'mlp_pixels'}
        assert all(np.isfinite(v['mean_cm']) for v in positions.values())
        for method in tabletop_objects.METHODS:
            assert len(entry[method]['mean_cm']) == 3
            assert all(np.isfinite(entry[method]['mean_cm']))
        # Objects rest on the table in the first steps: no-change is exact there.
        assert entry['no_change']['mean_cm'][0] < 0.5


def test_grip_features_roll_out_the_nominal_plan_from_the_close_frame():
    """The leak-free feature: every grasp rolled out under the same plan (the mean recorded
    close-and-lift commands), from its own encoded close frame."""
    from jepa_world_model.experiments.grip_hold import (
        grasp_features, held_by_material, materials_of, nominal_plan)

    model = _tiny_model(32)
    episodes = []
    for seed, lift_speed, material in ((1, 0.1, 'wood'), (2, 0.3, 'steel')):
        ep = _episode(lift_speed=lift_speed)   # two grasps whose recorded lifts differ
        images = np.random.default_rng(seed).integers(0, 255, (40, 32, 32, 3), dtype=np.uint8)
        extras = dict(ep.extras, cube_material=np.array([material] * 40))
        episodes.append(Episode(images=images, s=ep.s, a=ep.a, extras=extras))
    assert materials_of(episodes) == ['steel', 'wood']
    plan = nominal_plan(episodes)
    horizon = CLOSE_STEPS + HOLD_CHECK_STEPS
    assert plan.shape == (horizon, 4)
    np.testing.assert_allclose(plan[CLOSE_STEPS:, 2], 0.2)
    feats = grasp_features(model, episodes, plan, materials=['rubber', 'steel', 'wood'])
    assert feats['held'].tolist() == [False, False]
    np.testing.assert_array_equal(feats['material'], [[0, 0, 1], [0, 1, 0]])
    assert held_by_material(feats) == {'steel': [0, 1], 'wood': [0, 1]}
    assert feats['commands'].shape == (2, horizon * 4)
    with torch.no_grad():
        for k, ep in enumerate(episodes):
            o = torch.from_numpy(ep.images[10:11]).permute(0, 3, 1, 2).float() / 255
            z = model.encode(o, torch.from_numpy(ep.s[10:11]))
            expected = model.rollout(z, torch.from_numpy(plan[None]))[0, -1]
            np.testing.assert_allclose(feats['predicted_plan'][k], expected.numpy(), atol=1e-5)
    assert not np.allclose(feats['predicted'], feats['predicted_plan'])
    # Asked 3 frames earlier: the plan starts there and the rollout from that frame's latent.
    early_plan = nominal_plan(episodes, lead=3)
    assert early_plan.shape == (3 + horizon, 4)
    early = grasp_features(model, episodes, early_plan, lead=3)
    with torch.no_grad():
        o = torch.from_numpy(episodes[0].images[7:8]).permute(0, 3, 1, 2).float() / 255
        z = model.encode(o, torch.from_numpy(episodes[0].s[7:8]))
        expected = model.rollout(z, torch.from_numpy(early_plan[None]))[0, -1]
    np.testing.assert_allclose(early['predicted_plan'][0], expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(early['proprio_close'][0], episodes[0].s[7])
    with pytest.raises(ValueError, match='lead must be'):
        nominal_plan(episodes, lead=-1)


def test_material_readout_tells_materials_apart_only_when_the_feature_carries_them():
    from jepa_world_model.experiments.grip_hold import material_readout

    rng = np.random.default_rng(0)

    def grasps(n):
        material = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
        colour = 2.0 * material @ np.eye(3, 5)            # the material shows in 3 of 5
        return {'material': material, 'shows': colour + rng.normal(0, 0.2, (n, 5)),
                'blind': rng.normal(0, 1, (n, 5)).astype(np.float32)}

    train, test = grasps(90), grasps(60)
    seen = material_readout(train, test, 'shows')
    blind = material_readout(train, test, 'blind')
    assert seen['samples'] == 60 and seen['accuracy'] > 0.95
    assert blind['accuracy'] < 0.6 and blind['ci95'][0] < 1 / 3 + 0.15
    assert 0.2 < seen['commonest_material_accuracy'] < 0.5


def test_colour_histogram_counts_colours_wherever_they_are():
    from jepa_world_model.experiments.tabletop_data import colour_histogram

    frame = np.full((1, 8, 8, 3), 255, np.uint8)
    left, right = frame.copy(), frame.copy()
    left[0, :2, :2] = (200, 10, 10)                  # a red blob, top left
    right[0, 5:7, 5:7] = (210, 20, 5)                # the same red, elsewhere
    h = colour_histogram(np.concatenate([left, right, frame]))
    assert h.shape == (3, 512)
    np.testing.assert_array_equal(h[0], h[1])        # where the colour is does not count
    red = (200 // 32 * 8 + 0) * 8 + 0
    assert h[0, red] == pytest.approx(np.log1p(4)) and h[2, red] == 0
    assert h[2, 511] == pytest.approx(np.log1p(64))
    with pytest.raises(ValueError, match='uint8'):
        colour_histogram(frame.astype(np.float32))
    with pytest.raises(ValueError, match='divide'):
        colour_histogram(frame, bins=7)


def test_frame_features_pool_pixels_and_label_every_frame():
    from jepa_world_model.experiments.grip_hold import frame_features

    images = np.zeros((3, 16, 16, 3), np.uint8)
    images[:, :8, :8, 0] = 255                       # one red 8x8 block
    ep = Episode(images=images, s=np.zeros((3, 8), np.float32), a=np.zeros((3, 4), np.float32),
                 extras={'cube_material': np.array(['wood'] * 3)})
    frames = frame_features([ep, ep], [np.ones((3, 5), np.float32)] * 2, ['steel', 'wood'])
    assert frames['pixels'].shape == (6, 2 * 2 * 3) and frames['encoded'].shape == (6, 5)
    np.testing.assert_allclose(frames['pixels'][0], [1, 0, 0] + [0] * 9)
    np.testing.assert_array_equal(frames['material'], [[0, 1]] * 6)
    assert frames['colour_histogram'].shape == (6, 512)
    assert 'tokens' not in frames
    model = _tiny_model(16)
    with_tokens = frame_features([ep], [np.ones((3, 5), np.float32)], ['wood'], model=model)
    with torch.no_grad():
        tokens = model.patch_tokens(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    np.testing.assert_allclose(with_tokens['tokens'],
                               torch.cat([tokens.amax(1), tokens.mean(1)], -1).numpy(),
                               atol=1e-6)


def test_data_efficiency_scores_the_consequence_read_out_at_h4():
    """The per-run consequence error: one vector per held-out start frame (t >= 1, t + 4 in
    the episode) and object coordinate; none when its steps are 0."""
    from jepa_world_model.experiments.data_efficiency_metrics import (
        _consequence_errors, EvaluationData, HORIZON)
    from jepa_world_model.experiments.latent_rollouts import encoded_latents, predicted_latents

    model = _tiny_model(16)
    rng = np.random.default_rng(0)

    def episode(t):
        block = np.cumsum(rng.normal(0, 0.01, (t, 3)), 0).astype(np.float32)
        return Episode(images=rng.integers(0, 255, (t, 16, 16, 3), dtype=np.uint8),
                       s=rng.normal(size=(t, 8)).astype(np.float32),
                       a=rng.normal(size=(t, 4)).astype(np.float32),
                       extras={'block_xyz': block, 'cube_xyz': np.zeros((t, 3), np.float32)})

    data = EvaluationData([episode(12), episode(10)], [episode(9)], np.zeros((3, 4)))
    z_train, z_test = encoded_latents(model, data.train), encoded_latents(model, data.test)
    starts = [np.arange(1, len(ep) - HORIZON) for ep in data.train]
    test_starts = [np.arange(1, len(ep) - HORIZON) for ep in data.test]
    roll = [predicted_latents(model, ep, z, HORIZON, s)
            for ep, z, s in zip(data.train, z_train, starts)]
    roll_test = [predicted_latents(model, ep, z, HORIZON, s)
                 for ep, z, s in zip(data.test, z_test, test_starts)]
    errors = _consequence_errors(model, data, z_train, z_test, roll, roll_test, starts,
                                 test_starts, steps=3)
    assert errors.shape == (9 - HORIZON - 1, 6) and np.all(np.isfinite(errors))
    assert _consequence_errors(model, data, z_train, z_test, roll, roll_test, starts,
                               test_starts, steps=0) is None


def test_consequence_frames_draw_true_and_predicted_paths_where_contact_starts():
    from jepa_world_model.experiments.tabletop_animation import (
        busiest_window, consequence_frames, PREDICTED_RGB)

    t, horizon = 40, 4
    block = np.zeros((t, 3), np.float32)
    block[:, :2] = 0.2
    block[25:, 0] = 0.2 + 0.01 * np.arange(1, t - 24)     # pushed from frame 25 on
    ep = Episode(images=np.zeros((t, 16, 16, 3), np.uint8), s=np.zeros((t, 8), np.float32),
                 a=np.zeros((t, 4), np.float32),
                 extras={'block_xyz': block, 'cube_xyz': np.full((t, 3), 0.05, np.float32)})
    starts = np.arange(1, t - horizon)
    rows, count = busiest_window(ep, starts, horizon, 6)
    # At rest at t, more than 1 cm within 4 steps: t = 22, 23, 24 (at 21 exactly 1 cm; at
    # 25 already moving); the earliest 6-frame window holding all three.
    assert count == 3 and starts[rows].tolist() == [19, 20, 21, 22, 23, 24]
    displacement = np.zeros((len(starts), horizon, 6))
    displacement[:, :, 1] = 0.03                          # predicted: sideways, not along x
    frames = consequence_frames(ep, lambda p: p[..., :2] * 50.0, starts, displacement,
                                [int(np.flatnonzero(starts == 22)[0])], scale=4)
    (frame,) = frames
    assert frame.shape == (64, 64, 3)
    cyan = np.all(frame == PREDICTED_RGB, axis=-1)
    # The predicted block path runs from (40, 40) to (40, 46) px, sideways to the true one
    # (which heads +x); the resting cube's prediction is a dot at (10, 10).
    ys, xs = np.nonzero(cyan)
    block = xs > 20
    assert block.any() and np.all(np.abs(xs[block] - 40) <= 4) and ys[block].max() >= 44
    assert np.all(np.abs(xs[~block] - 10) <= 4) and np.all(np.abs(ys[~block] - 10) <= 4)
    grey = (frame.min(-1) > 150) & (frame.max(-1) == frame.min(-1))   # white, anti-aliased
    assert grey[38:43, 41:46].any()                       # the true path, along +x
