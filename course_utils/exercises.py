"""Self-checking exercises for the questionnaire: run a student's function on reference cases, explain misses.

``check_exercise(name, solution)`` prints one line per case and returns an ``ExerciseResult`` that is
truthy only when every case passes. A wrong shape, a wrong value or an exception inside the student's
code becomes feedback, never a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn


@dataclass
class Case:
    """One call of the student's function: its arguments, what it should return, and a label."""

    label: str
    args: tuple[Any, ...]
    expected: Any


@dataclass
class ExerciseResult:
    """Feedback lines for each case; truthy only when every case passed."""

    name: str
    passed: int = 0
    total: int = 0
    feedback: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.total > 0 and self.passed == self.total

    def __repr__(self) -> str:
        verdict = "all correct" if self else "not yet"
        return f"{self.name}: {self.passed} of {self.total} checks passed ({verdict})"


def _fmt(value: Any) -> str:
    if isinstance(value, Tensor):
        if value.dim() == 0:
            return f"{value.item():.4g}"
        if value.numel() <= 6:
            return f"tensor {value.tolist()} (shape {tuple(value.shape)})"
        return f"a tensor of shape {tuple(value.shape)}"
    return repr(value)


def _compare(got: Any, expected: Any) -> str | None:
    """None when ``got`` matches ``expected``; otherwise a sentence saying how it differs."""
    if isinstance(expected, Tensor):
        if not isinstance(got, Tensor):
            return f"returned {type(got).__name__}, expected a tensor"
        if tuple(got.shape) != tuple(expected.shape):
            return f"returned shape {tuple(got.shape)}; expected shape {tuple(expected.shape)}"
        if not torch.allclose(got.double(), expected.double(), rtol=1e-4, atol=1e-5):
            if expected.dim() == 0:
                return f"returned {_fmt(got)}; expected {_fmt(expected)}"
            worst = (got.double() - expected.double()).abs().max().item()
            return f"returned {_fmt(got)}; expected {_fmt(expected)} (largest difference {worst:.3g})"
        return None
    if isinstance(expected, bool):
        return None if got is expected or (isinstance(got, Tensor) and got.numel() == 1 and bool(got) == expected) \
            else f"returned {_fmt(got)}; expected {expected}"
    if isinstance(expected, float):
        if isinstance(got, Tensor) and got.numel() == 1:
            return f"returned a tensor holding {_fmt(got)}; expected a plain Python float (try .item())"
        if not isinstance(got, float | int) or not math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-5):
            return f"returned {_fmt(got)}; expected {expected}"
        return None
    if isinstance(expected, list):
        if not isinstance(got, list):
            return f"returned {type(got).__name__}; expected a list of lists"
        return _compare(torch.tensor(got, dtype=torch.float64) if got else torch.zeros(0),
                        torch.tensor(expected, dtype=torch.float64))
    if isinstance(expected, tuple):
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            return f"returned {_fmt(got)}; expected a tuple of {len(expected)} values"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = _compare(g, e)
            if problem:
                return f"item {i}: {problem}"
        return None
    return None if got == expected else f"returned {_fmt(got)}; expected {_fmt(expected)}"


def _call(solution: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, str | None]:
    """Run the student's code on copies of the arguments; an exception becomes a message."""
    copies = tuple(a.clone() if isinstance(a, Tensor) else a for a in args)
    try:
        return solution(*copies), None
    except NotImplementedError:
        return None, "not written yet (the function raises NotImplementedError)"
    except Exception as err:  # student code may fail in any way; report it, do not crash the notebook
        return None, f"raised {type(err).__name__}: {err}"


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _neuron_cases() -> list[Case]:
    x, w = torch.tensor([1.0, -2.0, 3.0]), torch.tensor([0.5, 0.25, -1.0])
    return [Case("3 inputs", (x, w, 0.5), (x * w).sum() + 0.5),
            Case("1 input", (torch.tensor([2.0]), torch.tensor([-3.0]), 1.0), torch.tensor(-5.0)),
            Case("zero weights", (x, torch.zeros(3), 2.0), torch.tensor(2.0))]


