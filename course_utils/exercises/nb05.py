"""Notebook 05's exercises: what autograd records, ``autograd.Function`` and ``nn.Module``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx

from ..pytorch import Module, TwoLayerNet
from .compare import close, named, same_bool, tokens_of
from .core import Case, Exercise, Rejected, a_class, add, as_given, autograd_grads, changed_in_place, gen

RECORDED = ("a * 2, where a requires grad", "b * 2, where b does not", "a * 2 inside torch.no_grad()")


def recorded() -> tuple[bool, ...]:
    """Which of the three results of ``RECORDED`` autograd records (has a ``grad_fn``)."""
    a, b = torch.ones(3, requires_grad=True), torch.ones(3)
    with torch.no_grad():
        quiet = a * 2
    return tuple(t.grad_fn is not None for t in (a * 2, b * 2, quiet))


def _nth_prediction(i: int) -> Callable[[Any, tuple[Any, ...]], Any]:
    """A case's run for one entry of a predicted tuple."""
    def run(value: Any, args: tuple[Any, ...]) -> Any:
        value = as_given(value, args)
        if not isinstance(value, tuple | list) or len(value) != len(RECORDED):
            raise Rejected(f"write the prediction as a tuple of {len(RECORDED)} bools, such as (True, True, False)")
        return value[i]
    return run


add(Exercise("autograd_records", "05", "predict which of three results autograd records (has a grad_fn)",
             "Autograd records an operation when one of its inputs requires grad, and never inside a "
             "torch.no_grad() block.",
             recorded, lambda: [Case(label, (), want, same_bool, _nth_prediction(i))
                                for i, (label, want) in enumerate(zip(RECORDED, recorded()))],
             kind="predict"))


