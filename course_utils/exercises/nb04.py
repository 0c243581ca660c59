"""Notebook 04's exercises: the layers as classes, with their formulas in ``forward`` and ``bwd``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..functions import lin, mse, relu, relu_mask
from ..layers import Lin, Model, Mse, Relu
from ..training import toy_problem
from .compare import BROADCAST_HINT, calls_none_of, each, named, same_shape
from .core import LAYER_SIZES, Case, Exercise, Rejected, a_class, add, as_given, autograd_grads, batches, gen, source_of
from .nb03 import lin_times, mse_batches

HELPERS = ("lin", "relu", "mse", "lin_grad", "relu_grad", "mse_grad")


def layer_pass(init: tuple[str, ...], call: tuple[str, ...], grads: tuple[str, ...],
               upstream: bool = True) -> Callable[[Any, tuple[Any, ...]], tuple[Tensor, ...]]:
    """A case's run for a layer class: build it from ``init``, call it on ``call``, set ``out.g``, ``backward()``.

    The case's args are the ``init`` tensors, then the ``call`` tensors, then (if ``upstream``) the out.g to
    set; the run returns the output and the ``.g`` of each name in ``grads``.
    """
    def run(cls: Any, args: tuple[Any, ...]) -> tuple[Tensor, ...]:
        a_class(cls)
        copies = dict(zip(init + call, (a.clone() for a in args)))
        layer = cls(*(copies[n] for n in init))
        out = layer(*(copies[n] for n in call))
        changed = [n for n, a in zip(init + call, args) if not torch.equal(copies[n], a)]
        if changed:
            raise Rejected(f"forward changed {', '.join(changed)} in place; compute a new tensor instead "
                           "(bwd and other layers still need the original)")
        if not isinstance(out, Tensor):
            raise Rejected(f"calling the layer returned {type(out).__name__}; forward must return the output tensor")
        # For a loss layer the gradient at its output is d loss / d loss = 1; its bwd ignores it, but a base
        # class that insists on out.g before every backward step finds one.
        out.g = args[-1].clone() if upstream else torch.ones_like(out)
        layer.backward()
        missing = [n for n in grads if getattr(copies[n], "g", None) is None]
        if missing:
            raise Rejected(f"backward() stored nothing in {', '.join(n + '.g' for n in missing)}")
        return (out, *(copies[n].g for n in grads))
    return run


def methods_source(cls: Any, args: tuple[Any, ...]) -> str:
    """The code of a layer class's ``forward`` and ``bwd`` (a class's own source is out of reach in a notebook).

    The rule is about the student's classes. The package's own layers, the references, call ``functions.py``
    on purpose, so that each formula has one home: there is nothing of theirs to read.
    """
    a_class(cls)
    if cls in (Relu, Lin, Mse):
        return ""
    for method in ("forward", "bwd"):
        if not callable(getattr(cls, method, None)):
            raise Rejected(f"the class has no {method} method; subclass LayerFunction and write forward and bwd")
    return source_of(cls.forward, args) + source_of(cls.bwd, args)


def _formulas_case() -> Case:
    return Case("forward and bwd hold the formulas, not notebook 3's functions", compare=calls_none_of(*HELPERS),
                run=methods_source)


def _relu_layer_cases() -> list[Case]:
    cases = [_formulas_case()]
    for label, inp in (("mixed signs", torch.tensor([[-1.0, 2.0], [0.5, -3.0]])),
                       ("zeros and negatives", torch.tensor([[0.0, -1.0, 4.0]]))):
        out_g = torch.arange(1.0, inp.numel() + 1).reshape(inp.shape)
        cases.append(Case(label, (inp, out_g), (relu(inp), relu_mask(inp) * out_g),
                          named("output", "inp.g"), layer_pass((), ("inp",), ("inp",))))
    return cases


add(Exercise("relu_layer", "04", "Relu(LayerFunction): forward and bwd of ReLU, written as formulas",
             "forward gets inp and returns the clamped tensor. bwd gets the output (whose .g is filled) and "
             "the input, and stores in inp.g the incoming gradient where inp was positive, 0 elsewhere.",
             Relu, _relu_layer_cases))


def _bwd_reads_its_argument(cls: Any, args: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Call the layer, then ``bwd`` with another output tensor: the gradients must come from that one's ``.g``."""
    a_class(cls)
    w, b, inp, out_g = (a.clone() for a in args)
    layer = cls(w, b)
    layer(inp)
    other = lin(inp, w, b).detach()
    other.g = out_g
    layer.out.g = torch.zeros_like(out_g)
    layer.bwd(other, inp)
    return inp.g, w.g, b.g


