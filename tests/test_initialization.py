"""layer_stds reproduces the chapter's initialization experiments and rejects nonsense."""

import math

import pytest
import torch

from course_utils import (
    ACTIVATIONS,
    Activation,
    kaiming_scale,
    layer_stats,
    layer_stds,
    reproducible,
    resolve_scale,
    xavier_scale,
)
from course_utils.initialization import (
    first_broken_layer,
    random_stack,
    run_stack,
    stack_values,
    subnormals_flushed,
    upstream_gradient,
)


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
    ({"scale": 0.1, "depth": 10**6}, ValueError, "depth must be from 1 to 100"),
    ({"scale": 0.1, "width": 10**5}, ValueError, "width must be from 1 to 256"),
    ({"scale": 0.1, "batch": 10**6}, ValueError, "batch"),
    ({"scale": 0.1, "depth": 50.5}, TypeError, "depth"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        layer_stds(**kwargs)


def test_runs_on_device(device):
    stds = layer_stds("kaiming", depth=5, activation="relu", device=device)
    assert stds.device.type == device


def plain_loop(x, weights, act, slope, upstream):
    """Every layer forward, then every layer backward: no early stop."""
    outputs = []
    for w in weights:
        x = act(x @ w)
        outputs.append(x)
    grad, grads = upstream, [upstream]
    for out, w in zip(reversed(outputs[1:]), reversed(weights[1:])):
        grad = (grad * slope(out)) @ w.t()
        grads.append(grad)
    return torch.stack(outputs), torch.stack(grads[::-1])


@pytest.mark.parametrize("scale,activation", [(1.0, "linear"), (0.01, "linear"), (1.0, "relu"), (0.01, "relu"),
                                              (0.02, "tanh")])
def test_stopping_at_a_stuck_layer_gives_exactly_the_full_run(scale, activation):
    """Once a layer is all nan or all zero, copying it must equal computing every remaining layer."""
    x, weights = random_stack(50, 100, 200, 0)
    act = ACTIVATIONS[activation]
    with subnormals_flushed():
        got = run_stack(x, weights * scale, activation, upstream_gradient(200, 100, 0))
        expected = plain_loop(x, weights * scale, act.fn, act.slope, upstream_gradient(200, 100, 0))
    tiny = torch.finfo(torch.float32).tiny  # what is left below it is 0 to the flushed arithmetic
    for g, e in zip(got, expected):
        torch.testing.assert_close(g.masked_fill(g.abs() < tiny, 0), e.masked_fill(e.abs() < tiny, 0),
                                   rtol=0, atol=0, equal_nan=True)


def test_numbers_below_the_smallest_normal_float32_count_as_zero():
    acts, grads = stack_values(0.01, activation="linear")
    tiny = torch.finfo(torch.float32).tiny
    assert not ((acts != 0) & (acts.abs() < tiny)).any() and not ((grads != 0) & (grads.abs() < tiny)).any()
    assert first_broken_layer(layer_stds(0.01)) < 45  # a plain float32 loop keeps subnormals until layer 45


def test_where_a_stack_breaks_forward_and_backward():
    from course_utils import describe_fate

    stds = torch.tensor([1.0, 10.0, float("inf"), float("nan")])
    assert first_broken_layer(stds) == 3 and all(w in describe_fate(stds) for w in ("inf/nan", "layer 3"))
    grads = torch.tensor([0.0, 0.0, 1e-20, 0.5])  # gradients die on the way down from layer 4
    assert first_broken_layer(grads, from_top=True) == 2
    assert all(w in describe_fate(grads, from_top=True) for w in ("0", "layer 2"))
    healthy = torch.tensor([0.7, 0.8, 0.9])
    assert first_broken_layer(healthy) is None
    assert "0.9" in describe_fate(healthy)
    assert all(w in describe_fate(healthy, from_top=True) for w in ("layer 1", "0.7"))
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        describe_fate(torch.ones(2, 2))
    assert "2" in describe_fate([1.0, 2.0])  # a plain list works too


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
    grad, expected = upstream_gradient(10, 6, 2), []
    for out, w in zip(reversed(outputs), reversed(weights * 0.7)):
        expected.append(grad.std())
        grad = (grad * torch.where(out > 0, 1.0, 0.1)) @ w.t()
    torch.testing.assert_close(grads, torch.stack(expected[::-1]))

    stable_acts, stable_grads = layer_stats("kaiming", activation="leaky_relu")
    assert 0.1 < stable_acts[-1] < 10 and 0.1 < stable_grads[0] < 10


@pytest.mark.parametrize("call", [lambda: xavier_scale(0), lambda: xavier_scale(-4), lambda: kaiming_scale(2.5),
                                  lambda: resolve_scale("kaiming", 0)])
def test_a_scale_for_no_inputs_names_fan_in(call):
    with pytest.raises(ValueError, match="fan_in"):
        call()


@pytest.mark.parametrize("seed", [1.5, -1, "0"])
def test_reproducible_takes_whole_seeds_only(seed):
    with pytest.raises(ValueError, match="seed"):
        reproducible(seed)
