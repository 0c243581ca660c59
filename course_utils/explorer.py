"""The initialization lab: controls -> numbers -> plot, plus pins to compare settings and a short training.

The controls choose a setting (weight scale, activation, depth, width, seed). ``stack_stats`` computes
what a deep random stack does with it: the std of the activations and gradients at every layer, the
distribution of their values, the share of saturated and dead units. The figures show those numbers,
and the readout says in words what the figures show. The machinery sits in its own modules:
``fast_stats`` (cached numbers) and ``stats_worker`` (a second process that measures layers and computes
ahead), ``explorer_figure`` and ``rendering`` (the pictures and their fast redraw), ``echo_slider`` (the
scale slider), ``kernel_tasks`` (training without freezing the kernel).
"""

from __future__ import annotations

import base64
import itertools
import math
from typing import Any

import ipywidgets as widgets
import torch

from . import stats_worker
from .activations import ACTIVATIONS, SCALE_FORMULAS, SCALES, resolve_scale
from .diagnosis import MAJORITY, RUNAWAY, SATURATED, Verdict, diagnose, is_bounded, zeroes_negatives
from .echo_slider import ScaleSlider
from .explorer_figure import PIN_COLORS, PIN_STYLES, WIDTH_PX, Pin, StackFigure, TrainingFigure
from .fast_stats import look_ahead, stack_stats
from .initialization import describe_fate
from .kernel_tasks import SlicedTask
from .rendering import stack_pngs
from .stack_training import HEALTHY_RATIO, LEARNING_RATE, MAX_DEPTH, StackTraining

SCALE_RANGE = (1e-3, 10.0)
MAX_PINS = 3
COLOR_NAMES = dict(zip(PIN_COLORS, ("orange", "green", "purple")))
STYLE_NAMES = dict(zip(PIN_STYLES, ("dashed", "dash-dot", "dotted")))
HELP = (f"<small>Verdict rules: <i>exploding</i> or <i>vanishing</i> when a std leaves {1 / RUNAWAY:g} to "
        f"{RUNAWAY:g} times its value where the signal enters (layer 1 forward, the last layer backward); "
        f"<i>saturated</i> when more than {MAJORITY:.0%} of tanh activations have |a| &gt; {SATURATED}; "
        f"<i>dead</i> when more than {MAJORITY:.0%} of ReLU units are 0 for every example. "
        f"<b>train</b> runs full-batch SGD (lr {LEARNING_RATE}) on synthetic regression data with this "
        f"initialization (at most {MAX_DEPTH} layers) for the live setting and every pin without a loss curve; "
        f"a log10 update-to-data ratio near {HEALTHY_RATIO:g} is the usual healthy level.</small>")


def scale_formula(name: str) -> str:
    """The formula of a scale in ``SCALES`` as text, such as ``"sqrt(2/fan_in)"``."""
    return SCALE_FORMULAS[name]


def needed_scale(activation: str, width: int) -> tuple[str, float]:
    """The scale that keeps the std near 1 for this activation, as a formula for this width and as a number."""
    name = ACTIVATIONS[activation].scale
    return scale_formula(name).replace("fan_in", str(width)), SCALES[name](width)


def share_words(share: torch.Tensor, what: str) -> str:
    """One readout phrase for a per-layer share, e.g. of saturated units."""
    worst = int(share.argmax())
    return (f"{what}: {share[0]:.0%} at layer 1, {share[-1]:.0%} at layer {len(share)}, "
            f"most {share[worst]:.0%} at layer {worst + 1}")


