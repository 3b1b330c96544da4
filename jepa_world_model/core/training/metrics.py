"""Collapse metrics and linear probes on frozen latents.

Per-dimension std and effective rank are necessary but not sufficient health checks: our
calibration run kept both healthy while the latent ignored the robot. The probes here are the
check that catches that (``ridge_probe_r2`` on the controlled state).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def effective_rank(z: Tensor, eps: float = 1e-12) -> float:
    """exp(entropy) of the normalised singular values of centred z [B, Z] (Roy & Vetterli 2007)."""
    z = z.detach().double()
    z = z - z.mean(dim=0)
    s = torch.linalg.svdvals(z)
    if float(s.sum()) <= eps:
        return 0.0
    p = s / s.sum()
    entropy = -(p * torch.log(p + eps)).sum()
    return float(torch.exp(entropy))


@dataclass
class ProbeResult:
    """Held-out score of a linear probe."""

    score: float           # R^2 (regression) or accuracy (classification)
    per_output: list


def _standardise(train: Tensor, test: Tensor):
    mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
    return (train - mean) / std, (test - mean) / std


def ridge_probe_r2(z_train: Tensor, y_train: Tensor, z_test: Tensor, y_test: Tensor,
                   ridge: float = 1e-3) -> ProbeResult:
    """Fit y = W z + b by ridge regression, report held-out R^2 (mean over outputs).

    z_* [N, Z], y_* [N, K].
    """
    xtr, xte = _standardise(z_train.double(), z_test.double())
    xtr = torch.cat([xtr, torch.ones(len(xtr), 1, dtype=xtr.dtype)], 1)
    xte = torch.cat([xte, torch.ones(len(xte), 1, dtype=xte.dtype)], 1)
    ytr, yte = y_train.double(), y_test.double()
    eye = torch.eye(xtr.shape[1], dtype=xtr.dtype)
    w = torch.linalg.solve(xtr.T @ xtr + ridge * len(xtr) * eye, xtr.T @ ytr)
    pred = xte @ w
    ss_res = ((yte - pred) ** 2).sum(0)
    ss_tot = ((yte - yte.mean(0)) ** 2).sum(0).clamp_min(1e-12)
    r2 = 1.0 - ss_res / ss_tot
    return ProbeResult(float(r2.mean()), [float(v) for v in r2])


def logistic_probe_accuracy(z_train: Tensor, labels_train: Tensor, z_test: Tensor,
                            labels_test: Tensor, num_classes: int, steps: int = 200,
                            weight_decay: float = 1e-4, seed: int = 0) -> ProbeResult:
    """Multinomial logistic regression (L-BFGS) on frozen latents; held-out accuracy.

    Returns the overall accuracy and per-class accuracies (nan for absent classes).
    """
    torch.manual_seed(seed)
    xtr, xte = _standardise(z_train.float(), z_test.float())
    linear = torch.nn.Linear(xtr.shape[1], num_classes)
    opt = torch.optim.LBFGS(linear.parameters(), lr=0.5, max_iter=steps,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(xtr), labels_train.long())
        loss = loss + weight_decay * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = linear(xte).argmax(1)
    correct = pred == labels_test.long()
    per_class = []
    for c in range(num_classes):
        sel = labels_test.long() == c
        per_class.append(float(correct[sel].float().mean()) if sel.any() else float('nan'))
    return ProbeResult(float(correct.float().mean()), per_class)
