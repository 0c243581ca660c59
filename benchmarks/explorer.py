"""Time control changes of the initialization lab against the naive interact-style redraw, side by side.

Run: .venv/bin/python benchmarks/explorer.py [--points N] [--pace S] [--seed K]
Each change is timed in the kernel from setting the control to the new PNG bytes. Three mixes:
- first visits: N random points of the slider's grid per activation, settings never computed before;
- arrow-key steps: one grid step at a time from each preset, paced (--pace seconds apart, as a student
  presses keys) and back to back (a held key or a drag);
- presets and activation switches.
The naive way computes the same numbers at the notebooks' 200 examples (``layer_stats`` and
``layer_distributions``) and builds a new figure per change, what ``ipywidgets.interact`` with
``plt.subplots`` does. Targets: explorer median at most 25 ms for each mix; naive / explorer at least 8x.
"""

from __future__ import annotations

import argparse
import io
import math
import random
import statistics
import time
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from course_utils import InitExplorer, init_explorer, layer_distributions, layer_stats  # noqa: E402
from course_utils.diagnosis import stack_stats  # noqa: E402

STEP = 0.01  # the slider's step in log10 units
PRESETS = {"Xavier, linear": ("linear", 0.1), "Kaiming, ReLU": ("relu", math.sqrt(2 / 100)),
           "unscaled 1.0": ("linear", 1.0), "0.01": ("linear", 0.01), "Xavier, tanh": ("tanh", 0.1)}


def naive_redraw(scale: float, activation: str) -> bytes:
    """What an interact callback re-creating the figure does for one change."""
    acts, grads = layer_stats(scale, activation=activation)
    act_shares, _ = layer_distributions(scale, activation=activation)
    grad_shares, _ = layer_distributions(scale, activation=activation, which="gradients")
    fig, axes = plt.subplots(2, 2, figsize=(9, 6), dpi=100)
    for ax, values, title in ((axes[0, 0], acts, "activations"), (axes[0, 1], grads, "gradients")):
        ax.plot(range(1, len(values) + 1), values.numpy(), marker=".")
        ax.set(yscale="log", xlabel="layer", ylabel="std", title=title)
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


def mixes(points: int, presses: int, rng: random.Random) -> dict[str, list[tuple[str, float]]]:
    """The changes to time, as (activation, scale) after each, by mix."""
    low, high = round(-3 / STEP), round(1 / STEP)
    out = {f"first visits, {a}": [(a, 10 ** (rng.randint(low, high) * STEP)) for _ in range(points)]
           for a in ("linear", "relu", "tanh")}
    for label, (activation, start) in PRESETS.items():
        here = round(math.log10(start) / STEP)
        out[f"steps from {label}"] = [(activation, 10 ** ((here + i + 1) * STEP)) for i in range(presses)]
    out["preset jumps"] = [("linear", s) for s in (1.0, 0.01, 0.1, 0.1413, 0.01, 1.0, 0.1413, 0.1)]
    out["activation switches"] = [(a, 0.1) for a in ("relu", "tanh", "linear") * 3]
    return out


def time_mix(explorer: InitExplorer, changes: list[tuple[str, float]], pace_s: float) -> list[float]:
    """Milliseconds per change, a change every ``pace_s`` seconds (0: each right after the last)."""
    stack_stats.cache_clear()  # first visits must be first; steps and jumps start from nothing known
    explorer.activation.value, explorer.scale.value = changes[0][0], changes[0][1] * 10 ** -STEP  # not timed
    times = []
    for activation, scale in changes:
        def change(activation: str = activation, scale: float = scale) -> None:
            explorer.activation.value = activation
            explorer.scale.value = scale
        times.append(timed(change))
        time.sleep(max(0.0, pace_s - times[-1] / 1000))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=16, help="random grid points per activation (16)")
    parser.add_argument("--presses", type=int, default=20, help="arrow-key presses per preset (20)")
    parser.add_argument("--pace", type=float, default=0.15, help="seconds between paced presses (0.15)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random grid points (0)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in the notebooks (course_utils.reproducible)
    explorer = init_explorer()
    print(f"torch {torch.__version__}, 1 thread; live view of {explorer.batch} examples, naive way 200\n")
    print(f"{'change':<30} {'paced':>9} {'back to back':>13} {'naive':>9} {'ratio':>7}")
    everything = []
    for kind, changes in mixes(args.points, args.presses, random.Random(args.seed)).items():
        paced = time_mix(explorer, changes, args.pace)
        back = time_mix(explorer, changes, 0.0)
        naive = [timed(lambda a=a, s=s: naive_redraw(s, a)) for a, s in changes[::4]]
        p, b, n = (statistics.median(t) for t in (paced, back, naive))
        everything += [paced, back]
        print(f"{kind:<30} {p:6.1f} ms {b:10.1f} ms {n:6.1f} ms {n / max(p, b):6.1f}x")
    print(f"{'all changes':<30} {statistics.median(t for ts in everything for t in ts):6.1f} ms")
    print("targets: median at most 25 ms in every row; naive / explorer (the slower column) at least 8x")


if __name__ == "__main__":
    main()
