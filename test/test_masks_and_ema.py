"""Multi-block masks and the EMA helper."""

import pytest
import torch

from jepa_world_model.core.config import MaskConfig
from jepa_world_model.core.model.ema import ema_momentum, ema_update, freeze
from jepa_world_model.core.model.masks import sample_masks


def test_masks_are_disjoint_sorted_and_sized():
    cfg = MaskConfig()
    grid = 8
    masks = sample_masks(16, grid, cfg, torch.Generator().manual_seed(0))
    assert masks.context.shape[0] == masks.target.shape[0] == 16
    n = grid * grid
    for ctx, tgt in zip(masks.context, masks.target):
        assert set(ctx.tolist()).isdisjoint(tgt.tolist())
        assert ctx.min() >= 0 and ctx.max() < n and tgt.max() < n
        assert torch.all(ctx[1:] > ctx[:-1]) and torch.all(tgt[1:] > tgt[:-1])
    # 4 blocks of 15-20% each cover at most 80% and at least one block's 15%.
    assert 0.1 * n <= masks.target.shape[1] <= 0.8 * n
    assert masks.context.shape[1] >= cfg.min_context_patches


def test_masks_are_reproducible_from_the_generator_seed():
    a = sample_masks(4, 8, MaskConfig(), torch.Generator().manual_seed(3))
    b = sample_masks(4, 8, MaskConfig(), torch.Generator().manual_seed(3))
    c = sample_masks(4, 8, MaskConfig(), torch.Generator().manual_seed(4))
    assert torch.equal(a.context, b.context) and torch.equal(a.target, b.target)
    assert not (torch.equal(a.target, c.target) and torch.equal(a.context, c.context))


def test_ema_update_matches_formula_and_schedule():
    torch.manual_seed(0)
    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = target.weight.clone()
    ema_update(target, online, 0.9)
    assert torch.allclose(target.weight, 0.9 * before + 0.1 * online.weight)
    ema_update(target, online, 1.0)   # momentum 1 keeps the target
    assert ema_momentum(0, 100, 0.99, 1.0) == pytest.approx(0.99)
    assert ema_momentum(50, 100, 0.99, 1.0) == pytest.approx(0.995)
    assert ema_momentum(500, 100, 0.99, 1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ema_update(target, online, 1.5)
    with pytest.raises(ValueError):
        ema_update(torch.nn.Linear(3, 3), online, 0.5)


def test_freeze_disables_gradients():
    m = freeze(torch.nn.Linear(2, 2))
    assert not any(p.requires_grad for p in m.parameters()) and not m.training


def test_tiny_grids_always_keep_context_and_targets():
    for seed in range(50):
        masks = sample_masks(4, 2, MaskConfig(), torch.Generator().manual_seed(seed))
        assert masks.context.shape[1] >= 1 and masks.target.shape[1] >= 1
        for ctx, tgt in zip(masks.context, masks.target):
            assert set(ctx.tolist()).isdisjoint(tgt.tolist())
