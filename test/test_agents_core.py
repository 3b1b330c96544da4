"""core/agents: scan detection, tracking, features, the ensemble predictor and its fitting.

Scans are ray-cast analytically against discs (people) in a square room, so every expected
value is known exactly.
"""

import math

import numpy as np
import pytest
import torch

from jepa_world_model.core.agents.features import (FEATURES, HORIZONS_S, MAP_RAY_MAX,
                                                   agent_features, map_rays)
from jepa_world_model.core.agents.pipeline import (AgentPipeline, held_twist_future,
                                                   path_future)
from jepa_world_model.core.agents.predictor import (AgentModelError, AgentPredictor,
                                                    load_predictor, region_radius,
                                                    save_predictor)
from jepa_world_model.core.agents.scan_detection import (DetectionSettings, StaticMask,
                                                         detect_agents)
from jepa_world_model.core.agents.tracking import AgentTracker, TrackerSettings
from jepa_world_model.core.agents.training import FitSettings, calibrate_spread, fit_predictor
from scan_scenes import ANGLE_MIN, cast, INCREMENT, RADIUS, room_mask


def detect(pose, discs, static=None, settings=DetectionSettings()):
    return detect_agents(cast(pose, discs), ANGLE_MIN, INCREMENT, 0.05, 10.0, pose, static,
                         settings)


def test_a_person_is_found_near_its_centre_and_the_walls_are_not():
    pose = (0.3, -0.2, 0.7)
    found = detect(pose, [(1.2, 0.5, RADIUS)], room_mask())
    assert found.shape == (1, 2)
    # The surface offset puts the centre back behind the seen surface (within 5 cm).
    assert np.linalg.norm(found[0] - (1.2, 0.5)) < 0.05


def test_without_a_map_walls_are_too_wide_to_be_people_and_a_pillar_is_a_person():
    found = detect((0.0, 0.0, 0.0), [(1.0, 1.0, RADIUS)], None)
    assert len(found) == 1 and np.linalg.norm(found[0] - (1.0, 1.0)) < 0.05
    wide = detect((0.0, 0.0, 0.0), [(1.0, 1.0, 0.6)], room_mask())
    assert len(wide) == 0   # 1.2 m across: wider than max_width


def test_two_people_are_two_detections_and_a_cluster_across_the_seam_is_one():
    found = detect((0.0, 0.0, 0.0), [(1.0, 0.0, RADIUS), (-1.0, 0.5, RADIUS)], room_mask())
    assert len(found) == 2
    # A person straight behind (bearing pi) spans the first and the last beams.
    behind = detect((0.0, 0.0, 0.0), [(-1.0, 0.0, RADIUS)], room_mask())
    assert len(behind) == 1 and np.linalg.norm(behind[0] - (-1.0, 0.0)) < 0.05


def test_bad_settings_and_maps_are_refused():
    with pytest.raises(ValueError, match='cluster_gap'):
        DetectionSettings(cluster_gap=0.0)
    with pytest.raises(ValueError, match='resolution'):
        StaticMask(np.zeros((3, 3), bool), 0.0, (0, 0), 0.1)
    with pytest.raises(ValueError, match='alpha'):
        TrackerSettings(alpha=0.0)


def walk(tracker, start, velocity, steps, dt=0.1, t0=0.0):
    tracks = []
    for k in range(steps):
        tracks = tracker.update(np.array([start]) + np.array([velocity]) * k * dt, t0 + k * dt)
    return tracks


def test_a_walking_blob_becomes_one_confirmed_track_with_its_velocity():
    tracker = AgentTracker()
    assert walk(tracker, (0.0, 0.0), (0.5, -0.2), 2) == []   # not yet min_hits
    tracks = walk(tracker, (0.1, -0.04), (0.5, -0.2), 30, t0=0.2)
    assert len(tracks) == 1
    assert np.allclose(tracks[0].velocity, (0.5, -0.2), atol=0.02)
    history, covered = tracks[0].history(10, 0.1)
    assert covered == pytest.approx(0.9)
    assert np.allclose(history[-1] - history[0], np.array([0.5, -0.2]) * 0.9, atol=0.02)


