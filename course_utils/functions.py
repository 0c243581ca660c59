"""The two-layer network as plain functions: forward pieces and their hand-written gradients.

Each ``*_grad`` function is one step of the chain rule, backwards: it reads the gradient of the loss
with respect to a function's output from ``out.g`` and stores the gradient with respect to the
function's inputs in their ``.g``, the way PyTorch fills ``.grad``. The ``check_*`` lines guard only
against mistakes that would otherwise pass without an error (see ``shapes.py``).
"""

from __future__ import annotations

from torch import Tensor

from .shapes import check_bias, check_fits, check_has_g, check_pair, check_relu_order, check_tensors


def lin(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """Affine layer ``x @ w + b`` for a batch ``x`` (N, n_in), weights ``w`` (n_in, n_out) and a bias ``b`` (n_out,)."""
    check_tensors("lin", x=x, w=w, b=b)
    check_bias(w, b, "lin")
    return x @ w + b


def relu(x: Tensor) -> Tensor:
    """Rectified linear unit: negative entries become 0, the rest pass unchanged."""
    check_tensors("relu", x=x)
    return x.clamp_min(0.0)


def relu_mask(x: Tensor) -> Tensor:
    """ReLU's slope at ``x``: 1 where ``x > 0``, 0 elsewhere (at 0 too), in ``x``'s dtype."""
    return (x > 0).to(x.dtype)


def mse(out: Tensor, targ: Tensor) -> Tensor:
    """Mean squared error of predictions (N, 1) or (N,) against targets (N,) or (N, 1)."""
    check_tensors("mse", out=out, targ=targ)
    check_pair(out, targ, "mse")
    return (out.squeeze(-1) - targ.squeeze(-1)).pow(2).mean()


def mse_grad(inp: Tensor, targ: Tensor) -> None:
    """Store d(mse)/d(inp) in ``inp.g``, shaped like ``inp``."""
    check_tensors("mse_grad", inp=inp, targ=targ)
    check_pair(inp, targ, "mse_grad")
    diff = inp.squeeze(-1) - targ.squeeze(-1)
    inp.g = (2 * diff / inp.shape[0]).reshape(inp.shape)


def relu_grad(inp: Tensor, out: Tensor) -> None:
    """Store d(loss)/d(inp) in ``inp.g`` from ``out.g``: the gradient passes only where ``inp > 0``."""
    check_tensors("relu_grad", inp=inp, out=out)
    check_has_g(out, "relu_grad")
    check_relu_order(inp, out)
    inp.g = relu_mask(inp) * out.g


def lin_grad(inp: Tensor, out: Tensor, w: Tensor, b: Tensor, input_grad: bool = True) -> None:
    """Store the gradients of ``lin(inp, w, b)`` in ``w.g``, ``b.g`` and, unless ``input_grad=False``, ``inp.g``.

    Nothing needs the gradient of the data a network is fed, so training passes ``input_grad=False``
    for the first layer: autograd skips it in the same way for tensors that do not require grad.
    """
    check_tensors("lin_grad", inp=inp, out=out, w=w, b=b)
    check_has_g(out, "lin_grad")
    check_fits(inp, w, "lin_grad")
    check_bias(w, b, "lin_grad")
    if input_grad:
        inp.g = out.g @ w.t()
    w.g = inp.t() @ out.g
    b.g = out.g.sum(0)


def forward_and_backward(inp: Tensor, targ: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor,
                         input_grad: bool = True) -> Tensor:
    """Run the two-layer net forward, fill ``.g`` of the parameters (and of ``inp``), and return the loss."""
    l1 = lin(inp, w1, b1)
    l2 = relu(l1)
    out = lin(l2, w2, b2)
    loss = mse(out, targ)
    # Reverse order: each step needs the .g that the step after it in the forward pass produced.
    mse_grad(out, targ)
    lin_grad(l2, out, w2, b2)
    relu_grad(l1, l2)
    lin_grad(inp, l1, w1, b1, input_grad)
    return loss
