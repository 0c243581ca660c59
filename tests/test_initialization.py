"""layer_stds reproduces the chapter's initialization experiments and rejects nonsense."""

import math

import pytest
import torch

from course_utils import ACTIVATIONS, Activation, layer_stats, layer_stds, resolve_scale
from course_utils.initialization import random_stack, upstream_gradient


def test_shape_and_determinism():
    a = layer_stds(0.1, depth=20, seed=3)
    assert a.shape == (20,)
    assert torch.equal(a, layer_stds(0.1, depth=20, seed=3))
    assert not torch.equal(a, layer_stds(0.1, depth=20, seed=4))


def test_matches_a_direct_loop():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(10, 6, generator=gen)
    weights = torch.randn(4, 6, 6, generator=gen)
    expected = []
    for w in weights:
        x = torch.tanh(x @ (w * 0.5))
        expected.append(x.std())
    got = layer_stds(0.5, depth=4, width=6, batch=10, activation="tanh", seed=7)
    assert torch.equal(got, torch.stack(expected))


def test_the_five_regimes_of_the_chapter():
    assert not torch.isfinite(layer_stds(1.0)[-1])           # unscaled: overflow to inf/nan
    assert layer_stds(0.01)[-1] == 0                          # too small: underflow to exactly zero
    assert 0.1 < layer_stds("xavier")[-1] < 10                # 1/sqrt(n): stable for linear layers
    assert layer_stds("xavier", activation="relu")[-1] < 1e-5  # the same scale with ReLU dies out
    assert 0.1 < layer_stds("kaiming", activation="relu")[-1] < 10


def test_named_scales():
    assert resolve_scale("xavier", 100) == pytest.approx(0.1)
    assert resolve_scale("Kaiming", 50) == pytest.approx(math.sqrt(2 / 50))
    assert resolve_scale(0, 100) == 0.0


@pytest.mark.parametrize("kwargs,error,match", [
    ({"scale": -0.1}, ValueError, "-0.1"),
    ({"scale": float("nan")}, ValueError, "nan"),
    ({"scale": "glorot"}, ValueError, "'glorot'"),
    ({"scale": None}, TypeError, "NoneType"),
    ({"scale": 0.1, "depth": 0}, ValueError, "depth"),
    ({"scale": 0.1, "width": 2.5}, TypeError, "width"),
    ({"scale": 0.1, "activation": "sigmoid"}, ValueError, "'sigmoid'"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        layer_stds(**kwargs)


def test_runs_on_device(device):
    stds = layer_stds("kaiming", depth=5, activation="relu", device=device)
    assert stds.device.type == device


@pytest.mark.parametrize("scale,activation", [(1.0, "linear"), (0.01, "linear"), (1.0, "relu"), (0.01, "relu"),
                                              (0.02, "tanh")])
def test_skipping_dead_layers_gives_exactly_the_full_float32_run(scale, activation):
    """Once a layer is all nan or all zero, the shortcut must equal computing every remaining layer."""
    acts, grads = layer_stats(scale, activation=activation)
    x, weights = random_stack(50, 100, 200, 0)
    scaled = weights * scale
    act = ACTIVATIONS[activation].fn
    outputs = []
    for w in scaled:
        x = act(x @ w)
        outputs.append(x)
    exact = {"rtol": 0, "atol": 0, "equal_nan": True}
    torch.testing.assert_close(acts, torch.stack([o.std() for o in outputs]), **exact)
    grad, expected = upstream_gradient(200, 100, 0, "cpu"), []
    for i in reversed(range(50)):
        expected.append(grad.std())
        slope = {"linear": 1.0, "relu": (outputs[i] > 0).float(), "tanh": 1 - outputs[i] ** 2}[activation]
        grad = (grad * slope) @ scaled[i].t()
    torch.testing.assert_close(grads, torch.stack(expected[::-1]), **exact)


def test_where_a_stack_breaks_forward_and_backward():
    from course_utils import describe_fate
    from course_utils.initialization import first_broken_layer

    stds = torch.tensor([1.0, 10.0, float("inf"), float("nan")])
    assert first_broken_layer(stds) == 3 and describe_fate(stds) == "overflowed to inf/nan at layer 3"
    grads = torch.tensor([0.0, 0.0, 1e-20, 0.5])  # gradients die on the way down from layer 4
    assert first_broken_layer(grads, from_top=True) == 2
    assert describe_fate(grads, from_top=True) == "underflowed to exactly 0 at layer 2"
    healthy = torch.tensor([0.7, 0.8, 0.9])
    assert first_broken_layer(healthy) is None
    assert describe_fate(healthy) == "final std 0.9"
    assert describe_fate(healthy, from_top=True) == "std at layer 1: 0.7"
    with pytest.raises(ValueError, match=r"non-empty 1-D tensor of stds, got shape \(2, 2\)"):
        describe_fate(torch.ones(2, 2))


def test_a_new_activation_is_one_record_in_the_table(monkeypatch):
    """Adding leaky ReLU touches only ACTIVATIONS: the experiments take everything else from its record."""
    leaky = Activation("leaky_relu", "leaky ReLU", lambda x: torch.where(x > 0, x, 0.1 * x),
                       lambda out: 0.1 + 0.9 * (out > 0).to(out.dtype), math.sqrt(2 / (1 + 0.1**2)), "kaiming", True)
    monkeypatch.setitem(ACTIVATIONS, "leaky_relu", leaky)
    acts, grads = layer_stats(0.7, depth=3, width=6, batch=10, activation="leaky_relu", seed=2)
    assert torch.equal(acts, layer_stds(0.7, depth=3, width=6, batch=10, activation="leaky_relu", seed=2))

    x, weights = random_stack(3, 6, 10, 2)
    outputs = []
    for w in weights * 0.7:
        x = torch.where(x @ w > 0, x @ w, 0.1 * (x @ w))
        outputs.append(x)
    torch.testing.assert_close(acts, torch.stack([o.std() for o in outputs]))
    grad, expected = upstream_gradient(10, 6, 2, "cpu"), []
    for out, w in zip(reversed(outputs), reversed(weights * 0.7)):
        expected.append(grad.std())
        grad = (grad * torch.where(out > 0, 1.0, 0.1)) @ w.t()
    torch.testing.assert_close(grads, torch.stack(expected[::-1]))

    stable_acts, stable_grads = layer_stats("kaiming", activation="leaky_relu")
    assert 0.1 < stable_acts[-1] < 10 and 0.1 < stable_grads[0] < 10