def test_a_detection_outside_the_gate_is_a_new_track_and_lost_tracks_are_dropped():
    tracker = AgentTracker(TrackerSettings(gate=0.3, max_coast_s=0.3, min_hits=1))
    tracker.update(np.array([[0.0, 0.0]]), 0.0)
    tracks = tracker.update(np.array([[1.0, 0.0]]), 0.1)
    assert sorted(t.track_id for t in tracks) == [1, 2]
    for k in range(2, 6):
        tracks = tracker.update(np.array([[1.0, 0.0]]), 0.1 * k)
    assert [t.track_id for t in tracks] == [2]   # track 1 coasted past 0.3 s
    with pytest.raises(ValueError, match='not after'):
        tracker.update(np.zeros((0, 2)), 0.2)


def test_features_do_not_change_when_the_whole_scene_is_rotated_and_moved():
    rng = np.random.default_rng(0)
    history = np.cumsum(rng.normal(0, 0.05, (2, 10, 2)), axis=1) + (1.0, 0.5)
    velocity = rng.normal(0, 0.4, (2, 2))
    pose = np.array([0.2, -0.3, 0.4])
    future = rng.normal(0, 1, (4, 2))
    a, _ = agent_features(history, np.array([0.9, 0.3]), velocity, pose, (0.3, 0.1),
                          future, None)
    angle, shift = 1.1, np.array([3.0, -2.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    b, _ = agent_features(history @ rot.T + shift, np.array([0.9, 0.3]), velocity @ rot.T,
                          np.r_[rot @ pose[:2] + shift, pose[2] + angle],
                          rot @ np.array([0.3, 0.1]), future @ rot.T + shift, None)
    assert a.shape == (2, FEATURES)
    none, rotation = agent_features(np.zeros((0, 10, 2)), np.zeros(0), np.zeros((0, 2)), pose,
                                    (0.0, 0.0), future, None)
    assert none.shape == (0, FEATURES) and rotation.shape == (0, 2, 2)
    assert np.allclose(a, b, atol=1e-5)


def test_map_rays_measure_the_free_distance_to_the_walls():
    rays = map_rays(room_mask(), np.array([[1.0, 0.0]]), np.array([0.0]))
    assert rays[0, 0] == pytest.approx(1.0, abs=0.06)        # east wall 1 m away
    assert rays[0, 6] == pytest.approx(MAP_RAY_MAX)          # west: more than 2 m free


def test_an_untrained_predictor_forecasts_shapes_and_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    model = AgentPredictor(members=2, hidden=8).eval()
    for member in model.members:
        torch.nn.init.zeros_(member.net[-1].weight)
        torch.nn.init.zeros_(member.net[-1].bias)
    history = np.linspace((0.0, 0.0), (0.45, 0.0), 10)[None].repeat(3, 0) + np.arange(3)[
        :, None, None]
    velocity = np.array([[0.5, 0.0]] * 3)
    features, rotation = agent_features(history, np.full(3, 0.9), velocity,
                                        np.zeros(3), np.zeros(2), np.zeros((4, 2)), None)
    forecast = model.forecast([4, 5, 6], history[:, -1], features, rotation)
    assert forecast.positions.shape == (3, len(HORIZONS_S), 2)
    assert forecast.spread.shape == (3, len(HORIZONS_S))
    # Zero corrections: exactly constant velocity.
    expected = history[:, -1][:, None, :] + velocity[:, None, :] * np.array(HORIZONS_S)[
        None, :, None]
    assert np.allclose(forecast.positions, expected, atol=1e-5)
    path = tmp_path / 'agents.safetensors'
    save_predictor(model, path, {'note': 'test'})
    again = load_predictor(path)
    assert np.allclose(again.forecast([4, 5, 6], history[:, -1], features,
                                      rotation).positions, forecast.positions)
    with pytest.raises(AgentModelError):
        load_predictor(tmp_path / 'missing.safetensors')


def synthetic_people(n, seed):
    """Agents walking along x at 0.5 m/s that stop dead when the robot's planned position at
    1 s is ahead of them: only the robot input can tell."""
    rng = np.random.default_rng(seed)
    history = np.linspace(-0.45, 0.0, 10)[None, :, None] * np.array([1.0, 0.0])
    history = np.repeat(history, n, 0) + rng.normal(0, 0.01, (n, 10, 2))
    velocity = np.tile([0.5, 0.0], (n, 1))
    robot_at_1s = rng.uniform(-2, 2, (n, 2))
    blocks = robot_at_1s[:, 0] > 0
    h = np.array(HORIZONS_S)
    targets = np.where(blocks[:, None, None], 0.0, velocity[:, None, :] * h[None, :, None])
    rows = []
    for k in range(n):
        future = np.repeat(robot_at_1s[k][None], 4, 0)
        f, _ = agent_features(history[k:k + 1], np.array([0.9]), velocity[k:k + 1],
                              np.r_[robot_at_1s[k], 0.0], np.zeros(2), future, None)
        rows.append(f[0])
    return np.array(rows), targets + rng.normal(0, 0.02, targets.shape), blocks


def test_the_fitted_ensemble_learns_what_the_robot_does_and_calibrates_its_region():
    torch.manual_seed(0)
    x, y, blocks = synthetic_people(2000, 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # a tiny MLP: more threads only contend
    try:
        model = fit_predictor(x, y, FitSettings(members=2, hidden=32, epochs=10, seed=1))
    finally:
        torch.set_num_threads(threads)
    xv, yv, _ = synthetic_people(800, 2)
    calibrate_spread(model, xv, yv, 0.9)
    xt, yt, bt = synthetic_people(800, 3)
    mean, spread = model.predict_local(xt)
    learned = np.linalg.norm(mean - yt, axis=-1)[:, -1]
    cv = np.linalg.norm(xt[:, 21:23][:, None, :] * np.array(HORIZONS_S)[None, :, None] - yt,
                        axis=-1)[:, -1]
    assert learned[bt].mean() < 0.4 * cv[bt].mean()     # it stops for the robot (CV: 1.0)
    assert learned.mean() < 0.65 * cv.mean()            # and is better overall
    inside = (np.linalg.norm(mean - yt, axis=-1) <= region_radius(spread, 0.9)).mean()
    assert 0.8 < inside < 0.97


def test_robot_futures_from_a_held_twist_and_from_a_timed_path():
    straight = held_twist_future((1.0, 2.0, math.pi / 2), 0.4, 0.0)
    assert np.allclose(straight[-1], (1.0, 2.8))
    arc = held_twist_future((0.0, 0.0, 0.0), 0.5, 0.5, horizons=(math.pi / 0.5,))
    assert np.allclose(arc[0], (0.0, 2.0), atol=1e-9)      # half a circle of radius 1
    at = path_future([10.0, 11.0, 12.0], np.array([[0, 0], [1, 0], [1, 1]]), 10.0)
    assert np.allclose(at, [[0.5, 0], [1, 0], [1, 0.5], [1, 1]])
    with pytest.raises(ValueError):
        path_future([1.0, 1.0], np.zeros((2, 2)), 0.0)


def test_the_pipeline_tracks_a_person_in_scans_and_forecasts_them():
    pipeline = AgentPipeline(static=room_mask())
    pose = (0.0, 0.0, 0.0)
    tracks = []
    for k in range(15):
        person = (-1.0 + 0.05 * k, 1.0, RADIUS)
        tracks = pipeline.observe(cast(pose, [person]), ANGLE_MIN, INCREMENT, 0.05, 10.0,
                                  pose, 0.1 * k)
    assert len(tracks) == 1
    forecast = pipeline.forecast(tracks, pose, (0.0, 0.0), np.zeros((4, 2)))
    # No learned model: constant velocity, 0.5 m/s along x.
    assert np.allclose(forecast.positions[0, -1], (-1.0 + 0.05 * 14 + 1.0, 1.0), atol=0.08)
    assert np.all(np.diff(forecast.spread[0]) > 0)
