"""The initialization lab: controls -> numbers -> plot, plus pins to compare settings and a short training.

The controls choose a setting (weight scale, activation, depth, width, seed). ``diagnosis.stack_stats``
runs the deep random stack once for it (``initialization.run_stack``, on ``batch`` examples: 64 keeps a
change quick) and keeps the numbers, so a setting seen before costs nothing. The figures show those numbers
and the readout says in words what they show. Machinery sits beside this module: ``controls`` (the
scale slider, training in slices), ``figures`` and ``rendering`` (the pictures, redrawn fast); the
stack's training is ``training.StackTraining``.
"""

from __future__ import annotations

import base64
import itertools
import math
from typing import Any

import ipywidgets as widgets
import torch

from ..activations import ACTIVATIONS, SCALE_FORMULAS, SCALES, needed_scale, resolve_scale
from ..diagnosis import MAJORITY, RUNAWAY, SATURATED, Verdict, diagnose, is_bounded, stack_stats, zeroes_negatives
from ..initialization import check_stack_args, describe_fate
from ..training import HEALTHY_RATIO, LEARNING_RATE, MAX_DEPTH, StackTraining
from .controls import ScaleSlider, SlicedTask
from .figures import PIN_COLORS, PIN_STYLES, WIDTH_PX, Pin, StackFigure, TrainingFigure
from .rendering import stack_pngs

SCALE_RANGE = (1e-3, 10.0)
MAX_STEPS = 2000
MAX_PINS = 3
COLOR_NAMES = dict(zip(PIN_COLORS, ("orange", "green", "purple")))
STYLE_NAMES = dict(zip(PIN_STYLES, ("dashed", "dash-dot", "dotted")))
HELP = (f"<small>Verdict rules: <i>exploding</i> or <i>vanishing</i> when a std leaves {1 / RUNAWAY:g} to "
        f"{RUNAWAY:g} times its value where the signal enters (layer 1 forward, the last layer backward); "
        f"<i>saturated</i> when more than {MAJORITY:.0%} of tanh activations have |a| &gt; {SATURATED}; "
        f"<i>dead</i> when more than {MAJORITY:.0%} of ReLU units are 0 for every example. "
        f"<b>train</b> runs full-batch SGD (lr {LEARNING_RATE}) on synthetic regression data with this "
        f"initialization (at most {MAX_DEPTH} layers) for the live setting and every pin without a loss curve; "
        f"a common rule of thumb puts a healthy log10 update-to-data ratio near {HEALTHY_RATIO:g}.</small>")


def share_words(share: torch.Tensor, what: str) -> str:
    """One readout phrase for a per-layer share, e.g. of saturated units."""
    worst = int(share.argmax())
    return (f"{what}: {share[0]:.0%} at layer 1, {share[-1]:.0%} at layer {len(share)}, "
            f"most {share[worst]:.0%} at layer {worst + 1}")


