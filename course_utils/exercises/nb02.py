"""Notebook 02's exercises: the forward pass, one neuron up to the loss."""

from __future__ import annotations

import torch
from torch import Tensor

from ..functions import lin, mse, relu
from .compare import BROADCAST_HINT, names_the_axis, tensor_close
from .core import LAYER_SIZES, Case, Exercise, add, batches, gen, source_of


def neuron(x: Tensor, w: Tensor, b: float) -> Tensor:
    """Reference: weighted sum of the inputs plus the bias."""
    return (x * w).sum() + b


add(Exercise("neuron", "02", "neuron(x, w, b): one neuron, the weighted sum of a vector x plus a bias",
             "Multiply x and w entry by entry, add the products up, then add b.",
             neuron, lambda: [
                 Case("3 inputs", (torch.tensor([1.0, -2.0, 3.0]), torch.tensor([0.5, 0.25, -1.0]), 0.5),
                      torch.tensor(-2.5)),
                 Case("1 input", (torch.tensor([2.0]), torch.tensor([-3.0]), 1.0), torch.tensor(-5.0)),
                 Case("zero weights", (torch.tensor([1.0, -2.0, 3.0]), torch.zeros(3), 2.0), torch.tensor(2.0))]))


def _lin_cases() -> list[Case]:
    return [Case(label, (x, w, b), lin(x, w, b),
                 traps=((x @ w, "the bias is missing"),)) for label, x, w, b in batches(LAYER_SIZES, seed=10)]


add(Exercise("lin", "02", "lin(x, w, b): a dense layer on a batch, as one matrix product plus the bias",
             "x has one row per example and w one column per neuron: the matrix product pairs them all. "
             "The bias has one entry per neuron and broadcasts over the rows.",
             lin, _lin_cases))

add(Exercise("relu", "02", "relu(x): negative entries become 0, the rest stay",
             "Look for a tensor method that clamps values from below, or for torch.where, which picks each "
             "entry from one of two tensors by a condition. Return a new tensor; leave x as it is.",
             relu, lambda: [
                 Case("relu(-2.0)", (torch.tensor(-2.0),), torch.tensor(0.0)),
                 Case("relu(3.5)", (torch.tensor(3.5),), torch.tensor(3.5)),
                 Case("relu(0.0)", (torch.tensor(0.0),), torch.tensor(0.0)),
                 Case("a (2, 3) matrix", (torch.tensor([[-1.0, 0.0, 2.0], [3.0, -4.0, 0.5]]),),
                      torch.tensor([[0.0, 0.0, 2.0], [3.0, 0.0, 0.5]]))]))


def _mse_cases() -> list[Case]:
    cases = [Case("no bare squeeze()", compare=names_the_axis("squeeze"), run=source_of)]
    for label, n in (("200 predictions", 200), ("5 predictions", 5), ("a batch of 1", 1)):
        g = gen(20 + n)
        out, targ = torch.randn(n, 1, generator=g), torch.randn(n, generator=g)
        cases.append(Case(f"{label}: output ({n}, 1), targets ({n},)", (out, targ), mse(out, targ), tensor_close,
                          traps=(((out - targ).pow(2).mean(), BROADCAST_HINT),)))
    return cases


add(Exercise("mse", "02", "mse(output, targ): fix the mean squared error of predictions (N, 1) and targets (N,)",
             "Print the shape of output - targ: it should be (N,), one difference per example. A method "
             "shown above removes an axis of size 1 from output; tell it which axis, so that a batch of "
             "one keeps its batch axis.",
             mse, _mse_cases, kind="fix", given="return (output - targ).pow(2).mean()"))