def _from_argument(got: tuple[Tensor, ...], expected: tuple[Tensor, ...]) -> str | None:
    """The gradients of ``bwd(other_out, inp)``; all zeros in one means it read ``self.out.g`` instead."""
    problem = named("inp.g", "w.g", "b.g")(got, expected)
    if problem and any(isinstance(g, Tensor) and not g.any() for g in got):
        return f"{problem}: a gradient came out all 0, as if bwd read self.out.g (0 here) instead of its out argument"
    return problem


def _lin_layer_cases() -> list[Case]:
    cases = [_formulas_case()]
    for label, inp, w, b in batches(LAYER_SIZES, seed=60):
        out_g = torch.randn(inp.shape[0], w.shape[1], generator=gen(inp.numel()))
        grads = autograd_grads(lin_times, (inp, w, b), out_g)
        cases.append(Case(label, (w, b, inp, out_g), (lin(inp, w, b), *grads), named("output", "inp.g", "w.g", "b.g"),
                          layer_pass(("w", "b"), ("inp",), ("inp", "w", "b"))))
    w, b, inp, out_g = cases[1].args
    cases.append(Case("bwd reads the out it is given", (w, b, inp, out_g), cases[1].expected[1:],
                      _from_argument, _bwd_reads_its_argument))
    return cases


add(Exercise("lin_layer", "04", "Lin(LayerFunction): forward and bwd of a linear layer, written as formulas",
             "__init__ keeps w and b. forward is one line of matrix product plus bias. bwd fills three .g: "
             "each has the shape of its tensor, and all three are built from out.g, the argument.",
             Lin, _lin_layer_cases))


def _mse_layer_cases() -> list[Case]:
    cases = [_formulas_case()]
    for label, n, inp, targ, grad in mse_batches((("200 predictions", 200), ("a batch of 1", 1)), seed=70):
        cases.append(Case(f"{label}: inp ({n}, 1), targets ({n},)", (inp, targ), (mse(inp, targ), grad),
                          named("loss", "inp.g", traps={"loss": (((inp - targ).pow(2).mean(), BROADCAST_HINT),)}),
                          layer_pass((), ("inp", "targ"), ("inp",), upstream=False)))
    return cases


add(Exercise("mse_layer", "04", "Mse(LayerFunction): the loss as a layer, forward and bwd written as formulas",
             "forward is the mean of the squared differences, taken on the flattened predictions; bwd is "
             "the same formula as mse_grad, with the result shaped like inp.",
             Mse, _mse_layer_cases))


def kept_shapes() -> tuple[tuple[int, ...], ...]:
    """The shapes of the inputs the three layers of the two-layer model keep after a forward pass."""
    x, y, *params = toy_problem()
    model = Model(*params)
    model(x, y)
    return tuple(tuple(layer.args[0].shape) for layer in model.layers)


add(Exercise("kept_shapes", "04", "predict the shapes of the inputs that the model's three layers keep",
             "Follow a batch of 200 rows of 100 features through Lin(100 -> 50), Relu, Lin(50 -> 1): each "
             "layer keeps what it was given, not what it returned.",
             kept_shapes, lambda: [Case("the three layers' inputs", (), kept_shapes(), each(same_shape), as_given)],
             kind="predict"))
