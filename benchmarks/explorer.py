"""Time control changes of the initialization lab against the naive interact-style redraw, side by side.

Run: .venv/bin/python benchmarks/explorer.py [--presses N] [--pace S] [--no-worker]
Both ways compute the same numbers for a new setting (stds and per-layer distributions of activations
and gradients) and produce the PNG the notebook shows. The naive way builds a new figure per change
(what `ipywidgets.interact` with plt.subplots does); the explorer reuses one figure, repaints only
curves and heat maps over cached backgrounds, and reuses cached unscaled runs where that is exact.
The mix: arrow-key steps (one slider step on the slider's grid of log10 values, as the browser sends
them) from each preset, preset jumps, and activation switches; timed twice, with a change every --pace
seconds (separate presses and clicks, as in a seminar: the stats worker computes ahead in between) and
back to back (no time in between: the throughput of a held key or a drag). Prints medians per kind of
change and overall, and the ratio.
Targets: explorer median at most 25 ms, at least 4x faster than the naive way.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import time
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from course_utils import init_explorer, layer_distributions, layer_stats, stats_worker  # noqa: E402
from course_utils.activations import ACTIVATIONS  # noqa: E402
from course_utils.explorer import InitExplorer  # noqa: E402
from course_utils.fast_stats import buffers, forget, run_measured, stack_stats  # noqa: E402
from course_utils.initialization import random_stack, upstream_gradient  # noqa: E402

STEP = 10 ** 0.01
STARTS = {  # (activation, starting scale): what each preset shows
    "Xavier, linear": ("linear", 0.1),
    "Kaiming, ReLU": ("relu", math.sqrt(2 / 100)),
    "unscaled 1.0 (overflow)": ("linear", 1.0),
    "0.01 (underflow)": ("linear", 0.01),
    "Xavier, tanh": ("tanh", 0.1),
}
JUMPS = [1.0, 0.01, 0.1, math.sqrt(2 / 100), 0.01, 1.0, math.sqrt(2 / 100), 0.1]  # preset buttons in a seminar
SWITCHES = ["relu", "tanh", "linear"]


def naive_redraw(scale: float, activation: str) -> bytes:
    """What an interact callback re-creating the figure does for one change."""
    acts, grads = layer_stats(scale, activation=activation)
    act_shares, _ = layer_distributions(scale, activation=activation)
    grad_shares, _ = layer_distributions(scale, activation=activation, which="gradients")
    fig, axes = plt.subplots(2, 2, figsize=(9, 6), dpi=100)
    for ax, values, title in ((axes[0, 0], acts, "activations"), (axes[0, 1], grads, "gradients")):
        ax.plot(range(1, len(values) + 1), values.numpy(), marker=".")
        ax.axhline(1.0, color="grey", linestyle="--")
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_ylabel("std")
        ax.set_title(title)
    for ax, values in ((axes[1, 0], act_shares), (axes[1, 1], grad_shares)):
        ax.imshow(values.numpy(), aspect="auto", cmap="Blues")
        ax.set_ylabel("layer")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def timed(change: Callable[[], object]) -> float:
    """Milliseconds for one call."""
    start = time.perf_counter()
    change()
    return 1000 * (time.perf_counter() - start)


def changes(presses: int) -> list[tuple[str, str, float]]:
    """The mix of changes, as (kind, activation, scale) after each change."""
    mix = []
    for label, (activation, start) in STARTS.items():
        here = round(math.log10(start) / 0.01)  # the browser's slider snaps to its grid of log10 values
        mix += [(f"steps from {label}", activation, 10 ** ((here + i + 1) * 0.01)) for i in range(presses)]
    mix += [("preset jumps", "linear", scale) for scale in JUMPS]
    mix += [("activation switches", activation, 0.1) for activation in SWITCHES * 3]
    return mix


def time_mix(explorer: InitExplorer, mix: list[tuple[str, str, float]], pace_s: float) -> dict[str, list[float]]:
    """Milliseconds per change, by kind, with a change every ``pace_s`` seconds (0: each right after the last)."""
    times: dict[str, list[float]] = {}
    for kind, activation, scale in mix:
        if kind not in times:
            # Forget every setting's numbers, so that a jump back to a preset seen earlier is not free.
            forget()
            if kind.startswith("steps"):  # go to the preset first (not timed)
                explorer.activation.value, explorer.scale.value = activation, scale / STEP
                time.sleep(pace_s)

        def change(activation: str = activation, scale: float = scale) -> None:
            explorer.activation.value = activation
            explorer.scale.value = scale

        took = timed(change)
        times.setdefault(kind, []).append(took)
        time.sleep(max(0.0, pace_s - took / 1000))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=20, help="key presses per preset (default 20)")
    parser.add_argument("--pace", type=float, default=0.15, help="seconds from one change to the next (0.15)")
    parser.add_argument("--no-worker", action="store_true", help="no stats worker: all work in this process")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in the notebooks (course_utils.reproducible)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, {args.presses} presses per preset")

    if args.no_worker:
        os.environ["COURSE_UTILS_STATS_WORKER"] = "0"  # the switch a hub would use
    explorer = init_explorer()
    worker = stats_worker.start()
    started = time.perf_counter()
    if worker is not None and worker.wait_ready():
        print(f"stats worker ready {time.perf_counter() - started:.1f} s after the explorer was created\n")
    else:
        print("no stats worker: every float32 run is computed and measured in this process\n")
    mix = changes(args.presses)
    paced = time_mix(explorer, mix, args.pace)
    counts = dict(worker.counts) if worker is not None else {}
    back_to_back = time_mix(explorer, mix, 0.0)
    naive: dict[str, list[float]] = {}
    for i, (kind, activation, scale) in enumerate(mix):
        if i % 3 == 0 or len(naive.get(kind, [])) < 3:  # the naive way is slow: every third change
            naive.setdefault(kind, []).append(timed(lambda a=activation, s=scale: naive_redraw(s, a)))

    paced_label = f"{1000 * args.pace:.0f} ms apart"
    print(f"{'change':<36} {paced_label:>14} {'back to back':>13} {'naive':>10} {'ratio':>7}")
    rows = [(kind, paced[kind], back_to_back[kind], naive[kind]) for kind in paced]
    rows.append(("all changes", *([t for kind in paced for t in ts[kind]] for ts in (paced, back_to_back, naive))))
    for kind, p, b, n in rows:
        p, b, n = (statistics.median(t) for t in (p, b, n))
        print(f"{kind:<36} {p:11.1f} ms {b:10.1f} ms {n:7.1f} ms {n / max(p, b):6.1f}x")
    print("targets: explorer median at most 25 ms; naive / explorer >= 4 (ratio: naive over the slower column)")
    if worker is not None:
        print(f"stats worker, {paced_label}: {counts['ahead used']} changes found their numbers computed ahead, "
              f"{counts['measured']} runs of layers measured while the kernel computed the next")
    floor(explorer)


class Unmeasured:
    """Stands in for the explorer's measurements: the float32 run alone, its layers measured by no one."""

    layers_per_job = 5

    def add(self, which: str, start: int, end: int) -> None:
        pass

    def wait(self) -> None:
        pass


def float32_run_alone(scale: float) -> None:
    """The explorer's float32 run of the tanh stack, into its buffers, with no statistics taken."""
    values, weights = buffers(50, 200, 100)
    x, unscaled = random_stack(50, 100, 200, 0)
    torch.mul(unscaled, scale, out=weights)
    run_measured(ACTIVATIONS["tanh"], x, values["activations"], values["gradients"], weights,
                 upstream_gradient(200, 100, 0, "cpu"), Unmeasured())


def floor(explorer: InitExplorer) -> None:
    """Where a tanh step goes: the float32 run alone and the repaint alone bound what any change can cost."""
    scales = [0.1 * STEP ** (i + 1) for i in range(20)]
    run = statistics.median(timed(lambda s=s: float32_run_alone(s)) for s in scales)
    stats = stack_stats(0.1, "tanh", 50, 100, 200, 0)
    paint = statistics.median(timed(lambda: explorer.figure.render(stats, [])) for _ in scales)
    print(f"\nfloor of a tanh step: the float32 run alone (50 products and tanh forward, 49 back, no statistics) "
          f"{run:.1f} ms, the repaint and PNG alone {paint:.1f} ms, together {run + paint:.1f} ms")

if __name__ == "__main__":
    main()
