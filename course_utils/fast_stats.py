"""The explorer's numbers, fast: cached unscaled runs reused for every weight scale where that is exact.

Without biases, and with an activation that commutes with a positive factor (linear, ReLU), weights
scaled by s multiply the activations after layer l by s**l and the gradient at layer l's output by
s**(depth - l), exactly. So one cached run at scale 1 (in float64) gives every scale: stds are
multiplied, and histograms of log10|value| are shifted by l * log10(s). Float32 then differs only by
rounding as long as no value comes near overflow or underflow; there, and for tanh, the real float32
run is computed (``exact_stats``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .activations import ACTIVATIONS, resolve_scale
from .diagnosis import bin_edges, dead_share, is_bounded, saturated_share, shares, zeroes_negatives
from .initialization import random_stack, upstream_gradient

# Within these bounds float32 computes the same stds as exact arithmetic, up to rounding (~1e-6 relative).
SAFE_RANGE = (1e-30, 1e30)
# How often the float32 run looks for a layer that is all nan or all zero (each look costs a reduction).
CHECK_EVERY = 4


@dataclass
class StackStats:
    """Everything the explorer shows about one setting: stds, histograms and unit shares per layer."""

    act_stds: Tensor
    grad_stds: Tensor
    act_shares: Tensor   # (depth, bins) share of units per bin; edges in act_edges
    grad_shares: Tensor
    act_edges: Tensor
    grad_edges: Tensor
    saturated: Tensor    # (depth,) share of activations with |a| > 0.99
    dead: Tensor         # (depth,) share of units that are 0 for every example


@dataclass
class UnitRun:
    """A float64 run of the stack with unscaled weights, kept in the form that rescales cheaply."""

    act_std: Tensor
    act_max: Tensor
    grad_std: Tensor
    grad_max: Tensor
    act_keys: Tensor   # (depth, n) sorted log10|a|
    grad_keys: Tensor
    dead: Tensor


@functools.lru_cache(maxsize=4)
def unit_run(activation: str, depth: int, width: int, batch: int, seed: int) -> UnitRun:
    """Run the stack once with scale 1 in float64 (cached: only the scale changes along a drag)."""
    act = ACTIVATIONS[activation]
    x, weights = random_stack(depth, width, batch, seed)
    h, w64 = x.double(), weights.double()
    outs = []
    for w in w64:
        h = act.fn(h @ w)
        outs.append(h)
    grad = upstream_gradient(batch, width, seed, "cpu").double()
    grads = [grad]
    for layer in range(depth - 1, 0, -1):
        grad = (grad * act.slope(outs[layer])) @ w64[layer].t()
        grads.append(grad)
    acts, grads = torch.stack(outs), torch.stack(grads[::-1])
    dead = dead_share(acts) if zeroes_negatives(activation) else torch.zeros(depth)
    return UnitRun(acts.flatten(1).std(1), acts.abs().flatten(1).amax(1), grads.flatten(1).std(1),
                   grads.abs().flatten(1).amax(1), sorted_keys(acts), sorted_keys(grads), dead)


def sorted_keys(values: Tensor) -> Tensor:
    """Per layer, log10|value| sorted (float32 is plenty for bins half a decade wide, at half the memory)."""
    return values.flatten(1).abs().log10().float().sort(dim=1).values


def shifted_shares(sorted_keys: Tensor, edges: Tensor, shift: Tensor) -> Tensor:
    """Histogram of log10|value| + shift per layer, from each layer's sorted keys: counts below each edge."""
    inner = edges[1:-1].to(sorted_keys.dtype)
    below = torch.searchsorted(sorted_keys, inner.expand(len(shift), -1) - shift[:, None].float())
    n = sorted_keys.shape[1]
    cumulative = torch.cat([torch.zeros(len(shift), 1), below.float(), torch.full((len(shift), 1), float(n))], 1)
    return cumulative.diff(dim=1) / n


def fast_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int) -> StackStats | None:
    """``StackStats`` from the cached unscaled run, or None where that would not be what float32 computes."""
    if not ACTIVATIONS[activation].commutes_with_scale or not (math.isfinite(scale) and scale > 0):
        return None
    run = unit_run(activation, depth, width, batch, seed)
    layers = torch.arange(1, depth + 1, dtype=torch.float64)
    log_s = math.log10(scale)
    forward, backward = 10 ** (layers * log_s), 10 ** ((depth - layers) * log_s)
    acts, grads = forward * run.act_std, backward * run.grad_std
    low, high = SAFE_RANGE
    if (acts.min() <= low or grads.min() <= low or (forward * run.act_max).max() >= high
            or (backward * run.grad_max).max() >= high):
        return None
    act_edges, grad_edges = bin_edges(activation), bin_edges(activation, "gradients")
    return StackStats(acts.float(), grads.float(),
                      shifted_shares(run.act_keys, act_edges, layers * log_s),
                      shifted_shares(run.grad_keys, grad_edges, (depth - layers) * log_s),
                      act_edges, grad_edges, torch.zeros(depth), run.dead)


