"""The explorer's numbers, fast: cached unscaled runs reused for every weight scale where that is exact.

Without biases, and with an activation that commutes with a positive factor (linear, ReLU), weights
scaled by s multiply the activations after layer l by s**l and the gradient at layer l's output by
s**(depth - l), exactly. So one cached run at scale 1 (in float64) gives every scale: stds are
multiplied, and histograms of log10|value| are shifted by l * log10(s). Float32 then differs only by
rounding as long as no value comes near overflow or underflow; there, and for tanh, the real float32
run is computed (``exact_stats``): into buffers kept between calls, with the numbers of finished layers
measured by a second process (``stats_worker``) while the next layers are computed.
"""

from __future__ import annotations

import functools
import math
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import NamedTuple

import torch
from torch import Tensor

from . import stats_worker
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


UNIT_RUNS: OrderedDict[tuple, UnitRun] = OrderedDict()  # the last 4: only the scale changes along a drag


def unit_run(activation: str, depth: int, width: int, batch: int, seed: int) -> UnitRun:
    """The stack's run with scale 1 in float64 (cached)."""
    key = (activation, depth, width, batch, seed)
    if key not in UNIT_RUNS:
        UNIT_RUNS[key] = compute_unit_run(*key)
        if len(UNIT_RUNS) > 4:
            UNIT_RUNS.popitem(last=False)
    UNIT_RUNS.move_to_end(key)
    return UNIT_RUNS[key]


def compute_unit_run(activation: str, depth: int, width: int, batch: int, seed: int) -> UnitRun:
    """Run the stack once with scale 1 in float64."""
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


def scaled_run(scale: float, activation: str, depth: int, width: int, batch: int, seed: int,
               ) -> tuple[UnitRun, Tensor, Tensor] | None:
    """The cached unscaled run and log10 of its factor per layer (s**l forward, s**(depth - l) backward), or None
    where that shortcut would not be what float32 computes."""
    if not ACTIVATIONS[activation].commutes_with_scale or not (math.isfinite(scale) and scale > 0):
        return None
    run = unit_run(activation, depth, width, batch, seed)
    layers = torch.arange(1, depth + 1, dtype=torch.float64)
    log_s = math.log10(scale)
    log_forward, log_backward = layers * log_s, (depth - layers) * log_s
    forward, backward = 10 ** log_forward, 10 ** log_backward
    low, high = SAFE_RANGE
    if ((forward * run.act_std).min() <= low or (backward * run.grad_std).min() <= low
            or (forward * run.act_max).max() >= high or (backward * run.grad_max).max() >= high):
        return None
    return run, log_forward, log_backward


def fast_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int) -> StackStats | None:
    """``StackStats`` from the cached unscaled run, or None where that would not be what float32 computes."""
    scaled = scaled_run(scale, activation, depth, width, batch, seed)
    if scaled is None:
        return None
    run, log_forward, log_backward = scaled
    act_edges, grad_edges = bin_edges(activation), bin_edges(activation, "gradients")
    return StackStats((10 ** log_forward * run.act_std).float(), (10 ** log_backward * run.grad_std).float(),
                      shifted_shares(run.act_keys, act_edges, log_forward),
                      shifted_shares(run.grad_keys, grad_edges, log_backward),
                      act_edges, grad_edges, torch.zeros(depth), run.dead)


@functools.lru_cache(maxsize=1)
def buffers(depth: int, batch: int, width: int) -> tuple[stats_worker.SharedBuffers, Tensor]:
    """Storage for one float32 run, kept from one call to the next: the values by name, and the scaled weights.

    Fresh tensors of several megabytes cost page faults each time they are first written: about 3000 per
    tanh setting, 15 to 20 ms on our machines, more than the arithmetic they hold. The values
    ("activations", "gradients", each (depth, batch, width)) are in shared memory, where the stats worker
    reads them.
    """
    values = stats_worker.SharedBuffers({which: (depth, batch, width) for which in ("activations", "gradients")})
    return values, torch.empty(depth, width, width)


class LayerNumbers(NamedTuple):
    """Per-layer numbers of some consecutive layers: std, bin shares, saturated and dead shares."""

    stds: Tensor
    shares: Tensor
    saturated: Tensor
    dead: Tensor


def measure(values: Tensor, activation: str, which: str) -> LayerNumbers:
    """``LayerNumbers`` of the layers in ``values`` (layers, batch, width): the activations or gradients of a run."""
    none = torch.zeros(len(values))
    forward = which == "activations"
    return LayerNumbers(torch.stack([v.std() for v in values]), shares(values, bin_edges(activation, which)),
                        saturated_share(values) if forward and is_bounded(activation) else none,
                        dead_share(values) if forward and zeroes_negatives(activation) else none)


RUN_LOCK = threading.Lock()  # one float32 run at a time: they share ``buffers``


