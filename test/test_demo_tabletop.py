"""The tabletop demo's analysis (demo/tabletop/analysis.py): the recording becomes one
episode with the commands in their frames, and the shipped read-outs score it (no ROS)."""

import numpy as np
import pytest
import torch

from jepa_world_model.core.config import ModelConfig
from jepa_world_model.core.model.grip_head import GripHoldHead, save_grip_head
from jepa_world_model.core.model.world_model import WorldModel
from jepa_world_model.demo.analysis import Recording
from jepa_world_model.demo.tabletop.analysis import (
    episode_from_recording, grip_predictions, object_motion)
from jepa_world_model.demo.tabletop.demo import format_summary, head_paths
from jepa_world_model.experiments.consequence_readout import (ConsequenceReadout,
                                                              load_readout, save_readout)

T, DT = 40, 0.1


def recording(missing_pose=None, images=16):
    """T frames on the 0.1 s grid; each joint state sent at wall 1000 + t + 1 ms, the
    driver's command k answers state k 5 ms later and holds the value k in every entry."""
    t = DT * np.arange(T)
    src = 1000.0 + t + 0.001
    q = np.zeros((T, 4))
    q[:, 2] = -0.2                  # hand lowered
    q[:, 3] = 0.05                  # and open: a grasp can start
    frames = np.random.default_rng(0).integers(0, 255, (T, images, images, 3), dtype=np.uint8)
    rec = Recording(
        joint_names=['yaw', 'reach', 'lift', 'gripper'], joint_t=t, q=q, dq=np.zeros((T, 4)),
        pred_t=np.zeros(0), pred_q=np.zeros((0, 1, 4)), pred_dt=np.zeros(0),
        image_t=t, images=frames,
        joint_src=src, command_src=src + 0.005,
        commands=np.repeat(np.arange(T, dtype=float)[:, None], 4, axis=1))
    block = np.column_stack([0.01 * np.arange(T), np.zeros(T), np.full(T, 0.02)])
    cube_t = t if missing_pose is None else np.delete(t, missing_pose)
    cube = np.column_stack([np.zeros(len(cube_t)), np.full(len(cube_t), 0.3),
                            np.full(len(cube_t), 0.03)])
    return rec, {'block': (t, block), 'cube': (cube_t, cube)}


def test_each_frame_gets_the_command_that_answered_it_and_gaps_cut_the_episode():
    rec, poses = recording()
    episode, stamps = episode_from_recording(rec, poses, match_s=0.05)
    assert len(episode) == T and np.allclose(stamps, rec.image_t)
    assert np.array_equal(episode.a[:, 0], np.arange(T))      # command k in frame k
    assert np.allclose(episode.extras['block_xyz'][:, 0], 0.01 * np.arange(T))
    # A frame without the cube's pose splits the recording: the longer side is kept.
    rec, poses = recording(missing_pose=12)
    episode, stamps = episode_from_recording(rec, poses, match_s=0.05)
    assert len(episode) == T - 13 and stamps[0] == pytest.approx(1.3)
    assert episode.a[0, 0] == 13
    # A command sent too long after its state is not in any frame (zero there).
    rec, poses = recording()
    rec.command_src = rec.command_src.copy()
    rec.command_src[5] += 0.09
    episode, _ = episode_from_recording(rec, poses, match_s=0.05)
    assert episode.a[5, 0] == 0 and episode.a[6, 0] == 6
    rec, poses = recording()
    rec.commands = np.zeros((0, 0))
    with pytest.raises(ValueError, match='no driver commands'):
        episode_from_recording(rec, poses, match_s=0.05)
    rec, poses = recording()
    with pytest.raises(ValueError, match='two frames'):
        episode_from_recording(rec, {'block': poses['block']}, match_s=0.05)


def tiny_model():
    cfg = ModelConfig(image_size=16, patch_size=8, embed_dim=16, depth=1, num_heads=2,
                      image_latent_dim=6, proprio_latent_dim=4, predictor_embed_dim=16,
                      predictor_num_heads=2, dynamics_hidden_dim=16, idm_hidden_dim=16,
                      joint_names=['yaw', 'reach', 'lift', 'gripper'], action_dim=4)
    torch.manual_seed(0)
    return WorldModel(cfg).eval()


