"""Notebook 03's exercises: the backward pass, one chain-rule step at a time, each storing a ``.g``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..functions import forward_and_backward, lin, lin_grad, mse, mse_grad, relu, relu_grad, relu_mask
from .compare import Compare, avoids, named, source_rule, tokens_of
from .core import (
    LAYER_SIZES,
    Case,
    Exercise,
    ReadTooEarly,
    Rejected,
    add,
    autograd_grads,
    batches,
    copy_with_g,
    gen,
    nothing_in_g,
    source_of,
)

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


AUTOGRAD = ("it used autograd (backward() or .grad): this exercise is the backward pass by hand, so chain "
            "your own mse_grad, relu_grad and lin_grad instead")


def by_hand(advice: str) -> Compare:
    """A source rule: no autograd (``backward``, ``.grad``, ``requires_grad``) in code meant to work by hand."""
    def rule(source: str, _: Any) -> str | None:
        return advice if set(tokens_of(source)) & {"backward", "grad", "requires_grad", "requires_grad_"} else None
    return source_rule(rule)


def _call_without_autograd(solution: Callable[..., Any], copies: tuple[Any, ...]) -> Any:
    """Call a whole backward pass with autograd switched off, so that a copy of autograd's .grad fails."""
    try:
        with torch.no_grad():
            return solution(*copies)
    except RuntimeError as err:
        if "does not require grad" in str(err):
            raise Rejected(AUTOGRAD) from err
        raise


def fills_g(*names: str | None, returns: bool = False) -> Callable[[Any, tuple[Any, ...]], Any]:
    """A case's run for a backward step: call it on copies, return the ``.g`` it stored in each named argument.

    ``names`` gives every positional argument a name (``None``: not a gradient to read) for the feedback;
    ``returns=True`` (a whole forward and backward pass) puts the function's own return value, the loss,
    first, and runs it with autograd off.
    """
    def run(solution: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
        copies = tuple(copy_with_g(a) if isinstance(a, Tensor) else a for a in args)
        with ReadTooEarly(ORDER_ADVICE):
            returned = _call_without_autograd(solution, copies) if returns else solution(*copies)
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
                raise Rejected(nothing_in_g([name], [c]) + also)
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
                 named("inp", traps={"inp": ((grad * n, "a sum, not a mean: divide by the number of predictions"),
                                             (grad / 2, "the factor 2 from the derivative of the square is missing"))}),
                 fills_g("inp", None))
            for label, n, out, targ, grad in mse_batches(sizes, seed=30)]


add(Exercise("mse_grad", "03", "mse_grad(inp, targ): store d loss / d inp in inp.g, shaped like inp (N, 1)",
             "Only one term of the sum (inp_1 - y_1)^2 + ... + (inp_N - y_N)^2, divided by N, contains inp_i: "
             "differentiate that term. Work on the flattened predictions, so that (N, 1) never meets (N,), and "
             "give the result inp's shape at the end.",
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
             relu_grad, _relu_grad_cases, kind="fix", given="inp.g = out.g.clone()",
             bug="the first version passed out.g through everywhere; where inp is not positive ReLU is flat, so "
                 "no gradient reaches its input there"))


def w_grad_outer(inp: Tensor, out_g: Tensor) -> Tensor:
    """Reference: d loss / d w of inp @ w + b, one outer product per example, added up over the batch."""
    return sum((torch.outer(row, g_row) for row, g_row in zip(inp, out_g)), torch.zeros(inp.shape[1], out_g.shape[1]))


def _lin_cases(seed: int) -> list[tuple[str, Tensor, Tensor, Tensor, Tensor, tuple[Tensor, ...]]]:
    """Labelled (inp, w, b, out with its .g) of each layer size, with autograd's gradients of inp, w and b."""
    cases = []
    for label, inp, w, b in batches(LAYER_SIZES, seed=seed):
        out = lin(inp, w, b)
        out.g = torch.randn(out.shape, generator=gen(inp.numel()))
        cases.append((label, inp, w, b, out, autograd_grads(lin_times, (inp, w, b), out.g)))
    return cases


