"""The two-layer network as plain functions: forward pieces and their hand-written gradients.

Each ``*_grad`` function follows the chain rule one step back: it reads the gradient of the loss
with respect to a function's output from ``out.g`` and stores the gradient with respect to the
function's inputs in their ``.g`` attribute, the way PyTorch fills ``.grad``.
"""

from __future__ import annotations

from torch import Tensor

from .shapes import check_floating, check_lin_shapes, check_same_device, flat_pair, require_grad_attr


def lin(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """Affine layer ``x @ w + b`` for a batch ``x`` of shape (N, n_in) and ``w`` of shape (n_in, n_out)."""
    check_lin_shapes(x, w, b)
    # Same numbers as `x @ w + b`; adding in place saves allocating a second (N, n_out) tensor.
    return (x @ w).add_(b)


def relu(x: Tensor) -> Tensor:
    """Rectified linear unit: negative entries become 0, the rest pass unchanged."""
    check_floating("relu input", x)
    return x.clamp_min(0.0)


def mse(output: Tensor, targ: Tensor) -> Tensor:
    """Mean squared error between predictions of shape (N, 1) or (N,) and targets of shape (N,) or (N, 1)."""
    out_flat, targ_flat = flat_pair(output, targ, "mse")
    return (out_flat - targ_flat).pow(2).mean()


def mse_grad(inp: Tensor, targ: Tensor) -> None:
    """Store d(mse)/d(inp) in ``inp.g``, with the same shape as ``inp`` (batch size 1 included)."""
    inp_flat, targ_flat = flat_pair(inp, targ, "mse_grad")
    inp.g = (2.0 * (inp_flat - targ_flat) / inp_flat.shape[0]).reshape(inp.shape)


def relu_grad(inp: Tensor, out: Tensor) -> None:
    """Store d(loss)/d(inp) in ``inp.g`` from ``out.g``: the gradient passes only where ``inp > 0``."""
    out_g = require_grad_attr(out, "out", "relu_grad")
    if out_g.shape != inp.shape:
        raise ValueError(f"relu_grad: out.g has shape {tuple(out_g.shape)} but inp has shape {tuple(inp.shape)}")
    # Multiplying by the boolean mask directly saves a pass over memory compared with converting it first.
    inp.g = out_g * (inp > 0)


def lin_grad(inp: Tensor, out: Tensor, w: Tensor, b: Tensor, input_grad: bool = True) -> None:
    """Store the gradients of ``lin(inp, w, b)`` in ``inp.g`` (unless ``input_grad=False``), ``w.g`` and ``b.g``."""
    out_g = require_grad_attr(out, "out", "lin_grad")
    expected = (inp.shape[0], w.shape[1])
    if tuple(out_g.shape) != expected:
        raise ValueError(f"lin_grad: out.g has shape {tuple(out_g.shape)}, expected {expected} for inp "
                         f"{tuple(inp.shape)} and w {tuple(w.shape)}")
    if input_grad:
        inp.g = out_g @ w.t()
    w.g = inp.t() @ out_g
    b.g = out_g.sum(0)


def forward_and_backward(inp: Tensor, targ: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor,
                         input_grad: bool = True) -> Tensor:
    """Run the two-layer net forward, fill ``.g`` of the parameters (and of ``inp``), and return the loss.

    ``input_grad=False`` skips ``inp.g``, which training never uses: autograd skips it too when the
    input does not require grad, and on wide inputs it is a third of the backward pass's work.
    """
    check_same_device(inp, targ, w1, b1, w2, b2)
    l1 = lin(inp, w1, b1)
    l2 = relu(l1)
    out = lin(l2, w2, b2)
    loss = mse(out, targ)
    # Reverse order: each step needs the .g that the step after it in the forward pass produced.
    mse_grad(out, targ)
    lin_grad(l2, out, w2, b2)
    relu_grad(l1, l2)
    lin_grad(inp, l1, w1, b1, input_grad=input_grad)
    return loss
