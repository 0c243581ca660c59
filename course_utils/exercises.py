"""Exercises as data: each one is a record with its notebook, hint, reference answer and cases.

``check_exercise(name, answer)`` runs the student's answer on the exercise's cases, prints one line per
case and returns an ``ExerciseResult`` that is truthy only when every case passes. From the second failed
try of an exercise on, it also prints the exercise's hint. ``result.use()`` hands back the student's answer
when it passed and the reference otherwise, so an unsolved exercise never breaks the cells after it.

Each ``Case`` carries how its answer is obtained (``run``: call the function, read its source, or take a
predicted value as it is) and how it is judged (``compare``), so the checking loop knows nothing about
any single exercise. To add an exercise, add one ``_add(Exercise(...))`` in its notebook's section below.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import math
import textwrap
import tokenize
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

Compare = Callable[[Any, Any], "str | None"]   # (answer, expected) -> None when right, else what differs


class Rejected(Exception):
    """Raised by a case's ``run`` when the answer breaks the exercise's rules (not a bug in the student's code)."""


class NotAnswered(Rejected):
    """Raised by a case's ``run`` when there is no answer yet (an empty prediction): not counted as a failed try."""


# --- how an answer is obtained from what the student handed in -------------------------------------------

def call(solution: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Call the student's function on copies of the arguments, so it cannot change the cases, and reject
    an answer that changes its input: in a notebook that would silently change the caller's tensor too."""
    copies = tuple(_copy_arg(a) for a in args)
    result = solution(*copies)
    changed = [i for i, (a, c) in enumerate(zip(args, copies)) if _changed(a, c)]
    if changed:
        first = changed[0]
        what = type(args[first]).__name__ if not isinstance(args[first], Tensor) else "tensor"
        raise Rejected(f"changed its input {_parameter_names(solution, len(args))[first]} in place, so the caller's "
                       f"{what} changes too (the cells below still need it); compute a new result and leave the "
                       "input as it was")
    return result


def _copy_arg(arg: Any) -> Any:
    """A copy of one argument: tensors cloned, lists and tuples copied down to their items."""
    if isinstance(arg, Tensor):
        return arg.clone()
    if isinstance(arg, list | tuple):
        return type(arg)(_copy_arg(a) for a in arg)
    return arg


def _changed(before: Any, after: Any) -> bool:
    """Does the copy handed to the student differ from the case's original now?"""
    if isinstance(before, Tensor):
        return not isinstance(after, Tensor) or before.shape != after.shape or not torch.equal(
            before.nan_to_num() if before.is_floating_point() else before,
            after.nan_to_num() if after.is_floating_point() else after)
    if isinstance(before, list | tuple):
        return (not isinstance(after, list | tuple) or len(before) != len(after)
                or any(_changed(b, a) for b, a in zip(before, after)))
    return False


def _parameter_names(solution: Callable[..., Any], n: int) -> list[str]:
    """The names of the function's first ``n`` parameters, for feedback; positions where unknown."""
    try:
        names = list(inspect.signature(solution).parameters)[:n]
    except (TypeError, ValueError):
        names = []
    return names + [f"(argument {i + 1})" for i in range(len(names), n)]


def as_given(value: Any, args: tuple[Any, ...]) -> Any:
    """A prediction is checked as it is; ``None`` or ``...`` means it is not filled in yet."""
    if value is None or value is Ellipsis:
        raise NotAnswered("no prediction yet: write your guess into the variable above, then run this again")
    return value


def source_of(solution: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """The code of the student's function, for rules about how it is written."""
    try:
        return inspect.getsource(solution)
    except (OSError, TypeError) as err:
        raise Rejected("its source code cannot be read, so this rule cannot be checked "
                       "(define the function with def in a notebook cell)") from err


# --- how an answer is judged ---------------------------------------------------------------------------

def _num(v: float) -> str:
    return f"{v:.4g}"


def fmt(value: Any) -> str:
    """A value as feedback shows it: numbers with 4 significant digits, big tensors by their shape."""
    if isinstance(value, Tensor):
        if value.dim() == 0:
            return _num(value.item())
        if value.numel() <= 6:
            return f"tensor {fmt(value.tolist())} (shape {tuple(value.shape)})"
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int | float):
        return _num(value)
    if isinstance(value, list | tuple) and len(value) <= 6:
        inner = ", ".join(fmt(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    return repr(value)


BROADCAST_HINT = ("this is the (N, 1) minus (N,) broadcast: the two shapes stretch to (N, N) and every "
                  "prediction meets every target; the size-1 axis has to go before the subtraction")


def close(got: Any, expected: Any) -> str | None:
    """Tensors: same shape, compatible dtype, values within 1e-4; a plain number is fine where one is expected."""
    if isinstance(got, int | float) and not isinstance(got, bool) and expected.numel() == 1:
        got = torch.tensor(float(got))
        if expected.dim() > 0:
            return f"returned the number {fmt(got)}; expected a tensor of shape {tuple(expected.shape)}"
    if not isinstance(got, Tensor):
        return f"returned {type(got).__name__}, expected a tensor of shape {tuple(expected.shape)}"
    if got.shape != expected.shape:
        n = expected.shape[0] if expected.dim() else 0
        if n > 1 and tuple(got.shape) == (n, n) and tuple(expected.shape) in ((n,), (n, 1)):
            return f"returned shape {tuple(got.shape)}; expected {tuple(expected.shape)}: {BROADCAST_HINT}"
        return f"returned shape {tuple(got.shape)}; expected shape {tuple(expected.shape)}"
    if not torch.allclose(got.double(), expected.double(), rtol=1e-4, atol=1e-5):
        if expected.dim() == 0:
            return f"returned {fmt(got)}; expected {fmt(expected)}"
        diff = (got.double() - expected.double()).abs()
        where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
        return (f"the shape {tuple(got.shape)} is right but the values differ: at {list(where)} it gives "
                f"{_num(got[where].item())} instead of {_num(expected[where].item())}")
    if got.dtype != expected.dtype and not (got.is_floating_point() and expected.is_floating_point()):
        return f"the values are right but the dtype is {got.dtype}; expected {expected.dtype}"
    return None


def tensor_close(got: Any, expected: Tensor) -> str | None:
    """Like ``close``, but a plain number is refused: for an answer whose tensor methods later cells use."""
    if isinstance(got, int | float) and not isinstance(got, bool):
        return (f"returned the Python {type(got).__name__} {fmt(got)}; return the tensor itself "
                "(without .item()): the cells below call tensor methods on it")
    return close(got, expected)


def number(got: Any, expected: float) -> str | None:
    """A number within 1e-4 of ``expected``: a Python ``float`` or ``int``, or a tensor holding one value."""
    if isinstance(got, Tensor) and got.numel() == 1:
        got = got.item()
    return plain_number(got, expected)


def plain_number(got: Any, expected: float) -> str | None:
    """A Python ``float`` or ``int`` (not a tensor) within 1e-4 of ``expected``."""
    if isinstance(got, Tensor):
        return f"returned a tensor holding {fmt(got)}; expected a plain Python number, not a tensor"
    if isinstance(got, bool) or not isinstance(got, int | float):
        return f"returned {type(got).__name__}; expected a plain Python number"
    if not math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-5):
        return f"returned {fmt(got)}; expected {fmt(expected)}"
    return None


def same_bool(got: Any, expected: bool) -> str | None:
    """``True`` or ``False``, as a Python bool or a one-element tensor."""
    if isinstance(got, Tensor) and got.numel() == 1:
        got = bool(got)
    if not isinstance(got, bool):
        return f"returned {fmt(got)}; expected a bool ({expected})"
    return None if got is expected else f"returned {got}; expected {expected}"


def same_shape(got: Any, expected: tuple[int, ...]) -> str | None:
    """A shape, as a tuple, list or ``torch.Size``, equal to ``expected``."""
    if not isinstance(got, tuple | list):
        return f"got {fmt(got)}; write the shape as a tuple such as (2, 3)"
    return None if tuple(got) == tuple(expected) else f"you predicted {tuple(got)}; it is {tuple(expected)}"


def within_10x(got: Any, expected: float) -> str | None:
    """A predicted positive number within a factor of 10 of what the experiment gives."""
    if isinstance(got, Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, int | float) or not got > 0:
        return f"got {fmt(got)}; write your prediction as a positive number, such as 1e-3 or 50"
    if math.isinf(got):
        return f"you predicted {fmt(got)} (an overflow); the experiment gives {fmt(expected)}, huge but finite"
    factor = max(got / expected, expected / got)
    if factor > 10:
        direction = "too large" if got > expected else "too small"
        return f"you predicted {fmt(got)}; the experiment gives {fmt(expected)}: {direction} by {factor:.2g}x"
    return None


def floats_lists(got: Any, expected: list[list[float]]) -> str | None:
    """A list of lists of plain Python numbers, equal to ``expected`` within 1e-4."""
    if not isinstance(got, list):
        return f"returned {type(got).__name__}; expected a list of rows, one list of floats per example"
    if got and not any(isinstance(row, list | tuple) for row in got):
        return f"returned a flat list of {len(got)} items; expected a list of rows, one list per example"
    if not all(isinstance(row, list) for row in got):
        kinds = sorted({type(row).__name__ for row in got if not isinstance(row, list)})
        return f"the rows are {', '.join(kinds)}; expected each row to be a list"
    if not all(isinstance(v, int | float) for row in got for v in row):
        kinds = sorted({type(v).__name__ for row in got for v in row} - {"int", "float"})
        return f"the rows hold {', '.join(kinds)}; expected plain Python floats"
    shape, want = (len(got), len(got[0]) if got else 0), (len(expected), len(expected[0]))
    if shape != want or any(len(row) != want[1] for row in got):
        return f"returned {shape[0]} rows of {shape[1]}; expected {want[0]} rows of {want[1]}"
    return close(torch.tensor(got, dtype=torch.float64), torch.tensor(expected, dtype=torch.float64))


def each(compare: Compare) -> Compare:
    """Judge a tuple of answers item by item with ``compare``."""
    def compare_each(got: Any, expected: tuple[Any, ...]) -> str | None:
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            return f"returned {fmt(got)}; expected a tuple of {len(expected)} values"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e)
            if problem:
                return f"item {i}: {problem}"
        return None
    return compare_each


def source_rule(rule: Compare) -> Compare:
    """Mark a comparison as a rule about the code: the checker skips it while the function is not written."""
    rule.reads_source = True  # type: ignore[attr-defined]
    return rule


def mentions(*words: str) -> Compare:
    """A source rule: the code must use one of ``words`` (a name or an operator)."""
    def rule(source: str, _: Any) -> str | None:
        return None if _tokens(source) & set(words) else f"the code does not use {' or '.join(words)}"
    return source_rule(rule)


def avoids(*words: str) -> Compare:
    """A source rule: the code must not use any of ``words`` (names or operators)."""
    def rule(source: str, _: Any) -> str | None:
        found = sorted(_tokens(source) & set(words))
        return f"the code uses {', '.join(found)}; this exercise is about doing it without" if found else None
    return source_rule(rule)


def calls(*names: str) -> Compare:
    """A source rule: the code must call a function or method named one of ``names`` (a mere mention is not enough)."""
    def rule(source: str, _: Any) -> str | None:
        called = {name for name, _ in _calls(source)}
        return None if called & set(names) else f"the code never calls {' or '.join(names)}(...)"
    return source_rule(rule)


def names_the_axis(method: str) -> Compare:
    """A source rule: ``method`` (such as squeeze) must be told which axis, never called bare."""
    def rule(source: str, _: Any) -> str | None:
        bare = any(name == method and n_args == 0 for name, n_args in _calls(source, functions=("torch",)))
        return (f"the code calls {method}() without an axis: for a batch of one that removes the batch axis too; "
                "say which axis to remove") if bare else None
    return source_rule(rule)


def _calls(source: str, functions: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """Each call in ``source`` as (name, number of arguments); ``module.f(x)`` for a module in ``functions``
    counts its first argument as the object, like ``x.f()``. Source that does not parse (a lambda cut out of
    a longer line) falls back to tokens: a name followed by ``(``, with ``()`` counted as 0 and else -1."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        tokens = _token_list(source)
        return [(a, 0 if c == ")" else -1) for a, b, c in zip(tokens, tokens[1:], tokens[2:] + [""]) if b == "("]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func, n_args = node.func, len(node.args) + len(node.keywords)
            if isinstance(func, ast.Name):
                found.append((func.id, n_args))
            elif isinstance(func, ast.Attribute):
                module = isinstance(func.value, ast.Name) and func.value.id in functions
                found.append((func.attr, n_args - 1 if module else n_args))
    return found


def _tokens(source: str) -> set[str]:
    """Names and operators in ``source``, leaving out comments, strings and the function's own docstring."""
    return set(_token_list(source))


def _token_list(source: str) -> list[str]:
    """Names and operators in ``source`` in order, leaving out comments and strings."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline):
            if token.type in (tokenize.NAME, tokenize.OP):
                found.append(token.string)
    except (tokenize.TokenError, IndentationError):
        pass  # a lambda cut out of a longer expression can end mid-bracket; the tokens so far are enough
    return found


def _same_values(got: Any, wrong: Tensor) -> bool:
    """Does an answer equal a known wrong answer, whatever its dtype?"""
    return isinstance(got, Tensor) and got.shape == wrong.shape and torch.allclose(got.double(), wrong.double())


# --- records ---------------------------------------------------------------------------------------------

@dataclass
class Case:
    """One check of an answer: what to run it on, what it should give, and how the two are compared."""

    label: str
    args: tuple[Any, ...] = ()
    expected: Any = None
    compare: Compare = close
    run: Callable[[Any, tuple[Any, ...]], Any] = call
    traps: tuple[tuple[Any, str], ...] = ()    # known wrong answers and what each one means

    def problem(self, answer: Any) -> str | None:
        """None when ``answer`` passes this case, else a sentence saying why not."""
        got = self.run(answer, self.args)
        problem = self.compare(got, self.expected)
        for wrong, meaning in self.traps if problem else ():
            if _same_values(got, wrong):
                return f"{problem}: {meaning}"
        return problem


@dataclass(frozen=True)
class Exercise:
    """An exercise: where it is taught, what to write, a hint, the reference answer and its cases."""

    name: str
    notebook: str                                  # "00" .. "07": where the idea is taught
    description: str
    hint: str                                      # a nudge, never the answer
    reference: str | Callable[..., Any]            # "module:name" in course_utils, or a function defined here
    cases: Callable[[], list[Case]]
    kind: str = "function"                         # "function", "fix" (repair a given function) or "predict"
    given: str = ""                                # "fix": the broken code as handed out, to tell it from a try

    def untouched(self, answer: Any) -> bool:
        """Is ``answer`` a fix exercise's broken code as handed out, not yet repaired?"""
        if not self.given:
            return False
        try:
            code, broken = _token_list(inspect.getsource(answer)), _token_list(self.given)
        except (OSError, TypeError):
            return False
        return any(code[i:i + len(broken)] == broken for i in range(len(code) - len(broken) + 1))

    def solution(self) -> Any:
        """The reference answer as a student hands it in: a function, a class, or (for "predict") a value."""
        ref = self.reference
        if isinstance(ref, str):
            module, attr = ref.split(":")
            ref = getattr(importlib.import_module(module), attr)
        return ref() if self.kind == "predict" else ref


EXERCISES: dict[str, Exercise] = {}


def _add(exercise: Exercise) -> None:
    EXERCISES[exercise.name] = exercise


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _batches(sizes: tuple[tuple[str, tuple[int, int, int]], ...], seed: int) -> list[tuple[Any, ...]]:
    """Labelled random (x, w, b) triples for a layer of each (N, n_in, n_out) size."""
    out = []
    for i, (label, (n, n_in, n_out)) in enumerate(sizes):
        g = _gen(seed + i)
        out.append((label, torch.randn(n, n_in, generator=g), torch.randn(n_in, n_out, generator=g),
                    torch.randn(n_out, generator=g)))
    return out


LAYER_SIZES = (("batch of 4, 3 -> 2", (4, 3, 2)), ("batch of 1", (1, 5, 3)), ("one input feature", (3, 1, 4)))


# --- notebook 00: matrix products, elementwise arithmetic, broadcasting ----------------------------------

def _dense_python(x: list[list[float]], w: list[list[float]], b: list[float]) -> list[list[float]]:
    """Reference: a dense layer over lists, one neuron (column of w) at a time."""
    columns = list(zip(*w))
    return [[sum(xi * wi for xi, wi in zip(row, col)) + bj for col, bj in zip(columns, b)] for row in x]


def _dense_python_cases() -> list[Case]:
    cases = [Case("written without torch or @", compare=avoids("torch", "@", "numpy", "np"), run=source_of)]
    for label, x, w, b in _batches(LAYER_SIZES, seed=0):
        cases.append(Case(label, (x.tolist(), w.tolist(), b.tolist()), (x @ w + b).tolist(), floats_lists))
    return cases


_add(Exercise("dense_python", "00", "dense_python(x, w, b): a dense layer with Python lists and loops only",
              "Column j of w holds the weights of neuron j; zip(*w) gives you the columns. Each output is "
              "one neuron's weighted sum of a row of x, plus that neuron's bias.",
              _dense_python, _dense_python_cases))


def _all_greater(a: Tensor, b: Tensor) -> bool:
    """Reference: compare elementwise, then ask whether every comparison holds."""
    return bool((a > b).all())


_add(Exercise("all_greater", "00", "all_greater(a, b): is every element of a larger than the matching one of b?",
              "a > b compares element by element and gives a tensor of booleans; one method of that tensor "
              "says whether all of them are True.",
              _all_greater, lambda: [
                  Case("every element larger", (torch.tensor([3, 5, 7]), torch.tensor([1, 2, 3])), True, same_bool),
                  Case("one element equal", (torch.tensor([3, 2, 7]), torch.tensor([1, 2, 3])), False, same_bool),
                  Case("negative numbers", (torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -4.0])), True,
                       same_bool),
                  Case("2-D tensors", (torch.ones(2, 2), torch.zeros(2, 2)), True, same_bool)]))

_add(Exercise("broadcast_shape", "00", "predict the shape of torch.zeros(4, 1) + torch.zeros(3)",
              "Line the two shapes up from the right, padding the shorter one with 1s on the left; each "
              "size 1 stretches to the other size.",
              lambda: tuple((torch.zeros(4, 1) + torch.zeros(3)).shape), lambda: [
                  Case("torch.zeros(4, 1) + torch.zeros(3)", (), (4, 3), same_shape, as_given)], kind="predict"))


def _matmul_einsum(a: Tensor, b: Tensor) -> Tensor:
    """Reference: multiply along k, sum k away, keep i and j."""
    return torch.einsum("ik,kj->ij", a, b)


def _matmul_cases() -> list[Case]:
    cases = [Case("written with einsum", compare=calls("einsum"), run=source_of)]
    for label, (i, k, j) in (("(2, 3) @ (3, 4)", (2, 3, 4)), ("(1, 5) @ (5, 1)", (1, 5, 1)),
                             ("(4, 1) @ (1, 3)", (4, 1, 3))):
        g = _gen(i * 100 + k * 10 + j)
        a, b = torch.randn(i, k, generator=g), torch.randn(k, j, generator=g)
        cases.append(Case(label, (a, b), a @ b))
    return cases


_add(Exercise("matmul_einsum", "00", "matmul_einsum(a, b): the matrix product written with torch.einsum",
              "Give each index a letter: one for the rows of a, one for the size that a and b share, one for "
              "the columns of b. The result keeps the rows and the columns; a letter left out after -> is "
              "summed over.",
              _matmul_einsum, _matmul_cases))

_add(Exercise("to_python", "00", "to_python(t): a rank-0 tensor as a plain Python number",
              "A tensor with one element has a method that returns its value as a Python number.",
              lambda t: t.item(), lambda: [Case("tensor(2.5)", (torch.tensor(2.5),), 2.5, plain_number),
                                           Case("tensor(-1.0)", (torch.tensor(-1.0),), -1.0, plain_number)]))

# --- notebook 01: initialization ---------------------------------------------------------------------------


def _scale_cases(scale: Callable[[int], float]) -> list[Case]:
    return [Case(f"n_in = {n}", (n,), scale(n), number) for n in (100, 50, 1)]


_add(Exercise("xavier_scale", "01", "xavier_scale(n_in): the weight scale that keeps a linear layer's std",
              "One layer multiplies the std by sqrt(n_in) when the weights have std 1. Which factor on the "
              "weights cancels that?",
              "course_utils.activations:xavier_scale",
              lambda: _scale_cases(lambda n: 1 / math.sqrt(n))))

def _layer_stds(scale: float) -> float:
    """The std after the last of 50 layers of width 100, as notebook 01 measures it."""
    from .initialization import layer_stds  # the experiment the notebook runs, imported when first needed
    return layer_stds(scale)[-1].item()


_add(Exercise("std_after_50_layers", "01", "predict the std after 50 layers of width 100 at scale 0.2",
              "At scale 0.1 one layer keeps the std. What does scale 0.2 do to it per layer, and what do "
              "50 such layers do?",
              lambda: _layer_stds(0.2), lambda: [
                  Case("50 layers at scale 0.2", (), _layer_stds(0.2), within_10x, as_given)], kind="predict"))


def _mean_square(t: Tensor) -> Tensor:
    """Reference: the average of the squared entries."""
    return t.pow(2).mean()


_add(Exercise("mean_square", "01", "mean_square(t): the average of the squares of all entries of t",
              "Square every entry (elementwise), then average them all. No subtraction of the mean.",
              _mean_square, lambda: [
                  Case("tensor [1, -2, 3]", (torch.tensor([1.0, -2.0, 3.0]),), torch.tensor(14 / 3), tensor_close),
                  Case("a (2, 2) matrix", (torch.tensor([[1.0, 1.0], [3.0, 3.0]]),), torch.tensor(5.0),
                       tensor_close),
                  Case("mean far from 0", (torch.full((5,), 2.0),), torch.tensor(4.0), tensor_close,
                       traps=((torch.tensor(0.0), "that is the variance: the mean square keeps the mean in"),))]))

_add(Exercise("kaiming_scale", "01", "kaiming_scale(n_in): the weight scale that keeps the mean square with ReLU",
              "ReLU halves the mean square of its input. By how much must the weights' variance grow to give "
              "it back, and what does that do to the scale?",
              "course_utils.activations:kaiming_scale",
              lambda: _scale_cases(lambda n: math.sqrt(2 / n))))

# --- notebook 02: the forward pass ------------------------------------------------------------------------


def _neuron(x: Tensor, w: Tensor, b: float) -> Tensor:
    """Reference: weighted sum of the inputs plus the bias."""
    return (x * w).sum() + b


_add(Exercise("neuron", "02", "neuron(x, w, b): one neuron, the weighted sum of a vector x plus a bias",
              "Multiply x and w entry by entry, add the products up, then add b.",
              _neuron, lambda: [
                  Case("3 inputs", (torch.tensor([1.0, -2.0, 3.0]), torch.tensor([0.5, 0.25, -1.0]), 0.5),
                       torch.tensor(-2.5)),
                  Case("1 input", (torch.tensor([2.0]), torch.tensor([-3.0]), 1.0), torch.tensor(-5.0)),
                  Case("zero weights", (torch.tensor([1.0, -2.0, 3.0]), torch.zeros(3), 2.0), torch.tensor(2.0))]))


def _lin_cases() -> list[Case]:
    return [Case(label, (x, w, b), x @ w + b,
                 traps=((x @ w, "the bias is missing"),)) for label, x, w, b in _batches(LAYER_SIZES, seed=10)]


_add(Exercise("lin", "02", "lin(x, w, b): a dense layer on a batch, as one matrix product plus the bias",
              "x has one row per example and w one column per neuron: the matrix product pairs them all. "
              "The bias has one entry per neuron and broadcasts over the rows.",
              "course_utils.functions:lin", _lin_cases))

_add(Exercise("relu", "02", "relu(x): negative entries become 0, the rest stay",
              "Look for a tensor method that clamps values from below, or for torch.where, which picks each "
              "entry from one of two tensors by a condition. Return a new tensor; leave x as it is.",
              "course_utils.functions:relu", lambda: [
                  Case("relu(-2.0)", (torch.tensor(-2.0),), torch.tensor(0.0)),
                  Case("relu(3.5)", (torch.tensor(3.5),), torch.tensor(3.5)),
                  Case("relu(0.0)", (torch.tensor(0.0),), torch.tensor(0.0)),
                  Case("a (2, 3) matrix", (torch.tensor([[-1.0, 0.0, 2.0], [3.0, -4.0, 0.5]]),),
                       torch.tensor([[0.0, 0.0, 2.0], [3.0, 0.0, 0.5]]))]))


def _mse_cases() -> list[Case]:
    cases = [Case("no bare squeeze()", compare=names_the_axis("squeeze"), run=source_of)]
    for label, n in (("200 predictions", 200), ("5 predictions", 5), ("a batch of 1", 1)):
        g = _gen(20 + n)
        out, targ = torch.randn(n, 1, generator=g), torch.randn(n, generator=g)
        cases.append(Case(f"{label}: output ({n}, 1), targets ({n},)", (out, targ),
                          (out[:, 0] - targ).pow(2).mean(), tensor_close,
                          traps=(((out - targ).pow(2).mean(), BROADCAST_HINT),)))
    return cases


_add(Exercise("mse", "02", "mse(output, targ): fix the mean squared error of predictions (N, 1) and targets (N,)",
              "Print the shape of output - targ: it should be (N,), one difference per example. A method "
              "shown above removes an axis of size 1 from output; tell it which axis, so that a batch of "
              "one keeps its batch axis.",
              "course_utils.functions:mse", _mse_cases, kind="fix", given="return (output - targ).pow(2).mean()"))

# --- notebook 03: the backward pass ------------------------------------------------------------------------


def _copy(t: Tensor) -> Tensor:
    """A copy of a case's tensor that keeps the ``.g`` the case gave it (``clone`` drops Python attributes)."""
    c = t.clone()
    if getattr(t, "g", None) is not None:
        c.g = t.g.clone()
    return c


class _ReadTooEarly:
    """Turn "'Tensor' object has no attribute 'g'" into advice: a backward step read a .g nobody had stored yet."""

    def __init__(self, advice: str) -> None:
        self.advice = advice

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, err: Any, tb: Any) -> None:
        if kind is AttributeError and "attribute 'g'" in str(err):
            raise Rejected(f"a .g was read before anything stored it ({err}): {self.advice}") from err


