"""Synthetic data, the SGD step over .g, and hand-written training that tracks PyTorch's step for step."""

import math

import pytest
import torch

from course_utils import Model, TwoLayerNet, toy_problem
from course_utils.training import (
    init_params,
    make_regression,
    regression_direction,
    sgd_step,
    train_autograd,
    train_model,
    train_optim,
)


def test_make_regression_is_seeded_and_follows_the_sine():
    x, y = make_regression(n=500, n_in=3, noise=0.0, seed=5)
    assert x.shape == (500, 3) and y.shape == (500,)
    assert torch.equal(y, make_regression(n=500, n_in=3, noise=0.0, seed=5)[1])
    assert torch.allclose(y, torch.sin(x @ regression_direction(3, seed=5)))
    assert regression_direction(3, seed=5).norm().item() == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs,match", [({"n": 0}, "n must be"), ({"n_in": 2.0}, "n_in must be"),
                                          ({"noise": -1.0}, "noise must be")])
def test_make_regression_rejects_nonsense(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_regression(**kwargs)


def test_sgd_step_moves_against_the_gradient():
    p = torch.tensor([1.0, -2.0])
    p.g = torch.tensor([0.5, -1.0])
    sgd_step([p], lr=0.1)
    assert torch.allclose(p, torch.tensor([0.95, -1.9]))


def test_sgd_step_explains_missing_or_wrong_gradients():
    p = torch.zeros(3)
    with pytest.raises(RuntimeError, match=r"\(3,\).*\.g"):
        sgd_step([p], lr=0.1)
    p.g = torch.zeros(1, 3)
    with pytest.raises(ValueError, match=r"\(3,\).*\(1, 3\)"):
        sgd_step([p], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        sgd_step([p], lr=0.0)


def test_the_three_loops_learn_and_track_each_other_step_for_step():
    x, y = make_regression(n=128, n_in=4, seed=0)
    params = init_params(4, 16, seed=0)
    originals = [p.clone() for p in params]
    hand = torch.tensor(train_model(Model(*(p.clone() for p in params)), x, y, lr=0.05, steps=300))
    by_hand_step = torch.tensor(train_autograd(TwoLayerNet.from_weights(*params), x, y, lr=0.05, steps=300))
    auto = torch.tensor(train_optim(TwoLayerNet.from_weights(*params), x, y, lr=0.05, steps=300))
    assert hand[-1] < 0.25 * hand[0]
    assert (hand - auto).abs().max() < 1e-5 and (by_hand_step - auto).abs().max() < 1e-5
    assert all(torch.equal(a, b) for a, b in zip(params, originals)), "training must not modify its inputs"


def test_train_autograd_without_zeroing_adds_up_the_gradients():
    x, y = make_regression(n=32, n_in=3, seed=1)
    params = init_params(3, 8, seed=1)
    zeroed = train_autograd(TwoLayerNet.from_weights(*params), x, y, lr=0.05, steps=5)
    summed = train_autograd(TwoLayerNet.from_weights(*params), x, y, lr=0.05, steps=5, zero=False)
    assert zeroed[:2] == summed[:2] and zeroed[2:] != summed[2:]   # the second step is the first that differs


def test_toy_problem_is_the_setup_a_notebook_writes_by_hand():
    torch.manual_seed(3)  # what reproducible(seed=3) seeds
    x, y = torch.randn(20, 10), torch.randn(20)
    w1, b1 = torch.randn(10, 5) * math.sqrt(2 / 10), torch.zeros(5)
    w2, b2 = torch.randn(5, 1) * math.sqrt(2 / 5), torch.zeros(1)
    for got, expected in zip(toy_problem(seed=3, n=20, n_in=10, n_hidden=5), (x, y, w1, b1, w2, b2), strict=True):
        assert torch.equal(got, expected)
