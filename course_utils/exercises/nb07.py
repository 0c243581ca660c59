"""Notebook 07's exercises: the questionnaire's own, one idea of each earlier notebook again."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..functions import lin, lin_grad, mse, mse_grad, relu_mask
from ..pytorch import LinearLayer
from .compare import close, each
from .core import Case, Exercise, add, autograd_grads, gen


def relu_backward(inp: Tensor, out_grad: Tensor) -> Tensor:
    """Reference: the gradient passes where the input was positive."""
    return out_grad * relu_mask(inp)


def _relu_backward_cases() -> list[Case]:
    inp = torch.tensor([[-1.0, 2.0], [0.5, -3.0]])
    grad = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    mask_only = "that is the mask (inp > 0) alone; the gradient is the mask times out_grad"
    return [Case("mixed signs", (inp, grad), torch.tensor([[0.0, 20.0], [30.0, 0.0]]),
                 traps=((relu_mask(inp), mask_only),)),
            Case("all negative", (-inp.abs(), grad), torch.zeros(2, 2)),
            Case("batch of 1", (torch.tensor([[1.0, -1.0, 2.0]]), torch.tensor([[0.5, 1.0, -2.0]])),
                 torch.tensor([[0.5, 0.0, -2.0]]), traps=((torch.tensor([[1.0, 0.0, 1.0]]), mask_only),))]


add(Exercise("relu_backward", "07", "relu_backward(inp, out_grad): gradient of the loss at ReLU's input",
             "Chain rule: the gradient at the input is the gradient at the output times ReLU's slope, "
             "which is 1 where the input was positive and 0 elsewhere.",
             relu_backward, _relu_backward_cases))


def mse_lin_grads(l2: Tensor, w2: Tensor, b2: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Reference: the gradient at the output first (``mse_grad``), then through the linear layer (``lin_grad``)."""
    l2, w2, b2 = (t.detach() for t in (l2, w2, b2))  # new tensor objects: the .g stored below stay off the caller's
    out = lin(l2, w2, b2)
    mse_grad(out, y)
    lin_grad(l2, out, w2, b2)
    return l2.g, w2.g, b2.g


def _mse_lin_grads_cases() -> list[Case]:
    cases = []
    for label, (n, nh), seed in (("200 rows, hidden 50", (200, 50), 6), ("batch of 1", (1, 4), 7),
                                 ("hidden size 1", (5, 1), 8)):
        g = gen(seed)
        l2, w2, b2 = torch.randn(n, nh, generator=g), torch.randn(nh, 1, generator=g), torch.randn(1, generator=g)
        y = torch.randn(n, generator=g)
        expected = autograd_grads(lambda l2, w2, b2, y: mse(lin(l2, w2, b2), y), (l2, w2, b2), y)
        cases.append(Case(label, (l2, w2, b2, y), expected, each(close)))
    return cases


add(Exercise("mse_lin_grads", "07", "mse_lin_grads(l2, w2, b2, y): gradients of mse(lin(l2, w2, b2), y)",
             "Start at the loss: its gradient with respect to the output has the output's shape (N, 1). "
             "Then each gradient must have the shape of its own tensor.",
             mse_lin_grads, _mse_lin_grads_cases))


def _works_as_linear(layer: Any, size: tuple[int, int]) -> str | None:
    """A custom check: a Module with registered (n_out, n_in) weight and (n_out,) bias computing x @ W.T + b."""
    n_in, n_out = size
    if not isinstance(layer, nn.Module):
        return "is not an nn.Module (subclass nn.Module and call super().__init__())"
    params = dict(layer.named_parameters())
    if len(params) != 2:
        return f"registers {len(params)} parameters ({sorted(params)}); expected a weight and a bias"
    weight = next((p for p in params.values() if p.dim() == 2), None)
    bias = next((p for p in params.values() if p.dim() == 1), None)
    if weight is None or tuple(weight.shape) != (n_out, n_in):
        shape = None if weight is None else tuple(weight.shape)
        return f"weight has shape {shape}; PyTorch's layout is {(n_out, n_in)}"
    if bias is None or tuple(bias.shape) != (n_out,):
        return f"bias has shape {None if bias is None else tuple(bias.shape)}; expected {(n_out,)}"
    x = torch.randn(3, n_in, generator=gen(n_in * 10 + n_out))
    out = layer(x)
    problem = close(out, lin(x, weight.t(), bias).detach())
    if problem:
        return f"on a batch (3, {n_in}): {problem}"
    out.sum().backward()
    if weight.grad is None:
        return "no gradient reached the weight: is it an nn.Parameter used in forward?"
    return None


add(Exercise("linear_from_scratch", "07", "Linear(n_in, n_out): nn.Linear written from scratch",
             "nn.Module only finds parameters after its own __init__ has run, and PyTorch stores a weight "
             "as (n_out, n_in), so forward needs its transpose.",
             LinearLayer, lambda: [Case(f"Linear({n_in}, {n_out})", (n_in, n_out), (n_in, n_out), _works_as_linear)
                                   for n_in, n_out in ((10, 2), (1, 5), (7, 1))]))
