"""How an answer is judged: comparisons of a result with the expected one, and rules about how the code is written.

A comparison takes ``(got, expected)`` and returns ``None`` when the answer is right, else a sentence saying what
differs. A source rule is a comparison of the function's code (``got`` is its source) marked with ``source_rule``,
so that the checker can leave it out while the function is not written yet.
"""

from __future__ import annotations

import ast
import io
import math
import textwrap
import tokenize
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

Compare = Callable[[Any, Any], "str | None"]   # (answer, expected) -> None when right, else what differs

BROADCAST_HINT = ("this is the (N, 1) minus (N,) broadcast: the two shapes stretch to (N, N) and every "
                  "prediction meets every target; the size-1 axis has to go before the subtraction")
NO_BIAS = "the bias is missing: add b to the weighted sum"


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


# --- comparisons of results ------------------------------------------------------------------------------

RTOL, ATOL = 1e-4, 1e-5   # per entry relative, and absolute at the scale of the expected tensor (see within_rounding)


def within_rounding(got: Tensor, expected: Tensor) -> bool:
    """Equal up to float32 rounding: 1e-4 relative per entry, plus 1e-5 of the largest expected entry (capped
    at 1e-5), so that a gradient whose entries are all about 1e-6 is not passed by any tensor of zeros."""
    scale = expected.double().abs().max().item() if expected.numel() else 1.0
    return torch.allclose(got.double(), expected.double(), rtol=RTOL, atol=ATOL * min(1.0, max(scale, 1e-3)))


def largest_difference(got: Tensor, expected: Tensor) -> float:
    """The largest absolute difference between two tensors of one shape (0.0 for empty ones)."""
    return (got.double() - expected.double()).abs().max().item() if got.numel() else 0.0


def agreement(mine: Tensor, theirs: Tensor) -> str:
    """How two tensors compare, in words: exactly equal, equal up to float32 rounding, or how far apart they are."""
    if not isinstance(mine, Tensor) or not isinstance(theirs, Tensor) or mine.shape != theirs.shape:
        return f"not comparable: {fmt(mine)} against {fmt(theirs)}"
    diff = largest_difference(mine, theirs)
    if diff == 0:
        return "exactly equal"
    if within_rounding(mine, theirs):
        return f"equal up to float32 rounding (largest difference {diff:.1e})"
    return f"DIFFERENT (largest difference {diff:.1e})"


def _constant_factor(got: Tensor, expected: Tensor) -> float | None:
    """The number c, far from 1, for which ``got`` is ``c * expected`` throughout; None when there is none
    (or when a single entry makes every answer some multiple of the expected one)."""
    e = expected.double()
    square = (e * e).sum().item()
    if square == 0 or (e != 0).sum().item() < 2:
        return None
    c = (got.double() * e).sum().item() / square
    return c if abs(c - 1) > 1e-3 and c != 0 and within_rounding(got, c * e) else None


def _reduction(got: Any) -> str | None:
    """Explain a (values, indices) pair from torch.max / torch.min with a dim: a reduction, not an elementwise op."""
    kind = type(got).__name__
    if type(got).__module__ != "torch.return_types" or kind not in ("max", "min"):
        return None
    other = "maximum" if kind == "max" else "minimum"
    return (f"returned the pair (values, indices) of torch.{kind} called with a dim: torch.{kind}(x, 0) reduces "
            f"along dimension 0 (the {kind} of each column and where it sits), it does not compare each entry "
            f"with 0; the entry-by-entry version is torch.{other}(x, other) with a tensor, or x.clamp")


def _values_differ(got: Tensor, expected: Tensor) -> str:
    """Say how two tensors of one shape differ: a sign, a constant factor, or where they differ the most."""
    if expected.dim() == 0:
        return f"returned {fmt(got)}; expected {fmt(expected)}"
    factor = _constant_factor(got, expected)
    shape_right = f"the shape {tuple(got.shape)} is right but the values differ"
    flipped = expected.abs().max() > 0 and within_rounding(-got.double(), expected)
    if flipped or (factor is not None and abs(factor + 1) < 1e-3):
        return f"{shape_right}: every entry has the wrong sign (a sign error)"
    if factor is not None:
        return f"{shape_right}: every entry is {factor:.4g} times the expected one (a constant factor is off)"
    diff = (got.double() - expected.double()).abs()
    where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    return (f"{shape_right}: the largest difference is at {list(where)}, {_num(got[where].item())} instead of "
            f"{_num(expected[where].item())}")


def close(got: Any, expected: Any) -> str | None:
    """Tensors: same shape, compatible dtype, values equal up to float32 rounding (see ``within_rounding``);
    a plain number is fine where one is expected."""
    reduction = _reduction(got)
    if reduction:
        return reduction
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
        swapped = got.dim() == 2 and expected.dim() == 2 and got.shape == expected.t().shape
        said = " (its transpose: rows and columns swapped)" if swapped else ""
        return f"returned shape {tuple(got.shape)}; expected shape {tuple(expected.shape)}{said}"
    if not within_rounding(got, expected):
        return _values_differ(got, expected)
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


