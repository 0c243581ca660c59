"""What a deep random stack does to its units: distributions per layer, saturated and dead units, and a verdict.

The values come from ``initialization.stack_values``. Every threshold the explorer states in its
readout is defined here, once.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .activations import ACTIVATIONS
from .initialization import per_layer_std, stack_values

SATURATED = 0.99   # a tanh unit with |a| above this passes less than 2% of its gradient back (slope 1 - a**2)
MAJORITY = 0.5     # more than this share of saturated or dead units at a layer is a problem
RUNAWAY = 1e3      # a std beyond RUNAWAY times (or below 1/RUNAWAY of) its value where the signal enters
LOG_RANGE = (-10.0, 10.0)  # bins of log10|value|, half a decade wide; the two outer bins catch everything beyond
VALUE_BINS = 40            # bins of the value itself, for activations bounded by +-1 (tanh)


@functools.cache
def is_bounded(activation: str) -> bool:
    """True when the activation maps every input into [-1, 1] (tanh): its distribution is shown by value."""
    out = ACTIVATIONS[activation].fn(torch.tensor([-1e30, 1e30]))
    return bool(out.abs().max() <= 1)


@functools.cache
def zeroes_negatives(activation: str) -> bool:
    """True when the activation turns every negative input into exactly 0 (ReLU): its units can die."""
    return bool(ACTIVATIONS[activation].fn(torch.tensor([-1.0, -1e30])).eq(0).all())


def bin_edges(activation: str, which: str = "activations") -> Tensor:
    """Edges of the histogram bins: of the value in [-1, 1] for bounded activations, else of log10|value|.

    The log bins run from 1e-10 to 1e10 in half decades; the first bin also holds smaller values and
    exact zeros (its left edge is -inf), the last one larger values, inf and nan (right edge +inf).
    """
    if which not in ("activations", "gradients"):
        raise ValueError(f"which must be 'activations' or 'gradients', got {which!r}")
    if which == "activations" and is_bounded(activation):
        return torch.linspace(-1.0, 1.0, VALUE_BINS + 1)
    low, high = LOG_RANGE
    inner = torch.linspace(low, high, int(2 * (high - low)) + 1)
    return torch.cat([torch.tensor([-math.inf]), inner, torch.tensor([math.inf])])


def bin_position(values: Tensor, edges: Tensor) -> Tensor:
    """Where each value lies along the bins of ``edges``, in bin widths from the first bin's left side (a new tensor).

    Measured on log10|value| for log bins (nan counts as +inf), else on the value (nan goes to the last
    bin). Values beyond the outer bins are clamped into them, so rounding down gives the bin's index.
    """
    bins = len(edges) - 1
    width = (edges[2] - edges[1]).item()
    left = edges[1].item() - width
    if math.isinf(edges[0].item()):
        # Clamped to the middle of the outer bins before the logarithm: that keeps every position inside,
        # and no denormal number, inf or nan reaches the slow paths of log2 (times a constant: log10).
        low, high = 10 ** (edges[1].item() - width / 2), 10 ** (edges[-2].item() + width / 2)
        key = values.abs().nan_to_num_(nan=math.inf).clamp_(low, high).log2_()
        return key.mul_(math.log10(2) / width).sub_(left / width)
    return (values - left).div_(width).clamp_(0, bins - 1).nan_to_num_(nan=bins - 1)


def shares(values: Tensor, edges: Tensor) -> Tensor:
    """Share of the entries of each layer (first dimension) that fall in each bin: a (depth, bins) tensor."""
    depth, bins = values.shape[0], len(edges) - 1
    # bincount needs integers; the narrowest type that holds every index converts and counts fastest.
    small = torch.int16 if depth * bins <= torch.iinfo(torch.int16).max else torch.int64
    index = bin_position(values.flatten(1), edges).to(small)  # positions are >= 0: conversion rounds down
    index += torch.arange(depth, dtype=small)[:, None] * bins  # one run of bins per layer
    counts = torch.bincount(index.flatten(), minlength=depth * bins).view(depth, bins)
    return counts / index.shape[1]


def layer_distributions(scale: float | str, depth: int = 50, width: int = 100, batch: int = 200,
                        activation: str = "linear", seed: int = 0, which: str = "activations",
                        ) -> tuple[Tensor, Tensor]:
    """Share of units in each bin at every layer, a (depth, bins) tensor, and the bin edges (see ``bin_edges``)."""
    edges = bin_edges(activation, which)
    acts, grads = stack_values(scale, depth, width, batch, activation, seed)
    return shares(acts if which == "activations" else grads, edges), edges


def saturated_share(acts: Tensor) -> Tensor:
    """Per layer, the share of activations with |a| > SATURATED: tanh units that pass almost no gradient."""
    return acts.abs().gt_(SATURATED).flatten(1).mean(1)  # in place: 1.0 where saturated, no bool tensor


def dead_share(acts: Tensor) -> Tensor:
    """Per layer of (depth, batch, width) activations, the share of units that are exactly 0 for every example."""
    return (acts.abs().amax(dim=1) == 0).float().mean(1)


@dataclass(frozen=True)
class Verdict:
    """A diagnosis of one setting: its state, the layer where the trouble starts, and the threshold used."""

    state: str          # "healthy", "exploding", "vanishing", "saturated" or "dead"
    layer: int | None   # where it starts (None when healthy)
    threshold: str      # the rule that decided it, in words

    def __str__(self) -> str:
        if self.layer is None:
            return f"{self.state}: {self.threshold}"
        return f"{self.state} from layer {self.layer}: {self.threshold}"


def runaway_layer(stds: Tensor, from_top: bool = False) -> tuple[str, int] | None:
    """First layer whose std left [1/RUNAWAY, RUNAWAY] times the std where the signal enters, and which way."""
    values = stds.double().tolist()
    order = range(len(values) - 1, -1, -1) if from_top else range(len(values))
    reference = values[order[0]]
    for i in order:
        ratio = values[i] / reference if reference > 0 and math.isfinite(reference) else values[i]
        if not math.isfinite(ratio) or ratio > RUNAWAY:
            return "exploding", i + 1
        if ratio < 1 / RUNAWAY:
            return "vanishing", i + 1
    return None


def first_majority(share: Tensor) -> int | None:
    """First layer (1-based) where more than MAJORITY of the units are affected, or None."""
    over = (share > MAJORITY).nonzero().flatten()
    return int(over[0]) + 1 if len(over) else None


def diagnose(act_stds: Tensor, grad_stds: Tensor, saturated: Tensor, dead: Tensor) -> Verdict:
    """The verdict for one setting: the forward problem that starts first, else a problem of the gradients."""
    limit = f"{1 / RUNAWAY:g} to {RUNAWAY:g} times"
    found = []  # (layer, rank for ties: the cause before its effect, verdict)
    if (layer := first_majority(saturated)) is not None:
        rule = f"more than {MAJORITY:.0%} of units have |a| > {SATURATED}"
        found.append((layer, 0, Verdict("saturated", layer, rule)))
    if (layer := first_majority(dead)) is not None:
        found.append((layer, 0, Verdict("dead", layer, f"more than {MAJORITY:.0%} of units are 0 for every example")))
    if (runaway := runaway_layer(act_stds)) is not None:
        state, layer = runaway
        found.append((layer, 1, Verdict(state, layer, f"activation std left {limit} its layer-1 value")))
    if found:
        return min(found, key=lambda f: f[:2])[2]
    if (runaway := runaway_layer(grad_stds, from_top=True)) is not None:
        state, layer = runaway
        return Verdict(state, layer, f"gradient std left {limit} its value at the last layer")
    return Verdict("healthy", None, f"both stds stay within {limit} their starting value; "
                                    f"at most {MAJORITY:.0%} of units saturated (|a| > {SATURATED}) or dead")


@dataclass(frozen=True)
class StackStats:
    """Everything the explorer shows about one setting: stds, histograms and unit shares per layer."""

    act_stds: Tensor
    grad_stds: Tensor
    act_shares: Tensor   # (depth, bins) share of units per bin; edges in act_edges
    grad_shares: Tensor
    act_edges: Tensor
    grad_edges: Tensor
    saturated: Tensor    # (depth,) share of activations with |a| > diagnosis.SATURATED (zeros unless tanh)
    dead: Tensor         # (depth,) share of units that are 0 for every example (zeros unless ReLU)


@functools.lru_cache(maxsize=256)  # a few kB each: a step back or a preset seen before costs nothing
def stack_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int) -> StackStats:
    """Run the stack once (``stack_values``) and measure it: the same numbers as ``layer_stats`` and friends."""
    acts, grads = stack_values(scale, depth, width, batch, activation, seed)
    act_edges, grad_edges = bin_edges(activation), bin_edges(activation, "gradients")
    none = torch.zeros(depth)
    return StackStats(per_layer_std(acts), per_layer_std(grads), shares(acts, act_edges),
                      shares(grads, grad_edges), act_edges, grad_edges,
                      saturated_share(acts) if is_bounded(activation) else none,
                      dead_share(acts) if zeroes_negatives(activation) else none)
