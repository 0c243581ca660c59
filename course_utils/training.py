"""Training: synthetic data, a plain SGD step over ``.g``, and the course's three training loops (the hand-written
model with ``sgd_step``, autograd stepped by hand, ``torch.optim.SGD``), each written once."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .activations import kaiming_scale, resolve_scale
from .initialization import random_stack, run_stack


def toy_problem(seed: int = 0, n: int = 200, n_in: int = 100, n_hidden: int = 50,
                ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The chapter's two-layer setup ``x, y, w1, b1, w2, b2``: random data, Kaiming-scaled weights, zero biases.

    Drawn from a generator seeded with ``seed``, in the order a notebook would write it by hand, so that
    ``reproducible(seed)`` followed by the six ``torch.randn`` lines gives the same tensors.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_in, generator=gen)
    y = torch.randn(n, generator=gen)
    return x, y, *kaiming_params(n_in, n_hidden, gen)


def kaiming_params(n_in: int, n_hidden: int, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Kaiming-scaled w1 (n_in, n_hidden) and w2 (n_hidden, 1) drawn from ``gen``, and zero biases."""
    w1 = torch.randn(n_in, n_hidden, generator=gen) * kaiming_scale(n_in)
    w2 = torch.randn(n_hidden, 1, generator=gen) * kaiming_scale(n_hidden)
    return w1, torch.zeros(n_hidden), w2, torch.zeros(1)


def regression_direction(n_in: int, seed: int = 0) -> Tensor:
    """The unit vector v of ``make_regression`` for this ``n_in`` and ``seed``: the targets depend on x @ v only."""
    v = torch.randn(n_in, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


def make_regression(n: int = 256, n_in: int = 4, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Inputs (n, n_in) and targets (n,) with y = sin(x @ v) + noise, v = ``regression_direction(n_in, seed)``."""
    for name, value in (("n", n), ("n_in", n_in)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    v = regression_direction(n_in, seed)
    # A second stream (seed + 1) for the data, so that v does not depend on n.
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(n, n_in, generator=gen)
    y = torch.sin(x @ v) + noise * torch.randn(n, generator=gen)
    return x, y


def sgd_step(params: list[Tensor], lr: float) -> None:
    """Move every parameter against its hand-written gradient: ``p -= lr * p.g``, in place."""
    if not lr > 0:
        raise ValueError(f"learning rate must be > 0, got {lr}")
    for i, p in enumerate(params):
        g = getattr(p, "g", None)
        if g is None:
            raise RuntimeError(f"parameter {i} (shape {tuple(p.shape)}) has no .g: run backward() before sgd_step")
        if g.shape != p.shape:
            raise ValueError(f"parameter {i} has shape {tuple(p.shape)} but its .g has shape {tuple(g.shape)}")
        p.sub_(lr * g)


def init_params(n_in: int, n_hidden: int, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Kaiming-scaled w1 (n_in, n_hidden) and w2 (n_hidden, 1), zero biases, from a generator seeded with ``seed``."""
    return kaiming_params(n_in, n_hidden, torch.Generator().manual_seed(seed))


def train_model(model: Any, x: Tensor, y: Tensor, lr: float, steps: int) -> list[float]:
    """Full-batch training of a hand-written model (``Model``): forward, ``backward()``, ``sgd_step``; the losses."""
    losses = []
    for _ in range(steps):
        loss = model(x, y)
        model.backward()
        sgd_step(model.parameters(), lr)
        losses.append(loss.item())
    return losses


def train_autograd(net: nn.Module, x: Tensor, y: Tensor, lr: float, steps: int, zero: bool = True) -> list[float]:
    """The same loop on an ``nn.Module``: autograd fills ``.grad``, the step and (unless ``zero=False``) the zeroing
    are written by hand. Without the zeroing every ``backward()`` adds to the gradients of the steps before."""
    losses = []
    for _ in range(steps):
        loss = net(x, y)
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= lr * p.grad
                if zero:
                    p.grad.zero_()
        losses.append(loss.item())
    return losses


def train_optim(net: nn.Module, x: Tensor, y: Tensor, lr: float, steps: int) -> list[float]:
    """The same loop with ``torch.optim.SGD`` doing the step and the zeroing; the losses."""
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = net(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# Training the deep random stack of notebook 01 (the explorer's train button): depth square layers of width
# units, weights randn * scale, no biases, forward by run_stack, a linear read-out to one number, on
# make_regression data, by sgd_step. Each step also records the update-to-data ratio per layer,
# log10(std(lr * grad) / std(weight)): how far a step moves a layer relative to its size.

MAX_DEPTH = 12         # deeper stacks train on their first MAX_DEPTH layers, so a training stays a few seconds
TRAIN_BATCH = 200      # examples to fit: with fewer than the width, any stack memorizes them and the loss says little
LEARNING_RATE = 0.02   # Kaiming-scaled ReLU stacks train well; much more and they diverge
HEALTHY_RATIO = -3.0   # log10 update-to-data ratio: a rule of thumb for healthy training, not a law


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
