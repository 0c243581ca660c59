"""The explorer's numbers, fast: cached unscaled runs reused for every weight scale where that is exact.

Without biases, and with an activation that commutes with a positive factor (linear, ReLU), weights
scaled by s multiply the activations after layer l by s**l and the gradient at layer l's output by
s**(depth - l), exactly. So one cached run at scale 1 (in float64) gives every scale: stds are
multiplied, and histograms of log10|value| are shifted by l * log10(s). Float32 then differs only by
rounding as long as no value comes near overflow or underflow; there, and for tanh, the real float32
run is computed (``exact_stats``): into buffers kept between calls, with the numbers of finished layers
measured on a second thread while the next layers are computed.
"""

from __future__ import annotations

import functools
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import torch
from torch import Tensor

from .activations import ACTIVATIONS, Activation, resolve_scale
from .diagnosis import bin_edges, dead_share, is_bounded, saturated_share, shares, zeroes_negatives
from .initialization import CHECK_EVERY, random_stack, stuck, upstream_gradient

# Within these bounds float32 computes the same stds as exact arithmetic, up to rounding (~1e-6 relative).
SAFE_RANGE = (1e-30, 1e30)


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


@functools.lru_cache(maxsize=1)
def buffers(depth: int, batch: int, width: int) -> tuple[Tensor, Tensor, Tensor]:
    """Storage for one float32 run (activations, gradients, scaled weights), kept from one call to the next.

    Fresh tensors of several megabytes cost page faults each time they are first written: about 3000 per
    tanh setting, 15 to 20 ms on our machines, more than the arithmetic they hold.
    """
    return torch.empty(depth, batch, width), torch.empty(depth, batch, width), torch.empty(depth, width, width)


@dataclass
class LayerNumbers:
    """Per-layer numbers of some consecutive layers: std, bin shares, saturated and dead shares."""

    stds: Tensor
    shares: Tensor
    saturated: Tensor
    dead: Tensor


def measure(values: Tensor, edges: Tensor, bounded: bool, can_die: bool) -> LayerNumbers:
    """``LayerNumbers`` of the layers in ``values`` (layers, batch, width)."""
    none = torch.zeros(len(values))
    return LayerNumbers(torch.stack([v.std() for v in values]), shares(values, edges),
                        saturated_share(values) if bounded else none, dead_share(values) if can_die else none)


# The numbers of finished layers are measured on a second thread while the next layers are computed.
# One torch thread there leaves the other core to the run. Jobs of several layers each: every hand-over
# of Python's lock between the two threads costs time (with one job per layer the gain is lost).
HELPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="course-utils-stats",
                            initializer=torch.set_num_threads, initargs=(1,))
LAYERS_PER_JOB = 10
RUN_LOCK = threading.Lock()  # one float32 run at a time: they share ``buffers``


class Measurements:
    """Jobs measuring runs of layers on ``HELPER``; ``numbers()`` puts their results together in layer order."""

    def __init__(self, edges: Tensor, bounded: bool, can_die: bool) -> None:
        self.edges, self.bounded, self.can_die = edges, bounded, can_die
        self.jobs: list[tuple[int, Future[LayerNumbers]]] = []

    def add(self, values: Tensor, start: int) -> None:
        """Measure layers ``start`` to ``start + len(values)`` on the helper thread (``values`` must not change)."""
        self.jobs.append((start, HELPER.submit(measure, values, self.edges, self.bounded, self.can_die)))

    def wait(self) -> None:
        """Return once every job is over (the buffers they read may then be written again)."""
        wait([job for _, job in self.jobs])

    def numbers(self, depth: int) -> LayerNumbers:
        """All ``depth`` layers; layers no job measured are copies of the nearest measured one (a stuck run)."""
        self.jobs.sort(key=lambda pair: pair[0])
        parts = [job.result() for _, job in self.jobs]
        first = self.jobs[0][0]
        last = first + sum(len(part.stds) for part in parts)

        def whole(field: str) -> Tensor:
            rows = torch.cat([getattr(part, field) for part in parts])
            before, after = rows[:1].expand(first, *rows.shape[1:]), rows[-1:].expand(depth - last, *rows.shape[1:])
            return torch.cat([before, rows, after])

        return LayerNumbers(*(whole(field) for field in ("stds", "shares", "saturated", "dead")))


def exact_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int) -> StackStats:
    """``StackStats`` of the real float32 run: the same numbers as ``layer_stats`` and ``layer_distributions``.

    The run is ``stack_values``'s, except that once a layer is all nan or all 0 the layers after it are not
    computed (they are copies; this also skips the slow denormal numbers before an underflow).
    """
    act = ACTIVATIONS[activation]
    act_edges, grad_edges = bin_edges(activation), bin_edges(activation, "gradients")
    forward = Measurements(act_edges, is_bounded(activation), zeroes_negatives(activation))
    backward = Measurements(grad_edges, False, False)
    with RUN_LOCK:
        acts, grads, weights = buffers(depth, batch, width)
        x, unscaled = random_stack(depth, width, batch, seed)
        torch.mul(unscaled, resolve_scale(scale, width), out=weights)
        run_measured(act, x, acts, grads, weights, upstream_gradient(batch, width, seed, "cpu"), forward, backward)
    a, g = forward.numbers(depth), backward.numbers(depth)
    return StackStats(a.stds, g.stds, a.shares, g.shares, act_edges, grad_edges, a.saturated, a.dead)


def run_measured(act: Activation, x: Tensor, acts: Tensor, grads: Tensor, weights: Tensor, upstream: Tensor,
                 forward: Measurements, backward: Measurements) -> None:
    """Fill ``acts`` and ``grads`` as ``stack_values`` does, handing each finished run of layers to be measured."""
    depth = len(weights)
    try:
        start = 0
        for i, w in enumerate(weights):
            x = acts[i] = act.fn(x @ w)
            ends = i == depth - 1 or (i % CHECK_EVERY == 0 and stuck(x))
            if ends or i + 1 - start == LAYERS_PER_JOB:
                forward.add(acts[start:i + 1], start)
                start = i + 1
            if ends:
                acts[i + 1:] = x  # the backward pass reads them
                break
        grad = grads[-1] = upstream
        end = depth
        for layer in range(depth - 1, -1, -1):  # grads[layer]: the gradient at layer ``layer``'s output
            if layer < depth - 1:
                grad = grads[layer] = (grad * act.slope(acts[layer + 1])) @ weights[layer + 1].t()
            ends = layer == 0 or ((layer + 1) % CHECK_EVERY == 0 and stuck(grad))
            if ends or end - layer == LAYERS_PER_JOB:
                backward.add(grads[layer:end], layer)
                end = layer
            if ends:
                break
    finally:  # even after an error: no job may still read the buffers when the next run writes them
        forward.wait()
        backward.wait()


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