def stuck(t: Tensor) -> bool:
    """True when ``t`` is all nan or all 0: every later layer then gives exactly the same, in float32."""
    first = t.flatten()[0].item()
    if first == first and first != 0:  # one entry rules it out, far cheaper than the two reductions
        return False
    return bool(t.isnan().all()) or not bool(t.any())


@dataclass
class Float32Run:
    """Activations and gradients per layer, each (depth, batch, width), of the float32 run of one setting.

    Layers from ``acts_end`` on (activations) and before ``grads_start`` (gradients) are copies of a
    stuck layer, so every number per layer there equals that layer's.
    """

    acts: Tensor
    grads: Tensor
    acts_end: int
    grads_start: int


def float32_run(scale: float, activation: str, depth: int, width: int, batch: int, seed: int) -> Float32Run:
    """``stack_values``, but once a layer is stuck at nan or 0 the rest is copied instead of computed.

    Besides the saved arithmetic, this skips the slow denormal numbers that precede an underflow.
    """
    act = ACTIVATIONS[activation]
    x, weights = random_stack(depth, width, batch, seed)
    weights = weights * resolve_scale(scale, width)
    acts, acts_end = torch.empty(depth, batch, width), depth
    for i, w in enumerate(weights):
        x = acts[i] = act.fn(x @ w)
        if i % CHECK_EVERY == 0 and stuck(x):
            acts[i + 1:], acts_end = x, i + 1
            break
    grads, grads_start = torch.empty(depth, batch, width), 0
    grad = grads[-1] = upstream_gradient(batch, width, seed, "cpu")
    for layer in range(depth - 1, 0, -1):
        grad = grads[layer - 1] = (grad * act.slope(acts[layer])) @ weights[layer].t()
        if layer % CHECK_EVERY == 0 and stuck(grad):
            grads[:layer - 1], grads_start = grad, layer - 1
            break
    return Float32Run(acts, grads, acts_end, grads_start)


def with_copies(rows: Tensor, start: int, depth: int) -> Tensor:
    """Per-layer numbers of layers ``start`` to ``start + len(rows)``, extended to all ``depth`` layers by
    repeating the first and last row (the layers outside are copies of those)."""
    before = rows[:1].expand(start, *rows.shape[1:])
    after = rows[-1:].expand(depth - start - len(rows), *rows.shape[1:])
    return torch.cat([before, rows, after])


def exact_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int) -> StackStats:
    """``StackStats`` of the real float32 run (the same numbers as ``layer_stats`` and ``layer_distributions``)."""
    run = float32_run(scale, activation, depth, width, batch, seed)
    acts, grads = run.acts[:run.acts_end], run.grads[run.grads_start:]  # the layers that were computed
    act_edges, grad_edges = bin_edges(activation), bin_edges(activation, "gradients")

    def forward(rows: Tensor) -> Tensor:
        return with_copies(rows, 0, depth)

    def backward(rows: Tensor) -> Tensor:
        return with_copies(rows, run.grads_start, depth)

    return StackStats(forward(torch.stack([a.std() for a in acts])), backward(torch.stack([g.std() for g in grads])),
                      forward(shares(acts, act_edges)), backward(shares(grads, grad_edges)), act_edges, grad_edges,
                      forward(saturated_share(acts)) if is_bounded(activation) else torch.zeros(depth),
                      forward(dead_share(acts)) if zeroes_negatives(activation) else torch.zeros(depth))


@functools.lru_cache(maxsize=64)  # small records; a drag back and forth and preset jumps revisit settings
def stack_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int,
                shortcut: bool = True) -> StackStats:
    """The explorer's numbers for one setting: the cached shortcut where it is exact, else the float32 run."""
    fast = fast_stats(scale, activation, depth, width, batch, seed) if shortcut else None
    return fast if fast is not None else exact_stats(scale, activation, depth, width, batch, seed)


def fast_layer_stats(scale: float, depth: int = 50, width: int = 100, batch: int = 200, activation: str = "linear",
                     seed: int = 0) -> tuple[Tensor, Tensor] | None:
    """``layer_stats`` from the cached unscaled run, or None where that shortcut would not be what float32 gives."""
    fast = fast_stats(scale, activation, depth, width, batch, seed)
    return None if fast is None else (fast.act_stds, fast.grad_stds)


