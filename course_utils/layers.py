"""The same network as layer objects: each one remembers its inputs so ``backward()`` needs no arguments."""

from __future__ import annotations

from torch import Tensor

from .functions import lin, lin_grad, mse, mse_grad, relu, relu_grad


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
        self.bwd(self.out, *self.args)


class Relu(LayerFunction):
    """ReLU as a layer."""

    def forward(self, inp: Tensor) -> Tensor:
        """Clamp negatives to zero."""
        return relu(inp)

    def bwd(self, out: Tensor, inp: Tensor) -> None:
        """Gradient flows where the input was positive."""
        relu_grad(inp, out)


class Lin(LayerFunction):
    """Affine layer holding its weight ``w`` (n_in, n_out) and bias ``b`` (n_out,)."""

    def __init__(self, w: Tensor, b: Tensor) -> None:
        self.w, self.b = w, b

    def forward(self, inp: Tensor) -> Tensor:
        """``inp @ w + b``."""
        return lin(inp, self.w, self.b)

    def bwd(self, out: Tensor, inp: Tensor) -> None:
        """Gradients for the input, the weight and the bias."""
        lin_grad(inp, out, self.w, self.b)


class Mse(LayerFunction):
    """Mean squared error as the last layer; its output is the loss."""

    def forward(self, inp: Tensor, targ: Tensor) -> Tensor:
        """The loss."""
        return mse(inp, targ)

    def bwd(self, out: Tensor, inp: Tensor, targ: Tensor) -> None:
        """Gradient of the loss with respect to the predictions."""
        mse_grad(inp, targ)


class Model:
    """Two-layer net ``Lin -> Relu -> Lin`` with an MSE loss; ``backward()`` fills every ``.g``."""

    def __init__(self, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> None:
        self.layers: list[LayerFunction] = [Lin(w1, b1), Relu(), Lin(w2, b2)]
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
        return [t for layer in self.layers if isinstance(layer, Lin) for t in (layer.w, layer.b)]
