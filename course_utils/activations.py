"""One record per activation and one place for the Xavier and Kaiming scales: everything else reads from here.

To add an activation (say leaky ReLU), add one ``Activation`` to ``ACTIVATIONS``; the experiments,
the explorer's menu, presets and readout, and the initializers pick it up from this table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .functions import relu, relu_mask


def check_fan_in(fan_in: int) -> None:
    """A layer's number of inputs must be a whole number of at least 1: say so, instead of a ZeroDivisionError."""
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in < 1:
        raise ValueError(f"fan_in (the layer's number of inputs) must be a whole number >= 1, got {fan_in!r}")


def xavier_scale(fan_in: int) -> float:
    """1/sqrt(fan_in): keeps the mean square of a linear layer's output equal to its input's.

    Glorot and Bengio average fan-in and fan-out; for the square layers used here both are equal.
    """
    check_fan_in(fan_in)
    return 1 / math.sqrt(fan_in)


def kaiming_scale(fan_in: int) -> float:
    """sqrt(2/fan_in): ReLU zeroes half of its inputs and so halves the mean square; the 2 gives it back."""
    check_fan_in(fan_in)
    return math.sqrt(2 / fan_in)


SCALES: dict[str, Callable[[int], float]] = {"xavier": xavier_scale, "kaiming": kaiming_scale}
# The same two scales as text, for labels and readouts.
SCALE_FORMULAS: dict[str, str] = {"xavier": "1/sqrt(fan_in)", "kaiming": "sqrt(2/fan_in)"}


@dataclass(frozen=True)
class Activation:
    """What the course needs to know about one activation function."""

    name: str                                    # key in ACTIVATIONS and in every API ("relu")
    label: str                                   # how plots and the explorer write it ("ReLU")
    fn: Callable[[Tensor], Tensor]               # the function itself
    slope: Callable[[Tensor], Tensor]            # its derivative, written in terms of its output
    gain: float                                  # torch.nn.init.calculate_gain's value for it
    scale: str                                   # the key in SCALES that keeps a deep stack of it stable
    commutes_with_scale: bool                    # fn(s * x) == s * fn(x) for every s > 0

    def __call__(self, x: Tensor) -> Tensor:
        """Apply the activation: ``ACTIVATIONS["relu"](x)`` is ``relu(x)``."""
        return self.fn(x)


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("linear", "linear", lambda x: x, torch.ones_like, 1.0, "xavier", True),
    Activation("relu", "ReLU", relu, relu_mask,
               math.sqrt(2), "kaiming", True),
    Activation("tanh", "tanh", torch.tanh, lambda out: 1 - out * out, 5 / 3, "xavier", False),
)}


def resolve_scale(scale: float | str, width: int) -> float:
    """Turn ``scale`` into a number: a name from ``SCALES`` ("xavier", "kaiming") or a finite number >= 0."""
    if isinstance(scale, str):
        key = scale.strip().lower()
        if key not in SCALES:
            raise ValueError(f"unknown scale name {scale!r}; use a number or one of {tuple(SCALES)}")
        return SCALES[key](width)
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        raise TypeError(f"scale must be a number or one of {tuple(SCALES)}, got {type(scale).__name__}")
    if not math.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale}")
    return float(scale)


def needed_scale(activation: str, width: int) -> tuple[str, float]:
    """The scale that keeps a deep stack of this activation stable: its formula for this width, and its value."""
    name = ACTIVATIONS[activation].scale
    return SCALE_FORMULAS[name].replace("fan_in", str(width)), SCALES[name](width)