class InitExplorer:
    """Interactive lab on a deep random stack: stds, distributions, a verdict, pins and training; display it."""

    def __init__(self, scale: float | str = 0.1, activation: str = "linear", depth: int = 50, width: int = 100,
                 seed: int = 0, batch: int = 64) -> None:
        check_stack_args(depth, width, batch, activation)  # whole numbers within the limits, a known activation
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
            raise ValueError(f"seed must be a whole number from 0 to {2**31 - 1}, got {seed!r}")
        scale = resolve_scale(scale, width)  # a name such as "kaiming", or a clear error for nonsense
        if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
            raise ValueError(f"scale must be from {SCALE_RANGE[0]:g} to {SCALE_RANGE[1]:g} for the explorer, "
                             f"got {scale:g}")
        if width < 2:
            raise ValueError(f"width must be at least 2 for the explorer (a std needs two units), got {width}")
        self.batch = batch  # examples in the live view: 64 keeps a change quick, the notebooks' functions use 200
        self.pins: list[Pin] = []
        self.live_losses: torch.Tensor | None = None
        self.live_ratios: torch.Tensor | None = None
        self._task: SlicedTask | None = None
        self._serial = itertools.count()
        self._build_controls(scale, activation, depth, width, seed)
        self.figure, self.training_figure = StackFigure(), TrainingFigure()
        self.update()
        self._show_training("Press train to run a short training of this stack.")

    def _build_controls(self, scale: float, activation: str, depth: int, width: int, seed: int) -> None:
        self.scale = ScaleSlider(
            value=scale, base=10, min=math.log10(SCALE_RANGE[0]), max=math.log10(SCALE_RANGE[1]), step=0.01,
            description="weight scale", readout_format=".3g", continuous_update=True,
            style={"description_width": "initial"}, layout=widgets.Layout(width="440px", min_width="300px"))
        self.activation = widgets.ToggleButtons(
            options=[(a.label, a.name) for a in ACTIVATIONS.values()], value=activation, description="activation")
        # Each new depth or width draws new random weights: recompute when the handle is released.
        self.depth = widgets.IntSlider(value=depth, min=1, max=100, description="depth", continuous_update=False)
        self.width = widgets.IntSlider(value=width, min=2, max=256, description="width", continuous_update=False)
        self.seed = widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed",
                                           layout=widgets.Layout(width="160px"))
        self.presets = {"unscaled 1.0": lambda: 1.0, "0.01": lambda: 0.01}
        for name, fn in SCALES.items():
            label = f"{name.capitalize()} {SCALE_FORMULAS[name].replace('fan_in', 'width')}"
            self.presets[label] = lambda fn=fn: fn(self.width.value)
        self.preset_buttons = [self._button(name, lambda value=value: self._set_scale(value()))
                               for name, value in self.presets.items()]
        self.pin_button = self._button("pin", self.pin, "Keep this setting's curves on the plot (at most 3)")
        self.clear_button = self._button("clear pins", self.clear_pins)
        self.train_button = self._button("train", self.start_training, "Train this stack (and unpinned-loss pins)")
        self.steps = widgets.BoundedIntText(value=200, min=1, max=MAX_STEPS, description="steps",
                                            layout=widgets.Layout(width="150px"))
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="200px"))
        self.caption, self.readout = widgets.HTML(), widgets.HTML()
        # Pictures shrink with a narrow pane (never wider than drawn); rows of controls wrap instead of squeezing.
        picture = {"width": "100%", "max_width": f"{WIDTH_PX}px", "height": "auto"}
        self.image = widgets.Image(format="png", layout=widgets.Layout(**picture))
        self.train_image = widgets.Image(format="png", layout=widgets.Layout(**picture))
        for widget, name in ((self.caption, "caption"), (self.readout, "readout"), (self.image, "plot"),
                             (self.train_image, "training-plot")):
            widget.add_class(f"explorer-{name}")  # stable names for styling and for the browser tests
        for control in (self.scale, self.activation, self.depth, self.width, self.seed):
            control.observe(self._on_change, names="value")
        self.scale.observe(lambda _: self.update(), names="clamped")  # the readout says so, even with no move
        def row(*children: widgets.Widget) -> widgets.HBox:
            return widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap"))

        text = widgets.Layout(max_width=f"{WIDTH_PX}px")
        self.caption.layout, self.readout.layout = text, text
        self.ui = widgets.VBox([
            self.caption,
            row(self.scale, self.seed),
            self.activation,
            row(self.depth, self.width),
            row(widgets.Label("presets:"), *self.preset_buttons),
            row(self.pin_button, self.clear_button, self.train_button, self.steps, self.progress),
            self.readout,
            self.image,
            self.train_image,
            widgets.HTML(HELP, layout=text),
        ])

    @staticmethod
    def _button(description: str, action: Any, tooltip: str = "") -> widgets.Button:
        button = widgets.Button(description=description, tooltip=tooltip,
                                layout=widgets.Layout(width="auto", flex="0 0 auto"))  # never squeezed
        button.on_click(lambda _: action())
        return button

    def _set_scale(self, value: float) -> None:
        self.scale.value = value

    def _setting(self) -> tuple[float, str, int, int]:
        return self.scale.value, self.activation.value, self.depth.value, self.width.value

    def _on_change(self, change: dict[str, Any]) -> None:
        """A control moved: stop a training, forget the live loss curve (it belonged to the old setting), redraw."""
        self._cancel_training()
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
            self.stats = stack_stats(scale, activation, depth, width, self.batch, self.seed.value)
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
        if self.scale.clamped is not None:
            low, high = (f"{10**v:g}" for v in (self.scale.min, self.scale.max))
            lines.insert(0, f"<b>scale {self.scale.clamped:g} is outside the slider's range {low} to {high}: "
                            f"showing {self.scale.value:.3g}</b>")
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
                f"(rule of thumb: about {HEALTHY_RATIO:g})")

    # Pins: settings kept on the plot, recomputed with the live seed.

    def _make_pin(self, label: str, setting: tuple[float, str, int, int]) -> Pin:
        scale, activation, depth, width = setting
        stats = stack_stats(scale, activation, depth, width, self.batch, self.seed.value)
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
        runs = [(None, StackTraining(*self._setting(), seed=seed))]
        runs += [(p, StackTraining(*p.setting, seed=seed)) for p in self.pins if p.losses is None]
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
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
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
        """The widget view, its text form and a picture for where no kernel runs (GitHub, nbviewer, HTML export).

        Written out rather than asked of the widget: ipywidgets 7 (Colab) widgets have no ``_repr_mimebundle_``.
        """
        png = stack_pngs([self.figure.renderer.canvas, self.training_figure.canvas])
        view = {"version_major": 2, "version_minor": 0, "model_id": self.ui.model_id}
        return {"application/vnd.jupyter.widget-view+json": view, "text/plain": repr(self),
                "image/png": base64.b64encode(png).decode("ascii")}

    def __repr__(self) -> str:
        return (f"InitExplorer(scale={self.scale.value:.3g}, activation={self.activation.value!r}, "
                f"depth={self.depth.value}, width={self.width.value}, seed={self.seed.value})")


def init_explorer(**kwargs: Any) -> InitExplorer:
    """Create the initialization lab; as a cell's last line it displays its controls, readout and plots."""
    return InitExplorer(**kwargs)
