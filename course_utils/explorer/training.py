"""Training the explorer's deep stack for a few hundred SGD steps, one step at a time.

The net is the explorer's stack (``depth`` square layers of ``width`` units, weights ``randn * scale``,
no biases; forward by ``run_stack``) with a linear read-out to one number, trained on
``make_regression`` data by plain SGD (``training.sgd_step``; ``torch.optim`` would load about 70 MB
of machinery into every student's kernel for the same update). Each step also records the update-to-data ratio per
layer, log10(std(lr * grad) / std(weight)): how far a step moves a layer relative to its size.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..activations import resolve_scale
from ..initialization import random_stack, run_stack
from ..training import make_regression, sgd_step

MAX_DEPTH = 12         # deeper stacks train on their first MAX_DEPTH layers, so a training stays a few seconds
TRAIN_BATCH = 200      # examples to fit: with fewer than the width, any stack memorizes them and the loss says little
LEARNING_RATE = 0.02   # Kaiming-scaled ReLU stacks train well; much more and they diverge
HEALTHY_RATIO = -3.0   # log10 of the update-to-data ratio that is often quoted as healthy


class StackTraining:
    """Full-batch SGD on the explorer's stack with autograd; ``step()`` runs one step and records it."""

    def __init__(self, scale: float | str, activation: str, depth: int, width: int, seed: int = 0,
                 batch: int = TRAIN_BATCH, lr: float = LEARNING_RATE) -> None:
        self.depth, self.activation, self.lr = min(depth, MAX_DEPTH), activation, lr
        s = resolve_scale(scale, width)
        _, weights = random_stack(self.depth, width, batch, seed)
        readout = torch.randn(width, 1, generator=torch.Generator().manual_seed(seed + 2))
        self.weights = [(w * s).requires_grad_() for w in (*weights, readout)]
        self.x, self.y = make_regression(n=batch, n_in=width, seed=seed)
        self.losses: list[float] = []
        self.ratios = torch.full((len(self.weights),), math.nan)

    def loss(self) -> Tensor:
        """Mean squared error of the stack's output on the training data."""
        acts, _ = run_stack(self.x, self.weights[:-1], self.activation)
        out = (acts[-1] @ self.weights[-1]).squeeze(1)
        return ((out - self.y) ** 2).mean()

    def step(self) -> None:
        """One SGD step; keeps the loss before it and each layer's log10 update-to-data ratio."""
        loss = self.loss()
        loss.backward()
        self.losses.append(loss.item())
        with torch.no_grad():
            for i, w in enumerate(self.weights):
                w.g, w.grad = w.grad, None  # sgd_step reads .g, the course's name for a gradient
                self.ratios[i] = (self.lr * w.g.std() / w.std()).log10()
            sgd_step(self.weights, self.lr)