def _relu_cases() -> list[Case]:
    return [Case("relu(-2.0)", (torch.tensor(-2.0),), torch.tensor(0.0)),
            Case("relu(3.5)", (torch.tensor(3.5),), torch.tensor(3.5)),
            Case("relu(0.0)", (torch.tensor(0.0),), torch.tensor(0.0)),
            Case("a (2, 3) matrix", (torch.tensor([[-1.0, 0.0, 2.0], [3.0, -4.0, 0.5]]),),
                 torch.tensor([[0.0, 0.0, 2.0], [3.0, 0.0, 0.5]]))]


def _dense_cases(plain: bool) -> list[Case]:
    cases = []
    for label, (n, n_in, n_out), seed in (("batch of 4, 3 -> 2", (4, 3, 2), 0), ("batch of 1", (1, 5, 3), 1),
                                          ("one input feature", (3, 1, 4), 2)):
        g = _gen(seed)
        x, w = torch.randn(n, n_in, generator=g), torch.randn(n_in, n_out, generator=g)
        b = torch.randn(n_out, generator=g)
        out = x @ w + b
        if plain:
            cases.append(Case(label, (x.tolist(), w.tolist(), b.tolist()), out.tolist()))
        else:
            cases.append(Case(label, (x, w, b), out))
    return cases


def _matmul_cases() -> list[Case]:
    cases = []
    for label, (i, k, j), seed in (("(2, 3) @ (3, 4)", (2, 3, 4), 3), ("(1, 5) @ (5, 1)", (1, 5, 1), 4),
                                   ("(4, 1) @ (1, 3)", (4, 1, 3), 5)):
        g = _gen(seed)
        a, b = torch.randn(i, k, generator=g), torch.randn(k, j, generator=g)
        cases.append(Case(label, (a, b), a @ b))
    return cases


def _all_greater_cases() -> list[Case]:
    return [Case("every element larger", (torch.tensor([3, 5, 7]), torch.tensor([1, 2, 3])), True),
            Case("one element equal", (torch.tensor([3, 2, 7]), torch.tensor([1, 2, 3])), False),
            Case("negative numbers", (torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -4.0])), True),
            Case("2-D tensors", (torch.ones(2, 2), torch.zeros(2, 2)), True)]


def _to_python_cases() -> list[Case]:
    return [Case("tensor(2.5)", (torch.tensor(2.5),), 2.5), Case("tensor(-1.0)", (torch.tensor(-1.0),), -1.0)]


def _relu_backward_cases() -> list[Case]:
    inp = torch.tensor([[-1.0, 2.0], [0.5, -3.0]])
    grad = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    return [Case("mixed signs", (inp, grad), torch.tensor([[0.0, 20.0], [30.0, 0.0]])),
            Case("all negative", (-inp.abs(), grad), torch.zeros(2, 2)),
            Case("batch of 1", (torch.tensor([[1.0, -1.0, 2.0]]), torch.tensor([[1.0, 1.0, 1.0]])),
                 torch.tensor([[1.0, 0.0, 1.0]]))]


def _mse_lin_grads_cases() -> list[Case]:
    cases = []
    for label, (n, nh), seed in (("200 rows, hidden 50", (200, 50), 6), ("batch of 1", (1, 4), 7),
                                 ("hidden size 1", (5, 1), 8)):
        g = _gen(seed)
        l2, w2, b2 = torch.randn(n, nh, generator=g), torch.randn(nh, 1, generator=g), torch.randn(1, generator=g)
        y = torch.randn(n, generator=g)
        leaves = [t.clone().requires_grad_() for t in (l2, w2, b2)]
        ((leaves[0] @ leaves[1] + leaves[2]).reshape(n) - y).pow(2).mean().backward()
        cases.append(Case(label, (l2, w2, b2, y), tuple(t.grad for t in leaves)))
    return cases


def _linear_cases() -> list[Case]:
    return [Case(f"Linear({n_in}, {n_out})", (n_in, n_out), None) for n_in, n_out in ((10, 2), (1, 5), (7, 1))]


