"""Time control changes of the initialization lab against the naive interact-style redraw, side by side.

Run: .venv/bin/python benchmarks/explorer.py [--presses N]
Both ways compute the same numbers for a new setting (stds and per-layer distributions of activations
and gradients) and produce the PNG the notebook shows. The naive way builds a new figure per change
(what `ipywidgets.interact` with plt.subplots does); the explorer reuses one figure, repaints only
curves and heat maps over cached backgrounds, and reuses cached unscaled runs where that is exact.
The mix: arrow-key steps (one slider step, 10**0.01) from each preset, preset jumps, and activation
switches. Prints medians per kind of change and overall, and the ratio.
Targets: explorer median at most 25 ms, at least 4x faster than the naive way.
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import time
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from course_utils import init_explorer, layer_distributions, layer_stats  # noqa: E402
from course_utils.activations import ACTIVATIONS  # noqa: E402
from course_utils.explorer import InitExplorer  # noqa: E402
from course_utils.fast_stats import buffers, run_measured, stack_stats  # noqa: E402
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
        mix += [(f"steps from {label}", activation, start * STEP ** (i + 1)) for i in range(presses)]
    mix += [("preset jumps", "linear", scale) for scale in JUMPS]
    mix += [("activation switches", activation, 0.1) for activation in SWITCHES * 3]
    return mix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=20, help="key presses per preset (default 20)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in the notebooks (course_utils.reproducible)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, {args.presses} presses per preset\n")

    explorer = init_explorer()
    times: dict[str, tuple[list[float], list[float]]] = {}
    for kind, activation, scale in changes(args.presses):
        if kind not in times:
            # Forget cached numbers, so that a jump back to a preset seen earlier is not free.
            stack_stats.cache_clear()
            if kind.startswith("steps"):  # go to the preset first (not timed)
                explorer.activation.value, explorer.scale.value = activation, scale / STEP
        fast, naive = times.setdefault(kind, ([], []))

        def change(activation: str = activation, scale: float = scale) -> None:
            explorer.activation.value = activation
            explorer.scale.value = scale

        fast.append(timed(change))
        if len(naive) < max(3, len(fast) // 3):  # the naive way is slow: time every third change
            naive.append(timed(lambda a=activation, s=scale: naive_redraw(s, a)))
    print(f"{'change':<36} {'explorer':>10} {'naive':>10} {'ratio':>7}")
    all_fast, all_naive = [], []
    for kind, (fast, naive) in times.items():
        all_fast += fast
        all_naive += naive
        f, n = statistics.median(fast), statistics.median(naive)
        print(f"{kind:<36} {f:7.1f} ms {n:7.1f} ms {n / f:6.1f}x")
    f, n = statistics.median(all_fast), statistics.median(all_naive)
    print(f"{'all changes':<36} {f:7.1f} ms {n:7.1f} ms {n / f:6.1f}x")
    print("targets: explorer median at most 25 ms; naive / explorer >= 4")
    floor(explorer)


class Unmeasured:
    """Stands in for the explorer's measurements: the float32 run alone, its layers measured by no one."""

    def add(self, values: torch.Tensor, start: int) -> None:
        pass

    def wait(self) -> None:
        pass


def float32_run_alone(scale: float) -> None:
    """The explorer's float32 run of the tanh stack, into its buffers, with no statistics taken."""
    acts, grads, weights = buffers(50, 200, 100)
    x, unscaled = random_stack(50, 100, 200, 0)
    torch.mul(unscaled, scale, out=weights)
    run_measured(ACTIVATIONS["tanh"], x, acts, grads, weights, upstream_gradient(200, 100, 0, "cpu"),
                 Unmeasured(), Unmeasured())


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
