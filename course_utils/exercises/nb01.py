"""Notebook 01's exercises: why the initial weights are random, and how large they should be."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..activations import kaiming_scale, xavier_scale
from ..initialization import layer_stds, stack_values
from .compare import Compare, fmt, number, tensor_close, within_10x
from .core import Case, Exercise, add, as_given, call


def constant_init_units(steps: int = 100) -> int:
    """Distinct hidden units after training a 100 -> 50 -> 1 ReLU net whose weights all start at 0.1."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 100, generator=g), torch.randn(200, 1, generator=g)
    w1 = torch.full((100, 50), 0.1, requires_grad=True)
    w2 = torch.full((50, 1), 0.1, requires_grad=True)
    for _ in range(steps):
        ((x @ w1).relu() @ w2 - y).pow(2).mean().backward()
        with torch.no_grad():
            for w in (w1, w2):
                w -= 0.01 * w.grad
                w.grad = None
    return distinct_columns(w1.detach())


def distinct_columns(w: Tensor, tol: float = 1e-6) -> int:
    """How many columns of ``w`` differ, counting two as one when no entry differs by ``tol`` or more."""
    kept: list[Tensor] = []
    for column in w.T:
        if not any((column - k).abs().max() < tol for k in kept):
            kept.append(column)
    return len(kept)


def whole_number(meaning: str) -> Compare:
    """A predicted count: a whole number equal to the experiment's, and ``meaning`` when it is not."""
    def compare(got: Any, expected: int) -> str | None:
        if isinstance(got, bool) or not isinstance(got, int | float) or got != int(got):
            return f"got {fmt(got)}; write your prediction as a whole number, such as 3"
        return None if got == expected else f"you predicted {int(got)}; the experiment ends with {expected}: {meaning}"
    return compare


add(Exercise("constant_init_units", "01", "predict how many different hidden units a net with equal weights "
             "ends with after training",
             "Take two hidden units with the same weights. Do they ever see different inputs, or get different "
             "gradients?",
             constant_init_units, lambda: [
                 Case("50 units, every weight 0.1, 100 steps", (), constant_init_units(),
                      whole_number("units that start equal compute the same output and get the same gradient, "
                                   "so every step moves them together: only random weights make them differ"),
                      as_given)], kind="predict"))


OUTCOMES = {"numbers": "10^50 does not fit in a float32, whose largest value is about 3.4e38",
            "inf": "the values do pass float32's largest value and become inf, but the product after that adds "
                   "+inf and -inf, and inf - inf is nan",
            "nan": "",
            "0": "a factor of 10 per layer makes the values grow, not shrink"}


def overflow_corner() -> str:
    """What 50 unscaled layers of width 100 end with, as one of the words in ``OUTCOMES``."""
    last = stack_values(1.0)[0][-1]
    if last.isnan().all():
        return "nan"
    return "inf" if last.isinf().any() else "0" if (last == 0).all() else "numbers"


def as_outcome(got: Any) -> Any:
    """A prediction of an outcome as its word: the float nan, inf and 0 count as "nan", "inf" and "0"."""
    if isinstance(got, float | int) and not isinstance(got, bool):
        return "nan" if math.isnan(got) else "inf" if math.isinf(got) else "0" if got == 0 else "numbers"
    return got.strip().lower() if isinstance(got, str) else got


def outcome(got: Any, expected: str) -> str | None:
    """One of the words in ``OUTCOMES``, equal to what the experiment gives; what a wrong word misses."""
    word = as_outcome(got)
    if word not in OUTCOMES:
        return f"got {fmt(got)}; write one of " + ", ".join(f'"{w}"' for w in OUTCOMES)
    return None if word == expected else f"you predicted {word}; the corner holds {expected}: {OUTCOMES[word]}"


add(Exercise("overflow_corner", "01", "predict what the corner of 50 unscaled layers holds: numbers, inf, nan or 0",
             "One layer multiplies the std by about 10. How large would the values be after 50 layers, and "
             "what does a float32 do with a number that large, and with the next product?",
             overflow_corner, lambda: [Case("50 layers of randn(100, 100)", (), overflow_corner(), outcome,
                                            as_given)], kind="predict"))


SCALE_NS = (100, 20, 3)   # sizes where every formula below differs from the others (at 1 or 2 some coincide)
SQUARE_ROOT = "is the variance the weights need, not their scale: take its square root"
MISTAKES_OF_XAVIER = ((lambda n: 1 / n, f"1/n_in {SQUARE_ROOT}"),
                      (lambda n: math.sqrt(n), "sqrt(n_in) is the growth of one layer: the scale must divide by it"))
MISTAKES_OF_KAIMING = (
    (lambda n: 2 / math.sqrt(n), "2/sqrt(n_in) doubles the scale, which multiplies the variance by 4; the factor 2 "
                                 "belongs to the variance, and the scale is the square root of the variance"),
    (lambda n: 2 / n, f"2/n_in {SQUARE_ROOT}"),
    (lambda n: 1 / math.sqrt(n), "that is the Xavier scale: it keeps the mean square through the linear layer, "
                                 "but ReLU then halves it"),
    (lambda n: math.sqrt(1 / (2 * n)), "that makes the weights smaller than Xavier's, but ReLU already takes half "
                                       "of the mean square away: the weights must give it back"))


