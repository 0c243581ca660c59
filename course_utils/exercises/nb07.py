"""Notebook 07's exercises: the questionnaire's two questions that ask for code no earlier notebook had you write.

The questionnaire's other coding questions point back to the exercise where that code was written already.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ..activations import kaiming_scale
from ..functions import lin, lin_grad, mse, mse_grad
from ..pytorch import LinearLayer
from .compare import BROADCAST_HINT, close, named, same_values
from .core import Case, Exercise, Rejected, add, autograd_grads, gen, source_of
from .nb03 import by_hand


def mse_lin_grads(l2: Tensor, w2: Tensor, b2: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Reference: the gradient at the output first (``mse_grad``), then through the linear layer (``lin_grad``)."""
    l2, w2, b2 = (t.detach() for t in (l2, w2, b2))  # new tensor objects: the .g stored below stay off the caller's
    out = lin(l2, w2, b2)
    mse_grad(out, y)
    lin_grad(l2, out, w2, b2)
    return l2.g, w2.g, b2.g


def _mse_lin_grads_cases() -> list[Case]:
    cases = [Case("by the chain rule, not autograd", compare=by_hand(
        "it used autograd (backward() or .grad): the question asks for the chain rule by hand; autograd is what "
        "the check compares your answer with"), run=source_of)]
    for label, (n, nh), seed in (("200 rows, hidden 50", (200, 50), 6), ("batch of 1", (1, 4), 7),
                                 ("hidden size 1", (5, 1), 8)):
        g = gen(seed)
        l2, w2, b2 = torch.randn(n, nh, generator=g), torch.randn(nh, 1, generator=g), torch.randn(1, generator=g)
        y = torch.randn(n, generator=g)
        expected = autograd_grads(lambda l2, w2, b2, y: mse(lin(l2, w2, b2), y), (l2, w2, b2), y)
        mean_bias = ((expected[2] / n, "the mean of the output's gradient over the batch; the bias is added to "
                                       "every row, so its gradient is the sum"),) if n > 1 else ()
        no_two = "the factor 2 from the derivative of the square is missing"
        traps = {"l2_grad": ((expected[0] / 2, no_two),), "w2_grad": ((expected[1] / 2, no_two),),
                 "b2_grad": ((expected[2] / 2, no_two), *mean_bias)}
        cases.append(Case(label, (l2, w2, b2, y), expected, named("l2_grad", "w2_grad", "b2_grad", traps=traps),
                          _without_broadcast))
    return cases


def _without_broadcast(solution: Any, args: tuple[Any, ...]) -> Any:
    """Call the answer; a shape error from the (N, 1) minus (N,) broadcast is named as that."""
    try:
        return solution(*args)
    except RuntimeError as err:
        if "shape" not in str(err) and "size" not in str(err):
            raise
        raise Rejected(f"{err}: {BROADCAST_HINT}") from err


add(Exercise("mse_lin_grads", "07", "mse_lin_grads(l2, w2, b2, y): gradients of mse(lin(l2, w2, b2), y)",
             "Start at the loss: its gradient with respect to the output has the output's shape (N, 1). "
             "Then each gradient must have the shape of its own tensor.",
             mse_lin_grads, _mse_lin_grads_cases))


def _parameters(layer: Any, n_in: int, n_out: int) -> tuple[Tensor, Tensor] | str:
    """The layer's weight and bias, or what is wrong with them: an nn.Module, nn.Linear's names and shapes."""
    if not isinstance(layer, nn.Module):
        return "is not an nn.Module (subclass nn.Module and call super().__init__())"
    params = dict(layer.named_parameters())
    if sorted(params) != ["bias", "weight"]:
        return f"registers the parameters {sorted(params)}; expected two, named weight and bias as in nn.Linear"
    weight, bias = params["weight"], params["bias"]
    if tuple(weight.shape) != (n_out, n_in):
        return f"weight has shape {tuple(weight.shape)}; PyTorch's layout is {(n_out, n_in)}"
    if tuple(bias.shape) != (n_out,):
        return f"bias has shape {tuple(bias.shape)}; expected {(n_out,)}"
    return weight, bias


def _works_as_linear(layer: Any, size: tuple[int, int]) -> str | None:
    """A custom check: registered weight (n_out, n_in) and bias (n_out,), and forward gives x @ weight.T + bias
    with a nonzero bias (a forward without the bias would pass with the zero bias a layer starts with)."""
    n_in, n_out = size
    found = _parameters(layer, n_in, n_out)
    if isinstance(found, str):
        return found
    weight, bias = found
    g = gen(n_in * 10 + n_out)
    with torch.no_grad():
        bias.copy_(torch.randn(n_out, generator=g))
    x = torch.randn(3, n_in, generator=g)
    out = layer(x)
    problem = close(out, lin(x, weight.t(), bias).detach())
    if problem and same_values(out, (x @ weight.t()).detach()):
        return "with a nonzero bias the output is x @ weight.T alone: forward leaves out + self.bias"
    if problem:
        return f"on a batch (3, {n_in}) with a nonzero bias: {problem}"
    out.sum().backward()
    if weight.grad is None:
        return "no gradient reached the weight: is it an nn.Parameter used in forward?"
    return None


def _scale_problem(std: float, n_in: int, n_out: int) -> str | None:
    """What a weight std says about the init of a layer with ``n_in`` inputs that ReLU follows."""
    want = kaiming_scale(n_in)
    if math.isclose(std, want, rel_tol=0.1):
        return None
    said = f"the weights have std {std:.3g}; with {n_in} inputs and ReLU after it, the scale is {want:.3g}"
    if math.isclose(std, 1 / math.sqrt(n_in), rel_tol=0.1):
        return f"{said}: 1/sqrt(n_in) keeps the scale of a linear layer alone, and ReLU halves the mean square"
    if math.isclose(std, kaiming_scale(n_out), rel_tol=0.05):
        return f"{said}: you scaled by n_out; the fan-in is n_in, the second dimension of weight"
    return f"{said} ({std / want:.2g}x too {'large' if std > want else 'small'})"


def _init_scale(layer: Any, size: tuple[int, int]) -> str | None:
    """A custom check: the weights of a large layer are random, centred on 0, with std sqrt(2 / n_in)."""
    n_in, n_out = size
    found = _parameters(layer, n_in, n_out)
    if isinstance(found, str):
        return found
    w = found[0].detach().double()
    if w.std() == 0:
        return (f"every weight is {w[0, 0].item():.3g}: all units compute the same and get the same gradient, "
                "so they stay alike; draw the weights at random")
    if w.mean().abs() > 0.1 * w.std():
        return f"the weights have mean {w.mean().item():.3g}; draw them centred on 0"
    return _scale_problem(w.std().item(), n_in, n_out)


def _linear_cases() -> list[Case]:
    forward = [Case(f"Linear({n_in}, {n_out}), nonzero bias", (n_in, n_out), (n_in, n_out), _works_as_linear)
               for n_in, n_out in ((10, 2), (1, 5), (7, 1))]
    return forward + [Case(f"init of Linear({n_in}, {n_out}): std of the weights", (n_in, n_out), (n_in, n_out),
                           _init_scale) for n_in, n_out in ((400, 300), (30, 1000))]


add(Exercise("linear_from_scratch", "07", "Linear(n_in, n_out): nn.Linear written from scratch, initialized for ReLU",
             "nn.Module only finds parameters after its own __init__ has run, and PyTorch stores a weight "
             "as (n_out, n_in), so forward needs its transpose. Notebook 1 found the scale that keeps "
             "activations steady when ReLU follows.",
             LinearLayer, _linear_cases))
