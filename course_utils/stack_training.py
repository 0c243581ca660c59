"""Training the explorer's deep stack for a few hundred SGD steps, one step at a time.

The net is the explorer's stack (``depth`` square layers of ``width`` units, weights ``randn * scale``,
no biases) with a linear read-out to one number, trained on ``make_regression`` data. Each step also
records the update-to-data ratio per layer, log10(std(lr * grad) / std(weight)): about -3 is the
usual healthy level; far below, a layer barely moves, far above, it is being rewritten every step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .activations import ACTIVATIONS, resolve_scale
from .initialization import random_stack
from .training import make_regression

MAX_DEPTH = 12         # deeper stacks train on their first MAX_DEPTH layers, so a training stays a few seconds
LEARNING_RATE = 0.02   # Kaiming-scaled ReLU stacks train well; much more and they diverge
HEALTHY_RATIO = -3.0   # log10 of the update-to-data ratio that is usually healthy


class StackTraining:
    """Full-batch SGD on the explorer's stack with autograd; ``step()`` runs one step and records it."""

    def __init__(self, scale: float | str, activation: str, depth: int, width: int, seed: int = 0,
                 batch: int = 200, lr: float = LEARNING_RATE) -> None:
        self.depth = min(depth, MAX_DEPTH)
        self.act, self.lr = ACTIVATIONS[activation], lr
        s = resolve_scale(scale, width)
        _, weights = random_stack(self.depth, width, batch, seed)
        readout = torch.randn(width, 1, generator=torch.Generator().manual_seed(seed + 2))
        self.weights = [(w * s).requires_grad_() for w in (*weights, readout)]
        self.x, self.y = make_regression(n=batch, n_in=width, seed=seed)
        self.losses: list[float] = []
        self.ratios = torch.full((len(self.weights),), math.nan)

    def loss(self) -> Tensor:
        """Mean squared error of the stack's output on the training data."""
        h = self.x
        for w in self.weights[:-1]:
            h = self.act.fn(h @ w)
        out = (h @ self.weights[-1]).squeeze(1)
        return ((out - self.y) ** 2).mean()

    def step(self) -> None:
        """One SGD step; keeps the loss before it and each layer's log10 update-to-data ratio."""
        loss = self.loss()
        loss.backward()
        self.losses.append(loss.item())
        with torch.no_grad():
            for i, w in enumerate(self.weights):
                update = self.lr * w.grad
                self.ratios[i] = (update.std() / w.std()).log10()
                w -= update
                w.grad = None


def train_stack(scale: float | str, activation: str, depth: int, width: int, steps: int, seed: int = 0,
                batch: int = 200) -> tuple[Tensor, Tensor]:
    """Train the explorer's stack for ``steps`` SGD steps; return the losses and the last update-to-data ratios."""
    run = StackTraining(scale, activation, depth, width, seed, batch)
    for _ in range(steps):
        run.step()
    return torch.tensor(run.losses), run.ratios
