"""check_exercise passes right solutions, fails wrong ones with specific feedback, never raises for student bugs."""

import pytest
import torch
from torch import nn

from course_utils.exercises import EXERCISES, check_exercise


class RightLinear(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight.t() + self.bias


class TransposedLinear(RightLinear):
    def __init__(self, n_in, n_out):
        nn.Module.__init__(self)
        self.weight = nn.Parameter(torch.randn(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


def _mse_lin_grads(l2, w2, b2, y):
    g = 2 * ((l2 @ w2 + b2)[:, 0] - y)[:, None] / l2.shape[0]
    return g @ w2.t(), l2.t() @ g, g.sum(0)


RIGHT = {
    "neuron": lambda x, w, b: x @ w + b,
    "relu": torch.relu,
    "dense": lambda x, w, b: x @ w + b,
    "dense_python": lambda x, w, b: [[sum(xi * w[k][j] for k, xi in enumerate(row)) + b[j] for j in range(len(b))]
                                     for row in x],
    "all_greater": lambda a, b: bool((a > b).all()),
    "to_python": lambda t: t.item(),
    "matmul_einsum": lambda a, b: torch.einsum("ik,kj->ij", a, b),
    "relu_backward": lambda inp, g: g * (inp > 0),
    "mse_lin_grads": _mse_lin_grads,
    "linear_from_scratch": RightLinear,
}

WRONG = {  # a plausible mistake for each exercise, and the words the feedback must contain
    "neuron": (lambda x, w, b: (x * w).sum(), "expected"),
    "relu": (lambda x: x.abs(), "relu(-2.0): returned 2; expected 0"),
    "dense": (lambda x, w, b: x @ w, "expected"),
    "dense_python": (lambda x, w, b: [[0.0] * len(b)], "shape"),
    "all_greater": (lambda a, b: bool((a >= b).all()), "one element equal: returned True; expected False"),
    "to_python": (lambda t: t, "try .item()"),
    "matmul_einsum": (lambda a, b: torch.einsum("ik,jk->ij", a, b.t()).t(), "shape"),
    "relu_backward": (lambda inp, g: g, "expected"),
    "mse_lin_grads": (lambda l2, w2, b2, y: _mse_lin_grads(l2, w2, b2, y)[::-1], "item 0"),
    "linear_from_scratch": (TransposedLinear, "PyTorch's layout is (2, 10)"),
}


def test_every_exercise_has_a_right_and_a_wrong_solution_here():
    assert set(RIGHT) == set(EXERCISES) == set(WRONG)


@pytest.mark.parametrize("name", list(EXERCISES))
def test_right_solutions_pass(name, capsys):
    result = check_exercise(name, RIGHT[name])
    assert result, result.feedback
    assert "MISS" not in capsys.readouterr().out


@pytest.mark.parametrize("name", list(EXERCISES))
def test_wrong_solutions_fail_with_specific_feedback(name):
    solution, words = WRONG[name]
    result = check_exercise(name, solution, verbose=False)
    assert not result
    assert any(words in line for line in result.feedback), result.feedback
    assert repr(result).endswith("(not yet)")


def test_a_crash_in_student_code_becomes_feedback():
    def broken(x):
        return x.no_such_method()

    result = check_exercise("relu", broken, verbose=False)
    assert not result
    assert "raised AttributeError" in result.feedback[0]


def test_a_stub_says_not_written_yet():
    def stub(*args):
        raise NotImplementedError

    result = check_exercise("dense", stub, verbose=False)
    assert result.passed == 0
    assert all("not written yet" in line for line in result.feedback)


def test_student_code_cannot_change_the_reference_cases():
    def vandal(x):
        x.zero_()
        return x

    check_exercise("relu", vandal, verbose=False)
    assert check_exercise("relu", torch.relu, verbose=False)


def test_bad_calls_are_explained():
    with pytest.raises(ValueError, match="unknown exercise 'softmax'; the exercises are: neuron, relu"):
        check_exercise("softmax", torch.relu)
    with pytest.raises(TypeError, match="needs your function or class"):
        check_exercise("relu", 3)