class Interrupted(Exception):
    """A run computed ahead was stopped: something else is wanted now."""


class Measurements:
    """The numbers of a float32 run's layers, measured in runs of layers as soon as they are computed.

    The stats worker measures them while the next layers are computed, where it is running; otherwise
    (and for anything it failed to measure) they are measured here.
    """

    def __init__(self, activation: str, values: stats_worker.SharedBuffers, worker: stats_worker.StatsWorker | None,
                 interrupted: Callable[[], bool] | None = None) -> None:
        self.activation, self.values, self.worker, self.interrupted = activation, values, worker, interrupted
        # Runs of a few layers: each is one message to the worker and one back. A run computed ahead is measured
        # here layer by layer, so that it notices at once when the kernel wants something else.
        self.layers_per_job = 5 if worker is not None else 1 if interrupted is not None else 10
        self.parts: dict[str, list[tuple[int, LayerNumbers]]] = {"activations": [], "gradients": []}
        self.sent: list[tuple[str, int, int]] = []
        if worker is not None:
            try:
                worker.share(values)
            except stats_worker.WorkerGone:
                self.worker = None

    def add(self, which: str, start: int, end: int) -> None:
        """Measure layers ``start`` to ``end`` of ``which`` ("activations" or "gradients"); they must not change."""
        if self.interrupted is not None and self.interrupted():
            raise Interrupted
        if self.worker is not None:
            try:
                self.worker.submit(measure, which, start, end, self.activation, which)
                self.sent.append((which, start, end))
                return
            except stats_worker.WorkerGone:
                self.worker = None
        self._measure_here(which, start, end)

    def _measure_here(self, which: str, start: int, end: int) -> None:
        self.parts[which].append((start, measure(self.values[which][start:end], self.activation, which)))

    def wait(self) -> None:
        """Return once the worker has read everything sent to it (the buffers may then be written again)."""
        if self.sent:
            results = self.worker.collect() if self.worker is not None else {}
            for which, start, end in self.sent:
                if (which, start) in results:
                    self.parts[which].append((start, LayerNumbers(*results[which, start])))
                else:  # the worker died or failed: the values are still in the buffers
                    self._measure_here(which, start, end)
            self.sent = []

    def numbers(self, which: str, depth: int) -> LayerNumbers:
        """All ``depth`` layers; layers left unmeasured are copies of the nearest measured one (a stuck run)."""
        self.wait()
        measured = sorted(self.parts[which], key=lambda pair: pair[0])
        parts = [part for _, part in measured]
        first = measured[0][0]
        last = first + sum(len(part.stds) for part in parts)

        def whole(field: str) -> Tensor:
            rows = torch.cat([getattr(part, field) for part in parts])
            before, after = rows[:1].expand(first, *rows.shape[1:]), rows[-1:].expand(depth - last, *rows.shape[1:])
            return torch.cat([before, rows, after])

        return LayerNumbers(*(whole(field) for field in LayerNumbers._fields))


def setting_key(scale: float, activation: str, depth: int, width: int, batch: int, seed: int) -> tuple:
    """What a float32 run depends on. The weights are float32 times the scale, so only its float32 value counts:
    a scale the browser computed differs from Python's in the last digits, almost never in these (and where
    it does, the cost is a run computed ahead in vain)."""
    return struct.unpack("f", struct.pack("f", scale))[0], activation, depth, width, batch, seed


# Seconds the last float32 run with the worker measuring took, by (activation, depth, width, batch, seed).
PIPELINED_S: dict[tuple, float] = {}


def exact_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int,
                worker: bool = True) -> StackStats:
    """``StackStats`` of the real float32 run: the same numbers as ``layer_stats`` and ``layer_distributions``.

    The run is ``stack_values``'s, except that once a layer is all nan or all 0 the layers after it are not
    computed (they are copies; this also skips the slow denormal numbers before an underflow). With
    ``worker``, the stats worker's numbers computed ahead are used if it has them, and else it measures
    the layers while the next ones are computed here.
    """
    key = setting_key(scale, activation, depth, width, batch, seed)
    live = stats_worker.running() if worker else None
    if live is None:
        return float32_stats(*key, None)
    # Wait for the worker's run of this setting only if that is sooner than running it here.
    ahead = live.take_ahead(key, patience_s=PIPELINED_S.get(key[1:], 0.0))
    if ahead is not None:
        return StackStats(*ahead)
    started = time.perf_counter()
    stats = float32_stats(*key, live)
    PIPELINED_S[key[1:]] = time.perf_counter() - started
    return stats


