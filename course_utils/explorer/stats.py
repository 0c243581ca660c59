"""The explorer's numbers for one setting, kept per setting: a step back or a preset seen before costs nothing."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from ..diagnosis import bin_edges, dead_share, is_bounded, saturated_share, shares, zeroes_negatives
from ..initialization import per_layer_std, stack_values


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


@functools.lru_cache(maxsize=256)  # a few kB each
def stack_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int) -> StackStats:
    """Run the stack once (``stack_values``) and measure it: the same numbers as ``layer_stats`` and friends."""
    acts, grads = stack_values(scale, depth, width, batch, activation, seed)
    act_edges, grad_edges = bin_edges(activation), bin_edges(activation, "gradients")
    none = torch.zeros(depth)
    return StackStats(per_layer_std(acts), per_layer_std(grads), shares(acts, act_edges),
                      shares(grads, grad_edges), act_edges, grad_edges,
                      saturated_share(acts) if is_bounded(activation) else none,
                      dead_share(acts) if zeroes_negatives(activation) else none)
