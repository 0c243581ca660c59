"""Exercises as data: each one is a record with its notebook, hint, reference answer and cases.

``check_exercise(name, answer)`` runs the student's answer on the exercise's cases, prints one line per
case and returns an ``ExerciseResult`` that is truthy only when every case passes. From the second failed
try of an exercise on, it also prints the exercise's hint: a nudge towards the idea, never the answer.
``result.use()`` hands back the student's answer when it passed and the reference otherwise, so an unsolved
exercise never breaks the cells after it.

Each ``Case`` carries how its answer is obtained (``run``: call the function, read its source, or take a
predicted value as it is) and how it is judged (``compare``, see ``compare.py``), so the checking loop knows
nothing about any single exercise. To add an exercise, add one ``add(Exercise(...))`` next to its cases in
the module of its notebook (``nb00.py`` ... ``nb07.py``).
"""

from __future__ import annotations

import inspect
import sysconfig
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .compare import Compare, close, same_values, tokens_of


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
        raise Rejected(changed_in_place(_parameter_names(solution, len(args))[first], what))
    return result


def changed_in_place(name: str, what: str = "tensor") -> str:
    """What an answer that changed its input ``name`` (a ``what``) in place is told."""
    return (f"changed its input {name} in place, so the caller's {what} changes too (the cells below still need "
            "it); compute a new result and leave the input as it was")


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


def a_class(answer: Any) -> None:
    """Reject an answer that is not a class, for the exercises that ask for one."""
    if not isinstance(answer, type):
        raise Rejected(f"expected a class, got {type(answer).__name__}: hand in the class itself, as in Relu")


def copy_with_g(t: Tensor) -> Tensor:
    """A copy of a case's tensor that keeps the ``.g`` the case gave it (``clone`` drops Python attributes)."""
    c = t.clone()
    if getattr(t, "g", None) is not None:
        c.g = t.g.clone()
    return c


def nothing_in_g(names: list[str], tensors: list[Any]) -> str:
    """Feedback for gradients missing from ``.g``, naming ``.grad`` where that is where the student put them."""
    message = f"nothing was stored in {', '.join(n + '.g' for n in names)}"
    in_grad = [n for n, t in zip(names, tensors) if isinstance(t, Tensor) and t.is_leaf and t.grad is not None]
    if in_grad:
        message += (f"; {', '.join(n + '.grad' for n in in_grad)} {'was' if len(in_grad) == 1 else 'were'} set "
                    "instead: .grad is autograd's slot, the hand-written backward stores each gradient in .g")
    return message


class ReadTooEarly:
    """Turn "'Tensor' object has no attribute 'g'" into advice: a backward step read a .g nobody had stored yet."""

    def __init__(self, advice: str) -> None:
        self.advice = advice

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, err: Any, tb: Any) -> None:
        if kind is AttributeError and "attribute 'g'" in str(err):
            raise Rejected(f"a .g was read before anything stored it ({err}): {self.advice}") from err


# --- what cases are made of ------------------------------------------------------------------------------

def gen(seed: int) -> torch.Generator:
    """A generator seeded with ``seed``: every case's random tensors come from one, so cases never change."""
    return torch.Generator().manual_seed(seed)


LAYER_SIZES = (("batch of 4, 3 -> 2", (4, 3, 2)), ("batch of 1", (1, 5, 3)), ("one input feature", (3, 1, 4)))


def batches(sizes: tuple[tuple[str, tuple[int, int, int]], ...], seed: int) -> list[tuple[Any, ...]]:
    """Labelled random (x, w, b) triples for a layer of each (N, n_in, n_out) size."""
    out = []
    for i, (label, (n, n_in, n_out)) in enumerate(sizes):
        g = gen(seed + i)
        out.append((label, torch.randn(n, n_in, generator=g), torch.randn(n_in, n_out, generator=g),
                    torch.randn(n_out, generator=g)))
    return out


def autograd_grads(fn: Callable[..., Tensor], tensors: tuple[Tensor, ...], *fixed: Any) -> tuple[Tensor, ...]:
    """The gradients autograd finds for the scalar ``fn(*tensors, *fixed)``, one per tensor of ``tensors``."""
    leaves = [t.clone().requires_grad_() for t in tensors]
    fn(*leaves, *fixed).backward()
    return tuple(t.grad for t in leaves)


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
            if same_values(got, wrong):
                return f"{problem}: {meaning}"
        return problem


@dataclass(frozen=True)
class Exercise:
    """An exercise: where it is taught, what to write, a hint, the reference answer and its cases."""

    name: str
    notebook: str                                  # "00" .. "07": where the idea is taught
    description: str
    hint: str                                      # a nudge, never the answer
    reference: Callable[..., Any]                  # the package's function or class ("predict": gives the value)
    cases: Callable[[], list[Case]]
    kind: str = "function"                         # "function", "fix" (repair a given function) or "predict"
    given: str = ""                                # "fix": the broken code as handed out, to tell it from a try
    bug: str = ""                                  # "fix": what was wrong, said once the fix passes

    def untouched(self, answer: Any) -> bool:
        """Is ``answer`` a fix exercise's broken code as handed out, not yet repaired?"""
        if not self.given:
            return False
        try:
            code, broken = tokens_of(inspect.getsource(answer)), tokens_of(self.given)
        except (OSError, TypeError):
            return False
        return any(code[i:i + len(broken)] == broken for i in range(len(code) - len(broken) + 1))

    def solution(self) -> Any:
        """The reference answer as a student hands it in: a function, a class, or (for "predict") a value."""
        return self.reference() if self.kind == "predict" else self.reference


EXERCISES: dict[str, Exercise] = {}


def add(exercise: Exercise) -> None:
    """Register an exercise under its name."""
    EXERCISES[exercise.name] = exercise


# --- checking ----------------------------------------------------------------------------------------------

failed_tries: Counter[str] = Counter()   # failed checks per exercise in this Python session


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


PACKAGE = Path(__file__).resolve().parents[1]
NOT_THE_STUDENTS = (PACKAGE, *{Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "purelib", "platlib")})
GRAD_FOR_G = ("the line reads .grad, PyTorch's own gradient slot, which stays None until autograd's backward() "
              "fills it; the gradients of this course's backward pass are stored in .g")


def _student_line(err: BaseException) -> str | None:
    """The last line of the student's own code in the error's traceback (not the course's, not a library's)."""
    lines = [frame.line for frame in traceback.extract_tb(err.__traceback__) if frame.line
             and not any(Path(frame.filename).resolve().is_relative_to(place) for place in NOT_THE_STUDENTS)]
    return lines[-1].strip() if lines else None


def _raised(err: Exception) -> str:
    """An error inside the student's code as a sentence: what was raised, on which line, and a known cause."""
    line = _student_line(err)
    said = f"raised {type(err).__name__}: {err}" + (f" (in the line `{line}`)" if line else "")
    if isinstance(err, TypeError) and "NoneType" in str(err) and line and ".grad" in line:
        said += f": {GRAD_FOR_G}"
    return said


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
        return _raised(err), False


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
    if result and exercise.bug:
        result.feedback.append(f"  fixed: {exercise.bug}")
    if not result and not unwritten:
        failed_tries[name] += 1
        if failed_tries[name] >= 2:
            result.feedback.append(f"  hint: {exercise.hint}")
    if verbose:
        print("\n".join(result.feedback))
    return result