def _check_linear(cls: Callable[..., Any], n_in: int, n_out: int) -> str | None:
    """A from-scratch nn.Linear: a Module with registered (n_out, n_in) weight and (n_out,) bias, x @ W.T + b."""
    layer = cls(n_in, n_out)
    if not isinstance(layer, nn.Module):
        return "is not an nn.Module (subclass nn.Module and call super().__init__())"
    params = dict(layer.named_parameters())
    if len(params) != 2:
        return f"registers {len(params)} parameters ({sorted(params)}); expected a weight and a bias"
    weight = next((p for p in params.values() if p.dim() == 2), None)
    bias = next((p for p in params.values() if p.dim() == 1), None)
    if weight is None or tuple(weight.shape) != (n_out, n_in):
        shape = None if weight is None else tuple(weight.shape)
        return f"weight has shape {shape}; PyTorch's layout is {(n_out, n_in)}"
    if bias is None or tuple(bias.shape) != (n_out,):
        return f"bias has shape {None if bias is None else tuple(bias.shape)}; expected {(n_out,)}"
    x = torch.randn(3, n_in, generator=_gen(n_in * 10 + n_out))
    out = layer(x)
    expected = x @ weight.t() + bias
    if tuple(out.shape) != (3, n_out):
        return f"a batch (3, {n_in}) gave shape {tuple(out.shape)}; expected {(3, n_out)}"
    if not torch.allclose(out, expected, atol=1e-6):
        return "the output is not x @ weight.T + bias"
    out.sum().backward()
    if weight.grad is None:
        return "no gradient reached the weight: is it an nn.Parameter used in forward?"
    return None


EXERCISES: dict[str, tuple[str, Callable[[], list[Case]]]] = {
    "neuron": ("neuron(x, w, b): one neuron, the weighted sum of a vector x plus a bias", _neuron_cases),
    "relu": ("relu(x): negative entries become 0", _relu_cases),
    "dense": ("dense(x, w, b): a dense layer on a batch with a matrix product", lambda: _dense_cases(plain=False)),
    "dense_python": ("dense_python(x, w, b): the same with Python lists and loops only",
                     lambda: _dense_cases(plain=True)),
    "all_greater": ("all_greater(a, b): is every element of a larger than the matching element of b?",
                    _all_greater_cases),
    "to_python": ("to_python(t): a rank-0 tensor as a plain Python number", _to_python_cases),
    "matmul_einsum": ("matmul_einsum(a, b): matrix product written with torch.einsum", _matmul_cases),
    "relu_backward": ("relu_backward(inp, out_grad): gradient of the loss with respect to ReLU's input",
                      _relu_backward_cases),
    "mse_lin_grads": ("mse_lin_grads(l2, w2, b2, y): gradients of mse(lin(l2, w2, b2), y) for l2, w2, b2",
                      _mse_lin_grads_cases),
    "linear_from_scratch": ("Linear(n_in, n_out): nn.Linear written from scratch", _linear_cases),
}


def check_exercise(name: str, solution: Callable[..., Any], verbose: bool = True) -> ExerciseResult:
    """Run ``solution`` on the reference cases of exercise ``name``; print feedback and return the result."""
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; the exercises are: {', '.join(EXERCISES)}")
    if not callable(solution):
        raise TypeError(f"check_exercise({name!r}, ...) needs your function or class, got {type(solution).__name__}")
    result = ExerciseResult(name)
    for case in EXERCISES[name][1]():
        result.total += 1
        if name == "linear_from_scratch":
            try:
                problem = _check_linear(solution, *case.args)
            except NotImplementedError:
                problem = "not written yet (the class raises NotImplementedError)"
            except Exception as err:  # report the student's error as feedback
                problem = f"raised {type(err).__name__}: {err}"
        else:
            got, problem = _call(solution, case.args)
            if problem is None:
                problem = _compare(got, case.expected)
        if problem is None:
            result.passed += 1
            result.feedback.append(f"  ok    {case.label}")
        else:
            result.feedback.append(f"  MISS  {case.label}: {problem}")
    if verbose:
        print("\n".join(result.feedback))
    return result
