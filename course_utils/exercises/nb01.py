"""Notebook 01's exercises: the scale of the initial weights."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..activations import kaiming_scale, xavier_scale
from ..initialization import layer_stds
from .compare import number, tensor_close, within_10x
from .core import Case, Exercise, add, as_given


def _scale_cases(scale: Callable[[int], float]) -> list[Case]:
    return [Case(f"n_in = {n}", (n,), scale(n), number) for n in (100, 50, 1)]


add(Exercise("xavier_scale", "01", "xavier_scale(n_in): the weight scale that keeps a linear layer's std",
             "One layer multiplies the std by sqrt(n_in) when the weights have std 1. Which factor on the "
             "weights cancels that?",
             xavier_scale, lambda: _scale_cases(lambda n: 1 / math.sqrt(n))))


def std_after_50_layers() -> float:
    """The std after the last of 50 layers of width 100 at scale 0.2, as notebook 01 measures it."""
    return layer_stds(0.2)[-1].item()


add(Exercise("std_after_50_layers", "01", "predict the std after 50 layers of width 100 at scale 0.2",
             "At scale 0.1 one layer keeps the std. What does scale 0.2 do to it per layer, and what do "
             "50 such layers do?",
             std_after_50_layers, lambda: [
                 Case("50 layers at scale 0.2", (), std_after_50_layers(), within_10x, as_given)], kind="predict"))


def mean_square(t: Tensor) -> Tensor:
    """Reference: the average of the squared entries."""
    return t.pow(2).mean()


add(Exercise("mean_square", "01", "mean_square(t): the average of the squares of all entries of t",
             "Square every entry (elementwise), then average them all. No subtraction of the mean.",
             mean_square, lambda: [
                 Case("tensor [1, -2, 3]", (torch.tensor([1.0, -2.0, 3.0]),), torch.tensor(14 / 3), tensor_close),
                 Case("a (2, 2) matrix", (torch.tensor([[1.0, 1.0], [3.0, 3.0]]),), torch.tensor(5.0),
                      tensor_close),
                 Case("mean far from 0", (torch.full((5,), 2.0),), torch.tensor(4.0), tensor_close,
                      traps=((torch.tensor(0.0), "that is the variance: the mean square keeps the mean in"),))]))

add(Exercise("kaiming_scale", "01", "kaiming_scale(n_in): the weight scale that keeps the mean square with ReLU",
             "ReLU halves the mean square of its input. By how much must the weights' variance grow to give "
             "it back, and what does that do to the scale?",
             kaiming_scale, lambda: _scale_cases(lambda n: math.sqrt(2 / n))))