def each(compare: Compare, names: tuple[str, ...] = ()) -> Compare:
    """Judge a tuple of answers item by item with ``compare``; feedback names each item by ``names`` if given."""
    def compare_each(got: Any, expected: tuple[Any, ...]) -> str | None:
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            what = f" ({', '.join(names)})" if names else ""
            return f"returned {fmt(got)}; expected a tuple of {len(expected)} values{what}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e)
            if problem:
                return f"{names[i] if i < len(names) else f'item {i}'}: {problem}"
        return None
    return compare_each


def same_values(got: Any, wrong: Tensor) -> bool:
    """Does an answer equal a known wrong answer, whatever its dtype?"""
    return isinstance(got, Tensor) and got.shape == wrong.shape and within_rounding(got, wrong)


def named(*names: str, traps: dict[str, tuple[tuple[Tensor, str], ...]] | None = None) -> Compare:
    """Judge a tuple of tensors one by one, naming the first one that is wrong (and what a known wrong value means)."""
    def compare(got: tuple[Tensor, ...], expected: tuple[Tensor, ...]) -> str | None:
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            return f"returned {fmt(got)}; expected a tuple of {len(expected)} values ({', '.join(names)})"
        for name, g, e in zip(names, got, expected):
            problem = close(g, e)
            if problem:
                meaning = next((m for wrong, m in (traps or {}).get(name, ()) if same_values(g, wrong)), None)
                return f"{name}: {problem}" + (f": {meaning}" if meaning else "")
        return None
    return compare


# --- rules about the code --------------------------------------------------------------------------------

def source_rule(rule: Compare) -> Compare:
    """Mark a comparison as a rule about the code: the checker skips it while the function is not written."""
    rule.reads_source = True  # type: ignore[attr-defined]
    return rule


def mentions(*words: str) -> Compare:
    """A source rule: the code must use one of ``words`` (a name or an operator)."""
    def rule(source: str, _: Any) -> str | None:
        return None if set(tokens_of(source)) & set(words) else f"the code does not use {' or '.join(words)}"
    return source_rule(rule)


def avoids(*words: str) -> Compare:
    """A source rule: the code must not use any of ``words`` (names or operators)."""
    def rule(source: str, _: Any) -> str | None:
        found = sorted(set(tokens_of(source)) & set(words))
        return f"the code uses {', '.join(found)}; this exercise is about doing it without" if found else None
    return source_rule(rule)


def calls(*names: str) -> Compare:
    """A source rule: the code must call a function or method named one of ``names`` (a mere mention is not enough)."""
    def rule(source: str, _: Any) -> str | None:
        called = {name for name, _ in _calls(source)}
        return None if called & set(names) else f"the code never calls {' or '.join(names)}(...)"
    return source_rule(rule)


def calls_none_of(*names: str) -> Compare:
    """A source rule: the code must not call any of ``names`` bare (a method or ``torch.`` function is fine)."""
    def rule(source: str, _: Any) -> str | None:
        code = tokens_of(source)
        bare = {name for before, name, after in zip(["", *code], code, [*code[1:], ""])
                if after == "(" and before not in (".", "def")}
        found = sorted(bare & set(names))
        return f"the code calls {', '.join(found)}; write the formula itself here" if found else None
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
        tokens = tokens_of(source)
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


def tokens_of(source: str) -> list[str]:
    """Names and operators in ``source`` in order, leaving out comments and strings (docstrings too)."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline):
            if token.type in (tokenize.NAME, tokenize.OP):
                found.append(token.string)
    except (tokenize.TokenError, IndentationError):
        pass  # a lambda cut out of a longer expression can end mid-bracket; the tokens so far are enough
    return found


# --- known wrong answers that are not tensors ----------------------------------------------------------------

def known_mistakes(compare: Compare, mistakes: tuple[tuple[Any, str], ...]) -> Compare:
    """``compare``, followed by what the answer means when it equals a known wrong one (a bool, number or tensor)."""
    def judged(got: Any, expected: Any) -> str | None:
        problem = compare(got, expected)
        meaning = next((m for wrong, m in mistakes if _same_answer(got, wrong)), None) if problem else None
        return f"{problem}: {meaning}" if meaning else problem
    return judged


def _same_answer(got: Any, wrong: Any) -> bool:
    """Does ``got`` equal the wrong answer ``wrong`` (a tensor, a list of numbers, a bool or a number)? A
    one-element tensor counts as the number it holds."""
    if isinstance(wrong, Tensor):
        return same_values(got, wrong)
    if isinstance(wrong, list):  # lists of numbers, such as rows of plain floats
        try:
            return same_values(torch.tensor(got, dtype=torch.float64), torch.tensor(wrong, dtype=torch.float64))
        except (TypeError, ValueError, RuntimeError):
            return False
    if isinstance(got, Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(wrong, bool) or isinstance(got, bool):
        return got is wrong
    return isinstance(got, int | float) and math.isclose(got, wrong, rel_tol=1e-4, abs_tol=1e-5)
