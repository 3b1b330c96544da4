"""Data-parallel training over two CPU processes (gloo), as torchrun would run it."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from jepa_world_model.core.config import ExperimentConfig, from_dict
from jepa_world_model.core.training.distributed import init_from_env
from jepa_world_model.core.training.synthetic import SceneSpec, generate_episodes
from jepa_world_model.core.training.trainer import Trainer

pytestmark = pytest.mark.timeout(180)

TINY = {'model': dict(image_size=16, patch_size=8, embed_dim=16, depth=1, num_heads=2,
                      image_latent_dim=8, proprio_latent_dim=4, predictor_embed_dim=16,
                      predictor_num_heads=2, dynamics_hidden_dim=32),
        'optim': {'steps': 3, 'batch_size': 4}, 'train': {'log_every': 1}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    ctx = init_from_env('cpu', timeout_s=60)
    cfg = from_dict(ExperimentConfig, TINY)
    eps = generate_episodes(4, 8, seed=0, spec=SceneSpec(image_size=16))
    trainer = Trainer(cfg, eps, dist_ctx=ctx)
    trainer.run()
    flat = torch.cat([p.detach().reshape(-1) for p in trainer.model.parameters()])
    torch.save(flat, os.path.join(out_dir, f'rank{rank}.pt'))
    dist.destroy_process_group()


def test_two_ranks_stay_in_sync_and_differ_from_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'rank0.pt')
    r1 = torch.load(tmp_path / 'rank1.pt')
    assert torch.equal(r0, r1)          # averaged gradients keep the replicas identical
    cfg = from_dict(ExperimentConfig, TINY)
    single = Trainer(cfg, generate_episodes(4, 8, seed=0, spec=SceneSpec(image_size=16)))
    single.run()
    flat = torch.cat([p.detach().reshape(-1) for p in single.model.parameters()])
    assert not torch.allclose(flat, r0)  # rank 1's batches contributed
