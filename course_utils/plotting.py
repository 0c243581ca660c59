"""Figures for the notebooks: std per layer on a log scale, and the two-layer net's data flow."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from .initialization import describe_fate


def plot_layer_stds(curves: dict[str, Tensor], ax: Axes | None = None,
                    title: str = "Std of the activations after each layer") -> Figure:
    """One line per named curve of stds, log y axis, with 1.0 marked; the legend says where a curve broke."""
    if not curves:
        raise ValueError("plot_layer_stds needs at least one curve")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for label, stds in curves.items():
        values = stds.detach().cpu()
        # A log axis cannot show 0, inf or nan: those points are left out and the legend says what happened.
        shown = values.clone()
        shown[~(values.isfinite() & (values > 0))] = float("nan")
        ax.plot(range(1, len(values) + 1), shown.numpy(), marker=".", label=f"{label}: {describe_fate(values)}")
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("std of activations (log scale)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return ax.figure


def _box(ax: Axes, x: float, text: str, function: bool) -> None:
    """A function (lin, relu, mse) as a filled box; data (x, loss) as plain text in a light outline."""
    style = ({"boxstyle": "square,pad=0.5", "facecolor": "#eef3fb", "edgecolor": "#4a6fa5", "linewidth": 1.5}
             if function else {"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "#bbbbbb"})
    ax.text(x, 0.5, text, ha="center", va="center", fontsize=11, bbox=style,
            fontweight="bold" if function else "normal")


def draw_network_flow() -> Figure:
    """Diagram of the two-layer net: values flow right in the forward pass, gradients flow left in the backward."""
    fig, ax = plt.subplots(figsize=(11, 3))
    stages = ["x", "lin\n(w1, b1)", "relu\n(no weights)", "lin\n(w2, b2)", "mse\n(vs y)", "loss"]
    values = ["x", "l1", "l2", "out", "loss"]
    grads = ["x.g", "l1.g", "l2.g", "out.g", "d loss/d loss = 1"]
    xs = [i * 2.0 for i in range(len(stages))]
    for i, (x, name) in enumerate(zip(xs, stages)):
        _box(ax, x, name, function=0 < i < len(stages) - 1)
    for i, params in ((1, "fills w1.g, b1.g"), (3, "fills w2.g, b2.g")):
        ax.text(xs[i], 0.2, params, ha="center", va="center", color="#d62728", fontsize=8, style="italic")
    for i in range(len(stages) - 1):
        left, right = xs[i] + 0.55, xs[i + 1] - 0.55
        ax.annotate("", xy=(right, 0.62), xytext=(left, 0.62),
                    arrowprops={"arrowstyle": "->", "color": "#1f77b4", "lw": 2})
        ax.text((left + right) / 2, 0.72, values[i], ha="center", color="#1f77b4", fontsize=9)
        ax.annotate("", xy=(left, 0.38), xytext=(right, 0.38),
                    arrowprops={"arrowstyle": "->", "color": "#d62728", "lw": 2})
        ax.text((left + right) / 2, 0.2, grads[i], ha="center", va="center", color="#d62728", fontsize=8)
    ax.text(xs[0] - 0.8, 0.9, "forward: values flow right", color="#1f77b4", fontsize=10)
    ax.text(xs[0] - 0.8, 0.02, "backward: gradients of the loss flow left", color="#d62728", fontsize=10)
    ax.set_xlim(xs[0] - 1, xs[-1] + 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.set_title("The two-layer net: forward and backward pass")
    return fig
