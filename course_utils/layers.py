"""The same network as layer objects: each one remembers its inputs so ``backward()`` needs no arguments.

The formulas have one home, ``functions.py``: each layer here pairs a function of notebook 3 with its gradient.
Notebook 4's own layers write the formulas out, and the exercises check those.
"""

from __future__ import annotations

from torch import Tensor

from .functions import lin, lin_grad, mse, mse_grad, relu, relu_grad
from .shapes import check_bias, check_has_g


class LayerFunction:
    """Base class: ``__call__`` saves the arguments and output, ``backward()`` hands them to ``bwd``."""

    args: tuple[Tensor, ...]
    out: Tensor

    def __call__(self, *args: Tensor) -> Tensor:
        """Run ``forward`` and keep what the backward pass will need."""
        self.args = args
        self.out = self.forward(*args)
        return self.out

    def forward(self, *args: Tensor) -> Tensor:
        """Compute the output; subclasses must override this."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def bwd(self, out: Tensor, *args: Tensor) -> None:
        """Fill ``.g`` of the inputs from ``out.g``; subclasses must override this."""
        raise NotImplementedError(f"{type(self).__name__} must define bwd()")

    def backward(self) -> None:
        """Backward step for the most recent call."""
        if not hasattr(self, "out"):
            raise RuntimeError(f"{type(self).__name__}.backward() called before the layer was called")
        if self.out.dim() > 0:  # a loss, one number, starts the backward pass: it reads no out.g (d loss/d loss = 1)
            check_has_g(self.out, type(self).__name__)
        self.bwd(self.out, *self.args)


class Relu(LayerFunction):
    """ReLU as a layer."""

    def forward(self, inp: Tensor) -> Tensor:
        """Clamp negatives to zero."""
        return relu(inp)

    def bwd(self, out: Tensor, inp: Tensor) -> None:
        """The gradient flows where the input was positive."""
        relu_grad(inp, out)


class Lin(LayerFunction):
    """Affine layer holding its weight ``w`` (n_in, n_out) and bias ``b`` (n_out,).

    ``input_grad=False`` skips ``inp.g``: the first layer's input is the data, whose gradient nobody
    uses, just as autograd computes none for a tensor that does not require grad.
    """

    def __init__(self, w: Tensor, b: Tensor, input_grad: bool = True) -> None:
        check_bias(w, b, "Lin")
        self.w, self.b, self.input_grad = w, b, input_grad

    def forward(self, inp: Tensor) -> Tensor:
        """``inp @ w + b``."""
        return lin(inp, self.w, self.b)

    def bwd(self, out: Tensor, inp: Tensor) -> None:
        """Gradients for the input (if wanted), the weight and the bias."""
        lin_grad(inp, out, self.w, self.b, self.input_grad)


class Mse(LayerFunction):
    """Mean squared error as the last layer; its output is the loss."""

    def forward(self, inp: Tensor, targ: Tensor) -> Tensor:
        """The loss."""
        return mse(inp, targ)

    def bwd(self, out: Tensor, inp: Tensor, targ: Tensor) -> None:
        """Gradient of the loss with respect to the predictions, shaped like them."""
        mse_grad(inp, targ)


class Model:
    """Two-layer net ``Lin -> Relu -> Lin`` with an MSE loss; ``backward()`` fills ``.g`` of every parameter."""

    def __init__(self, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> None:
        # x is data, not something we train: like autograd, the first layer computes no gradient for it.
        self.layers: list[LayerFunction] = [Lin(w1, b1, input_grad=False), Relu(), Lin(w2, b2)]
        self.loss = Mse()

    def __call__(self, x: Tensor, targ: Tensor) -> Tensor:
        """Forward pass: return the loss of the predictions for ``x`` against ``targ``."""
        for layer in self.layers:
            x = layer(x)
        return self.loss(x, targ)

    def backward(self) -> None:
        """Backward pass: the loss first, then the layers from last to first."""
        self.loss.backward()
        for layer in reversed(self.layers):
            layer.backward()

    def parameters(self) -> list[Tensor]:
        """The weights and biases, in order w1, b1, w2, b2."""
        return [t for layer in self.layers if hasattr(layer, "w") for t in (layer.w, layer.b)]  # any linear layer
