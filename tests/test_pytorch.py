"""MyRelu, LinearLayer, Module and TwoLayerNet behave like the PyTorch pieces they stand for."""

import pytest
import torch
from torch import nn

from course_utils import LinearLayer, Model, Module, MyRelu, TwoLayerNet, toy_problem


def test_my_relu_passes_gradcheck(device):
    # Keep inputs away from 0, where ReLU has no derivative and finite differences disagree.
    x = torch.randn(20, 5, dtype=torch.float64, device=device)
    x = x + 0.1 * x.sign()
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(MyRelu.apply, (x,))
    assert torch.equal(MyRelu.apply(x), x.clamp_min(0))


def test_linear_layer_registers_parameters_with_pytorch_layout():
    layer = LinearLayer(10, 2)
    weight, bias = layer.parameters()
    assert weight.shape == (2, 10) and bias.shape == (2,)
    assert torch.equal(bias, torch.zeros(2))
    assert layer(torch.randn(7, 10)).shape == (7, 2)
    with pytest.raises(RuntimeError, match=r"7x3 and 10x2"):  # torch's own message names both shapes
        layer(torch.randn(7, 3))


def test_linear_layer_is_kaiming_scaled():
    torch.manual_seed(1)
    layer = LinearLayer(1000, 500)
    assert layer.weight.std().item() == pytest.approx((2 / 1000) ** 0.5, rel=0.02)


def test_module_without_super_init_works_and_nn_module_does_not():
    class WithCourseModule(Module):
        def __init__(self):
            self.lin = nn.Linear(3, 1)

    class WithNnModule(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(3, 1)

    model = WithCourseModule()
    assert len(list(model.parameters())) == 2
    assert model.lin(torch.randn(4, 3)).shape == (4, 1)
    with pytest.raises(AttributeError, match=r"cannot assign module before Module.__init__\(\) call"):
        WithNnModule()


def test_module_tolerates_an_explicit_super_init():
    class Polite(Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, x):
            return self.lin(x)

    model = Polite()
    assert [n for n, _ in model.named_parameters()] == ["lin.weight", "lin.bias"]
    assert model(torch.ones(1, 2)).shape == (1, 2)


def test_two_layer_net_matches_hand_written_model(device):
    x, y, w1, b1, w2, b2 = (t.to(device) for t in toy_problem(n=16, n_in=8, n_hidden=4))
    b1.normal_()  # nonzero biases, so that copying them is tested too
    b2.normal_()
    net = TwoLayerNet.from_weights(w1, b1, w2, b2)
    loss = net(x, y)
    loss.backward()
    hand = Model(w1, b1, w2, b2)
    assert torch.allclose(hand(x, y), loss)
    hand.backward()
    first, _, second = net.layers
    for auto, hand in ((first.weight.grad, w1.g.t()), (first.bias.grad, b1.g),
                       (second.weight.grad, w2.g.t()), (second.bias.grad, b2.g)):
        assert torch.allclose(auto, hand, atol=1e-6)


def test_from_weights_checks_shapes():
    with pytest.raises(ValueError, match=r"b1.*\(1,\).*\(4,\)"):
        TwoLayerNet.from_weights(torch.zeros(8, 4), torch.zeros(1), torch.zeros(4, 1), torch.zeros(1))
