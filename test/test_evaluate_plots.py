"""``evaluate --plots DIR`` (issue #15 item 7): the figures are written, and the numbers they
are drawn from (plots.json) are the report's: prediction error per horizon of the model and
both baselines, and surprise histograms whose counts are the report's event and free-frame
counts."""

import json

import numpy as np
import pytest

from jepa_world_model import cli
from jepa_world_model.bags.evaluation_plots import (prediction_series, surprise_histogram,
                                                    write_plots)
from jepa_world_model.core.checkpoint import save_checkpoint
from jepa_world_model.core.model.world_model import WorldModel
from tiny_models import tiny_config

pytestmark = pytest.mark.usefixtures('one_torch_thread')

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _bag_with_collisions(path):
    """Three gantry episodes of 16 frames with a collision flag that turns on twice each."""
    from jepa_world_model.bags.writer import BagRecorder, RecorderTopics
    from jepa_world_model.core.training.synthetic import generate_episodes, SceneSpec
    episodes = generate_episodes(3, 16, seed=4, spec=SceneSpec(image_size=32))
    with BagRecorder(path, topics=RecorderTopics(collision='/collision'),
                     joint_names=['shoulder', 'wrist']) as rec:
        start = 10 ** 18
        for ep in episodes:
            flag = np.zeros(len(ep), dtype=bool)
            flag[[4, 5, 11]] = True
            ep.extras['collision'] = flag
            start = rec.write_episode(ep, start, 0.1) + 5 * 10 ** 9
    return path


def test_evaluate_bag_writes_plots_from_the_report_numbers(tmp_path, capsys):
    bag = _bag_with_collisions(tmp_path / 'bag')
    config = tiny_config(joint_names=['shoulder', 'wrist'])
    config.data.source = 'rosbag'
    ckpt = save_checkpoint(tmp_path / 'arm2.safetensors', WorldModel(config.model), config,
                           step=3)
    plots = tmp_path / 'figures'
    assert cli.main(['evaluate', '--checkpoint', str(ckpt), '--bag', str(bag),
                     '--plots', str(plots)]) == 0
    report = json.loads(capsys.readouterr().out)
    numbers = json.loads((plots / 'plots.json').read_text())
    assert report['plots'] == {'dir': str(plots), 'files': numbers['files']}
    assert numbers['files'] == ['prediction_error.png', 'surprise_collision.png', 'plots.json']
    for name in numbers['files'][:-1]:
        data = (plots / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, name
    prediction = report['prediction']
    assert numbers['prediction']['horizons'] == prediction['horizons'] == [1, 2, 4, 8]
    latent = numbers['prediction']['latent_l1']
    assert latent == {'model': prediction['model_latent_l1'],
                      'copy': prediction['copy_latent_l1'],
                      'constant velocity': prediction['const_vel_latent_l1']}
    assert numbers['prediction']['joint_abs_error']['model'] == \
        prediction['model_joint_abs_error']
    histogram, summary = numbers['surprise']['collision'], report['surprise']['collision']
    assert summary['events'] == 6                       # two onsets in each of 3 episodes
    assert sum(histogram['onset_counts']) == summary['events']
    assert sum(histogram['free_counts']) == summary['free_frames']
    assert histogram['dropped'] == 0
    assert len(histogram['bin_edges']) == len(histogram['onset_counts']) + 1


def test_surprise_histogram_counts_and_shared_bins():
    histogram = surprise_histogram(np.array([3.0, 4.0, np.nan]), np.array([0.5, 1.0, 1.5, 4.0]),
                                   bins=4)
    assert histogram['bin_edges'] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert histogram['onset_counts'] == [0, 0, 0, 2]
    assert histogram['free_counts'] == [1, 2, 0, 1]
    assert histogram['dropped'] == 1


def test_prediction_series_reads_both_report_kinds_and_refuses_bad_lengths():
    generated = {'horizons': [1, 2], 'model_latent_l1': [0.1, 0.2],
                 'copy_baseline_latent_l1': [0.3, 0.4],
                 'const_vel_baseline_latent_l1': [0.5, 0.6]}
    assert prediction_series(generated) == {'latent_l1': {
        'model': [0.1, 0.2], 'copy': [0.3, 0.4], 'constant velocity': [0.5, 0.6]}}
    with pytest.raises(ValueError, match='2 values for 3 horizons'):
        prediction_series({'horizons': [1, 2, 3], 'model_latent_l1': [0.1, 0.2]})
    with pytest.raises(ValueError, match='no horizons'):
        prediction_series({})


def test_write_plots_without_surprise_samples(tmp_path):
    report = {'prediction': {'horizons': [1, 2], 'model_latent_l1': [0.1, 0.2],
                             'copy_latent_l1': [0.3, 0.4]}}
    numbers = write_plots(report, None, tmp_path / 'out')
    assert numbers['files'] == ['prediction_error.png', 'plots.json']
    assert numbers['surprise'] == {}
    assert (tmp_path / 'out' / 'prediction_error.png').read_bytes().startswith(PNG_SIGNATURE)
