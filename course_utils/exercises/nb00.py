"""Notebook 00's exercises: matrix products, elementwise arithmetic, broadcasting."""

from __future__ import annotations

import torch
from torch import Tensor

from .compare import NO_BIAS, avoids, calls, floats_lists, known_mistakes, plain_number, same_bool, same_shape
from .core import LAYER_SIZES, Case, Exercise, add, as_given, batches, gen, source_of


def dense_python(x: list[list[float]], w: list[list[float]], b: list[float]) -> list[list[float]]:
    """Reference: a dense layer over lists, one neuron (column of w) at a time."""
    columns = list(zip(*w))
    return [[sum(xi * wi for xi, wi in zip(row, col)) + bj for col, bj in zip(columns, b)] for row in x]


def _dense_python_cases() -> list[Case]:
    cases = [Case("written without torch or @", compare=avoids("torch", "@", "numpy", "np"), run=source_of)]
    for label, x, w, b in batches(LAYER_SIZES, seed=0):
        cases.append(Case(label, (x.tolist(), w.tolist(), b.tolist()), (x @ w + b).tolist(),
                          known_mistakes(floats_lists, (((x @ w).tolist(), NO_BIAS),))))
    return cases


add(Exercise("dense_python", "00", "dense_python(x, w, b): a dense layer with Python lists and loops only",
             "Column j of w holds the weights of neuron j; zip(*w) gives you the columns. Each output is "
             "one neuron's weighted sum of a row of x, plus that neuron's bias.",
             dense_python, _dense_python_cases))


def all_greater(a: Tensor, b: Tensor) -> bool:
    """Reference: compare elementwise, then ask whether every comparison holds."""
    return bool((a > b).all())


ANY_NOT_ALL = ("True is what .any() says: at least one element of a is larger; the question is whether all "
               "of them are")
EQUAL_IS_NOT_GREATER = "an element equal to its partner is not larger: compare with >, not >="

add(Exercise("all_greater", "00", "all_greater(a, b): is every element of a larger than the matching one of b?",
             "a > b compares element by element and gives a tensor of booleans; one method of that tensor "
             "says whether all of them are True.",
             all_greater, lambda: [
                 Case("every element larger", (torch.tensor([3, 5, 7]), torch.tensor([1, 2, 3])), True, same_bool),
                 Case("one element smaller", (torch.tensor([3, 0, 7]), torch.tensor([1, 2, 3])), False,
                      known_mistakes(same_bool, ((True, ANY_NOT_ALL),))),
                 Case("equal tensors", (torch.tensor([1, 2, 3]), torch.tensor([1, 2, 3])), False,
                      known_mistakes(same_bool, ((True, EQUAL_IS_NOT_GREATER),))),
                 Case("negative numbers", (torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -4.0])), True,
                      same_bool),
                 Case("2-D tensors", (torch.ones(2, 2), torch.zeros(2, 2)), True, same_bool)]))

add(Exercise("broadcast_shape", "00", "predict the shape of torch.zeros(4, 1) + torch.zeros(3)",
             "Line the two shapes up from the right, padding the shorter one with 1s on the left; each "
             "size 1 stretches to the other size.",
             lambda: tuple((torch.zeros(4, 1) + torch.zeros(3)).shape), lambda: [
                 Case("torch.zeros(4, 1) + torch.zeros(3)", (), (4, 3), same_shape, as_given)], kind="predict"))


def matmul_einsum(a: Tensor, b: Tensor) -> Tensor:
    """Reference: multiply along k, sum k away, keep i and j."""
    return torch.einsum("ik,kj->ij", a, b)


def _matmul_cases() -> list[Case]:
    cases = [Case("written with einsum", compare=calls("einsum"), run=source_of)]
    for label, (i, k, j) in (("(2, 3) @ (3, 4)", (2, 3, 4)), ("(1, 5) @ (5, 1)", (1, 5, 1)),
                             ("(4, 1) @ (1, 3)", (4, 1, 3))):
        g = gen(i * 100 + k * 10 + j)
        a, b = torch.randn(i, k, generator=g), torch.randn(k, j, generator=g)
        cases.append(Case(label, (a, b), a @ b))
    return cases


add(Exercise("matmul_einsum", "00", "matmul_einsum(a, b): the matrix product written with torch.einsum",
             "Give each index a letter: one for the rows of a, one for the size that a and b share, one for "
             "the columns of b. The result keeps the rows and the columns; a letter left out after -> is "
             "summed over.",
             matmul_einsum, _matmul_cases))

add(Exercise("to_python", "00", "to_python(t): a rank-0 tensor as a plain Python number",
             "A tensor with one element has a method that returns its value as a Python number.",
             lambda t: t.item(), lambda: [Case("tensor(2.5)", (torch.tensor(2.5),), 2.5, plain_number),
                                          Case("tensor(-1.0)", (torch.tensor(-1.0),), -1.0, plain_number)]))
