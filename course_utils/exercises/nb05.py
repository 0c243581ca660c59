"""Notebook 05's exercises: what autograd records, ``autograd.Function`` and ``nn.Module``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..functions import relu, relu_mask
from ..pytorch import Module, MyRelu
from .compare import named, same_bool
from .core import Case, Exercise, Rejected, a_class, add, as_given, gen

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


def _through_function(cls: Any, args: tuple[Any, ...]) -> tuple[Tensor, Tensor]:
    """Apply an ``autograd.Function`` to a copy of the input and backpropagate the given upstream gradient."""
    a_class(cls)
    if not hasattr(cls, "apply"):
        raise Rejected("it has no apply: subclass torch.autograd.Function")
    inp, upstream = args[0].clone().requires_grad_(), args[1].clone()
    out = cls.apply(inp)
    out.backward(upstream)  # backward gets this very tensor as grad_output
    if not torch.equal(upstream, args[1]):
        raise Rejected("backward changed grad_output in place; autograd may still need it elsewhere: return a new "
                       "tensor instead")
    if inp.grad is None:
        raise Rejected("no gradient reached the input: backward must return it")
    return out.detach(), inp.grad


def _my_relu_cases() -> list[Case]:
    cases = []
    g = gen(80)
    for label, inp in (("mixed signs", torch.tensor([-1.0, 0.5, 2.0, -3.0])),
                       ("zeros count as not positive", torch.tensor([[0.0, 1.0], [-1.0, 0.0]])),
                       ("float64, 20 x 5", torch.randn(20, 5, dtype=torch.float64, generator=g))):
        upstream = torch.randn(inp.shape, dtype=inp.dtype, generator=g)
        mask_only = ((relu_mask(inp), "that is the mask alone; multiply it by grad_output"),)
        cases.append(Case(label, (inp, upstream), (relu(inp), upstream * relu_mask(inp)),
                          named("forward output", "input gradient", traps={"input gradient": mask_only}),
                          _through_function))
    return cases


add(Exercise("my_relu", "05", "MyRelu.backward(ctx, grad_output): return the gradient at ReLU's input",
             "ctx.saved_tensors gives back what forward saved. The answer is grad_output where the saved "
             "input was positive and 0 elsewhere, with grad_output's shape and dtype.",
             MyRelu, _my_relu_cases))


def _subclass_skipping_init(base: Any, args: tuple[Any, ...]) -> nn.Module:
    """Build a subclass of ``base`` whose ``__init__`` never calls ``super().__init__()``, with ``args``."""
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
        made = Scaled(*args)
    except TypeError as err:
        if "__init__() missing" not in str(err):
            raise
        raise Rejected("__new__ ran the subclass's own __init__, which needs arguments of its own; run "
                       "nn.Module.__init__(obj) there, and Python calls the subclass's __init__ after __new__") from err
    if made is None:
        raise Rejected("creating an object gave None: __new__ must return the object it made")
    return made


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
             "Python runs __new__ before __init__: create the object there with super().__new__(cls), run "
             "nn.Module.__init__ on it, and return it. Then the subclass's __init__ finds the registries ready.",
             Module, _module_cases))
