"""Notebook 06's exercises: the SGD step and the three training loops, checked against ``training.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import Tensor

from ..layers import Model, Relu
from ..pytorch import TwoLayerNet
from ..training import init_params, sgd_step, train_autograd, train_model, train_optim
from .compare import named, source_rule, tokens_of, within_rounding
from .core import Case, Exercise, NotAnswered, ReadTooEarly, Rejected, add, copy_with_g, gen, source_of


@contextmanager
def _g_not_grad() -> Iterator[None]:
    """Turn "'float' and 'NoneType'" from reading p.grad into advice: the hand-written backward fills .g."""
    try:
        yield
    except TypeError as err:
        if "NoneType" not in str(err):
            raise
        raise Rejected(f"{err}: a .grad was read where .g is meant; the hand-written backward stores each "
                       "gradient in .g, and .grad (autograd's) stays None here") from err


def _steps_in_place(solution: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Call ``sgd_step(params, lr)`` on copies that carry their ``.g``; return the parameters afterwards."""
    params, lr = [copy_with_g(p) for p in args[0]], args[1]
    with _g_not_grad():
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
        traps = {name: ((p + lr * p.g, "the step went uphill: the sign is wrong, subtract lr times the gradient"),
                        (p - p.g, "the step ignores lr: multiply the gradient by the learning rate"))
                 for name, p in zip(names, params)}
        cases.append(Case(label, (params, lr), tuple(p - lr * p.g for p in params), named(*names, traps=traps),
                          _steps_in_place))
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
        kept = sorted({type(p).__name__ for p in parts  # Relu may stay the package's: notebook 4 had Tanh written
                       if type(p).__module__.startswith("course_utils") and type(p) is not Relu})
        if kept:  # the package's layers would pass for the student's: nothing of theirs is checked yet
            raise NotAnswered(f"{' and '.join(kept)} still {'come' if len(kept) > 1 else 'comes'} from "
                              "course_utils.layers: paste your own classes into the cell above, run it, then run "
                              "this again")
    with ReadTooEarly("a layer's bwd read out.g before the layer after it stored it; each bwd fills the .g of its "
                      "inputs, from the out.g it is given"):
        return torch.tensor(train_model(model, x.clone(), y.clone(), lr, steps))


def _trains(build: Callable[..., Any]) -> Callable[[Any, tuple[Any, ...]], Tensor]:
    """A case's run for a training loop: build a fresh model from the case's weights and train it."""
    def run(solution: Callable[..., Any], args: tuple[Any, ...]) -> Tensor:
        params, x, y, lr, steps = args
        model = build(*(p.clone() for p in params))
        with (ReadTooEarly("call model.backward() after the forward pass and before sgd_step, which reads every .g"),
              _g_not_grad() if build is Model else nullcontext()):
            losses = _losses(solution(model, x.clone(), y.clone(), lr, steps))
        if isinstance(model, torch.nn.Module) and len(losses) > 1 and bool((losses == losses[0]).all()) and all(
                p.grad is None or not p.grad.any() for p in model.parameters()):
            raise Rejected("the loss never changes: the gradients were zeroed before the update used them, so each "
                           "step moved the parameters by 0; zero them after the step, or before backward()")
        return losses
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


def _losses_problem(got: Tensor, expected: Tensor, why: tuple[str, str] = ("", "")) -> str | None:
    """The losses step by step: one per step, and the first step whose loss differs, named; ``why[0]`` follows
    when the first loss already differs, ``why[1]`` when a later one does."""
    if got.shape != expected.shape:
        return f"returned {got.numel()} losses for {expected.numel()} steps; record one loss per step"
    off = ~torch.isclose(got.double(), expected.double(), rtol=1e-4, atol=1e-5)
    if not off.any():
        return None
    k = int(off.nonzero()[0])
    seen = f"{got[k].item():.4g}, expected {expected[k].item():.4g}"
    if k == 0:
        return f"the losses differ from the first one on: the loss before any step is {seen}{why[0]}"
    return (f"the losses agree up to step {k - 1} and differ from step {k} on (counting from 0): step {k} gives "
            f"{seen}{why[1]}")


AFTER_STEP = ("each loss is recorded after its step: keep the loss of the forward pass that comes before the step "
              "(the first is the untrained model's)")


def same_losses(got: Tensor, expected: Tensor) -> str | None:
    """The losses of a training loop, step by step; losses one step late (recorded after the step) are named."""
    problem = _losses_problem(got, expected)
    if problem and got.shape == expected.shape and len(got) > 1 and within_rounding(got[:-1], expected[1:]):
        return f"{problem}: {AFTER_STEP}"
    return problem