def with_all_sizes(answer: Callable[[int], Any], args: tuple[Any, ...]) -> tuple[Any, list[tuple[int, Any]]]:
    """The answer at this case's size, and at every size of ``SCALE_NS`` (empty if one of those fails)."""
    value = call(answer, args)
    try:
        return value, [(n, call(answer, (n,))) for n in SCALE_NS]
    except Exception:  # student code; the case's own size already ran, so judge that alone
        return value, []


def by_formula(mistakes: tuple[tuple[Callable[[int], float], str], ...]) -> Compare:
    """``number`` on this size's value, naming a known wrong formula only when it matches at every size."""
    def compare(got: tuple[Any, list[tuple[int, Any]]], expected: float) -> str | None:
        value, sizes = got
        problem = number(value, expected)
        meaning = next((m for wrong, m in mistakes
                        if sizes and all(number(v, wrong(n)) is None for n, v in sizes)), None) if problem else None
        return f"{problem}: {meaning}" if meaning else problem
    return compare


def _scale_cases(scale: Callable[[int], float], mistakes: tuple[tuple[Callable[[int], float], str], ...]
                 ) -> list[Case]:
    return [Case(f"n_in = {n}", (n,), scale(n), by_formula(mistakes), with_all_sizes) for n in SCALE_NS]


add(Exercise("xavier_scale", "01", "xavier_scale(n_in): the weight scale that keeps a linear layer's std",
             "One layer multiplies the std by sqrt(n_in) when the weights have std 1. Which factor on the "
             "weights cancels that?",
             xavier_scale, lambda: _scale_cases(lambda n: 1 / math.sqrt(n), MISTAKES_OF_XAVIER)))


def std_after_50_layers() -> float:
    """The std after the last of 50 layers of width 100 at scale 0.2, as notebook 01 measures it."""
    return layer_stds(0.2)[-1].item()


add(Exercise("std_after_50_layers", "01", "predict the std after 50 layers of width 100 at scale 0.2",
             "At scale 0.1 one layer keeps the std. What does scale 0.2 do to it per layer, and what do "
             "50 such layers do?",
             std_after_50_layers, lambda: [
                 Case("50 layers at scale 0.2", (), std_after_50_layers(), within_10x, as_given)], kind="predict"))


def mean_square(t: Tensor) -> Tensor:
    """Reference: the average of the squared entries."""
    return t.pow(2).mean()


add(Exercise("mean_square", "01", "mean_square(t): the average of the squares of all entries of t",
             "Square every entry (elementwise), then average them all. No subtraction of the mean.",
             mean_square, lambda: [
                 Case("tensor [1, -2, 3]", (torch.tensor([1.0, -2.0, 3.0]),), torch.tensor(14 / 3), tensor_close),
                 Case("a (2, 2) matrix", (torch.tensor([[1.0, 1.0], [3.0, 3.0]]),), torch.tensor(5.0),
                      tensor_close),
                 Case("mean far from 0", (torch.full((5,), 2.0),), torch.tensor(4.0), tensor_close,
                      traps=((torch.tensor(0.0), "that is the variance: the mean square keeps the mean in"),))]))


def std_xavier_relu() -> float:
    """The std after 50 layers of width 100 at Xavier scale, each followed by ReLU, as ``layer_stds`` measures it."""
    return layer_stds("xavier", activation="relu")[-1].item()


def by_mean_square(got: Any, expected: float) -> str | None:
    """``within_10x``, and for a guess too far off, which way the mean-square argument goes wrong."""
    problem = within_10x(got, expected)
    if problem is None or not isinstance(got, int | float) or isinstance(got, bool) or not 0 < got < math.inf:
        return problem
    if got < expected:
        return (f"{problem}; did you shrink the std by a factor of 2 (or 0.58) at every layer? ReLU halves the "
                "mean square, so the std falls by about sqrt(2) per layer")
    return f"{problem}; Xavier's scale keeps the mean square through each linear layer, but every ReLU halves it"


add(Exercise("std_xavier_relu", "01", "predict the std after 50 layers at Xavier scale, each followed by ReLU",
             "Xavier's scale hands the mean square of each linear layer's input on unchanged. What does each "
             "ReLU do to it, what does that do to the std, and what do 50 layers of it do?",
             std_xavier_relu, lambda: [Case("50 ReLU layers at scale 1/sqrt(100)", (), std_xavier_relu(),
                                            by_mean_square, as_given)], kind="predict"))

add(Exercise("kaiming_scale", "01", "kaiming_scale(n_in): the weight scale that keeps the mean square with ReLU",
             "The linear layer multiplies the mean square by n_in times the variance of the weights, and the "
             "variance of randn * s is s**2; ReLU then halves the result. Which s gives back what came in?",
             kaiming_scale, lambda: _scale_cases(lambda n: math.sqrt(2 / n), MISTAKES_OF_KAIMING)))
