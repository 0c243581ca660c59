"""Notebook 03's exercises: the backward pass, one chain-rule step at a time, each storing a ``.g``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..functions import forward_and_backward, lin, lin_grad, mse, mse_grad, relu, relu_grad, relu_mask
from .compare import named
from .core import LAYER_SIZES, Case, Exercise, ReadTooEarly, Rejected, add, autograd_grads, batches, copy_with_g, gen

ORDER_ADVICE = ("the backward steps run from the loss back to the input, mse_grad first, and each one reads the "
                ".g that the step after it in the forward pass stored; check their order and the tensors you pass")


def _g_unchanged(args: tuple[Any, ...], copies: tuple[Any, ...], names: tuple[str | None, ...]) -> None:
    """Reject an answer that changed an incoming gradient (an argument's ``.g``) in place."""
    for i, (a, c) in enumerate(zip(args, copies)):
        before = getattr(a, "g", None)
        if before is not None and getattr(c, "g", None) is not None and not torch.equal(c.g, before):
            name = names[i] or ("out" if i == 1 else f"argument {i}")
            raise Rejected(f"{name}.g was changed in place; leave the incoming gradient as it is (an earlier "
                           "step may still read it) and store a new tensor in inp.g")


def fills_g(*names: str | None, returns: bool = False) -> Callable[[Any, tuple[Any, ...]], Any]:
    """A case's run for a backward step: call it on copies, return the ``.g`` it stored in each named argument.

    ``names`` gives every positional argument a name (``None``: not a gradient to read) for the feedback;
    ``returns=True`` puts the function's own return value (the loss) first.
    """
    def run(solution: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
        copies = tuple(copy_with_g(a) if isinstance(a, Tensor) else a for a in args)
        with ReadTooEarly(ORDER_ADVICE):
            returned = solution(*copies)
        _g_unchanged(args, copies, names)
        if returns and returned is None:
            raise Rejected("returned nothing; return the loss from the forward pass")
        grads = [returned] if returns else []
        for name, c in zip(names, copies):
            if name is None:
                continue
            if getattr(c, "g", None) is None:
                stored = f" (it returned a value instead: store it, as in {name}.g = ...)"
                also = stored if returned is not None and not returns else ""
                raise Rejected(f"nothing was stored in {name}.g{also}")
            grads.append(c.g)
        return tuple(grads)
    return run


def lin_times(inp: Tensor, w: Tensor, b: Tensor, out_g: Tensor) -> Tensor:
    """A loss whose gradient at the output of ``lin(inp, w, b)`` is exactly ``out_g``."""
    return (lin(inp, w, b) * out_g).sum()


def mse_batches(sizes: tuple[tuple[str, int], ...], seed: int) -> list[tuple[Any, ...]]:
    """Labelled (N, 1) predictions and (N,) targets for each N, with autograd's gradient of ``mse`` at the first."""
    out = []
    for label, n in sizes:
        g = gen(seed + n)
        pred, targ = torch.randn(n, 1, generator=g), torch.randn(n, generator=g)
        out.append((label, n, pred, targ, *autograd_grads(mse, (pred,), targ)))
    return out


def _mse_grad_cases() -> list[Case]:
    sizes = (("200 predictions", 200), ("3 predictions", 3), ("a batch of 1", 1))
    return [Case(f"{label}: out ({n}, 1), targets ({n},)", (out, targ), (grad,),
                 named("inp", traps={"inp": ((grad * n, "divide by the number of predictions"),)}),
                 fills_g("inp", None))
            for label, n, out, targ, grad in mse_batches(sizes, seed=30)]


add(Exercise("mse_grad", "03", "mse_grad(inp, targ): store d loss / d inp in inp.g, shaped like inp (N, 1)",
             "Differentiate (inp_i - y_i)^2 / N with respect to inp_i. Compute it on the flattened "
             "predictions, so that (N, 1) never meets (N,), and give the result inp's shape at the end.",
             mse_grad, _mse_grad_cases))


def _relu_grad_cases() -> list[Case]:
    cases = []
    for label, inp in (("mixed signs", torch.tensor([[-1.0, 2.0], [0.5, -3.0]])),
                       ("all negative", torch.tensor([[-1.0, -0.5, -2.0]])),
                       ("zeros count as not positive", torch.tensor([[0.0, 1.0], [0.0, -1.0]]))):
        out = relu(inp)
        out.g = torch.arange(1.0, inp.numel() + 1).reshape(inp.shape)
        everywhere = "the gradient passed everywhere: mask it where inp is not positive"
        mask_only = "that is the mask alone; multiply it by out.g, the gradient arriving from the output"
        cases.append(Case(label, (inp, out), (relu_mask(inp) * out.g,),
                          named("inp", traps={"inp": ((out.g, everywhere), (relu_mask(inp), mask_only))}),
                          fills_g("inp", None)))
    return cases


add(Exercise("relu_grad", "03", "relu_grad(inp, out): repair the version that forgets ReLU's flat half",
             "ReLU's slope is 0 where its input is negative or zero and 1 where it is positive. The chain rule "
             "multiplies out.g by that slope, entry by entry.",
             relu_grad, _relu_grad_cases, kind="fix"))


def _lin_grad_cases() -> list[Case]:
    cases = []
    for label, inp, w, b in batches(LAYER_SIZES, seed=40):
        out = lin(inp, w, b)
        out.g = torch.randn(out.shape, generator=gen(inp.numel()))
        expected = autograd_grads(lin_times, (inp, w, b), out.g)
        cases.append(Case(label, (inp, out, w, b), expected, named("inp", "w", "b"),
                          fills_g("inp", None, "w", "b")))
    return cases


add(Exercise("lin_grad", "03", "lin_grad(inp, out, w, b): store the gradients of inp @ w + b in inp.g, w.g, b.g",
             "Every gradient has the shape of its tensor: inp.g is (N, n_in), w.g is (n_in, n_out), b.g is "
             "(n_out,). out.g is (N, n_out); find the product of it with w or inp (one of them transposed) "
             "that gives each shape. Each bias entry is added to every row.",
             lin_grad, _lin_grad_cases))


def two_layer_loss(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """The two-layer net's loss, for autograd to differentiate."""
    return mse(lin(relu(lin(x, w1, b1)), w2, b2), y)


def _forward_and_backward_cases() -> list[Case]:
    cases = []
    for label, (n, n_in, nh) in (("200 rows, 100 -> 50 -> 1", (200, 100, 50)), ("a batch of 1", (1, 4, 3)),
                                 ("hidden size 1", (6, 3, 1))):
        g = gen(50 + n)
        x, y = torch.randn(n, n_in, generator=g), torch.randn(n, generator=g)
        w1, b1 = torch.randn(n_in, nh, generator=g), torch.randn(nh, generator=g)
        w2, b2 = torch.randn(nh, 1, generator=g), torch.randn(1, generator=g)
        grads = autograd_grads(two_layer_loss, (w1, b1, w2, b2), x, y)
        loss = two_layer_loss(w1, b1, w2, b2, x, y)
        cases.append(Case(label, (x, y, w1, b1, w2, b2), (loss, *grads), named("loss", "w1", "b1", "w2", "b2"),
                          fills_g(None, None, "w1", "b1", "w2", "b2", returns=True)))
    return cases


add(Exercise("forward_and_backward", "03",
             "forward_and_backward(inp, targ, w1, b1, w2, b2): the forward pass, every backward step, the loss",
             "Keep l1, l2 and out from the forward pass. The backward steps run in the reverse order of the "
             "forward ones, starting with mse_grad, because each reads the .g the step after it stored.",
             forward_and_backward, _forward_and_backward_cases))