def test_object_motion_and_grip_are_scored_from_the_saved_read_outs(tmp_path):
    model = tiny_model()
    rec, poses = recording()
    # Grasp at frame 10: five closing commands (only the gripper, negative), then a lift.
    rec.commands = np.zeros((T, 4))
    rec.commands[10:15, 3] = -0.05
    rec.commands[15:, 2] = 0.1
    cube = poses['cube'][1].copy()
    cube[25:, 2] = 0.2                                   # lifted with the hand: held
    poses['cube'] = (poses['cube'][0], cube)
    episode, _ = episode_from_recording(rec, poses, match_s=0.05)
    z_dim, horizon = model.cfg.latent_dim, 4
    # A read-out that always predicts +1 cm in x for the block and nothing for the cube.
    features = np.random.default_rng(0).normal(size=(8, horizon, 2 * z_dim))
    readout = ConsequenceReadout.fit(features, np.zeros((8, horizon, 6)), steps=1)
    with torch.no_grad():                              # the last layer alone decides: 1 cm
        readout.net[-1].weight.zero_()
        readout.net[-1].bias.copy_(torch.tensor([1.0, 0, 0, 0, 0, 0]))
    paths = head_paths(tmp_path / 'tabletop.safetensors')
    # Nothing saved yet: the paths beside the model, never one in the package's models/.
    assert paths == {'consequence': tmp_path / 'tabletop_consequence.safetensors',
                     'grip': tmp_path / 'tabletop_grip.safetensors'}
    # A model under the shipped name finds the shipped read-outs where the package has them.
    shipped = head_paths(tmp_path / 'tabletop_tiny.safetensors')
    assert all(p.is_file() and p.parent != tmp_path for p in shipped.values())
    save_readout(paths['consequence'], readout, {'horizon': horizon, 'feature': 'predicted'})
    summary, starts, displacement = object_motion(model, episode,
                                                  *load_readout(paths['consequence']),
                                                  str(paths['consequence']))
    assert summary['horizon'] == horizon and len(starts) == T - horizon
    assert displacement.shape == (T - horizon, horizon, 6)
    block = summary['block']
    assert block['moving_starts'] == T - horizon          # it slides 1 cm every frame
    # No-change is h cm off; predicting 1 cm in total is h - 1 cm off.
    assert block['moving']['no_change_cm'] == pytest.approx([1, 2, 3, 4], abs=1e-6)
    assert block['moving']['model_cm'] == pytest.approx([0, 1, 2, 3], abs=1e-4)
    head = GripHoldHead(z_dim)
    with torch.no_grad():                              # undecided: p(held) 0.5
        head.linear.weight.zero_()
        head.linear.bias.zero_()
    save_grip_head(paths['grip'], head, {'horizon': 15})
    assert 'does not say' in grip_predictions(model, episode, paths['grip'])['note']
    save_grip_head(paths['grip'], head, {'horizon': 15, 'held_out_auc': 0.6})
    grip = grip_predictions(model, episode, paths['grip'])
    assert grip['note'] == 'held-out AUC of this head 0.60 (docs/tabletop.md)'
    assert [g['close_frame'] for g in grip['grasps']] == [10]
    assert grip['grasps'][0]['held'] and grip['grasps'][0]['p_held'] == pytest.approx(0.5)
    lines = format_summary({'object_motion': summary, 'grip': grip})
    assert any('block' in line and 'no-change 4.0 cm' in line for line in lines)
    assert any('p(held) 0.50, held' in line for line in lines)
    # The cube jumps up at frame 25: the 4 starts before it see that within 4 steps.
    assert summary['cube']['moving_starts'] == 4
    assert any('cube' in line and 'on the 4 frames it moved' in line for line in lines)
    summary['cube']['moving']['model_cm'] = None
    lines = format_summary({'object_motion': summary, 'grip': {'skipped': 'none'}})
    assert '[demo] cube: never moved' in lines


def test_the_clip_follows_the_first_grasp_and_the_frames_tell_its_prediction(tmp_path):
    from jepa_world_model.demo.plots import plot_grip, plot_object_motion
    from jepa_world_model.demo.tabletop.overlay import caption_grip, clip_rows, GRIP_SHOWN_AFTER
    starts = np.arange(0, 100)
    busiest = np.arange(60, 70)
    assert clip_rows(starts, [], 10, busiest) is busiest
    grasps = [{'close_frame': 50, 'judged_frame': 65, 'p_held': 0.8, 'held': False}]
    assert clip_rows(starts, grasps, 10, busiest).tolist() == list(range(30, 40))
    assert clip_rows(starts, [dict(grasps[0], close_frame=5)], 10, busiest)[0] == 0
    assert clip_rows(starts, [dict(grasps[0], close_frame=99)], 10, busiest)[0] == 79
    assert clip_rows(starts, [dict(grasps[0], close_frame=200)], 10, busiest)[-1] == 99
    blank = [np.full((64, 128, 3), 255, np.uint8) for _ in range(4)]
    shown = caption_grip(blank, np.array([49, 50, 65, 65 + GRIP_SHOWN_AFTER + 1]), grasps)
    written = [int((img < 255).any(axis=-1).sum()) for img in shown]
    assert written[0] == 0 and written[3] == 0          # before the close, long after
    assert 0 < written[1] < written[2]                  # the prediction; then the outcome too
    red = shown[2][..., 0].astype(int) - shown[2][..., 1]
    assert (red > 100).any()                            # 'slipped' in red
    assert (blank[1] == 255).all()                      # the input frames are not drawn on
    motion = {'horizon': 3, 'block': {'moving_starts': 2, 'moving': {
        'model_cm': [0.1, 0.2, 0.3], 'no_change_cm': [1, 2, 3]}},
        'cube': {'moving_starts': 0, 'moving': {'model_cm': None, 'no_change_cm': None}}}
    assert plot_object_motion(motion, tmp_path / 'm.png').stat().st_size > 1000
    grip = {'grasps': grasps + [dict(grasps[0], held=True)], 'note': 'AUC 0.60'}
    assert plot_grip(grip, tmp_path / 'g.png').stat().st_size > 1000


def test_a_recording_without_poses_is_reported_not_raised(tmp_path):
    from jepa_world_model.demo.tabletop.demo import analyse
    rec, _ = recording()
    parts, frames, files = analyse(rec, {}, tmp_path / 'missing.safetensors', None, DT, 10,
                                   tmp_path)
    assert 'every object pose' in parts['object_motion']['skipped']
    assert parts['tabletop_frames'] == 0 and frames == [] and files == {}
    assert '[demo] grip: no episode to analyse' in ' '.join(format_summary(parts))