def layer_losses(got: Tensor, expected: Tensor) -> str | None:
    """The losses of the student's layers trained by the package's loop: the first step that differs says where."""
    return _losses_problem(got, expected, (", so a layer's forward differs from notebook 4's",
                                           ": the first loss agrees, so a bwd gives a wrong gradient, or a forward "
                                           "ignores a bias (the biases start at 0, so a missing one shows only "
                                           "once they have moved)"))


def _autograd_losses(params: tuple[Tensor, ...], x: Tensor, y: Tensor, lr: float, steps: int,
                     zero: bool = True) -> Tensor:
    """The losses of the package's autograd loop from ``params``."""
    return torch.tensor(train_autograd(TwoLayerNet.from_weights(*params), x, y, lr, steps, zero=zero))


def _loop_traps(params: tuple[Tensor, ...], x: Tensor, y: Tensor, lr: float, steps: int,
                expected: Tensor) -> tuple[tuple[Tensor, str], ...]:
    """The losses of the common broken training loops, each with what it means."""
    return ((_autograd_losses(params, x, y, lr, steps, zero=False),
             "these are the losses of a loop that never zeroes the gradients: each backward() adds to .grad"),
            (torch.full_like(expected, expected[0].item()),
             "the loss never changes, so the model's parameters never moved: update them in place (-= or sub_); "
             "p = p - ... makes a new tensor and leaves the model's own as it was"),
            (_autograd_losses(params, x, y, -lr, steps),
             "the loss climbs: every step goes uphill, so a sign is wrong; the step must move against the gradient"))


def _train_cases(run: Callable[[Any, tuple[Any, ...]], Tensor], rules: tuple[Case, ...] = (),
                 own: bool = False) -> list[Case]:
    """Train from the same start as the reference; the losses must match step by step. ``own``: the loop is the
    package's and the layers are the student's."""
    cases = list(rules)
    for i, (label, (n, n_in, nh, steps)) in enumerate(TRAIN_SIZES):
        g, lr = gen(90 + i), 0.1
        params = init_params(n_in, nh, 90 + i)
        x, y = torch.randn(n, n_in, generator=g), torch.randn(n, generator=g)
        expected = torch.tensor(train_model(fresh_model(*params), x, y, lr, steps))
        if own:
            traps = ((_autograd_losses(params, x, y, -lr, steps),
                      "the loss climbs, as if every step went uphill: a gradient has the wrong sign"),)
        else:
            traps = _loop_traps(params, x, y, lr, steps, expected)
        cases.append(Case(label, (params, x, y, lr, steps), expected, layer_losses if own else same_losses, run,
                          traps))
    return cases


add(Exercise("own_model", "06", "two_layer(w1, b1, w2, b2): notebook 4's Model, built from your layers, trains",
             "Paste notebook 4's LayerFunction with your Lin and Mse, unchanged. A model that trains "
             "differently has a layer whose forward or bwd differs from notebook 4's check: run that check again.",
             fresh_model, lambda: _train_cases(_builds, own=True)))

add(Exercise("train_model", "06", "train_model(model, x, y, lr, steps): the training loop of the hand-written Model",
             "Each step: the forward pass gives the loss, backward() fills every .g, sgd_step moves the "
             "parameters. Keep each loss as a number (.item()) in a list and return the list.",
             train_model, lambda: _train_cases(_trains(Model))))

# The update as handed out: the loop around it is right, but nothing clears .grad between steps.
BROKEN_AUTOGRAD_STEP = """
with torch.no_grad():
    for p in net.parameters():
        p -= lr * p.grad
losses.append(loss.item())
"""

add(Exercise("train_autograd", "06", "train_autograd(net, x, y, lr, steps): fix a loop that steps autograd's "
             "gradients by hand",
             "Print one parameter's .grad after each backward(). backward() adds into .grad: what does it "
             "hold at the second step, and what should it hold?",
             train_autograd, lambda: _train_cases(_trains(TwoLayerNet.from_weights)),
             kind="fix", given=BROKEN_AUTOGRAD_STEP,
             bug="backward() adds into .grad, so without zeroing, each step moved the parameters by the sum of "
                 "every gradient so far; zeroing after the step (or before backward) leaves the current one"))

add(Exercise("train_optim", "06", "train_optim(net, x, y, lr, steps): the same loop with torch.optim.SGD",
             "Build the optimizer once, before the loop, from net.parameters(). Each step: zero_grad(), "
             "forward, backward(), step().",
             train_optim, lambda: _train_cases(_trains(TwoLayerNet.from_weights), (
                 Case("builds one torch.optim.SGD before the loop", compare=source_rule(_optimizer_before_loop),
                      run=source_of),))))