class InitExplorer:
    """Interactive lab on a deep random stack: stds, distributions, a verdict, pins and training; display it."""

    def __init__(self, scale: float | str = 0.1, activation: str = "linear", depth: int = 50, width: int = 100,
                 seed: int = 0, batch: int = 200, shortcut: bool = True) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        scale = resolve_scale(scale, width)  # a name such as "kaiming", or a clear error for nonsense
        for name, value, low, high in (("scale", scale, *SCALE_RANGE), ("depth", depth, 1, 100),
                                       ("width", width, 2, 256), ("seed", seed, 0, 2**31 - 1),
                                       ("batch", batch, 2, 100_000)):
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g} for the explorer, got {value}")
        self.batch = batch
        stats_worker.start()  # ready in the background by the time a control moves into the float32 run
        # Reuse cached unscaled runs where that is exact (see fast_stats); False always computes float32.
        self.shortcut = shortcut
        self.pins: list[Pin] = []
        self.live_losses: torch.Tensor | None = None
        self.live_ratios: torch.Tensor | None = None
        self._task: SlicedTask | None = None
        self._serial = itertools.count()
        self._direction = 1  # the way the scale last moved: the next step is computed ahead that way first
        self._build_controls(scale, activation, depth, width, seed)
        self.figure, self.training_figure = StackFigure(), TrainingFigure()
        self.update()
        self._show_training("Press train to run a short training of this stack.")

    def _build_controls(self, scale: float, activation: str, depth: int, width: int, seed: int) -> None:
        self.scale = ScaleSlider(
            value=scale, base=10, min=math.log10(SCALE_RANGE[0]), max=math.log10(SCALE_RANGE[1]), step=0.01,
            description="weight scale", readout_format=".3g", continuous_update=True,
            style={"description_width": "initial"}, layout=widgets.Layout(width="480px"))
        self.activation = widgets.ToggleButtons(
            options=[(a.label, a.name) for a in ACTIVATIONS.values()], value=activation, description="activation")
        # Each new depth or width draws new random weights: recompute when the handle is released.
        self.depth = widgets.IntSlider(value=depth, min=1, max=100, description="depth", continuous_update=False)
        self.width = widgets.IntSlider(value=width, min=2, max=256, description="width", continuous_update=False)
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed",
                                           layout=widgets.Layout(width="160px"))
        self.presets = {"unscaled 1.0": lambda: 1.0, "0.01": lambda: 0.01}
        for name, fn in SCALES.items():
            label = f"{name.capitalize()} {scale_formula(name).replace('fan_in', 'width')}"
            self.presets[label] = lambda fn=fn: fn(self.width.value)
        self.preset_buttons = [self._button(name, lambda value=value: self._set_scale(value()))
                               for name, value in self.presets.items()]
        self.pin_button = self._button("pin", self.pin, "Keep this setting's curves on the plot (at most 3)")
        self.clear_button = self._button("clear pins", self.clear_pins)
        self.train_button = self._button("train", self.start_training, "Train this stack (and unpinned-loss pins)")
        self.steps = widgets.BoundedIntText(value=200, min=10, max=2000, description="steps",
                                            layout=widgets.Layout(width="150px"))
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="200px"))
        self.caption, self.readout = widgets.HTML(), widgets.HTML()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{WIDTH_PX}px"))
        self.train_image = widgets.Image(format="png", layout=widgets.Layout(width=f"{WIDTH_PX}px"))
        for widget, name in ((self.caption, "caption"), (self.readout, "readout"), (self.image, "plot"),
                             (self.train_image, "training-plot")):
            widget.add_class(f"explorer-{name}")  # stable names for styling and for the browser tests
        for control in (self.scale, self.activation, self.depth, self.width, self.seed):
            control.observe(self._on_change, names="value")
        self.ui = widgets.VBox([
            self.caption,
            widgets.HBox([self.scale, self.seed]),
            self.activation,
            widgets.HBox([self.depth, self.width]),
            widgets.HBox([widgets.Label("presets:"), *self.preset_buttons]),
            widgets.HBox([self.pin_button, self.clear_button, self.train_button, self.steps, self.progress]),
            self.readout,
            self.image,
            self.train_image,
            widgets.HTML(HELP, layout=widgets.Layout(width=f"{WIDTH_PX}px")),
        ])

    @staticmethod
    def _button(description: str, action: Any, tooltip: str = "") -> widgets.Button:
        button = widgets.Button(description=description, tooltip=tooltip, layout=widgets.Layout(width="auto"))
        button.on_click(lambda _: action())
        return button

    def _set_scale(self, value: float) -> None:
        self.scale.value = value

    def _setting(self) -> tuple[float, str, int, int]:
        return self.scale.value, self.activation.value, self.depth.value, self.width.value

    def _on_change(self, change: dict[str, Any]) -> None:
        """A control moved: stop a training, forget the live loss curve (it belonged to the old setting), redraw."""
        self._cancel_training()
        if change["owner"] is self.scale and change["old"] > 0:
            self._direction = 1 if change["new"] > change["old"] else -1
        if change["owner"] is self.seed:  # pins share the live seed, so differences come from the setting alone
            self.pins = [self._make_pin(p.label, p.setting) for p in self.pins]
        if self.live_losses is not None or change["owner"] is self.seed:
            self.live_losses = self.live_ratios = None
            self._show_training("The setting changed: press train to train it.")
        self.update()

    def update(self) -> None:
        """Recompute the numbers for the current controls and redraw; problems go to the readout, not a traceback."""
        try:
            scale, activation, depth, width = self._setting()
            self.stats = stack_stats(scale, activation, depth, width, self.batch, self.seed.value, self.shortcut)
            self.act_stds, self.grad_stds = self.stats.act_stds, self.stats.grad_stds
            self.image.value = self.figure.render(self.stats, self.pins)
        except (ValueError, TypeError, RuntimeError) as err:
            self.readout.value = f"<b style='color:#D55E00'>Cannot compute: {err}</b>"
            return
        label = ACTIVATIONS[activation].label
        self.caption.value = (f"<b>A {depth}-layer stack of width {width} with {label}</b>: does the weight scale "
                              f"make the activations (left) and gradients (right) explode, vanish or stay near 1? "
                              f"Below: how the values are spread at each layer.")
        self.readout.value = "<br>".join(self.readout_lines())
        self._look_ahead()  # last: the worker starts once this change is on its way to the browser

    def _look_ahead(self) -> None:
        """Have the stats worker compute what the next change may ask for: one slider step either way (the way
        the last step went first), then the presets (each once: its numbers are kept)."""
        scale, activation, depth, width = self._setting()
        step = self.scale.step
        here = round(math.log10(scale) / step)  # the browser snaps to the slider's grid of log10 values
        low, high = (round(math.log10(v) / step) for v in SCALE_RANGE)
        moves = (1, -1) if self._direction >= 0 else (-1, 1)
        nexts = [(10 ** ((here + move) * step), activation) for move in moves if low <= here + move <= high]
        nexts += [(value(), activation) for value in self.presets.values()]
        look_ahead([(s, a, depth, width, self.batch, self.seed.value) for s, a in nexts], self.shortcut)

    def describe(self) -> str:
        """One line: the current scale, what happened forward and backward, and the scale this activation needs."""
        formula, needed = needed_scale(self.activation.value, self.width.value)
        forward = describe_fate(self.act_stds)
        backward = describe_fate(self.grad_stds, from_top=True)
        return (f"scale {self.scale.value:.3g} · activations: {forward} · gradient {backward} · "
                f"{ACTIVATIONS[self.activation.value].label} needs {formula} = {needed:.3g}")

    def verdict(self) -> Verdict:
        """The live setting's diagnosis: healthy, exploding, vanishing, saturated or dead, where, and by what rule."""
        s = self.stats
        return diagnose(s.act_stds, s.grad_stds, s.saturated, s.dead)

    def readout_lines(self) -> list[str]:
        """The readout in words, line by line: what the plots show (its text alternative)."""
        lines = [self.describe(), f"<b>Verdict: {self.verdict()}</b>"]
        activation = self.activation.value
        if is_bounded(activation):
            lines.append(share_words(self.stats.saturated, f"saturated units (|a| > {SATURATED})"))
        if zeroes_negatives(activation):
            lines.append(share_words(self.stats.dead, "dead units (0 for every example)"))
        if self.pins:
            lines.append("pinned: " + "; ".join(
                f"{COLOR_NAMES[c]} {STYLE_NAMES[st]} = {p.label}" for p, c, st in zip(self.pins, PIN_COLORS,
                                                                                     PIN_STYLES)))
        if self.live_losses is not None:
            lines.append(self.training_words())
        return lines

    def training_words(self) -> str:
        """What the last training of the live setting did, in words."""
        losses, ratios = self.live_losses, self.live_ratios
        finite = torch.isfinite(losses)
        if not finite.all():
            return f"training diverged: the loss became inf/nan at step {int((~finite).nonzero()[0]) + 1}"
        return (f"trained {len(losses)} steps ({len(ratios) - 1} layers + read-out): loss {losses[0]:.3g} -> "
                f"{losses[-1]:.3g}; log10 update-to-data ratio per layer {ratios.min():.2g} to {ratios.max():.2g} "
                f"({HEALTHY_RATIO:g} is healthy)")

    # Pins: settings kept on the plot, recomputed with the live seed.

    def _make_pin(self, label: str, setting: tuple[float, str, int, int]) -> Pin:
        scale, activation, depth, width = setting
        stats = stack_stats(scale, activation, depth, width, self.batch, self.seed.value, self.shortcut)
        return Pin(label, setting, stats.act_stds, stats.grad_stds, serial=next(self._serial))

    def pin(self) -> None:
        """Keep the live setting's curves (and its loss curve once trained) on the plots; the oldest of 3 goes first."""
        setting = self._setting()
        if any(p.setting == setting for p in self.pins):
            return
        scale, activation, depth, width = setting
        pin = self._make_pin(f"{ACTIVATIONS[activation].label}, scale {scale:.3g}, {depth}x{width}", setting)
        pin.losses = self.live_losses
        self.pins = [*self.pins, pin][-MAX_PINS:]
        self._redraw_all()

    def clear_pins(self) -> None:
        """Remove every pinned setting from the plots."""
        self.pins = []
        self._redraw_all()

    def _redraw_all(self) -> None:
        self.update()
        self._show_training("Press train to run a short training of this stack.")

    # Training: the live setting and every pin without a loss curve, a few hundred SGD steps each.

    def _training_step(self, steps: int) -> Any:
        seed = self.seed.value
        runs = [(None, StackTraining(*self._setting(), seed=seed, batch=self.batch))]
        runs += [(p, StackTraining(*p.setting, seed=seed, batch=self.batch)) for p in self.pins if p.losses is None]
        self.progress.max, self.progress.value = steps * len(runs), 0
        count = itertools.count(1)

        def step() -> bool:
            target, run = runs[0]
            run.step()
            if len(run.losses) == steps:
                if target is None:
                    self.live_losses, self.live_ratios = torch.tensor(run.losses), run.ratios.clone()
                else:
                    target.losses = torch.tensor(run.losses)
                runs.pop(0)
            done = next(count)
            if done % 10 == 0 or not runs:  # one progress message per 10 steps is plenty
                self.progress.value = done
            return bool(runs)

        return step

    def train(self, steps: int | None = None) -> torch.Tensor:
        """Train now (blocking) for ``steps`` (default: the steps box) and return the live setting's losses."""
        self._cancel_training()
        steps = self.steps.value if steps is None else steps
        step = self._training_step(steps)
        while step():
            pass
        self._training_done(True)
        return self.live_losses

    def start_training(self) -> None:
        """What the train button does: train in slices on the kernel's event loop; a control change cancels it."""
        self._cancel_training()
        self._task = SlicedTask(self._training_step(self.steps.value), self._training_done)
        self._task.start()

    def _cancel_training(self) -> None:
        if self._task is not None and self._task.running:
            self._task.cancel()

    def _training_done(self, finished: bool) -> None:
        self._task = None
        if not finished:
            self.progress.value = 0
        self._show_training("Training cancelled: a control changed.")
        self.readout.value = "<br>".join(self.readout_lines())

    def _show_training(self, note: str) -> None:
        self.train_image.value = self.training_figure.render(self.live_losses, self.live_ratios, self.pins, note)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.ui._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        # Where no kernel runs (GitHub, nbviewer, exported HTML) the picture still shows.
        png = stack_pngs([self.figure.renderer.canvas, self.training_figure.canvas])
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle

    def __repr__(self) -> str:
        return (f"InitExplorer(scale={self.scale.value:.3g}, activation={self.activation.value!r}, "
                f"depth={self.depth.value}, width={self.width.value}, seed={self.seed.value})")


def init_explorer(**kwargs: Any) -> InitExplorer:
    """Create the initialization lab; as a cell's last line it displays its controls, readout and plots."""
    return InitExplorer(**kwargs)
