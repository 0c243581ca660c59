"""Initialization experiments: how the scale of random weights decides the fate of deep activations."""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from .activations import ACTIVATIONS, SCALES, resolve_scale  # noqa: F401  (re-exported)


def check_stack_args(depth: int, width: int, batch: int, activation: str) -> None:
    """Validate the size of a random deep stack and the name of its activation."""
    for name, value in (("depth", depth), ("width", width), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")


@functools.lru_cache(maxsize=4)  # few: at depth 100 and width 256 one entry holds 26 MB of weights
def random_stack(depth: int, width: int, batch: int, seed: int, device: str | torch.device = "cpu",
                 ) -> tuple[Tensor, Tensor]:
    """Unit-scale random input (batch, width) and weights (depth, width, width), the same for a given seed.

    Cached, so that an explorer changing only the scale or the activation reuses the same draws.
    The returned tensors are shared: never modify them in place.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, width, generator=gen)
    weights = torch.randn(depth, width, width, generator=gen)
    return x.to(device), weights.to(device)


# How often to look for a stuck stack: each look waits for the layer to be computed, which costs time.
CHECK_EVERY = 4


def stuck(t: Tensor) -> bool:
    """True when ``t`` is all nan or all zero: nan @ w is nan and 0 @ w is 0, so every later product is too."""
    first = t.flatten()[0].item()
    if first == first and first != 0:  # one entry rules it out, far cheaper than the two reductions
        return False
    return bool(t.isnan().all()) or not bool(t.any())


def _forward(scale: float | str, depth: int, width: int, batch: int, activation: str, seed: int,
             device: str | torch.device) -> tuple[Tensor, list[Tensor], Tensor]:
    """Scaled weights, the activation after every layer of the random stack, and the std of each."""
    check_stack_args(depth, width, batch, activation)
    act = ACTIVATIONS[activation].fn
    # Skipping a dead stack needs act(0) == 0 (nan stays nan anyway); an activation such as sigmoid breaks it.
    can_skip = bool(act(torch.zeros(1)) == 0)
    x, weights = random_stack(depth, width, batch, seed, device)
    scaled = weights * resolve_scale(scale, width)
    outputs, stds = [], []
    for i, w in enumerate(scaled):
        x = act(x @ w)
        outputs.append(x)
        stds.append(x.std())
        if can_skip and i % CHECK_EVERY == 0 and stuck(x):
            outputs += [x] * (depth - i - 1)
            stds += [stds[-1]] * (depth - i - 1)
            break
    return scaled, outputs, torch.stack(stds)


def layer_stds(scale: float | str, depth: int = 50, width: int = 100, batch: int = 200,
               activation: str = "linear", seed: int = 0, device: str | torch.device = "cpu") -> Tensor:
    """Std of the activations after each of ``depth`` random layers with weights ``randn * scale``."""
    return _forward(scale, depth, width, batch, activation, seed, device)[2]


def backward_step(grad: Tensor, out: Tensor, w: Tensor, activation: str) -> Tensor:
    """Chain rule through one layer ``out = act(x @ w)``: from the gradient at ``out`` to the gradient at ``x``."""
    return (grad * ACTIVATIONS[activation].slope(out)) @ w.t()


@functools.lru_cache(maxsize=8)
def upstream_gradient(batch: int, width: int, seed: int, device: str | torch.device) -> Tensor:
    """The fixed random gradient that the backward pass of ``layer_stats`` starts from (cached; do not modify)."""
    return torch.randn(batch, width, generator=torch.Generator().manual_seed(seed + 1)).to(device)


def layer_stats(scale: float | str, depth: int = 50, width: int = 100, batch: int = 200,
                activation: str = "linear", seed: int = 0, device: str | torch.device = "cpu",
                ) -> tuple[Tensor, Tensor]:
    """Stds after each layer of the activations (forward) and of the loss gradient at each layer's output (backward).

    The backward pass starts from a random unit-normal gradient at the last layer, as if the loss
    were ``(output * G).sum()``, and applies the chain rule layer by layer down to the first.
    """
    scaled, outputs, act_stds = _forward(scale, depth, width, batch, activation, seed, device)
    grad = upstream_gradient(batch, width, seed, device)
    grad_stds = []
    for i in reversed(range(depth)):
        grad_stds.append(grad.std())
        if i % CHECK_EVERY == 0 and stuck(grad):  # stays all nan or all zero down to layer 1
            grad_stds += [grad_stds[-1]] * i
            break
        grad = backward_step(grad, outputs[i], scaled[i], activation)
    return act_stds, torch.stack(grad_stds[::-1])


def first_broken_layer(stds: Tensor, from_top: bool = False) -> int | None:
    """First layer (1-based) whose std is inf/nan or exactly 0, or None; ``from_top`` walks down from the last layer.

    Gradients flow from the last layer to the first, so for them the first break is the highest one.
    """
    values = stds.detach().cpu()
    if values.dim() != 1 or values.numel() == 0:
        raise ValueError(f"expected a non-empty 1-D tensor of stds, got shape {tuple(values.shape)}")
    broken = (~torch.isfinite(values) | (values == 0)).nonzero().flatten()
    if len(broken) == 0:
        return None
    return int(broken[-1] if from_top else broken[0]) + 1


def describe_fate(stds: Tensor, from_top: bool = False) -> str:
    """Say in words where the stack overflowed or hit exactly zero; else the std at its end (layer 1 if from_top)."""
    values = stds.detach().cpu()
    layer = first_broken_layer(values, from_top)
    if layer is None:
        return f"std at layer 1: {values[0].item():.3g}" if from_top else f"final std {values[-1].item():.3g}"
    if torch.isfinite(values[layer - 1]):
        return f"underflowed to exactly 0 at layer {layer}"
    return f"overflowed to inf/nan at layer {layer}"