class MyClamp(torch.autograd.Function):
    """``inp.clamp(lo, hi)`` with a hand-written backward: the reference of notebook 5's ctx exercise."""

    @staticmethod
    def forward(ctx: FunctionCtx, inp: Tensor, lo: float, hi: float) -> Tensor:  # type: ignore[override]
        """Save the input (a tensor) and the bounds (plain numbers), and clamp."""
        ctx.save_for_backward(inp)
        ctx.lo, ctx.hi = lo, hi
        return inp.clamp(lo, hi)

    @staticmethod
    def backward(ctx: FunctionCtx, grad_output: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        """The gradient passes strictly between the bounds; the bounds themselves get none."""
        (inp,) = ctx.saved_tensors
        inside = (inp > ctx.lo) & (inp < ctx.hi)
        return grad_output * inside.to(grad_output.dtype), None, None


def _through_function(cls: Any, args: tuple[Any, ...]) -> tuple[Tensor, Tensor]:
    """Apply an ``autograd.Function`` to a copy of the input and backpropagate the given upstream gradient."""
    a_class(cls)
    if not hasattr(cls, "apply"):
        raise Rejected("it has no apply: subclass torch.autograd.Function")
    inp, lo, hi, upstream = args[0].clone().requires_grad_(), args[1], args[2], args[3].clone()
    out = cls.apply(inp, lo, hi)
    if not torch.equal(inp.detach(), args[0]):
        raise Rejected(f"forward {changed_in_place('inp')} (clamp, not clamp_)")
    if not isinstance(out, Tensor):
        raise Rejected(f"forward returned {type(out).__name__}; it must return the clamped tensor")
    try:
        out.backward(upstream)  # backward gets this very tensor as grad_output
    except RuntimeError as err:
        if "incorrect number of gradients" not in str(err):
            raise
        raise Rejected(f"{err}: forward takes three inputs (inp, lo, hi), so backward returns one gradient for "
                       "each, None for a plain number") from err
    if not torch.equal(upstream, args[3]):
        raise Rejected("backward changed grad_output in place; autograd may still need it elsewhere: return a new "
                       "tensor instead")
    if inp.grad is None:
        raise Rejected("no gradient reached the input: backward must return it first")
    return out.detach(), inp.grad


def _clamp_traps(inp: Tensor, lo: float, hi: float, upstream: Tensor) -> tuple[tuple[Tensor, str], ...]:
    """Wrong input gradients a student may return for clamp, each with what it means."""
    inside = ((inp > lo) & (inp < hi)).to(inp.dtype)
    return ((inside, "that is the mask alone; multiply it by grad_output"),
            (upstream * (inp > lo), "the gradient also stops above hi, where the output is flat too: that is "
                                    "ReLU's mask, with one bound"),
            (upstream, "outside [lo, hi] the output does not move with the input, so no gradient passes there"),
            (upstream * (1 - inside), "the mask is flipped: the gradient passes between the bounds, not outside"))


def _clamp_times(inp: Tensor, upstream: Tensor, lo: float, hi: float) -> Tensor:
    """A loss whose gradient at the output of ``inp.clamp(lo, hi)`` is exactly ``upstream``."""
    return (inp.clamp(lo, hi) * upstream).sum()


def _my_clamp_cases() -> list[Case]:
    cases = []
    g = gen(80)
    for label, inp, lo, hi in (("clamp to [-1, 1], both sides cut", torch.tensor([-2.0, -0.5, 0.25, 3.0]), -1.0, 1.0),
                               ("clamp to [0, 2], a matrix", torch.tensor([[0.5, 2.5], [-1.0, 1.5]]), 0.0, 2.0),
                               ("float64, 20 x 5, [-0.5, 0.5]", torch.randn(20, 5, dtype=torch.float64, generator=g),
                                -0.5, 0.5)):
        upstream = torch.randn(inp.shape, dtype=inp.dtype, generator=g)
        grad = autograd_grads(_clamp_times, (inp,), upstream, lo, hi)[0]
        cases.append(Case(label, (inp, lo, hi, upstream), (inp.clamp(lo, hi), grad),
                          named("forward output", "input gradient",
                                traps={"input gradient": _clamp_traps(inp, lo, hi, upstream)}),
                          _through_function))
    return cases


add(Exercise("my_clamp", "05", "MyClamp: forward(ctx, inp, lo, hi) and backward(ctx, grad_output) of a clamp",
             "What does backward need to know? The input's values, which go through save_for_backward, and the "
             "two bounds, which are plain numbers. Where does the output move when the input moves a little?",
             MyClamp, _my_clamp_cases))


def _subclass_skipping_init(base: Any, args: tuple[Any, ...]) -> nn.Module:
    """Build a subclass of ``base`` whose ``__init__`` never calls ``super().__init__()``, with ``args``, the
    two steps apart (``__new__``, then ``__init__``), so that an error is told from which step it came."""
    a_class(base)
    if not issubclass(base, nn.Module):
        raise Rejected("it is not a subclass of nn.Module")

    class Scaled(base):  # type: ignore[misc, valid-type]
        def __init__(self, n_in: int, n_out: int) -> None:
            self.linear = nn.Linear(n_in, n_out)
            self.scale = nn.Parameter(torch.ones(n_out))

        def forward(self, x: Tensor) -> Tensor:
            return self.linear(x) * self.scale

    try:
        made = Scaled.__new__(Scaled, *args)
    except TypeError as err:
        raise Rejected(_new_failed(err)) from err
    if made is None:
        raise Rejected("creating an object gave None: __new__ must return the object it made")
    if not isinstance(made, Scaled):
        raise Rejected(f"__new__ returned a {type(made).__name__}, not an object of the class it was handed (cls)")
    try:
        made.__init__(*args)
    except AttributeError as err:
        if "before Module.__init__() call" not in str(err):
            raise
        raise Rejected(f"raised AttributeError: {err}: when the subclass's __init__ ran, nothing had set the "
                       "object up as nn.Module.__init__ does") from err
    return made


def _new_failed(err: TypeError) -> str:
    """What a TypeError raised inside ``__new__`` means."""
    message = str(err)
    if "Scaled.__init__() missing" in message:
        return (f"__new__ ran the subclass's own __init__ ({message}); the __init__ to run there is "
                "nn.Module's, and Python calls the subclass's __init__ itself after __new__")
    if "argument: 'self'" in message or "expected 2 arguments" in message:
        return (f"super().__init__() inside __new__ has no object to work on ({message}): __new__ is handed the "
                "class cls, not an object, so super() there is tied to the class; set up the object you made")
    if "object.__new__() takes exactly one argument" in message:
        return f"{message}: object.__new__ takes the class alone; the call's arguments are for __init__"
    return f"__new__ raised TypeError: {message}"


def _registers(net: nn.Module, expected: tuple[tuple[str, tuple[int, ...]], ...]) -> str | None:
    """The module lists exactly the expected parameters (names and shapes), and runs forward."""
    got = tuple((name, tuple(p.shape)) for name, p in net.named_parameters())
    if got != expected:
        return f"its parameters are {list(got) or 'none'}; expected {list(expected)}"
    n_out, n_in = dict(expected)["linear.weight"]
    if tuple(net(torch.zeros(2, n_in)).shape) != (2, n_out):
        return "forward gave the wrong shape"
    return None


def _module_cases() -> list[Case]:
    def params(n_in: int, n_out: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("scale", (n_out,)), ("linear.weight", (n_out, n_in)), ("linear.bias", (n_out,)))
    return [Case(f"a subclass without super().__init__(), sizes {n_in} -> {n_out}", (n_in, n_out),
                 params(n_in, n_out), _registers, _subclass_skipping_init) for n_in, n_out in ((3, 2), (1, 4))]


add(Exercise("fastai_module", "05", "Module: an nn.Module whose subclasses need not call super().__init__()",
             "The object does not exist until __new__ makes it, and __new__ gets the class, not an object. "
             "Make the object the way any class does, then do to it what super().__init__() would have done.",
             Module, _module_cases))


NET_BROKEN = ("def __init__(self, n_in, n_hidden, n_out): "
              "self.layers = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))")


@dataclass(frozen=True)
class ClassFix(Exercise):
    """A fix exercise on a class: a class made in a notebook has no source to read, so its ``__init__`` is read."""

    def untouched(self, answer: Any) -> bool:
        """Is the class's ``__init__`` still the broken one as handed out, token for token?"""
        try:
            return tokens_of(inspect.getsource(answer.__init__)) == tokens_of(self.given)
        except (OSError, TypeError, AttributeError):
            return False


def _fixed_net(cls: Any, args: tuple[Any, ...]) -> tuple[tuple[tuple[str, tuple[int, ...]], ...], Tensor]:
    """Build the net, give it fixed weights, and return its parameters (names, shapes) and its loss on a batch."""
    a_class(cls)
    n_in, n_hidden, n_out = args
    try:
        net = cls(n_in, n_hidden, n_out)
    except AttributeError as err:
        if "before Module.__init__() call" not in str(err):
            raise
        raise Rejected(f"torch raised AttributeError: {err}. nn.Module.__init__ had not run when __init__ assigned "
                       "self.layers, so the registry that keeps a module's submodules did not exist yet") from err
    if not isinstance(net, nn.Module):
        raise Rejected(f"the class made a {type(net).__name__}, not an nn.Module")
    g = gen(n_in + n_hidden)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    x, targ = torch.randn(8, n_in, generator=g), torch.randn(8, generator=g)
    return tuple((name, tuple(p.shape)) for name, p in net.named_parameters()), net(x, targ).detach()


def _same_net(got: tuple[Any, Tensor], expected: tuple[Any, Tensor]) -> str | None:
    """The same parameters (names and shapes) and the same loss on the same weights and batch."""
    if got[0] != expected[0]:
        return f"its parameters are {list(got[0]) or 'none'}; expected {list(expected[0])}"
    problem = close(got[1], expected[1])
    return f"loss: {problem}" if problem else None


add(ClassFix("net_init", "05", "Net(nn.Module): fix the __init__ of the two-layer net so that the net can be built",
             "Read the error: which method of nn.Module makes the place where submodules are registered, and "
             "has it run by the time __init__ assigns self.layers?",
             TwoLayerNet, lambda: [Case(f"built with sizes {a} -> {b} -> {c}: parameters registered, loss right",
                                        (a, b, c), _fixed_net(TwoLayerNet, (a, b, c)), _same_net, _fixed_net)
                                   for a, b, c in ((100, 50, 1), (5, 3, 1))],
             kind="fix", given=NET_BROKEN,
             bug="__init__ assigned self.layers before nn.Module.__init__() had run, so the place where a module "
                 "registers its submodules did not exist yet; super().__init__() first makes it"))
