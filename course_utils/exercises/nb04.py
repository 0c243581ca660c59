"""Notebook 04's exercises: the layers as classes, with their formulas in ``forward`` and ``bwd``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..functions import lin, mse
from ..layers import LayerFunction, Lin, Model, Mse
from ..training import toy_problem
from .compare import BROADCAST_HINT, NO_BIAS, calls_none_of, each, fmt, named, same_shape
from .core import (
    LAYER_SIZES,
    Case,
    Exercise,
    Rejected,
    a_class,
    add,
    as_given,
    autograd_grads,
    batches,
    gen,
    nothing_in_g,
    source_of,
)
from .nb03 import MEAN_NOT_SUM, lin_times, mse_batches

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
            raise Rejected("after backward(), " + nothing_in_g(missing, [copies[n] for n in missing]))
        return (out, *(copies[n].g for n in grads))
    return run


def methods_source(cls: Any, args: tuple[Any, ...]) -> str:
    """The code of a layer class's ``forward`` and ``bwd`` (a class's own source is out of reach in a notebook).

    The rule is about the student's classes. The package's own layers, the references, call ``functions.py``
    on purpose, so that each formula has one home: there is nothing of theirs to read.
    """
    a_class(cls)
    if cls in (Lin, Mse):
        return ""
    for method in ("forward", "bwd"):
        if not callable(getattr(cls, method, None)):
            raise Rejected(f"the class has no {method} method; subclass LayerFunction and write forward and bwd")
    return source_of(cls.forward, args) + source_of(cls.bwd, args)


def _formulas_case() -> Case:
    return Case("forward and bwd hold the formulas, not notebook 3's functions", compare=calls_none_of(*HELPERS),
                run=methods_source)


class Tanh(LayerFunction):
    """tanh as a layer, the reference for the exercise that carries notebook 4's pattern to a new activation."""

    def forward(self, inp: Tensor) -> Tensor:
        """Squash into (-1, 1)."""
        return torch.tanh(inp)

    def bwd(self, out: Tensor, inp: Tensor) -> None:
        """tanh's slope, written with its output, times the incoming gradient."""
        inp.g = (1 - out * out) * out.g


def _tanh_traps(inp: Tensor, out_g: Tensor) -> tuple[tuple[Tensor, str], ...]:
    """Wrong inp.g that a student may write for tanh, each with what it means."""
    t = torch.tanh(inp)
    return (((1 - t * t), "that is tanh's slope alone; multiply it by the incoming gradient out.g"),
            ((1 - inp * inp) * out_g, "that uses inp where tanh's output belongs: 1 - inp squared is not tanh's slope"),
            ((1 - t) * out_g, "the slope is 1 minus the output squared, not 1 minus the output"),
            ((t * t - 1) * out_g, "the sign is flipped: tanh rises everywhere, so its slope is positive"),
            (t * (1 - t) * out_g, "that is the sigmoid's slope, out * (1 - out); tanh's is another"))


def tanh_gain() -> float:
    """The gain of tanh: the std of the weights before it is gain / sqrt(n_in). Near 0 tanh's slope is 1, so it
    keeps the mean square that the layer before it passes on (ReLU halves it, hence its gain sqrt(2))."""
    return 1.0


GAIN_TRAPS = ((math.sqrt(2), "that is ReLU's gain: ReLU zeroes half of its inputs and so halves the mean square; "
                             "does tanh, for small inputs?"),
              (2.0, "2 is ReLU's factor on the variance, and the gain multiplies the std"),
              (5 / 3, "5/3 is PyTorch's calculate_gain('tanh'), tuned for tanh's squashing of large inputs; "
                      "the exercise asks what the mean-square argument gives for small ones"))


def _gain(got: Any, expected: float) -> str | None:
    """The gain the mean-square argument gives; a miss says what a known wrong value means, not the answer."""
    if isinstance(got, Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, int | float):
        return f"got {fmt(got)}; write the gain as a plain number"
    if math.isclose(got, expected, rel_tol=1e-4):
        return None
    meaning = next((m for wrong, m in GAIN_TRAPS if math.isclose(got, wrong, rel_tol=1e-4)),
                   "not what the mean-square argument gives: for small inputs, tanh(x) is close to x")
    return f"gain {got:.4g}: {meaning}"


def _tanh_layer_cases() -> list[Case]:
    g = gen(64)
    cases = []
    for label, inp in (("mixed signs", torch.tensor([[-1.0, 0.5], [2.0, -0.2]])),
                       ("large inputs saturate", torch.tensor([[-6.0, 0.0, 4.0]])),
                       ("float64, 20 x 5", torch.randn(20, 5, dtype=torch.float64, generator=g))):
        out_g = torch.randn(inp.shape, dtype=inp.dtype, generator=g)
        grad = autograd_grads(lambda t, u: (torch.tanh(t) * u).sum(), (inp,), out_g)[0]
        cases.append(Case(label, (inp, out_g), (torch.tanh(inp), grad),
                          named("output", "inp.g", traps={"inp.g": _tanh_traps(inp, out_g)}),
                          layer_pass((), ("inp",), ("inp",))))
    return cases


add(Exercise("tanh_layer", "04", "Tanh(LayerFunction): forward and bwd of a new activation, checked against autograd",
             "The derivative of tanh(x) can be written with tanh(x) itself, and bwd is handed tanh's output as out.",
             Tanh, _tanh_layer_cases))

add(Exercise("tanh_gain", "04", "derive the gain of tanh: the weights before it get std gain / sqrt(n_in)",
             "Compare tanh near 0 with ReLU: ReLU zeroes half of its inputs; what does tanh do to a small input?",
             tanh_gain, lambda: [Case("the gain of tanh, by the mean-square argument", (), tanh_gain(), _gain,
                                      as_given)], kind="predict"))


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
    missing = [name for name, t in (("inp", inp), ("w", w), ("b", b)) if getattr(t, "g", None) is None]
    if missing:
        raise Rejected(nothing_in_g(missing, [{"inp": inp, "w": w, "b": b}[n] for n in missing]))
    return inp.g, w.g, b.g


def _from_argument(got: tuple[Tensor, ...], expected: tuple[Tensor, ...]) -> str | None:
    """The gradients of ``bwd(other_out, inp)``; all zeros in one means it read ``self.out.g`` instead."""
    traps = {"b.g": ((expected[2] / len(expected[0]), MEAN_NOT_SUM),)}
    problem = named("inp.g", "w.g", "b.g", traps=traps)(got, expected)
    if problem and any(isinstance(g, Tensor) and not g.any() for g in got):
        return f"{problem}: a gradient came out all 0, as if bwd read self.out.g (0 here) instead of its out argument"
    return problem


def _lin_layer_cases() -> list[Case]:
    cases = [_formulas_case()]
    for label, inp, w, b in batches(LAYER_SIZES, seed=60):
        out_g = torch.randn(inp.shape[0], w.shape[1], generator=gen(inp.numel()))
        grads = autograd_grads(lin_times, (inp, w, b), out_g)
        traps = {"output": ((inp @ w, NO_BIAS),),
                 "w.g": ((grads[1] / len(inp), MEAN_NOT_SUM),), "b.g": ((out_g.mean(0), MEAN_NOT_SUM),)}
        cases.append(Case(label, (w, b, inp, out_g), (lin(inp, w, b), *grads),
                          named("output", "inp.g", "w.g", "b.g", traps=traps),
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