MEAN_NOT_SUM = "a mean over the batch: the examples' gradients add up (the loss's 1/N is already inside out.g)"


def _w_grad_outer_cases() -> list[Case]:
    return [Case(label, (inp, out.g), w_grad, traps=((w_grad / len(inp), MEAN_NOT_SUM),))
            for label, inp, _, _, out, (_, w_grad, _) in _lin_cases(seed=40)]


add(Exercise("w_grad_outer", "03", "w_grad_outer(inp, out_g): d loss / d w, added up one example at a time",
             "For one example, w_kj multiplies only inp_k and reaches the loss only through out_j: chain those "
             "two slopes, fill a table shaped like w with them, then decide what the batch does to the tables.",
             w_grad_outer, _w_grad_outer_cases))


def _lin_grad_cases() -> list[Case]:
    cases = [Case("one matrix product each, no loop", compare=avoids("for", "while"), run=source_of)]
    for label, inp, w, b, out, expected in _lin_cases(seed=40):
        traps = {"b": ((out.g.mean(0), MEAN_NOT_SUM),), "w": ((expected[1] / len(inp), MEAN_NOT_SUM),)}
        cases.append(Case(label, (inp, out, w, b), expected, named("inp", "w", "b", traps=traps),
                          fills_g("inp", None, "w", "b")))
    return cases


add(Exercise("lin_grad", "03", "lin_grad(inp, out, w, b): store the gradients of inp @ w + b in inp.g, w.g, b.g",
             "Every gradient has the shape of its tensor: inp.g is (N, n_in), w.g is (n_in, n_out), b.g is "
             "(n_out,). A matrix product adds up products over the axis its two factors share: which axis does "
             "your loop in w_grad_outer add up over? Each bias entry is added to every row.",
             lin_grad, _lin_grad_cases))


def two_layer_loss(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """The two-layer net's loss, for autograd to differentiate."""
    return mse(lin(relu(lin(x, w1, b1)), w2, b2), y)


def _loss_of_input_first(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, y: Tensor) -> Tensor:
    """``two_layer_loss`` with the input first, for autograd to differentiate it with the parameters."""
    return two_layer_loss(w1, b1, w2, b2, x, y)


def _forward_and_backward_cases() -> list[Case]:
    cases = [Case("the backward pass by hand", compare=by_hand(AUTOGRAD), run=source_of)]
    for label, (n, n_in, nh) in (("200 rows, 100 -> 50 -> 1", (200, 100, 50)), ("a batch of 1", (1, 4, 3)),
                                 ("hidden size 1", (6, 3, 1))):
        g = gen(50 + n)
        x, y = torch.randn(n, n_in, generator=g), torch.randn(n, generator=g)
        w1, b1 = torch.randn(n_in, nh, generator=g), torch.randn(nh, generator=g)
        w2, b2 = torch.randn(nh, 1, generator=g), torch.randn(1, generator=g)
        grads = autograd_grads(_loss_of_input_first, (x, w1, b1, w2, b2), y)
        loss = two_layer_loss(w1, b1, w2, b2, x, y)
        cases.append(Case(label, (x, y, w1, b1, w2, b2), (loss, *grads), named("loss", "inp", "w1", "b1", "w2", "b2"),
                          fills_g("inp", None, "w1", "b1", "w2", "b2", returns=True)))
    return cases


add(Exercise("forward_and_backward", "03",
             "forward_and_backward(inp, targ, w1, b1, w2, b2): the forward pass, every backward step, the loss",
             "Keep l1, l2 and out from the forward pass. The backward steps run in the reverse order of the "
             "forward ones, starting with mse_grad, because each reads the .g the step after it stored; the "
             "last one fills inp.g too.",
             forward_and_backward, _forward_and_backward_cases))
