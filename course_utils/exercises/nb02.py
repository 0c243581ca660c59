"""Notebook 02's exercises: the forward pass, one neuron up to the loss."""

from __future__ import annotations

import torch
from torch import Tensor

from ..functions import lin, mse, relu
from .compare import BROADCAST_HINT, NO_BIAS, close, known_mistakes, named, names_the_axis, same_shape, tensor_close
from .core import LAYER_SIZES, Case, Exercise, add, as_given, batches, gen, source_of


def neuron(x: Tensor, w: Tensor, b: float) -> Tensor:
    """Reference: weighted sum of the inputs plus the bias."""
    return (x * w).sum() + b


add(Exercise("neuron", "02", "neuron(x, w, b): one neuron, the weighted sum of a vector x plus a bias",
             "Multiply x and w entry by entry, add the products up, then add b.",
             neuron, lambda: [
                 Case(label, (x, w, b), torch.tensor(out), known_mistakes(close, (((x * w).sum().item(), NO_BIAS),)))
                 for label, x, w, b, out in (
                     ("3 inputs", torch.tensor([1.0, -2.0, 3.0]), torch.tensor([0.5, 0.25, -1.0]), 0.5, -2.5),
                     ("1 input", torch.tensor([2.0]), torch.tensor([-3.0]), 1.0, -5.0),
                     ("zero weights", torch.tensor([1.0, -2.0, 3.0]), torch.zeros(3), 2.0, 2.0))]))


def _lin_cases() -> list[Case]:
    return [Case(label, (x, w, b), lin(x, w, b), known_mistakes(close, ((x @ w, NO_BIAS),)))
            for label, x, w, b in batches(LAYER_SIZES, seed=10)]


add(Exercise("lin", "02", "lin(x, w, b): a dense layer on a batch, as one matrix product plus the bias",
             "x has one row per example and w one column per neuron: the matrix product pairs them all. "
             "The bias has one entry per neuron and broadcasts over the rows.",
             lin, _lin_cases))

def one_layer(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> tuple[Tensor, Tensor]:
    """Reference: the single layer (w, b) that computes lin(lin(x, w1, b1), w2, b2) for every x."""
    return w1 @ w2, b1 @ w2 + b2


def _one_layer_cases() -> list[Case]:
    cases = []
    for i, (label, (n_in, nh, n_out)) in enumerate((("4 -> 3 -> 2", (4, 3, 2)), ("100 -> 50 -> 1", (100, 50, 1)))):
        g = gen(60 + i)
        w1, b1 = torch.randn(n_in, nh, generator=g), torch.randn(nh, generator=g)
        w2, b2 = torch.randn(nh, n_out, generator=g), torch.randn(n_out, generator=g)
        traps = {"b": ((b2, "b1 is missing: it goes through the second layer's weights too"),)}
        cases.append(Case(label, (w1, b1, w2, b2), one_layer(w1, b1, w2, b2), named("w", "b", traps=traps)))
    return cases


add(Exercise("one_layer", "02", "one_layer(w1, b1, w2, b2): the (w, b) of one layer that does what two in a row do",
             "Write lin(lin(x, w1, b1), w2, b2) out as (x @ w1 + b1) @ w2 + b2 and multiply out the brackets: "
             "which part multiplies x, and which part does not depend on x at all?",
             one_layer, _one_layer_cases))

add(Exercise("relu", "02", "relu(x): negative entries become 0, the rest stay",
             "Look for a tensor method that clamps values from below, or for torch.where, which picks each "
             "entry from one of two tensors by a condition. Return a new tensor; leave x as it is.",
             relu, lambda: [
                 Case("relu(-2.0)", (torch.tensor(-2.0),), torch.tensor(0.0)),
                 Case("relu(3.5)", (torch.tensor(3.5),), torch.tensor(3.5)),
                 Case("relu(0.0)", (torch.tensor(0.0),), torch.tensor(0.0)),
                 Case("a (2, 3) matrix", (torch.tensor([[-1.0, 0.0, 2.0], [3.0, -4.0, 0.5]]),),
                      torch.tensor([[0.0, 0.0, 2.0], [3.0, 0.0, 0.5]]))]))


def difference_shape() -> tuple[int, int]:
    """The shape of (out - y) for predictions out of shape (200, 1) and targets y of shape (200,)."""
    return tuple((torch.zeros(200, 1) - torch.zeros(200)).shape)


add(Exercise("difference_shape", "02", "predict the shape of out - y, for out of shape (200, 1) and y of shape (200,)",
             "Broadcasting lines the two shapes up from the right and gives a missing axis size 1 on the left; "
             "then every axis of size 1 stretches to match the other.",
             difference_shape, lambda: [Case("(200, 1) - (200,)", (), difference_shape(), same_shape, as_given)],
             kind="predict"))


def _mse_cases() -> list[Case]:
    cases = [Case("no bare squeeze()", compare=names_the_axis("squeeze"), run=source_of)]
    for label, n in (("200 predictions", 200), ("5 predictions", 5), ("a batch of 1", 1)):
        g = gen(20 + n)
        out, targ = torch.randn(n, 1, generator=g), torch.randn(n, generator=g)
        cases.append(Case(f"{label}: output ({n}, 1), targets ({n},)", (out, targ), mse(out, targ), tensor_close,
                          traps=(((out - targ).pow(2).mean(), BROADCAST_HINT),)))
    return cases


add(Exercise("mse", "02", "mse(output, targ): fix the mean squared error of predictions (N, 1) and targets (N,)",
             "Print the shape of output - targ: it should be (N,), one difference per example. Remove output's "
             "axis of size 1 before subtracting (indexing does it, and so does a tensor method named for what it "
             "does); name the axis, so that a batch of one keeps its batch axis.",
             mse, _mse_cases, kind="fix", given="return (output - targ).pow(2).mean()",
             bug="output - targ broadcast (N, 1) against (N,) to an (N, N) table of every prediction minus every "
                 "target; with the two shapes matching, each prediction meets only its own target: the N "
                 "differences the loss is about"))
