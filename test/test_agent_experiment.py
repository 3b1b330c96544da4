"""The agent-prediction experiment's pieces: simulated samples carry labels that match their
tracks, and episode-bootstrap intervals behave."""

import numpy as np

from jepa_world_model.core.agents.features import FEATURES, HORIZONS_S
from jepa_world_model.experiments.agent_data import LABEL_GATE, samples, simulate
from jepa_world_model.experiments.agent_metrics import episode_bootstrap, error_table, errors
from jepa_world_model.sim.robots import MobileBaseSim


def test_a_short_episode_gives_labelled_samples_from_the_scan():
    sim = MobileBaseSim(image_size=8)
    episode = simulate(sim, 4, 60)
    out = samples(episode, sim)
    n = len(out['features'])
    assert n > 20 and out['features'].shape == (n, FEATURES)
    assert out['future'].shape == (n, len(HORIZONS_S), 2)
    assert np.all(np.linalg.norm(out['now'] - out['truth_now'], axis=-1) <= LABEL_GATE)
    # The label at 0.5 s is the labelled person's position five steps later.
    k = 0
    step, person = int(out['step'][k]), int(out['person'][k])
    assert np.allclose(out['future'][k, 0], episode.people[step + 5, person])
    assert out['tracking'][1] <= out['tracking'][0]


def test_episode_bootstrap_covers_the_mean_and_paired_differences_have_signs():
    rng = np.random.default_rng(0)
    episode = np.repeat(np.arange(30), 20)
    values = rng.normal(1.0, 0.3, len(episode))
    low, high = episode_bootstrap(values, episode)
    assert low < values.mean() < high and high - low < 0.2
    truth = np.zeros((len(episode), 4, 2))
    good = truth + 0.1
    bad = truth + 0.5
    table = error_table({'good': errors(good * [1, 0], truth),
                         'bad': errors(bad * [1, 0], truth)}, episode, HORIZONS_S, 'bad')
    assert table['good']['fde_2s'] == 0.1 and table['bad']['fde_2s'] == 0.5
    assert table['good']['fde_2s_minus_bad'] == -0.4
