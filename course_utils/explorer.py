"""The initialization explorer: sliders for weight scale, activation, depth, width and seed, with a live plot.

The figure is a plain matplotlib ``Figure`` drawn with Agg and shown in an ``ipywidgets.Image``: one
figure and its line artists are reused for every change, so an update costs a recompute, a redraw and
a PNG encode, and it works in any frontend that shows ipywidgets (JupyterLab, Voila, Binder) without a
matplotlib frontend extension.
"""

from __future__ import annotations

import functools
import io
import math
import time
from typing import Any

import ipywidgets as widgets
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
from PIL import Image

from .initialization import (
    ACTIVATIONS,
    backward_step,
    describe_fate,
    first_broken_layer,
    layer_stats,
    random_stack,
    resolve_scale,
    upstream_gradient,
)

ACTIVATION_LABELS = {"linear": "linear", "relu": "ReLU", "tanh": "tanh"}
SCALE_RANGE = (1e-3, 10.0)
# Axis limits snap to these powers of ten (and their inverses): 1e46 reaches below float32's smallest number.
LADDER = (10.0, 100.0, 1e5, 1e10, 1e20, 1e30, 1e46)


def needed_scale(activation: str, width: int) -> tuple[str, float]:
    """The scale that keeps the std near 1 for this activation: 1/sqrt(width), or sqrt(2/width) for ReLU."""
    if activation == "relu":
        return f"sqrt(2/{width})", math.sqrt(2 / width)
    return f"1/sqrt({width})", 1 / math.sqrt(width)


# Within these bounds float32 computes the same stds as exact arithmetic, up to rounding (~1e-6 relative).
SAFE_RANGE = (1e-30, 1e30)


