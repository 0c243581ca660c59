"""Initialization experiments: how the scale of random weights decides the fate of a deep random stack.

``run_stack`` is the one loop that sends a batch through the stack (and, given a gradient at the top,
the chain rule back down). Everything else here, in ``diagnosis`` and in the explorer reads its output.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from .activations import ACTIVATIONS, SCALES, resolve_scale  # noqa: F401  (re-exported)

# Sizes a laptop computes in well under a second; beyond them a typo would allocate gigabytes.
LIMITS = {"depth": (1, 100), "width": (1, 256), "batch": (1, 1000)}


def check_stack_args(depth: int, width: int, batch: int, activation: str) -> None:
    """Validate the size of a random deep stack and the name of its activation; the message names the limit."""
    for name, value in (("depth", depth), ("width", width), ("batch", batch)):
        low, high = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be a whole number (int) from {low} to {high}, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name} must be from {low} to {high}, got {value}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")


@functools.lru_cache(maxsize=2)  # at depth 100 and width 256 one entry holds 26 MB of weights
def random_stack(depth: int, width: int, batch: int, seed: int) -> tuple[Tensor, Tensor]:
    """Unit-normal input (batch, width) and weights (depth, width, width), drawn in that order from ``seed``.

    Cached, so that changing only the scale or the activation reuses the same draws. Shared: never modify.
    """
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, width, generator=gen), torch.randn(depth, width, width, generator=gen)


@functools.lru_cache(maxsize=2)
def upstream_gradient(batch: int, width: int, seed: int) -> Tensor:
    """The fixed random gradient at the last layer that backward passes start from (cached; do not modify)."""
    return torch.randn(batch, width, generator=torch.Generator().manual_seed(seed + 1))


# How often to look for a stuck layer: each look waits for the layer to be computed.
CHECK_EVERY = 4


def stuck(t: Tensor) -> bool:
    """True when ``t`` is all nan or all zero: nan @ w is nan and 0 @ w is 0, so every later layer is too."""
    first = t.flatten()[0].item()
    if first == first and first != 0:  # one entry rules it out, far cheaper than two reductions
        return False
    return bool(t.isnan().all()) or not bool(t.any())


def run_stack(x: Tensor, weights: Sequence[Tensor], activation: str, upstream: Tensor | None = None,
              ) -> tuple[Tensor, Tensor | None]:
    """Forward ``a_l = act(a_{l-1} @ W_l)``, and with ``upstream`` backward ``g_{l-1} = (g_l * act'(a_l)) @ W_l.T``.

    Returns the activations after every layer, (depth, batch, width), and the loss gradient at every
    layer's output (same shape; ``upstream`` is the last one) or None. Once a layer is all nan or all 0,
    every later one is a copy of it (the same values as computing it, sooner).
    """
    act, depth = ACTIVATIONS[activation], len(weights)
    can_skip = bool(act(torch.zeros(1)) == 0)  # after a zero layer, act(0 @ w) must be 0 again
    outs, h = [], x
    for i, w in enumerate(weights):
        h = act(h @ w)
        outs.append(h)
        if can_skip and i % CHECK_EVERY == 0 and stuck(h):
            outs += [h] * (depth - i - 1)
            break
    acts = torch.stack(outs)
    if upstream is None:
        return acts, None
    grads, g = [upstream], upstream
    for layer in range(depth - 1, 0, -1):  # through layer l to the output of layer l - 1
        if layer % CHECK_EVERY == 0 and stuck(g):
            grads += [g] * layer
            break
        g = (g * act.slope(acts[layer])) @ weights[layer].t()
        grads.append(g)
    return acts, torch.stack(grads[::-1])


@contextlib.contextmanager
def subnormals_flushed() -> Iterator[None]:
    """Treat float32 numbers below 1.2e-38 as 0 inside: arithmetic on them is tens of times slower."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def stack_values(scale: float | str, depth: int = 50, width: int = 100, batch: int = 200,
                 activation: str = "linear", seed: int = 0, device: str | torch.device = "cpu",
                 ) -> tuple[Tensor, Tensor]:
    """Activations and gradients at every layer of the random stack with weights ``randn * scale``.

    Each is (depth, batch, width). Subnormal numbers count as 0 (see ``subnormals_flushed``), so a
    vanishing signal reaches exactly 0 a few layers sooner than a plain float32 loop shows.
    """
    check_stack_args(depth, width, batch, activation)
    x, weights = random_stack(depth, width, batch, seed)
    weights = weights.to(device) * resolve_scale(scale, width)
    with subnormals_flushed():
        acts, grads = run_stack(x.to(device), weights, activation, upstream_gradient(batch, width, seed).to(device))
    for values in (acts, grads):  # a few may slip through (a library's own kernels): the same rule for them
        values.masked_fill_(values.abs() < torch.finfo(values.dtype).tiny, 0.0)
    return acts, grads


def layer_stats(scale: float | str, depth: int = 50, width: int = 100, batch: int = 200,
                activation: str = "linear", seed: int = 0, device: str | torch.device = "cpu",
                ) -> tuple[Tensor, Tensor]:
    """Std after each layer of the activations (forward) and of the loss gradient at its output (backward).

    The backward pass starts from a random unit-normal gradient at the last layer, as if the loss were
    ``(output * G).sum()``, and applies the chain rule layer by layer down to the first.
    """
    acts, grads = stack_values(scale, depth, width, batch, activation, seed, device)
    return per_layer_std(acts), per_layer_std(grads)


def per_layer_std(values: Tensor) -> Tensor:
    """The std of each layer's values (first dimension), as a (depth,) tensor."""
    return torch.stack([layer.std() for layer in values])  # a few times quicker than values.flatten(1).std(1)


def layer_stds(scale: float | str, depth: int = 50, width: int = 100, batch: int = 200,
               activation: str = "linear", seed: int = 0, device: str | torch.device = "cpu") -> Tensor:
    """Std of the activations after each of ``depth`` random layers with weights ``randn * scale``."""
    return layer_stats(scale, depth, width, batch, activation, seed, device)[0]


def as_stds(stds: Tensor | Sequence[float]) -> Tensor:
    """``stds`` as a 1-D float tensor on the CPU; a clear error for anything else."""
    values = torch.as_tensor(stds, dtype=torch.float64) if not isinstance(stds, Tensor) else stds.detach().cpu()
    if values.dim() != 1 or values.numel() == 0:
        raise ValueError(f"expected a non-empty 1-D tensor of stds (one per layer), got shape {tuple(values.shape)}")
    return values


def first_broken_layer(stds: Tensor | Sequence[float], from_top: bool = False) -> int | None:
    """First layer (1-based) whose std is inf/nan or exactly 0, or None; ``from_top`` walks down from the last.

    Gradients flow from the last layer to the first, so for them the first break is the highest one.
    """
    values = as_stds(stds)
    broken = (~torch.isfinite(values) | (values == 0)).nonzero().flatten()
    if len(broken) == 0:
        return None
    return int(broken[-1] if from_top else broken[0]) + 1


def describe_fate(stds: Tensor | Sequence[float], from_top: bool = False) -> str:
    """Say in words where the stack overflowed or hit exactly 0; else the std at its end (layer 1 if from_top)."""
    values = as_stds(stds)
    layer = first_broken_layer(values, from_top)
    if layer is None:
        return f"std at layer 1: {values[0].item():.3g}" if from_top else f"final std {values[-1].item():.3g}"
    if torch.isfinite(values[layer - 1]):
        return f"underflowed to exactly 0 at layer {layer}"
    return f"overflowed to inf/nan at layer {layer}"