def float32_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int,
                  worker: stats_worker.StatsWorker | None, interrupted: Callable[[], bool] | None = None,
                  ) -> StackStats:
    """``exact_stats`` computed here, its layers measured by ``worker`` if one is given (else here too)."""
    act = ACTIVATIONS[activation]
    with RUN_LOCK:
        values, weights = buffers(depth, batch, width)
        measured = Measurements(activation, values, worker, interrupted)
        x, unscaled = random_stack(depth, width, batch, seed)
        torch.mul(unscaled, resolve_scale(scale, width), out=weights)
        run_measured(act, x, values["activations"], values["gradients"], weights,
                     upstream_gradient(batch, width, seed, "cpu"), measured)
        a, g = measured.numbers("activations", depth), measured.numbers("gradients", depth)
    return StackStats(a.stds, g.stds, a.shares, g.shares, bin_edges(activation), bin_edges(activation, "gradients"),
                      a.saturated, a.dead)


def computed_ahead(scale: float, activation: str, depth: int, width: int, batch: int, seed: int,
                   interrupted: Callable[[], bool]) -> tuple[Tensor, ...] | None:
    """What the stats worker runs for a setting it computes ahead: ``StackStats``'s fields, or None if interrupted."""
    try:
        stats = float32_stats(scale, activation, depth, width, batch, seed, None, interrupted)
    except Interrupted:
        return None
    return tuple(getattr(stats, field.name) for field in fields(StackStats))


def needs_float32(setting: tuple[float, str, int, int, int, int], shortcut: bool) -> bool:
    """True when ``stack_stats`` would run this setting in float32 and has not yet; False where unsure.

    Unsure: a linear or ReLU setting whose unscaled run is not cached, which would take longer to
    compute here than the worker would save.
    """
    if (*setting_key(*setting), shortcut) in KNOWN:
        return False
    if not shortcut or not ACTIVATIONS[setting[1]].commutes_with_scale:
        return True
    return setting[1:] in UNIT_RUNS and scaled_run(*setting) is None


def look_ahead(settings: list[tuple[float, str, int, int, int, int]], shortcut: bool = True) -> None:
    """Have the stats worker compute, in this order, the settings among these that need the float32 run.

    It works while the kernel waits for the next change, and stops as soon as the kernel asks for
    anything else; ``exact_stats`` then finds the numbers ready (or waits for the one being computed).
    """
    worker = stats_worker.running()
    if worker is None:
        return
    keys = [setting_key(*setting) for setting in settings if needs_float32(setting, shortcut)]
    try:
        worker.look_ahead(computed_ahead, keys)
    except stats_worker.WorkerGone:
        pass


def run_measured(act: Activation, x: Tensor, acts: Tensor, grads: Tensor, weights: Tensor, upstream: Tensor,
                 measured: Measurements) -> None:
    """Fill ``acts`` and ``grads`` as ``stack_values`` does, handing each finished run of layers to be measured."""
    depth = len(weights)
    try:
        start = 0
        for i, w in enumerate(weights):
            x = acts[i] = act.fn(x @ w)
            ends = i == depth - 1 or (i % CHECK_EVERY == 0 and stuck(x))
            if ends or i + 1 - start == measured.layers_per_job:
                measured.add("activations", start, i + 1)
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
            if ends or end - layer == measured.layers_per_job:
                measured.add("gradients", layer, end)
                end = layer
            if ends:
                break
    finally:  # even after an error: the worker may not still read the buffers when the next run writes them
        measured.wait()


# The numbers of the last 64 settings (small records): a drag back and forth and preset jumps revisit settings.
KNOWN: OrderedDict[tuple, StackStats] = OrderedDict()


def stack_stats(scale: float, activation: str, depth: int, width: int, batch: int, seed: int,
                shortcut: bool = True) -> StackStats:
    """The explorer's numbers for one setting: the cached shortcut where it is exact, else the float32 run."""
    key = (*setting_key(scale, activation, depth, width, batch, seed), shortcut)
    if key in KNOWN:
        KNOWN.move_to_end(key)
        return KNOWN[key]
    setting = key[:-1]  # the numbers belong to the key: scales that round to one float32 share them
    fast = fast_stats(*setting) if shortcut else None
    KNOWN[key] = fast if fast is not None else exact_stats(*setting)
    if len(KNOWN) > 64:
        KNOWN.popitem(last=False)
    return KNOWN[key]


def forget() -> None:
    """Forget every setting's numbers, those computed ahead too (the benchmark does, so that first visits count)."""
    KNOWN.clear()
    worker = stats_worker.running()
    if worker is not None:
        worker.forget()


def fast_layer_stats(scale: float, depth: int = 50, width: int = 100, batch: int = 200, activation: str = "linear",
                     seed: int = 0) -> tuple[Tensor, Tensor] | None:
    """``layer_stats`` from the cached unscaled run, or None where that shortcut would not be what float32 gives."""
    fast = fast_stats(scale, activation, depth, width, batch, seed)
    return None if fast is None else (fast.act_stds, fast.grad_stds)


