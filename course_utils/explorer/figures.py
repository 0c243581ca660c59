"""The explorer's pictures: stds per layer and per-layer distributions (one figure), training curves (another).

Axes ranges are fixed wherever they can be, so that a jump of the weight scale only repaints curves
and heat maps (see ``rendering.BlitRenderer``): stds are drawn on a fixed log range, and values beyond
it sit on its edge with a triangle marker. Colours are the Okabe-Ito palette (safe for colour-blind
readers), and pinned settings also differ by line style.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator
from torch import Tensor

from ..diagnosis import LOG_RANGE, StackStats
from ..initialization import first_broken_layer
from ..training import HEALTHY_RATIO
from .rendering import BlitRenderer, encode_png, fixed_palette

LIVE = "#0072B2"                                  # Okabe-Ito blue
PIN_COLORS = ("#E69F00", "#009E73", "#CC79A7")   # Okabe-Ito orange, bluish green, reddish purple
PIN_STYLES = ("--", "-.", ":")
WARN = "#D55E00"                                  # Okabe-Ito vermillion
# Heat map shading: 8 steps of blue by the square root of the share, so that small shares still show.
SHADES = [(1.0, 1.0, 1.0), *(colormaps["Blues"](0.2 + 0.8 * k / 7)[:3] for k in range(8))]
STD_RANGE = (1e-10, 1e10)
DPI = 100
WIDTH_PX = 900


@dataclass
class Pin:
    """A setting kept on the plot: its label, stds, and its loss curve once trained."""

    label: str
    setting: tuple
    act_stds: Tensor
    grad_stds: Tensor
    losses: Tensor | None = None
    serial: int = 0     # tells pins apart in the renderer's background cache


def clipped(values: Tensor) -> tuple[list[float], list[float]]:
    """The curve clipped to STD_RANGE, and the clipped points alone (on the edge); 0, inf and nan become gaps."""
    low, high = STD_RANGE
    curve, beyond = [], []
    for v in values.tolist():
        shown = v if math.isfinite(v) and v > 0 else math.nan
        curve.append(min(max(shown, low), high) if shown == shown else math.nan)
        beyond.append(curve[-1] if not low <= shown <= high and shown == shown else math.nan)
    return curve, beyond


def power_of_ten(exponent: float) -> str:
    """Tick label for 10**exponent, as plain text (much cheaper to draw than mathtext)."""
    return "1" if exponent == 0 else f"1e{exponent:g}"


LUT = (torch.tensor(SHADES) * 255).round().to(torch.uint8)


class StdPanel:
    """One std-per-layer plot: the live curve, its clipping markers, where it breaks, and pinned curves."""

    def __init__(self, ax: Axes, title: str, ylabel: str, from_top: bool) -> None:
        self.ax, self.from_top = ax, from_top
        (self.line,) = ax.plot([], [], marker=".", markersize=4, color=LIVE, label="live setting")
        # Points beyond the fixed range sit on its edge as diamonds: the readout has their real values.
        (self.beyond,) = ax.plot([], [], "D", color=LIVE, markersize=4)
        # Where the curve breaks off; the readout says why in words (text is the slowest thing to draw).
        self.rule = ax.axvline(math.nan, color=WARN, linestyle=":", linewidth=1.5)
        self.pins: list = []
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.set_ylim(*STD_RANGE)
        ax.yaxis.set_major_locator(FixedLocator([1e-10, 1e-5, 1, 1e5, 1e10]))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_yticklabels([power_of_ten(e) for e in (-10, -5, 0, 5, 10)])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("layer (dotted: where it turns inf/nan or 0)", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)

    @property
    def dynamic(self) -> list:
        """The artists that change with the setting (painted per change over the cached background)."""
        return [self.line, self.beyond, self.rule]

    def show(self, values: Tensor) -> None:
        """Draw the live std per layer, its clipped points, and the rule where it breaks."""
        layers = list(range(1, len(values) + 1))
        curve, beyond = clipped(values)
        self.line.set_data(layers, curve)
        self.beyond.set_data(layers, beyond)
        self.beyond.set_visible(any(v == v for v in beyond))  # hidden artists are not painted: each costs
        layer = first_broken_layer(values, self.from_top)
        self.rule.set_xdata([math.nan if layer is None else layer] * 2)
        self.rule.set_visible(layer is not None)

    def set_pins(self, curves: list[tuple[str, Tensor]], depth: int) -> None:
        """Replace the pinned curves (label, stds) and fit the x range to the deepest one."""
        for line in self.pins:
            line.remove()
        self.pins = [self.ax.plot(range(1, len(v) + 1), clipped(v)[0], color=color, linestyle=style,
                                  linewidth=1.3, label=label)[0]
                     for (label, v), color, style in zip(curves, PIN_COLORS, PIN_STYLES)]
        self.ax.set_xlim(0.5, max([depth, *(len(v) for _, v in curves)]) + 0.5)
        legend = self.ax.get_legend()
        if legend is not None:
            legend.remove()
        if curves:
            self.ax.legend(handles=[self.line, *self.pins], fontsize=7, loc="upper left")


class HeatPanel:
    """One layer-by-bin heat map: shading is the share of units in the bin."""

    def __init__(self, ax: Axes, title: str) -> None:
        self.ax = ax
        self.colors = LUT[:1, None].numpy()  # (rows, bins, 3), painted into the axes by the renderer
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("layer", fontsize=9)

    def set_axes(self, edges: Tensor, depth: int) -> None:
        """Columns of equal width for every bin (the outer log bins included) and one row per layer."""
        if math.isinf(edges[0].item()):
            low, high = LOG_RANGE
            step = (edges[2] - edges[1]).item()
            self.ax.set_xlim(low - step, high + step)
            ticks = [low, low / 2, 0.0, high / 2, high]
            labels = [power_of_ten(t) for t in ticks]
            self.ax.set_xlabel("|value| (log bins; outer columns also hold 0 and inf/nan)", fontsize=9)
        else:
            self.ax.set_xlim(edges[0].item(), edges[-1].item())
            ticks = [-1.0, -0.5, 0.0, 0.5, 1.0]
            labels = [f"{t:g}" for t in ticks]
            self.ax.set_xlabel("value", fontsize=9)
        self.ax.xaxis.set_major_locator(FixedLocator(ticks))
        self.ax.set_xticklabels(labels)
        self.ax.set_ylim(depth + 0.5, 0.5)

    def show(self, shares: Tensor) -> None:
        """Shade each (layer, bin) cell by its share of units."""
        level = (shares.sqrt() * 8).ceil().clamp(0, 8).long()  # 0 only for an empty bin
        self.colors = LUT[level].numpy()


class StackFigure:
    """Stds per layer (top) and distributions per layer (bottom), forward left and backward right."""

    def __init__(self) -> None:
        self.fig = Figure(figsize=(WIDTH_PX / DPI, 6.0), dpi=DPI)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.09, top=0.95, wspace=0.22, hspace=0.42)
        (ax_act, ax_grad), (hm_act, hm_grad) = self.fig.subplots(2, 2)
        self.act = StdPanel(ax_act, "Forward: std of activations after each layer", "std (log scale)", False)
        self.grad = StdPanel(ax_grad, "Backward: std of the gradient at each layer's output", "std (log scale)",
                             True)
        self.act_map = HeatPanel(hm_act, "Activations: share of units per bin (darker = more)")
        self.grad_map = HeatPanel(hm_grad, "Gradients: share of units per bin (darker = more)")
        dynamic = [*self.act.dynamic, *self.grad.dynamic]
        palette = fixed_palette(["#000000", "#808080", LIVE, *PIN_COLORS, WARN,
                                 *[tuple(c) for c in SHADES[1:]]])
        self.renderer = BlitRenderer(self.fig, dynamic, palette)
        self._static_key: tuple | None = None

    def render(self, stats: StackStats, pins: list[Pin]) -> bytes:
        """Show ``stats`` over the pinned curves; returns the PNG."""
        depth = len(stats.act_stds)
        bounded = not math.isinf(stats.act_edges[0].item())
        key = (depth, bounded, tuple(p.serial for p in pins))
        if key != self._static_key:  # axes and pinned curves must match the background painted over
            self._static_key = key
            self.act.set_pins([(p.label, p.act_stds) for p in pins], depth)
            self.grad.set_pins([(p.label, p.grad_stds) for p in pins], depth)
            self.act_map.set_axes(stats.act_edges, depth)
            self.grad_map.set_axes(stats.grad_edges, depth)
        self.act.show(stats.act_stds)
        self.grad.show(stats.grad_stds)
        self.act_map.show(stats.act_shares)
        self.grad_map.show(stats.grad_shares)
        return self.renderer.render(key, [(m.ax, m.colors) for m in (self.act_map, self.grad_map)],
                                    on_top=[*self.act.pins, *self.grad.pins])  # a pin at the live setting shows


class TrainingFigure:
    """Loss curves of the live setting and the pinned ones, and the live update-to-data ratio per layer."""

    def __init__(self) -> None:
        self.fig = Figure(figsize=(WIDTH_PX / DPI, 2.6), dpi=DPI)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.2, top=0.86, wspace=0.22)
        self.ax_loss, self.ax_ratio = self.fig.subplots(1, 2)
        self.canvas = FigureCanvasAgg(self.fig)

    def render(self, live: Tensor | None, ratios: Tensor | None, pins: list[Pin], note: str) -> bytes:
        """Redraw both panels in full (this happens once per training, not per slider step)."""
        ax, ax_r = self.ax_loss, self.ax_ratio
        ax.clear()
        ax_r.clear()
        for pin, color, style in zip(pins, PIN_COLORS, PIN_STYLES):
            if pin.losses is not None:
                ax.plot(pin.losses.numpy(), color=color, linestyle=style, label=pin.label)
        if live is not None:
            ax.plot(live.numpy(), color=LIVE, label="live setting")
        ax.set_title("Training loss (full-batch SGD)", fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.set_ylabel("MSE (log scale)", fontsize=9)
        if ax.lines:
            ax.legend(fontsize=7)
            # Log scale, so a loss falling by orders of magnitude shows whole; inf/nan (divergence) are left out.
            values = torch.cat([torch.as_tensor(line.get_ydata()) for line in ax.lines])
            shown = values[torch.isfinite(values) & (values > 0)]
            ax.set_yscale("log")
            if len(shown):
                ax.set_ylim(shown.min().item() / 1.5, shown.max().item() * 1.5)
        else:
            ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=9, wrap=True)
        low, high = HEALTHY_RATIO - 2, HEALTHY_RATIO + 2
        if ratios is not None:
            ax_r.plot(range(1, len(ratios) + 1), ratios.numpy(), marker="o", markersize=3, color=LIVE)
            finite = ratios[torch.isfinite(ratios)]
            if len(finite):
                low, high = min(low, finite.min().item() - 0.3), max(high, finite.max().item() + 0.3)
        ax_r.set_ylim(low, high)
        ax_r.axhline(HEALTHY_RATIO, color="grey", linestyle="--", linewidth=1)
        ax_r.text(0.01, HEALTHY_RATIO, f" {HEALTHY_RATIO:g}: rule of thumb", color="grey", fontsize=8,
                  va="bottom", transform=ax_r.get_yaxis_transform())
        ax_r.set_title("Update-to-data ratio per layer, last step", fontsize=10)
        ax_r.set_xlabel("layer (last = read-out)", fontsize=9)
        ax_r.set_ylabel("log10 std(lr*grad)/std(w)", fontsize=9)
        self.canvas.draw()
        return encode_png(self.canvas)