ORDER_ADVICE = ("the backward steps run from the loss back to the input, mse_grad first, and each one reads the "
                ".g that the step after it in the forward pass stored; check their order and the tensors you pass")


def _g_unchanged(args: tuple[Any, ...], copies: tuple[Any, ...], names: tuple[str | None, ...]) -> None:
    """Reject an answer that changed an incoming gradient (an argument's ``.g``) in place."""
    for i, (a, c) in enumerate(zip(args, copies)):
        before = getattr(a, "g", None)
        if before is not None and getattr(c, "g", None) is not None and not torch.equal(c.g, before):
            name = names[i] or ("out" if i == 1 else f"argument {i}")
            raise Rejected(f"{name}.g was changed in place; leave the incoming gradient as it is (an earlier "
                           "step may still read it) and store a new tensor in inp.g")


def fills_g(*names: str | None, returns: bool = False) -> Callable[[Any, tuple[Any, ...]], Any]:
    """A case's run for a backward step: call it on copies, return the ``.g`` it stored in each named argument.

    ``names`` gives every positional argument a name (``None``: not a gradient to read) for the feedback;
    ``returns=True`` puts the function's own return value (the loss) first.
    """
    def run(solution: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
        copies = tuple(_copy(a) if isinstance(a, Tensor) else a for a in args)
        with _ReadTooEarly(ORDER_ADVICE):
            returned = solution(*copies)
        _g_unchanged(args, copies, names)
        if returns and returned is None:
            raise Rejected("returned nothing; return the loss from the forward pass")
        grads = [returned] if returns else []
        for name, c in zip(names, copies):
            if name is None:
                continue
            if getattr(c, "g", None) is None:
                stored = f" (it returned a value instead: store it, as in {name}.g = ...)"
                also = stored if returned is not None and not returns else ""
                raise Rejected(f"nothing was stored in {name}.g{also}")
            grads.append(c.g)
        return tuple(grads)
    return run


def named(*names: str, traps: dict[str, tuple[tuple[Tensor, str], ...]] | None = None) -> Compare:
    """Judge a tuple of tensors one by one, naming the first one that is wrong (and what a known wrong value means)."""
    def compare(got: tuple[Tensor, ...], expected: tuple[Tensor, ...]) -> str | None:
        for name, g, e in zip(names, got, expected):
            problem = close(g, e)
            if problem:
                meaning = next((m for wrong, m in (traps or {}).get(name, ()) if _same_values(g, wrong)), None)
                return f"{name}: {problem}" + (f": {meaning}" if meaning else "")
        return None
    return compare


def _autograd(fn: Callable[..., Tensor], tensors: tuple[Tensor, ...], *fixed: Any) -> tuple[Tensor, ...]:
    """The gradients autograd finds for the scalar ``fn(*tensors, *fixed)``, one per tensor of ``tensors``."""
    leaves = [t.clone().requires_grad_() for t in tensors]
    fn(*leaves, *fixed).backward()
    return tuple(t.grad for t in leaves)


def _mse_of(out: Tensor, targ: Tensor) -> Tensor:
    """The loss of predictions (N, 1) against targets (N,), written with plain torch."""
    return (out[:, 0] - targ).pow(2).mean()


def _lin_times(inp: Tensor, w: Tensor, b: Tensor, out_g: Tensor) -> Tensor:
    """A loss whose gradient at the output of ``inp @ w + b`` is exactly ``out_g``."""
    return ((inp @ w + b) * out_g).sum()


def _mse_grad_cases() -> list[Case]:
    cases = []
    for label, n in (("200 predictions", 200), ("3 predictions", 3), ("a batch of 1", 1)):
        g = _gen(30 + n)
        out, targ = torch.randn(n, 1, generator=g), torch.randn(n, generator=g)
        (expected,) = _autograd(_mse_of, (out,), targ)
        cases.append(Case(f"{label}: out ({n}, 1), targets ({n},)", (out, targ), (expected,),
                          named("inp", traps={"inp": ((expected * n, "divide by the number of predictions"),)}),
                          fills_g("inp", None)))
    return cases


_add(Exercise("mse_grad", "03", "mse_grad(inp, targ): store d loss / d inp in inp.g, shaped like inp (N, 1)",
              "Differentiate (inp_i - y_i)^2 / N with respect to inp_i. Compute it on the flattened "
              "predictions, so that (N, 1) never meets (N,), and give the result inp's shape at the end.",
              "course_utils.functions:mse_grad", _mse_grad_cases))


def _relu_grad_cases() -> list[Case]:
    cases = []
    for label, inp in (("mixed signs", torch.tensor([[-1.0, 2.0], [0.5, -3.0]])),
                       ("all negative", torch.tensor([[-1.0, -0.5, -2.0]])),
                       ("zeros count as not positive", torch.tensor([[0.0, 1.0], [0.0, -1.0]]))):
        out = inp.clamp_min(0.0)
        out.g = torch.arange(1.0, inp.numel() + 1).reshape(inp.shape)
        everywhere = "the gradient passed everywhere: mask it where inp is not positive"
        mask_only = "that is the mask alone; multiply it by out.g, the gradient arriving from the output"
        cases.append(Case(label, (inp, out), ((inp > 0).float() * out.g,),
                          named("inp", traps={"inp": ((out.g, everywhere), ((inp > 0).float(), mask_only))}),
                          fills_g("inp", None)))
    return cases


_add(Exercise("relu_grad", "03", "relu_grad(inp, out): repair the version that forgets ReLU's flat half",
              "ReLU's slope is 0 where its input is negative or zero and 1 where it is positive. The chain rule "
              "multiplies out.g by that slope, entry by entry.",
              "course_utils.functions:relu_grad", _relu_grad_cases, kind="fix"))


def _lin_grad_cases() -> list[Case]:
    cases = []
    for label, inp, w, b in _batches(LAYER_SIZES, seed=40):
        out = inp @ w + b
        out.g = torch.randn(out.shape, generator=_gen(inp.numel()))
        expected = _autograd(_lin_times, (inp, w, b), out.g)
        cases.append(Case(label, (inp, out, w, b), expected, named("inp", "w", "b"),
                          fills_g("inp", None, "w", "b")))
    return cases


_add(Exercise("lin_grad", "03", "lin_grad(inp, out, w, b): store the gradients of inp @ w + b in inp.g, w.g, b.g",
              "Every gradient has the shape of its tensor: inp.g is (N, n_in), w.g is (n_in, n_out), b.g is "
              "(n_out,). out.g is (N, n_out); find the product of it with w or inp (one of them transposed) "
              "that gives each shape. Each bias entry is added to every row.",
              "course_utils.functions:lin_grad", _lin_grad_cases))


def _two_layer_loss(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """The two-layer net's loss, written with plain torch for autograd to differentiate."""
    return _mse_of((x @ w1 + b1).clamp_min(0.0) @ w2 + b2, y)


def _forward_and_backward_cases() -> list[Case]:
    cases = []
    for label, (n, n_in, nh) in (("200 rows, 100 -> 50 -> 1", (200, 100, 50)), ("a batch of 1", (1, 4, 3)),
                                 ("hidden size 1", (6, 3, 1))):
        g = _gen(50 + n)
        x, y = torch.randn(n, n_in, generator=g), torch.randn(n, generator=g)
        w1, b1 = torch.randn(n_in, nh, generator=g), torch.randn(nh, generator=g)
        w2, b2 = torch.randn(nh, 1, generator=g), torch.randn(1, generator=g)
        grads = _autograd(_two_layer_loss, (w1, b1, w2, b2), x, y)
        loss = _two_layer_loss(w1, b1, w2, b2, x, y)
        cases.append(Case(label, (x, y, w1, b1, w2, b2), (loss, *grads), named("loss", "w1", "b1", "w2", "b2"),
                          fills_g(None, None, "w1", "b1", "w2", "b2", returns=True)))
    return cases


_add(Exercise("forward_and_backward", "03",
              "forward_and_backward(inp, targ, w1, b1, w2, b2): the forward pass, every backward step, the loss",
              "Keep l1, l2 and out from the forward pass. The backward steps run in the reverse order of the "
              "forward ones, starting with mse_grad, because each reads the .g the step after it stored.",
              "course_utils.functions:forward_and_backward", _forward_and_backward_cases))


# --- notebook 04: refactoring into layer classes -----------------------------------------------------------

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


def a_class(answer: Any) -> None:
    """Reject an answer that is not a class, for the exercises that ask for one."""
    if not isinstance(answer, type):
        raise Rejected(f"expected a class, got {type(answer).__name__}: hand in the class itself, as in Relu")


def methods_source(cls: Any, args: tuple[Any, ...]) -> str:
    """The code of a layer class's ``forward`` and ``bwd`` (a class's own source is out of reach in a notebook)."""
    a_class(cls)
    for method in ("forward", "bwd"):
        if not callable(getattr(cls, method, None)):
            raise Rejected(f"the class has no {method} method; subclass LayerFunction and write forward and bwd")
    return source_of(cls.forward, args) + source_of(cls.bwd, args)


def _code_tokens(source: str) -> list[str]:
    """The names and operators of ``source``, in order (no comments or strings)."""
    return [t.string for t in tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline)
            if t.type in (tokenize.NAME, tokenize.OP)]


def _bare_calls(source: str) -> set[str]:
    """The names called bare in ``source``, as in ``relu(x)``; ``torch.relu(x)`` calls an attribute instead."""
    code = _code_tokens(source)
    return {name for before, name, after in zip(["", *code], code, [*code[1:], ""])
            if after == "(" and before not in (".", "def")}


def calls_none_of(*names: str) -> Compare:
    """A source rule: the code must not call any of ``names`` bare (a method or ``torch.`` function is fine)."""
    def rule(source: str, _: Any) -> str | None:
        found = sorted(_bare_calls(source) & set(names))
        return f"the code calls {', '.join(found)}; write the formula itself here" if found else None
    return source_rule(rule)


def _formulas_case() -> Case:
    return Case("forward and bwd hold the formulas, not notebook 3's functions", compare=calls_none_of(*HELPERS),
                run=methods_source)


def _relu_layer_cases() -> list[Case]:
    cases = [_formulas_case()]
    for label, inp in (("mixed signs", torch.tensor([[-1.0, 2.0], [0.5, -3.0]])),
                       ("zeros and negatives", torch.tensor([[0.0, -1.0, 4.0]]))):
        out_g = torch.arange(1.0, inp.numel() + 1).reshape(inp.shape)
        cases.append(Case(label, (inp, out_g), (inp.clamp_min(0.0), (inp > 0).float() * out_g),
                          named("output", "inp.g"), layer_pass((), ("inp",), ("inp",))))
    return cases


_add(Exercise("relu_layer", "04", "Relu(LayerFunction): forward and bwd of ReLU, written as formulas",
              "forward gets inp and returns the clamped tensor. bwd gets the output (whose .g is filled) and "
              "the input, and stores in inp.g the incoming gradient where inp was positive, 0 elsewhere.",
              "course_utils.layers:Relu", _relu_layer_cases))


def _bwd_reads_its_argument(cls: Any, args: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Call the layer, then ``bwd`` with another output tensor: the gradients must come from that one's ``.g``."""
    a_class(cls)
    w, b, inp, out_g = (a.clone() for a in args)
    layer = cls(w, b)
    layer(inp)
    other = (inp @ w + b).detach()
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
    for label, inp, w, b in _batches(LAYER_SIZES, seed=60):
        out_g = torch.randn(inp.shape[0], w.shape[1], generator=_gen(inp.numel()))
        grads = _autograd(_lin_times, (inp, w, b), out_g)
        cases.append(Case(label, (w, b, inp, out_g), (inp @ w + b, *grads), named("output", "inp.g", "w.g", "b.g"),
                          layer_pass(("w", "b"), ("inp",), ("inp", "w", "b"))))
    w, b, inp, out_g = cases[1].args
    cases.append(Case("bwd reads the out it is given", (w, b, inp, out_g), cases[1].expected[1:],
                      _from_argument, _bwd_reads_its_argument))
    return cases


_add(Exercise("lin_layer", "04", "Lin(LayerFunction): forward and bwd of a linear layer, written as formulas",
              "__init__ keeps w and b. forward is one line of matrix product plus bias. bwd fills three .g: "
              "each has the shape of its tensor, and all three are built from out.g, the argument.",
              "course_utils.layers:Lin", _lin_layer_cases))


def _mse_layer_cases() -> list[Case]:
    cases = [_formulas_case()]
    for label, n in (("200 predictions", 200), ("a batch of 1", 1)):
        g = _gen(70 + n)
        inp, targ = torch.randn(n, 1, generator=g), torch.randn(n, generator=g)
        loss = _mse_of(inp, targ)
        (grad,) = _autograd(_mse_of, (inp,), targ)
        cases.append(Case(f"{label}: inp ({n}, 1), targets ({n},)", (inp, targ), (loss, grad),
                          named("loss", "inp.g", traps={"loss": (((inp - targ).pow(2).mean(), BROADCAST_HINT),)}),
                          layer_pass((), ("inp", "targ"), ("inp",), upstream=False)))
    return cases


_add(Exercise("mse_layer", "04", "Mse(LayerFunction): the loss as a layer, forward and bwd written as formulas",
              "forward is the mean of the squared differences, taken on the flattened predictions; bwd is "
              "the same formula as mse_grad, with the result shaped like inp.",
              "course_utils.layers:Mse", _mse_layer_cases))


def _kept_shapes() -> tuple[tuple[int, ...], ...]:
    """The shapes of the inputs the three layers of the two-layer model keep after a forward pass."""
    from .layers import Model  # imported when first needed: the layers import nothing from here
    from .training import toy_problem
    x, y, *params = toy_problem()
    model = Model(*params)
    model(x, y)
    return tuple(tuple(layer.args[0].shape) for layer in model.layers)


_add(Exercise("kept_shapes", "04", "predict the shapes of the inputs that the model's three layers keep",
              "Follow a batch of 200 rows of 100 features through Lin(100 -> 50), Relu, Lin(50 -> 1): each "
              "layer keeps what it was given, not what it returned.",
              _kept_shapes, lambda: [Case("the three layers' inputs", (), _kept_shapes(), each(same_shape), as_given)],
              kind="predict"))


# --- notebook 05: autograd.Function and nn.Module -----------------------------------------------------------

RECORDED = ("a * 2, where a requires grad", "b * 2, where b does not", "a * 2 inside torch.no_grad()")


def _recorded() -> tuple[bool, ...]:
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


_add(Exercise("autograd_records", "05", "predict which of three results autograd records (has a grad_fn)",
              "Autograd records an operation when one of its inputs requires grad, and never inside a "
              "torch.no_grad() block.",
              _recorded, lambda: [Case(label, (), want, same_bool, _nth_prediction(i))
                                  for i, (label, want) in enumerate(zip(RECORDED, _recorded()))],
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
    g = _gen(80)
    for label, inp in (("mixed signs", torch.tensor([-1.0, 0.5, 2.0, -3.0])),
                       ("zeros count as not positive", torch.tensor([[0.0, 1.0], [-1.0, 0.0]])),
                       ("float64, 20 x 5", torch.randn(20, 5, dtype=torch.float64, generator=g))):
        upstream = torch.randn(inp.shape, dtype=inp.dtype, generator=g)
        mask_only = (((inp > 0).to(inp.dtype), "that is the mask alone; multiply it by grad_output"),)
        cases.append(Case(label, (inp, upstream), (inp.clamp_min(0.0), upstream * (inp > 0)),
                          named("forward output", "input gradient", traps={"input gradient": mask_only}),
                          _through_function))
    return cases


_add(Exercise("my_relu", "05", "MyRelu.backward(ctx, grad_output): return the gradient at ReLU's input",
              "ctx.saved_tensors gives back what forward saved. The answer is grad_output where the saved "
              "input was positive and 0 elsewhere, with grad_output's shape and dtype.",
              "course_utils.pytorch:MyRelu", _my_relu_cases))


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


_add(Exercise("fastai_module", "05", "Module: an nn.Module whose subclasses need not call super().__init__()",
              "Python runs __new__ before __init__: create the object there with super().__new__(cls), run "
              "nn.Module.__init__ on it, and return it. Then the subclass's __init__ finds the registries ready.",
              "course_utils.pytorch:Module", _module_cases))


# --- notebook 06: training ---------------------------------------------------------------------------------


def _steps_in_place(solution: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Call ``sgd_step(params, lr)`` on copies that carry their ``.g``; return the parameters afterwards."""
    params, lr = [_copy(p) for p in args[0]], args[1]
    solution(params, lr)
    if all(torch.equal(p, before) for p, before in zip(params, args[0])):
        raise Rejected("the parameters did not change: update each tensor in place (-= or sub_); a new tensor "
                       "made inside the function is lost when it returns")
    return tuple(params)


def _sgd_step_cases() -> list[Case]:
    cases = []
    for label, shapes, lr in (("a weight and a bias, lr 0.1", ((3, 2), (2,)), 0.1),
                              ("four parameters, lr 0.5", ((4, 3), (3,), (3, 1), (1,)), 0.5)):
        g = _gen(len(shapes))
        params = [torch.randn(s, generator=g) for s in shapes]
        for p in params:
            p.g = torch.randn(p.shape, generator=g)
        names = tuple(f"parameter {i}" for i in range(len(params)))
        cases.append(Case(label, (params, lr), tuple(p - lr * p.g for p in params), named(*names), _steps_in_place))
    return cases


_add(Exercise("sgd_step", "06", "sgd_step(params, lr): move every parameter a step lr against its .g, in place",
              "Loop over the parameters and subtract lr times the gradient from each one in place (-= or "
              "sub_), so that the model, which holds the same tensors, sees the change.",
              "course_utils.training:sgd_step", _sgd_step_cases))

TRAIN_SIZES = ((("16 rows, 3 -> 4 -> 1, 3 steps"), (16, 3, 4, 3)), (("5 rows, 2 -> 3 -> 1, 4 steps"), (5, 2, 3, 4)))


def _train_setup(sizes: tuple[int, int, int, int], seed: int) -> tuple[tuple[Tensor, ...], Tensor, Tensor, int]:
    """Seeded small weights and data for a training case: (w1, b1, w2, b2), x, y and the number of steps."""
    from .training import init_params  # imported when first needed
    n, n_in, nh, steps = sizes
    g = _gen(seed)
    return init_params(n_in, nh, seed), torch.randn(n, n_in, generator=g), torch.randn(n, generator=g), steps


def _losses(got: Any) -> Tensor:
    """The losses a training function returned, as one tensor, whatever sequence they came in."""
    if got is None:
        raise Rejected("returned nothing; return the list of losses, one per step")
    if any(isinstance(v, Tensor) for v in got):
        raise Rejected("the losses are tensors; keep each as a Python number with loss.item() (a kept loss "
                       "tensor can hold on to everything needed to differentiate it)")
    return torch.tensor([float(v) for v in got])


def _builds(solution: Callable[..., Any], args: tuple[Any, ...]) -> Tensor:
    """A case's run for a model builder: build the model from the case's weights, train it with the reference loop."""
    params, x, y, lr, steps = args
    model = solution(*(p.clone() for p in params))
    if getattr(solution, "__module__", None) != __name__:  # the student's builder, not the package's reference
        parts = [*getattr(model, "layers", ()), getattr(model, "loss", None)]
        kept = sorted({type(p).__name__ for p in parts if type(p).__module__.startswith("course_utils")})
        if kept:  # the package's layers would pass for the student's: nothing of theirs is checked yet
            raise NotAnswered(f"{', '.join(kept)} still come from course_utils.layers: paste your own classes "
                              f"into the cell above, run it, then run this again")
    with _ReadTooEarly("a layer's bwd read out.g before the layer after it stored it; each bwd fills the .g of its "
                       "inputs, from the out.g it is given"):
        return torch.tensor(_train_model(model, x.clone(), y.clone(), lr, steps))


def _trains(build: str) -> Callable[[Any, tuple[Any, ...]], Tensor]:
    """A case's run for a training loop: build a fresh model from the case's weights and train it."""
    def run(solution: Callable[..., Any], args: tuple[Any, ...]) -> Tensor:
        from .layers import Model
        from .pytorch import TwoLayerNet
        params, x, y, lr, steps = args
        fresh = [p.clone() for p in params]
        model = Model(*fresh) if build == "Model" else TwoLayerNet.from_weights(*fresh)
        with _ReadTooEarly("call model.backward() after the forward pass and before sgd_step, which reads every .g"):
            return _losses(solution(model, x.clone(), y.clone(), lr, steps))
    return run


def _train_model(model: Any, x: Tensor, y: Tensor, lr: float, steps: int) -> list[float]:
    """Reference: forward, backward, step, with the hand-written model's ``.g``."""
    from .training import sgd_step
    losses = []
    for _ in range(steps):
        loss = model(x, y)
        model.backward()
        sgd_step(model.parameters(), lr)
        losses.append(loss.item())
    return losses


def _train_autograd(net: nn.Module, x: Tensor, y: Tensor, lr: float, steps: int, zero: bool = True) -> list[float]:
    """Reference: autograd fills ``.grad``; we step by hand and zero the gradients (unless ``zero=False``)."""
    losses = []
    for _ in range(steps):
        loss = net(x, y)
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= lr * p.grad
                if zero:
                    p.grad.zero_()
        losses.append(loss.item())
    return losses


def _train_optim(net: nn.Module, x: Tensor, y: Tensor, lr: float, steps: int) -> list[float]:
    """Reference: the same loop with ``torch.optim.SGD`` doing the step and the zeroing."""
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = net(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _optimizer_before_loop(source: str, _: Any) -> str | None:
    """A source rule: the optimizer is built once, before the training loop starts."""
    code = _code_tokens(source)
    if "SGD" not in code:
        return "the code does not use torch.optim.SGD"
    loops = [i for i, t in enumerate(code) if t in ("for", "while")]
    if loops and loops[0] < code.index("SGD"):
        return "the optimizer is built inside the loop; build it once, before the loop, and reuse it every step"
    return None


def _train_cases(run: Callable[[Any, tuple[Any, ...]], Tensor], rules: tuple[Case, ...] = ()) -> list[Case]:
    """Train from the same start as the reference; the losses must match step by step."""
    from .pytorch import TwoLayerNet
    cases = list(rules)
    for i, (label, sizes) in enumerate(TRAIN_SIZES):
        params, x, y, steps = _train_setup(sizes, seed=90 + i)
        lr = 0.1
        expected = torch.tensor(_train_model(_fresh_model(*params), x, y, lr, steps))
        unzeroed = torch.tensor(_train_autograd(TwoLayerNet.from_weights(*params), x, y, lr, steps, zero=False))
        cases.append(Case(label, (params, x, y, lr, steps), expected, run=run,
                          traps=((unzeroed, "these are the losses of a loop that never zeroes the gradients: "
                                            "each backward() adds to .grad"),)))
    return cases


def _fresh_model(*params: Tensor) -> Any:
    """The package's hand-written model on copies of ``params``."""
    from .layers import Model
    return Model(*(p.clone() for p in params))


_add(Exercise("own_model", "06", "two_layer(w1, b1, w2, b2): notebook 4's Model, built from your layers, trains",
              "Paste notebook 4's LayerFunction with your Relu, Lin and Mse, unchanged. A model that trains "
              "differently has a layer whose forward or bwd differs from notebook 4's check: run that check again.",
              _fresh_model, lambda: _train_cases(_builds)))


_add(Exercise("train_model", "06", "train_model(model, x, y, lr, steps): the training loop of the hand-written Model",
              "Each step: the forward pass gives the loss, backward() fills every .g, sgd_step moves the "
              "parameters. Keep each loss as a number (.item()) in a list and return the list.",
              _train_model, lambda: _train_cases(_trains("Model"))))

_add(Exercise("train_autograd", "06", "train_autograd(net, x, y, lr, steps): autograd's gradients, stepped by hand",
              "Calling backward on the loss adds into each parameter's .grad. Step inside torch.no_grad() (the update "
              "itself must not be recorded), then set every .grad back to zero for the next step.",
              _train_autograd, lambda: _train_cases(_trains("TwoLayerNet"))))

_add(Exercise("train_optim", "06", "train_optim(net, x, y, lr, steps): the same loop with torch.optim.SGD",
              "Build the optimizer once, before the loop, from net.parameters(). Each step: zero_grad(), "
              "forward, backward(), step().",
              _train_optim, lambda: _train_cases(_trains("TwoLayerNet"), (
                  Case("builds one torch.optim.SGD before the loop", compare=source_rule(_optimizer_before_loop),
                       run=source_of),))))


# --- notebook 07: the questionnaire's own exercises ---------------------------------------------------------


def _relu_backward(inp: Tensor, out_grad: Tensor) -> Tensor:
    """Reference: the gradient passes where the input was positive."""
    return out_grad * (inp > 0)


def _relu_backward_cases() -> list[Case]:
    inp = torch.tensor([[-1.0, 2.0], [0.5, -3.0]])
    grad = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    mask_only = "that is the mask (inp > 0) alone; the gradient is the mask times out_grad"
    return [Case("mixed signs", (inp, grad), torch.tensor([[0.0, 20.0], [30.0, 0.0]]),
                 traps=(((inp > 0).float(), mask_only),)),
            Case("all negative", (-inp.abs(), grad), torch.zeros(2, 2)),
            Case("batch of 1", (torch.tensor([[1.0, -1.0, 2.0]]), torch.tensor([[0.5, 1.0, -2.0]])),
                 torch.tensor([[0.5, 0.0, -2.0]]), traps=((torch.tensor([[1.0, 0.0, 1.0]]), mask_only),))]


_add(Exercise("relu_backward", "07", "relu_backward(inp, out_grad): gradient of the loss at ReLU's input",
              "Chain rule: the gradient at the input is the gradient at the output times ReLU's slope, "
              "which is 1 where the input was positive and 0 elsewhere.",
              _relu_backward, _relu_backward_cases))


def _mse_lin_grads(l2: Tensor, w2: Tensor, b2: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Reference: the gradient at the output first, then through the linear layer."""
    out = l2 @ w2 + b2
    out_grad = 2 * (out[:, 0] - y)[:, None] / out.shape[0]
    return out_grad @ w2.t(), l2.t() @ out_grad, out_grad.sum(0)


def _mse_lin_grads_cases() -> list[Case]:
    cases = []
    for label, (n, nh), seed in (("200 rows, hidden 50", (200, 50), 6), ("batch of 1", (1, 4), 7),
                                 ("hidden size 1", (5, 1), 8)):
        g = _gen(seed)
        l2, w2, b2 = torch.randn(n, nh, generator=g), torch.randn(nh, 1, generator=g), torch.randn(1, generator=g)
        y = torch.randn(n, generator=g)
        leaves = [t.clone().requires_grad_() for t in (l2, w2, b2)]
        ((leaves[0] @ leaves[1] + leaves[2]).reshape(n) - y).pow(2).mean().backward()
        cases.append(Case(label, (l2, w2, b2, y), tuple(t.grad for t in leaves), each(close)))
    return cases


_add(Exercise("mse_lin_grads", "07", "mse_lin_grads(l2, w2, b2, y): gradients of mse(lin(l2, w2, b2), y)",
              "Start at the loss: its gradient with respect to the output has the output's shape (N, 1). "
              "Then each gradient must have the shape of its own tensor.",
              _mse_lin_grads, _mse_lin_grads_cases))


class _Linear(nn.Module):
    """Reference: nn.Linear from scratch, weight in PyTorch's (n_out, n_in) layout."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) * math.sqrt(2 / n_in))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: Tensor) -> Tensor:
        """x @ weight.T + bias."""
        return x @ self.weight.t() + self.bias


def _works_as_linear(layer: Any, size: tuple[int, int]) -> str | None:
    """A custom check: a Module with registered (n_out, n_in) weight and (n_out,) bias computing x @ W.T + b."""
    n_in, n_out = size
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
    problem = close(out, (x @ weight.t() + bias).detach())
    if problem:
        return f"on a batch (3, {n_in}): {problem}"
    out.sum().backward()
    if weight.grad is None:
        return "no gradient reached the weight: is it an nn.Parameter used in forward?"
    return None


_add(Exercise("linear_from_scratch", "07", "Linear(n_in, n_out): nn.Linear written from scratch",
              "nn.Module only finds parameters after its own __init__ has run, and PyTorch stores a weight "
              "as (n_out, n_in), so forward needs its transpose.",
              _Linear, lambda: [Case(f"Linear({n_in}, {n_out})", (n_in, n_out), (n_in, n_out), _works_as_linear)
                                for n_in, n_out in ((10, 2), (1, 5), (7, 1))]))


# --- checking ----------------------------------------------------------------------------------------------

_failed_tries: Counter[str] = Counter()   # failed checks per exercise in this Python session


@dataclass
class ExerciseResult:
    """Feedback lines for each case; truthy only when every case passed."""

    name: str
    answer: Any = None
    passed: int = 0
    total: int = 0
    feedback: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.total > 0 and self.passed == self.total

    def __repr__(self) -> str:
        verdict = "all correct" if self else "not yet"
        return f"{self.name}: {self.passed} of {self.total} checks passed ({verdict})"

    def use(self) -> Any:
        """The student's answer when every case passed, otherwise the reference (and say so either way)."""
        if self:
            print(f"{self!r}: the cells below use yours")
            return self.answer
        print(f"using the reference {self.name} from course_utils so the rest of the notebook runs")
        return EXERCISES[self.name].solution()


def _problem(case: Case, answer: Any) -> tuple[str | None, bool]:
    """Run one case; whatever goes wrong inside the student's code becomes a sentence. The flag says
    the answer is not there yet (a stub that raises NotImplementedError, or an empty prediction)."""
    try:
        return case.problem(answer), False
    except NotImplementedError:
        return "not written yet (replace the raise NotImplementedError with your code)", True
    except NotAnswered as err:
        return str(err), True
    except Rejected as err:
        return str(err), False
    except SystemExit:  # a student's exit() must not end the notebook; Ctrl-C (KeyboardInterrupt) still does
        return "called exit(): return a value instead (exit() would stop the whole notebook)", False
    except Exception as err:  # student code may fail in any way; report it, do not crash the notebook
        return f"raised {type(err).__name__}: {err}", False


def _is_rule(case: Case) -> bool:
    """A case about how the code is written rather than what it computes."""
    return getattr(case.compare, "reads_source", False)


def check_exercise(name: str, answer: Any, verbose: bool = True) -> ExerciseResult:
    """Run ``answer`` on the cases of exercise ``name``; print one line per case (and the hint from the
    second failed try on) and return the result.

    While the answer is not written yet (every case that runs it meets ``NotImplementedError`` or an empty
    prediction), rules about the code are not reported and the run does not count as a failed try; nor does
    a run of a fix exercise's broken code as handed out."""
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; the exercises are: {', '.join(EXERCISES)}")
    exercise = EXERCISES[name]
    if exercise.kind != "predict" and not callable(answer):
        raise TypeError(f"check_exercise({name!r}, ...) needs your function or class, got {type(answer).__name__}")
    outcomes = [(case, *_problem(case, answer)) for case in exercise.cases()]
    runs = [unanswered for case, _, unanswered in outcomes if not _is_rule(case)]
    unwritten = (bool(runs) and all(runs)) or exercise.untouched(answer)
    result = ExerciseResult(name, answer)
    for case, problem, _ in outcomes:
        if unwritten and _is_rule(case):
            continue
        result.total += 1
        result.passed += problem is None
        result.feedback.append(f"  ok    {case.label}" if problem is None else f"  MISS  {case.label}: {problem}")
    if not result and not unwritten:
        _failed_tries[name] += 1
        if _failed_tries[name] >= 2:
            result.feedback.append(f"  hint: {exercise.hint}")
    if verbose:
        print("\n".join(result.feedback))
    return result