@functools.lru_cache(maxsize=16)
def _unit_scale_stats(activation: str, depth: int, width: int, batch: int, seed: int,
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stds and largest magnitudes of activations and gradients with unscaled weights, in float64."""
    x, weights = random_stack(depth, width, batch, seed)
    h, w64 = x.double(), weights.double()
    outputs = []
    for w in w64:
        h = ACTIVATIONS[activation](h @ w)
        outputs.append(h)
    grad = upstream_gradient(batch, width, seed, "cpu").double()
    grads = []
    for i in reversed(range(depth)):
        grads.append(grad)
        grad = backward_step(grad, outputs[i], w64[i], activation)
    grads.reverse()
    return (torch.stack([o.std() for o in outputs]), torch.stack([o.abs().max() for o in outputs]),
            torch.stack([g.std() for g in grads]), torch.stack([g.abs().max() for g in grads]))


def fast_layer_stats(scale: float, depth: int = 50, width: int = 100, batch: int = 200, activation: str = "linear",
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``layer_stats`` from cached unscaled runs, or None where that shortcut would not be what float32 computes.

    Without biases, and with a linear or ReLU activation (both commute with a positive factor), weights
    scaled by s multiply the activations after layer l by s**l and the gradient at layer l's output by
    s**(depth - l), exactly. Float32 then differs only by rounding, as long as no value comes near
    overflow or underflow; there this returns None, and the caller computes the real thing.
    """
    if activation not in ("linear", "relu") or not (math.isfinite(scale) and scale > 0):
        return None
    act_std, act_max, grad_std, grad_max = _unit_scale_stats(activation, depth, width, batch, seed)
    layers = torch.arange(1, depth + 1, dtype=torch.float64)
    forward = torch.exp(layers * math.log(scale))
    backward = torch.exp((depth - layers) * math.log(scale))
    acts, grads = forward * act_std, backward * grad_std
    low, high = SAFE_RANGE
    if (acts.min() <= low or grads.min() <= low or (forward * act_max).max() >= high
            or (backward * grad_max).max() >= high):
        return None
    return acts.float(), grads.float()


def _power_of_ten(value: float, _: object) -> str:
    """Tick label such as 1e-20 (plain text: much cheaper to draw than mathtext)."""
    exponent = round(math.log10(value))
    return "1" if exponent == 0 else f"1e{exponent}"


def _break_note(values: torch.Tensor, from_top: bool = False) -> str:
    """Words for the plot where a curve breaks off (constant along a drag, so the axes need no redraw)."""
    layer = first_broken_layer(values, from_top)
    if layer is None:
        return ""
    kind = "overflows to inf/nan" if not torch.isfinite(values[layer - 1]) else "underflows to exactly 0"
    return f"{kind} {'below' if from_top else 'from'} the dotted line"


def _shown(values: torch.Tensor) -> list[float]:
    """Values a log axis can draw; inf, nan and 0 become gaps (described in words on the plot)."""
    return [v if math.isfinite(v) and v > 0 else math.nan for v in values.tolist()]


class ScaleSlider(widgets.FloatLogSlider):
    """A log slider that keeps values set from Python instead of the browser's rounded copy of them.

    The browser's slider snaps every value to its step (here 10**0.01) and, with continuous updates,
    sends the snapped value back. Set 0.1414 from Python and a moment later 0.1413 comes back; set
    two values in a row (Run All over cells that change the slider) and the echo of the first arrives
    after the second and overwrites it. This class recognises such echoes (within half a step of a
    value recently set from Python) and keeps the value Python chose.
    """

    ECHO_WINDOW_S = 60.0

    def __init__(self, **kwargs: Any) -> None:
        self._set_from_python: list[tuple[float, float]] = []
        self._receiving = False
        super().__init__(**kwargs)
        self.observe(self._remember, names="value")

    def _remember(self, change: dict[str, Any]) -> None:
        if not self._receiving:
            now = time.monotonic()
            self._set_from_python = [(v, t) for v, t in self._set_from_python if now - t < self.ECHO_WINDOW_S][-7:]
            self._set_from_python.append((change["new"], now))

    def _echo_of(self, value: float) -> float | None:
        """The recent Python-set value that ``value`` is the browser's snapped copy of, if any."""
        if not (isinstance(value, float | int) and value > 0):
            return None
        for i, (mine, _) in enumerate(self._set_from_python):
            if mine > 0 and abs(math.log10(value) - math.log10(mine)) <= self.step / 2 + 1e-9:
                del self._set_from_python[i]
                return mine
        return None

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state update from the browser, ignoring snapped echoes of values set from Python."""
        echo = self._echo_of(sync_data["value"]) if "value" in sync_data else None
        if echo is not None:
            # Drop the echo (no echo_update either: the browser would apply it and snap it again).
            super().set_state({k: v for k, v in sync_data.items() if k != "value"})
            if echo != self.value:  # the browser shows an older value: send it the current one
                self.send_state("value")
            return
        self._receiving = True
        try:
            super().set_state(sync_data)
        finally:
            self._receiving = False


class InitExplorer:
    """Interactive view of activation and gradient stds across a deep random stack; display it in a notebook."""

    def __init__(self, scale: float = 0.1, activation: str = "linear", depth: int = 50, width: int = 100,
                 seed: int = 0, batch: int = 200, shortcut: bool = True) -> None:
        if activation not in ACTIVATION_LABELS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATION_LABELS)}")
        resolve_scale(scale, width)  # fail early, with a clear message, on a nonsense starting scale
        for name, value, low, high in (("scale", scale, *SCALE_RANGE), ("depth", depth, 1, 100),
                                       ("width", width, 2, 256), ("seed", seed, 0, 2**31 - 1),
                                       ("batch", batch, 2, 100_000)):
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g} for the explorer, got {value}")
        self.batch = batch
        # Reuse cached unscaled runs when only the scale changes (see fast_layer_stats); False always recomputes.
        self.shortcut = shortcut
        self.scale = ScaleSlider(
            value=scale, base=10, min=math.log10(SCALE_RANGE[0]), max=math.log10(SCALE_RANGE[1]), step=0.01,
            description="weight scale", readout_format=".3g", continuous_update=True,
            style={"description_width": "initial"}, layout=widgets.Layout(width="480px"))
        self.activation = widgets.ToggleButtons(
            options=[(label, key) for key, label in ACTIVATION_LABELS.items()], value=activation,
            description="activation")
        # Each new depth or width draws new random weights: recompute when the handle is released.
        self.depth = widgets.IntSlider(value=depth, min=1, max=100, description="depth", continuous_update=False)
        self.width = widgets.IntSlider(value=width, min=2, max=256, description="width", continuous_update=False)
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed",
                                           layout=widgets.Layout(width="160px"))
        self.presets = {
            "unscaled 1.0": lambda: 1.0,
            "0.01": lambda: 0.01,
            "Xavier 1/sqrt(width)": lambda: 1 / math.sqrt(self.width.value),
            "Kaiming sqrt(2/width)": lambda: math.sqrt(2 / self.width.value),
        }
        self.preset_buttons = []
        for name, value in self.presets.items():
            button = widgets.Button(description=name, layout=widgets.Layout(width="auto"))
            button.on_click(lambda _, value=value: self._set_scale(value()))
            self.preset_buttons.append(button)
        self.readout = widgets.HTML()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="900px"))
        self._build_figure()
        for control in (self.scale, self.activation, self.depth, self.width, self.seed):
            control.observe(self._on_change, names="value")
        self.ui = widgets.VBox([
            widgets.HBox([self.scale, self.seed]),
            self.activation,
            widgets.HBox([self.depth, self.width]),
            widgets.HBox([widgets.Label("presets:"), *self.preset_buttons]),
            self.readout,
            self.image,
        ])
        self.update()

    def _build_figure(self) -> None:
        self.fig = Figure(figsize=(10, 3.6), dpi=80)
        FigureCanvasAgg(self.fig)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.84, wspace=0.22)
        self.ax_act, self.ax_grad = self.fig.subplots(1, 2)
        self.lines: dict[str, Any] = {}
        self.breaks: dict[str, Any] = {}
        self.titles: dict[str, str] = {}
        for key, ax, title, color in (
            ("act", self.ax_act, "Forward: std of activations after each layer", "tab:blue"),
            ("grad", self.ax_grad, "Backward: std of the gradient at each layer's output", "tab:red"),
        ):
            (self.lines[key],) = ax.plot([], [], marker=".", color=color)
            ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
            ax.set_yscale("log")
            # Few ticks, plain-text labels, no minor ticks: text is most of the cost of a full redraw.
            ax.yaxis.set_major_locator(LogLocator(numticks=6))
            ax.yaxis.set_minor_locator(NullLocator())
            ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
            ax.set_xlabel("layer")
            ax.set_ylabel("std (log scale)")
            # Where a curve breaks off, a dotted red line marks the layer and a note says why in words.
            self.breaks[key] = ax.axvline(math.nan, color="darkred", linestyle=":", linewidth=1.5)
            self.titles[key] = title
        self._background_key: tuple[Any, ...] | None = None
        self._background: Any = None

    @staticmethod
    def _limits(values: list[float]) -> tuple[float, float]:
        """Y limits from a short ladder of powers of ten, so that most updates keep the axes (and can reuse them)."""
        finite = [v for v in values if not math.isnan(v)]
        low, high = (min(finite), max(finite)) if finite else (1.0, 1.0)
        top = next((t for t in LADDER if t >= 2 * high), LADDER[-1])
        bottom = next((1 / t for t in LADDER if 1 / t <= low / 2), 1 / LADDER[-1])
        return bottom, top

    def _set_scale(self, value: float) -> None:
        self.scale.value = value

    def _on_change(self, change: dict[str, Any]) -> None:
        self.update()

    def update(self) -> None:
        """Recompute both curves for the current controls and redraw; problems go to the readout, not a traceback."""
        try:
            self._recompute_and_draw()
        except (ValueError, TypeError, RuntimeError) as err:
            self.readout.value = f"<b style='color:darkred'>Cannot compute: {err}</b>"

    def _recompute_and_draw(self) -> None:
        scale, activation = self.scale.value, self.activation.value
        depth, width = self.depth.value, self.width.value
        settings = {"depth": depth, "width": width, "batch": self.batch, "activation": activation,
                    "seed": self.seed.value}
        stats = fast_layer_stats(scale, **settings) if self.shortcut else None
        self.act_stds, self.grad_stds = stats if stats is not None else layer_stats(scale, **settings)
        layers = list(range(1, depth + 1))
        limits, notes = [], []
        for key, values in (("act", self.act_stds), ("grad", self.grad_stds)):
            shown = _shown(values)
            self.lines[key].set_data(layers, shown)
            limits.append(self._limits(shown))
            broken_at = first_broken_layer(values, from_top=key == "grad")
            self.breaks[key].set_xdata([math.nan if broken_at is None else broken_at] * 2)
            notes.append(_break_note(values, from_top=key == "grad"))
        self._draw((depth, *limits, *notes))
        self.readout.value = self.describe()

    def _draw(self, key: tuple[Any, ...]) -> None:
        """Redraw the axes only when their limits change; otherwise paint the curves over the saved background."""
        canvas = self.fig.canvas
        axes = (self.ax_act, self.ax_grad)
        dynamic = [*self.lines.values(), *self.breaks.values()]
        if key != self._background_key:
            depth, act_ylim, grad_ylim, *notes = key
            for ax, ylim in zip(axes, (act_ylim, grad_ylim)):
                ax.set_xlim(0.5, depth + 0.5)
                ax.set_ylim(*ylim)
            for ax, title, note in zip(axes, self.titles.values(), notes):
                ax.set_title(f"{title}\n{note}" if note else title, fontsize=10, color="darkred" if note else "black")
            for artist in dynamic:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._background_key = key
            for artist in dynamic:
                artist.set_visible(True)
        else:
            canvas.restore_region(self._background)
        for ax, line_key in zip(axes, ("act", "grad")):
            ax.draw_artist(self.lines[line_key])
            ax.draw_artist(self.breaks[line_key])
        width, height = canvas.get_width_height()
        rgb = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
        # A chart has few colours: a 64-colour palette looks the same and halves the PNG encoding time.
        paletted = rgb.quantize(colors=64, method=Image.Quantize.FASTOCTREE)
        buffer = io.BytesIO()
        paletted.save(buffer, format="png", compress_level=1)
        self.image.value = buffer.getvalue()

    def describe(self) -> str:
        """One line: the current scale, what happened forward and backward, and the scale this activation needs."""
        formula, needed = needed_scale(self.activation.value, self.width.value)
        forward = describe_fate(self.act_stds)
        backward = describe_fate(self.grad_stds, from_top=True)
        return (f"scale {self.scale.value:.3g} · activations: {forward} · gradient {backward} · "
                f"{ACTIVATION_LABELS[self.activation.value]} needs {formula} = {needed:.3g}")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.ui._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return (f"InitExplorer(scale={self.scale.value:.3g}, activation={self.activation.value!r}, "
                f"depth={self.depth.value}, width={self.width.value}, seed={self.seed.value})")


def init_explorer(**kwargs: Any) -> InitExplorer:
    """Create the initialization explorer; as a cell's last line it displays its controls and plot."""
    return InitExplorer(**kwargs)
