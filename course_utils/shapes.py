"""The few checks behind the course's error messages: each one catches a mistake that would otherwise give
a wrong number, or a misleading error, without saying why. Where torch already raises a clear error
(inner sizes that do not fit, mixed devices), the functions let it.
"""

from __future__ import annotations

from torch import Tensor


def check_tensors(where: str, **named: object) -> None:
    """``None`` (or a number) where a tensor belongs fails later as an AttributeError that names no argument."""
    for name, value in named.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"{where}: {name} is {'None' if value is None else type(value).__name__}, not a tensor")


def check_bias(w: Tensor, b: Tensor, where: str) -> None:
    """A bias of any shape but (n_out,) would broadcast into a different sum instead of raising."""
    if tuple(b.shape) != (w.shape[-1],):
        raise ValueError(f"{where}: b has shape {tuple(b.shape)}, but w {tuple(w.shape)} needs a bias of shape "
                         f"({w.shape[-1]},): one number per output column")


def check_fits(inp: Tensor, w: Tensor, where: str) -> None:
    """Gradients of an input and a weight that do not fit each other come out misshapen, with no error."""
    if inp.shape[-1] != w.shape[0]:
        raise ValueError(f"{where}: inp {tuple(inp.shape)} does not fit w {tuple(w.shape)}; pass the input and the "
                         "weight of the same lin call")


def check_has_g(out: Tensor, where: str) -> None:
    """A backward step reads ``out.g``, which only the step after it in the forward pass can have set."""
    if getattr(out, "g", None) is None:
        raise RuntimeError(f"{where}: out.g is missing; run the backward step of the layer after this one first")
    if out.g.shape != out.shape:
        # A (N, 1) gradient for a (N, H) output would broadcast into every column instead of raising.
        raise ValueError(f"{where}: out.g has shape {tuple(out.g.shape)} but out has shape {tuple(out.shape)}; "
                         "a gradient has the shape of its tensor")


def check_relu_order(inp: Tensor, out: Tensor) -> None:
    """ReLU keeps the shape and is never negative: anything else means ``out`` is not ``relu(inp)``."""
    if inp.shape != out.shape:
        raise ValueError(f"relu_grad: inp {tuple(inp.shape)} and out {tuple(out.shape)} differ in shape, but relu "
                         "keeps the shape; pass relu's input and its output")
    if bool((out < 0).any()):
        raise ValueError(f"relu_grad: out {tuple(out.shape)} has negative entries, so it is not relu's output; "
                         "the order is relu_grad(inp, out)")


def check_pair(out: Tensor, targ: Tensor, where: str) -> None:
    """Predictions and targets must pair up row by row: (N, 1) minus (N,) would broadcast to an N x N matrix."""
    for name, t in (("output", out), ("targ", targ)):
        if not (t.dim() == 1 or (t.dim() == 2 and t.shape[1] == 1)):
            raise ValueError(f"{where}: {name} must have shape (N,) or (N, 1), got {tuple(t.shape)}")
    if out.shape[0] != targ.shape[0]:
        raise ValueError(f"{where}: output has {out.shape[0]} rows but targ has {targ.shape[0]} "
                         f"(output {tuple(out.shape)}, targ {tuple(targ.shape)})")
    if out.shape[0] == 0:
        raise ValueError(f"{where}: the batch is empty (output {tuple(out.shape)}); the mean of no rows is nan")
    if targ.dtype != out.dtype:
        # float64 targets would silently make a float64 loss, then break the backward pass far from here.
        raise TypeError(f"{where}: the targets are {targ.dtype} but the predictions are {out.dtype}; "
                        f"convert the targets: targ.to({out.dtype})")
