"""The layer classes and Model reproduce the functional backward pass exactly."""

import pytest
import torch

from course_utils import (
    LayerFunction,
    Lin,
    Model,
    Mse,
    Relu,
    check_grads,
    forward_and_backward,
    lin,
    mse,
    relu,
    toy_problem,
)


@pytest.mark.parametrize("n,n_in,nh", [(200, 100, 50), (1, 3, 2), (4, 1, 1)])
def test_model_gradients_match_autograd_and_functions(n, n_in, nh, device):
    x, y, *params = (t.to(device) for t in toy_problem(n=n, n_in=n_in, n_hidden=nh))
    model = Model(*params)
    loss = model(x, y)
    model.backward()
    assert not hasattr(x, "g"), "the data needs no gradient, so the model must not compute one"
    assert check_grads(lambda w1, b1, w2, b2: mse(lin(relu(lin(x, w1, b1)), w2, b2), y),
                       w1=params[0], b1=params[1], w2=params[2], b2=params[3], verbose=False)
    from_model = [p.g.clone() for p in model.parameters()]
    assert torch.equal(loss, forward_and_backward(x, y, *params))
    for g_model, p in zip(from_model, params):
        assert torch.equal(g_model, p.g)


def test_single_layers():
    inp = torch.randn(5, 3)
    r = Relu()
    out = r(inp)
    out.g = torch.ones_like(out)
    r.backward()
    assert torch.equal(inp.g, (inp > 0).float())

    w, b = torch.randn(3, 2), torch.randn(2)
    layer = Lin(w, b)
    out = layer(inp)
    out.g = torch.ones_like(out)
    layer.backward()
    assert torch.allclose(b.g, torch.full((2,), 5.0))
    assert torch.allclose(inp.g, torch.ones(5, 2) @ w.t())

    loss = Mse()
    pred = torch.randn(5, 1)
    value = loss(pred, torch.zeros(5))
    loss.backward()
    assert torch.allclose(value, pred.pow(2).mean())
    assert torch.allclose(pred.g, 2 * pred / 5)


def test_lin_without_input_grad_fills_only_the_parameters():
    inp, w, b = torch.randn(4, 3), torch.randn(3, 2), torch.zeros(2)
    layer = Lin(w, b, input_grad=False)
    layer(inp).g = torch.ones(4, 2)
    layer.backward()
    assert not hasattr(inp, "g")
    assert w.g.shape == (3, 2) and b.g.shape == (2,)


def test_the_guards_of_the_functions_hold_in_the_layers():
    with pytest.raises(ValueError, match=r"\(1,\).*\(3, 2\)"):
        Lin(torch.zeros(3, 2), torch.zeros(1))
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(3,\)"):
        Mse()(torch.zeros(4, 1), torch.zeros(3))
    layer = Lin(torch.zeros(3, 2), torch.zeros(2))
    layer(torch.zeros(4, 3))
    with pytest.raises(RuntimeError, match=r"out\.g is missing"):
        layer.backward()


def test_a_loss_of_ones_own_starts_the_backward_pass_without_an_out_g():
    """A layer whose output is one number is a loss: d loss / d loss = 1, so it needs no out.g (notebook 4's own
    Mse, written before the package's base class had any such rule, runs on it)."""
    class SumOfSquares(LayerFunction):
        def forward(self, inp):
            return inp.pow(2).sum()

        def bwd(self, out, inp):
            inp.g = 2 * inp

    inp = torch.tensor([1.0, -2.0])
    loss = SumOfSquares()
    loss(inp)
    loss.backward()
    assert torch.equal(inp.g, torch.tensor([2.0, -4.0]))


def test_base_class_tells_what_is_missing():
    class Half(LayerFunction):
        def forward(self, inp):
            return inp / 2

    layer = Half()
    with pytest.raises(RuntimeError, match="before the layer was called"):
        layer.backward()
    layer(torch.ones(2)).g = torch.ones(2)
    with pytest.raises(NotImplementedError, match="Half must define bwd"):
        layer.backward()
    with pytest.raises(NotImplementedError, match="must define forward"):
        LayerFunction()(torch.ones(1))
