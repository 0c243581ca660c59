"""Notebook 06's exercises: the SGD step and the three training loops, checked against ``training.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..layers import Model
from ..pytorch import TwoLayerNet
from ..training import init_params, sgd_step, train_autograd, train_model, train_optim
from .compare import named, source_rule, tokens_of
from .core import Case, Exercise, NotAnswered, ReadTooEarly, Rejected, add, copy_with_g, gen, source_of


def _steps_in_place(solution: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Call ``sgd_step(params, lr)`` on copies that carry their ``.g``; return the parameters afterwards."""
    params, lr = [copy_with_g(p) for p in args[0]], args[1]
    solution(params, lr)
    if all(torch.equal(p, before) for p, before in zip(params, args[0])):
        raise Rejected("the parameters did not change: update each tensor in place (-= or sub_); a new tensor "
                       "made inside the function is lost when it returns")
    return tuple(params)


def _sgd_step_cases() -> list[Case]:
    cases = []
    for label, shapes, lr in (("a weight and a bias, lr 0.1", ((3, 2), (2,)), 0.1),
                              ("four parameters, lr 0.5", ((4, 3), (3,), (3, 1), (1,)), 0.5)):
        g = gen(len(shapes))
        params = [torch.randn(s, generator=g) for s in shapes]
        for p in params:
            p.g = torch.randn(p.shape, generator=g)
        names = tuple(f"parameter {i}" for i in range(len(params)))
        cases.append(Case(label, (params, lr), tuple(p - lr * p.g for p in params), named(*names), _steps_in_place))
    return cases


add(Exercise("sgd_step", "06", "sgd_step(params, lr): move every parameter a step lr against its .g, in place",
             "Loop over the parameters and subtract lr times the gradient from each one in place (-= or "
             "sub_), so that the model, which holds the same tensors, sees the change.",
             sgd_step, _sgd_step_cases))

TRAIN_SIZES = (("16 rows, 3 -> 4 -> 1, 3 steps", (16, 3, 4, 3)), ("5 rows, 2 -> 3 -> 1, 4 steps", (5, 2, 3, 4)))


def _losses(got: Any) -> Tensor:
    """The losses a training function returned, as one tensor, whatever sequence they came in."""
    if got is None:
        raise Rejected("returned nothing; return the list of losses, one per step")
    if any(isinstance(v, Tensor) for v in got):
        raise Rejected("the losses are tensors; keep each as a Python number with loss.item() (a kept loss "
                       "tensor can hold on to everything needed to differentiate it)")
    return torch.tensor([float(v) for v in got])


def fresh_model(*params: Tensor) -> Model:
    """The package's hand-written model on copies of ``params``."""
    return Model(*(p.clone() for p in params))


def _builds(solution: Callable[..., Any], args: tuple[Any, ...]) -> Tensor:
    """A case's run for a model builder: build the model from the case's weights, train it with ``train_model``."""
    params, x, y, lr, steps = args
    model = solution(*(p.clone() for p in params))
    if solution is not fresh_model:
        parts = [*getattr(model, "layers", ()), getattr(model, "loss", None)]
        kept = sorted({type(p).__name__ for p in parts if type(p).__module__.startswith("course_utils")})
        if kept:  # the package's layers would pass for the student's: nothing of theirs is checked yet
            raise NotAnswered(f"{', '.join(kept)} still come from course_utils.layers: paste your own classes "
                              f"into the cell above, run it, then run this again")
    with ReadTooEarly("a layer's bwd read out.g before the layer after it stored it; each bwd fills the .g of its "
                      "inputs, from the out.g it is given"):
        return torch.tensor(train_model(model, x.clone(), y.clone(), lr, steps))


def _trains(build: Callable[..., Any]) -> Callable[[Any, tuple[Any, ...]], Tensor]:
    """A case's run for a training loop: build a fresh model from the case's weights and train it."""
    def run(solution: Callable[..., Any], args: tuple[Any, ...]) -> Tensor:
        params, x, y, lr, steps = args
        model = build(*(p.clone() for p in params))
        with ReadTooEarly("call model.backward() after the forward pass and before sgd_step, which reads every .g"):
            return _losses(solution(model, x.clone(), y.clone(), lr, steps))
    return run


def _optimizer_before_loop(source: str, _: Any) -> str | None:
    """A source rule: the optimizer is built once, before the training loop starts."""
    code = tokens_of(source)
    if "SGD" not in code:
        return "the code does not use torch.optim.SGD"
    loops = [i for i, t in enumerate(code) if t in ("for", "while")]
    if loops and loops[0] < code.index("SGD"):
        return "the optimizer is built inside the loop; build it once, before the loop, and reuse it every step"
    return None


def _train_cases(run: Callable[[Any, tuple[Any, ...]], Tensor], rules: tuple[Case, ...] = ()) -> list[Case]:
    """Train from the same start as the reference; the losses must match step by step."""
    cases = list(rules)
    for i, (label, (n, n_in, nh, steps)) in enumerate(TRAIN_SIZES):
        g, lr = gen(90 + i), 0.1
        params = init_params(n_in, nh, 90 + i)
        x, y = torch.randn(n, n_in, generator=g), torch.randn(n, generator=g)
        expected = torch.tensor(train_model(fresh_model(*params), x, y, lr, steps))
        unzeroed = torch.tensor(train_autograd(TwoLayerNet.from_weights(*params), x, y, lr, steps, zero=False))
        cases.append(Case(label, (params, x, y, lr, steps), expected, run=run,
                          traps=((unzeroed, "these are the losses of a loop that never zeroes the gradients: "
                                            "each backward() adds to .grad"),)))
    return cases


add(Exercise("own_model", "06", "two_layer(w1, b1, w2, b2): notebook 4's Model, built from your layers, trains",
             "Paste notebook 4's LayerFunction with your Relu, Lin and Mse, unchanged. A model that trains "
             "differently has a layer whose forward or bwd differs from notebook 4's check: run that check again.",
             fresh_model, lambda: _train_cases(_builds)))

add(Exercise("train_model", "06", "train_model(model, x, y, lr, steps): the training loop of the hand-written Model",
             "Each step: the forward pass gives the loss, backward() fills every .g, sgd_step moves the "
             "parameters. Keep each loss as a number (.item()) in a list and return the list.",
             train_model, lambda: _train_cases(_trains(Model))))

add(Exercise("train_autograd", "06", "train_autograd(net, x, y, lr, steps): autograd's gradients, stepped by hand",
             "Calling backward on the loss adds into each parameter's .grad. Step inside torch.no_grad() (the update "
             "itself must not be recorded), then set every .grad back to zero for the next step.",
             train_autograd, lambda: _train_cases(_trains(TwoLayerNet.from_weights))))

add(Exercise("train_optim", "06", "train_optim(net, x, y, lr, steps): the same loop with torch.optim.SGD",
             "Build the optimizer once, before the loop, from net.parameters(). Each step: zero_grad(), "
             "forward, backward(), step().",
             train_optim, lambda: _train_cases(_trains(TwoLayerNet.from_weights), (
                 Case("builds one torch.optim.SGD before the loop", compare=source_rule(_optimizer_before_loop),
                      run=source_of),))))
