"""The layer classes and Model reproduce the functional backward pass exactly."""

import pytest
import torch

from course_utils import LayerFunction, Lin, Model, Mse, Relu, check_grads, forward_and_backward, lin, mse, relu


@pytest.mark.parametrize("n,n_in,nh", [(200, 100, 50), (1, 3, 2), (4, 1, 1)])
def test_model_gradients_match_autograd_and_functions(n, n_in, nh, device):
    x, y = torch.randn(n, n_in, device=device), torch.randn(n, device=device)
    params = [torch.randn(n_in, nh, device=device), torch.zeros(nh, device=device),
              torch.randn(nh, 1, device=device), torch.zeros(1, device=device)]
    model = Model(*params)
    loss = model(x, y)
    model.backward()
    assert check_grads(lambda x, w1, b1, w2, b2: mse(lin(relu(lin(x, w1, b1)), w2, b2), y),
                       x=x, w1=params[0], b1=params[1], w2=params[2], b2=params[3], verbose=False)
    from_model = [p.g.clone() for p in model.parameters()]
    loss_fn = forward_and_backward(x, y, *params)
    assert torch.equal(loss, loss_fn)
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

    loss = Mse()
    pred = torch.randn(5, 1)
    value = loss(pred, torch.zeros(5))
    loss.backward()
    assert torch.allclose(value, pred.pow(2).mean())
    assert pred.g.shape == (5, 1)


def test_base_class_tells_what_is_missing():
    class Half(LayerFunction):
        def forward(self, inp):
            return inp / 2

    layer = Half()
    with pytest.raises(RuntimeError, match="before the layer was called"):
        layer.backward()
    layer(torch.ones(2))
    with pytest.raises(NotImplementedError, match="Half must define bwd"):
        layer.backward()
    with pytest.raises(NotImplementedError, match="must define forward"):
        LayerFunction()(torch.ones(1))
