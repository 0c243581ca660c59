"""The gradient checker must catch wrong, missing and misshapen gradients, not only bless right ones."""

import pytest
import torch

from course_utils import check_grads


def test_passes_a_right_gradient(capsys):
    w = torch.randn(3, 2)
    w.g = 2 * w
    result = check_grads(lambda w: (w**2).sum(), w=w)
    assert result
    assert "1 of 1" in repr(result)
    assert "ok" in capsys.readouterr().out


def test_catches_a_wrong_gradient(capsys):
    w = torch.randn(3, 2)
    w.g = 2 * w
    w.g[1, 1] += 1e-2
    result = check_grads(lambda w: (w**2).sum(), w=w)
    assert not result
    assert result[0].max_abs_diff == pytest.approx(1e-2, rel=1e-3)
    assert "MISMATCH" in capsys.readouterr().out


def test_reports_missing_and_misshapen_gradients():
    a, b = torch.randn(3), torch.randn(3)
    b.g = torch.zeros(1, 3)
    result = check_grads(lambda a, b: (a * b).sum(), a=a, b=b, verbose=False)
    assert not result
    assert "no .g" in result[0].problem
    assert "(1, 3)" in result[1].problem


def test_leaves_originals_alone():
    w = torch.randn(2)
    w.g = 2 * w
    check_grads(lambda w: (w**2).sum(), w=w, verbose=False)
    assert not w.requires_grad and w.grad is None


def test_bad_calls_are_explained():
    with pytest.raises(ValueError, match="at least one tensor"):
        check_grads(lambda: torch.tensor(0.0))
    with pytest.raises(TypeError, match="floating-point"):
        check_grads(lambda w: w.sum(), w=torch.arange(3))
    with pytest.raises(ValueError, match="single-number"):
        check_grads(lambda w: w * 2, w=torch.randn(3))
