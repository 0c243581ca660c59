"""The plain functions and their hand-written gradients, checked against autograd."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils import check_grads, forward_and_backward, lin, lin_grad, mse, mse_grad, relu, relu_grad


def two_layer_loss(x, targ):
    """The same net written with autograd-friendly ops, as the reference for the hand-written backward."""
    def loss(w1, b1, w2, b2, x=x):
        return mse(lin(relu(lin(x, w1, b1)), w2, b2), targ)
    return loss


def make_params(n_in, nh, n_out, device):
    return (torch.randn(n_in, nh, device=device) / n_in**0.5, torch.randn(nh, device=device),
            torch.randn(nh, n_out, device=device) / nh**0.5, torch.randn(n_out, device=device))


@pytest.mark.parametrize("n,n_in,nh", [(200, 100, 50), (1, 100, 50), (7, 1, 3), (5, 4, 1), (1, 1, 1)])
def test_forward_and_backward_matches_autograd(n, n_in, nh, device):
    x = torch.randn(n, n_in, device=device)
    y = torch.randn(n, device=device)
    w1, b1, w2, b2 = make_params(n_in, nh, 1, device)
    loss = forward_and_backward(x, y, w1, b1, w2, b2)
    ref = mse(lin(relu(lin(x, w1, b1)), w2, b2), y)
    assert torch.allclose(loss, ref)
    result = check_grads(lambda x, w1, b1, w2, b2: mse(lin(relu(lin(x, w1, b1)), w2, b2), y),
                         x=x, w1=w1, b1=b1, w2=w2, b2=b2, verbose=False)
    assert result, result.table()
    assert [c.name for c in result] == ["x", "w1", "b1", "w2", "b2"]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), n_in=st.integers(1, 9), nh=st.integers(1, 9), seed=st.integers(0, 10_000))
def test_gradients_match_autograd_for_any_shape(n, n_in, nh, seed):
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, n_in, generator=gen), torch.randn(n, 1, generator=gen)
    w1, b1 = torch.randn(n_in, nh, generator=gen), torch.randn(nh, generator=gen)
    w2, b2 = torch.randn(nh, 1, generator=gen), torch.randn(1, generator=gen)
    forward_and_backward(x, y, w1, b1, w2, b2)
    assert check_grads(lambda x, w1, b1, w2, b2: mse(lin(relu(lin(x, w1, b1)), w2, b2), y),
                       x=x, w1=w1, b1=b1, w2=w2, b2=b2, verbose=False)


def test_each_grad_function_alone(device):
    inp = torch.randn(6, 4, device=device)
    w, b = torch.randn(4, 3, device=device), torch.randn(3, device=device)
    out = lin(inp, w, b)
    out.g = torch.randn_like(out)
    lin_grad(inp, out, w, b)
    upstream = out.g
    assert check_grads(lambda inp, w, b: (lin(inp, w, b) * upstream).sum(), inp=inp, w=w, b=b, verbose=False)

    r_in = torch.randn(6, 4, device=device)
    r_out = relu(r_in)
    r_out.g = torch.randn_like(r_out)
    relu_grad(r_in, r_out)
    assert check_grads(lambda r_in: (relu(r_in) * r_out.g).sum(), r_in=r_in, verbose=False)


def test_relu_values():
    assert relu(torch.tensor([-2.0, 0.0, 3.0])).tolist() == [0.0, 0.0, 3.0]


class TestMseShapes:
    def test_column_against_vector_is_the_normal_case(self):
        out, targ = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([1.0, 0.0, 1.0])
        assert mse(out, targ).item() == pytest.approx((0 + 4 + 9) / 3)

    def test_column_against_column_is_not_an_n_by_n_mean(self):
        out, targ = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [0.0], [1.0]])
        assert mse(out, targ).item() == pytest.approx(13 / 3)
        # The trap the check prevents: (N,1) - (N,) broadcasts to N x N and gives another number.
        assert (out - targ.reshape(3)).pow(2).mean().item() != pytest.approx(13 / 3)

    def test_batch_of_one_keeps_its_shape(self):
        out, targ = torch.tensor([[3.0]], requires_grad=True), torch.tensor([1.0])
        assert mse(out, targ).item() == pytest.approx(4.0)
        mse_grad(out, targ)
        assert out.g.shape == (1, 1)
        assert out.g.item() == pytest.approx(4.0)

    def test_mismatched_rows_name_both_shapes(self):
        with pytest.raises(ValueError, match=r"\(5, 1\).*\(4,\)"):
            mse(torch.zeros(5, 1), torch.zeros(4))
        with pytest.raises(ValueError, match=r"\(5, 1\).*\(4,\)"):
            mse_grad(torch.zeros(5, 1), torch.zeros(4))

    def test_wide_output_is_refused(self):
        with pytest.raises(ValueError, match=r"\(5, 2\)"):
            mse(torch.zeros(5, 2), torch.zeros(5))

    def test_integer_targets_are_refused(self):
        with pytest.raises(TypeError, match="floating-point"):
            mse(torch.zeros(3, 1), torch.tensor([1, 2, 3]))


class TestLinShapes:
    def test_mismatched_inner_sizes_name_both(self):
        with pytest.raises(ValueError, match=r"7 features.*expects 5.*\(3, 7\).*\(5, 2\)"):
            lin(torch.zeros(3, 7), torch.zeros(5, 2), torch.zeros(2))

    def test_wrong_bias_shape(self):
        with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
            lin(torch.zeros(3, 5), torch.zeros(5, 2), torch.zeros(3))

    def test_mixed_dtypes(self):
        with pytest.raises(TypeError, match="dtypes differ"):
            lin(torch.zeros(3, 5), torch.zeros(5, 2, dtype=torch.float64), torch.zeros(2))

    def test_not_a_tensor(self):
        with pytest.raises(TypeError, match="torch.Tensor"):
            lin([[1.0]], torch.zeros(1, 1), torch.zeros(1))


def test_backward_out_of_order_explains_itself():
    inp, w, b = torch.randn(2, 3), torch.randn(3, 1), torch.randn(1)
    out = lin(inp, w, b)
    with pytest.raises(RuntimeError, match=r"out\.g is missing"):
        lin_grad(inp, out, w, b)


def test_input_grad_can_be_skipped():
    x, y = torch.randn(8, 5), torch.randn(8)
    w1, b1, w2, b2 = make_params(5, 3, 1, "cpu")
    forward_and_backward(x, y, w1, b1, w2, b2, input_grad=False)
    assert not hasattr(x, "g")
    assert check_grads(lambda w1, b1, w2, b2: mse(lin(relu(lin(x, w1, b1)), w2, b2), y),
                       w1=w1, b1=b1, w2=w2, b2=b2, verbose=False)
