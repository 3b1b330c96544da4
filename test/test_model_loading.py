"""load_runtime: the model both nodes load at configure, and the reasons it can fail with."""

from types import SimpleNamespace

import pytest
import torch

from tiny_models import JOINTS, save_tiny

pytestmark = pytest.mark.ros   # the module lives in the ROS layer's package


def settings(model_path, num_threads=0, dtype='float32'):
    return SimpleNamespace(model_path=str(model_path), num_threads=num_threads, device='cpu',
                           dtype=dtype, inference_backend='torch', onnx_dir='')


def test_loads_the_given_checkpoint_on_the_given_threads(tmp_path):
    from jepa_world_model.ros.common.model_loading import load_runtime
    path = save_tiny(tmp_path / 'tiny.safetensors')
    before = torch.get_num_threads()
    try:
        runtime = load_runtime(settings(path, num_threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert runtime.checkpoint.path == path and list(runtime.joint_names) == JOINTS


def test_failures_say_why(tmp_path):
    from jepa_world_model.ros.common.model_loading import load_runtime, ModelLoadError
    missing = tmp_path / 'missing.safetensors'
    with pytest.raises(ModelLoadError, match='cannot load checkpoint') as info:
        load_runtime(settings(missing))
    assert str(missing) in str(info.value) and 'searched' not in str(info.value)
    # No model_path: the shipped model's locations are named, and how to choose another.
    with pytest.raises(ModelLoadError, match=r'searched: .*no_such_model.*; set model_path'):
        load_runtime(settings(''), 'no_such_model.safetensors')
    path = save_tiny(tmp_path / 'tiny.safetensors')
    with pytest.raises(ModelLoadError, match=r'cannot load .*tiny.* on cpu/float7'):
        load_runtime(settings(path, dtype='float7'))
