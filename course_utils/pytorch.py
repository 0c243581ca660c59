"""How PyTorch packages the same ideas: ``autograd.Function`` and ``nn.Module``."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx

from .activations import kaiming_scale
from .functions import lin, mse, relu, relu_mask


class MyRelu(torch.autograd.Function):
    """ReLU with a hand-written backward, usable inside autograd through ``MyRelu.apply``."""

    @staticmethod
    def forward(ctx: FunctionCtx, inp: Tensor) -> Tensor:  # type: ignore[override]
        """Save the input (the backward needs its sign) and clamp it."""
        ctx.save_for_backward(inp)
        return relu(inp)

    @staticmethod
    def backward(ctx: FunctionCtx, grad_output: Tensor) -> Tensor:  # type: ignore[override]
        """Pass the incoming gradient through where the input was positive."""
        (inp,) = ctx.saved_tensors
        return grad_output * relu_mask(inp)


class LinearLayer(nn.Module):
    """Linear layer from scratch: weight (n_out, n_in) with Kaiming scale, bias zeros."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) * kaiming_scale(n_in))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: Tensor) -> Tensor:
        """``x @ weight.T + bias``; PyTorch stores weights as (n_out, n_in), hence the transpose."""
        return lin(x, self.weight.t(), self.bias)


class Module(nn.Module):
    """An ``nn.Module`` whose subclasses may skip ``super().__init__()``: it has run before their ``__init__``."""

    def __new__(cls, *args: object, **kwargs: object) -> Module:
        """Create the object and run ``nn.Module.__init__`` on it, before any subclass ``__init__``."""
        obj = super().__new__(cls)
        nn.Module.__init__(obj)
        return obj

    def __init__(self, *args: object, **kwargs: object) -> None:
        # nn.Module.__init__ already ran in __new__; running it again would wipe registered submodules.
        pass


class TwoLayerNet(Module):
    """The chapter's model in PyTorch: ``nn.Linear -> nn.ReLU -> nn.Linear``, returning the MSE loss."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int = 1) -> None:
        self.layers = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))

    def forward(self, x: Tensor, targ: Tensor) -> Tensor:
        """Loss of the predictions for ``x`` against ``targ`` (no bare squeeze: ``mse`` checks shapes)."""
        return mse(self.layers(x), targ)

    @classmethod
    def from_weights(cls, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> TwoLayerNet:
        """Build the net from hand-written weights of shapes (n_in, nh), (nh,), (nh, n_out), (n_out,)."""
        n_in, n_hidden = w1.shape
        n_out = w2.shape[1]
        expected = {"w1": (n_in, n_hidden), "b1": (n_hidden,), "w2": (n_hidden, n_out), "b2": (n_out,)}
        for name, t in zip(expected, (w1, b1, w2, b2)):
            if tuple(t.shape) != expected[name]:
                raise ValueError(f"from_weights: {name} has shape {tuple(t.shape)}, expected {expected[name]} "
                                 f"(w1 {tuple(w1.shape)}, w2 {tuple(w2.shape)})")
        net = cls(n_in, n_hidden, n_out)
        first, _, second = net.layers
        with torch.no_grad():
            # nn.Linear stores (n_out, n_in): the transpose of the course's (n_in, n_out) layout.
            first.weight.copy_(w1.t())
            first.bias.copy_(b1)
            second.weight.copy_(w2.t())
            second.bias.copy_(b2)
        return net.to(w1.device)
