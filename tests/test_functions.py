"""The plain functions and their hand-written gradients, checked against autograd."""

import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils import (
    check_grads,
    forward_and_backward,
    lin,
    lin_grad,
    mse,
    mse_grad,
    relu,
    relu_grad,
    toy_problem,
)


def two_layer_loss(y):
    """The same net, differentiated by autograd: the reference for every hand-written backward pass."""
    return lambda x, w1, b1, w2, b2: mse(lin(relu(lin(x, w1, b1)), w2, b2), y)


@pytest.mark.parametrize("n,n_in,nh", [(200, 100, 50), (1, 100, 50), (7, 1, 3), (5, 4, 1), (1, 1, 1)])
def test_forward_and_backward_matches_autograd(n, n_in, nh, device):
    x, y, w1, b1, w2, b2 = (t.to(device) for t in toy_problem(seed=1, n=n, n_in=n_in, n_hidden=nh))
    b1.normal_()  # nonzero biases, so a wrong bias gradient cannot hide
    loss = forward_and_backward(x, y, w1, b1, w2, b2)
    assert torch.allclose(loss, two_layer_loss(y)(x, w1, b1, w2, b2))
    result = check_grads(two_layer_loss(y), x=x, w1=w1, b1=b1, w2=w2, b2=b2, verbose=False)
    assert result, result.table()
    assert [c.name for c in result] == ["x", "w1", "b1", "w2", "b2"]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), n_in=st.integers(1, 9), nh=st.integers(1, 9), seed=st.integers(0, 10_000))
def test_gradients_match_autograd_for_any_shape(n, n_in, nh, seed):
    x, y, w1, b1, w2, b2 = toy_problem(seed=seed, n=n, n_in=n_in, n_hidden=nh)
    y = y.reshape(n, 1)  # column targets work as well as a vector
    forward_and_backward(x, y, w1, b1, w2, b2)
    assert check_grads(two_layer_loss(y), x=x, w1=w1, b1=b1, w2=w2, b2=b2, verbose=False)


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


def test_input_grad_can_be_skipped():
    x, y, w1, b1, w2, b2 = toy_problem(n=8, n_in=5, n_hidden=3)
    forward_and_backward(x, y, w1, b1, w2, b2, input_grad=False)
    assert not hasattr(x, "g")
    assert check_grads(lambda w1, b1, w2, b2: two_layer_loss(y)(x, w1, b1, w2, b2),
                       w1=w1, b1=b1, w2=w2, b2=b2, verbose=False)


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
        out, targ = torch.tensor([[3.0]]), torch.tensor([1.0])
        assert mse(out, targ).item() == pytest.approx(4.0)
        mse_grad(out, targ)
        assert out.g.shape == (1, 1)
        assert out.g.item() == pytest.approx(4.0)

    @pytest.mark.parametrize("fn", [mse, mse_grad])
    def test_mismatched_rows_name_both_shapes(self, fn):
        with pytest.raises(ValueError, match=r"\(5, 1\).*\(4,\)"):
            fn(torch.zeros(5, 1), torch.zeros(4))

    @pytest.mark.parametrize("fn", [mse, mse_grad])
    def test_wide_output_is_refused(self, fn):
        # (5, 2) against (10,) would otherwise pair up without an error.
        with pytest.raises(ValueError, match=r"\(5, 2\)"):
            fn(torch.zeros(5, 2), torch.zeros(10))

    @pytest.mark.parametrize("fn", [mse, mse_grad])
    def test_empty_batch_is_refused_instead_of_nan(self, fn):
        assert torch.zeros(0).mean().isnan()  # what would happen without the check
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            fn(torch.zeros(0, 1), torch.zeros(0))

    @pytest.mark.parametrize("fn", [mse, mse_grad])
    def test_float64_targets_are_named_as_the_cause(self, fn):
        with pytest.raises(TypeError, match=r"targets are torch.float64.*predictions are torch.float32"):
            fn(torch.zeros(3, 1), torch.zeros(3, dtype=torch.float64))


class TestLinGuards:
    @pytest.mark.parametrize("b_shape", [(1,), (4, 3)])
    def test_wrong_bias_shape_names_both(self, b_shape):
        # Both would broadcast into x @ w without an error: one bias for all columns, or one per row.
        with pytest.raises(ValueError, match=rf"{re.escape(str(b_shape))}.*\(5, 3\)"):
            lin(torch.zeros(4, 5), torch.zeros(5, 3), torch.zeros(b_shape))

    def test_inner_size_mismatch_is_left_to_torch(self):
        with pytest.raises(RuntimeError, match=r"3x7 and 5x2"):
            lin(torch.zeros(3, 7), torch.zeros(5, 2), torch.zeros(2))

    def test_lin_grad_with_an_input_that_does_not_fit_w(self):
        x, y, w1, b1, w2, b2 = toy_problem(n=6, n_in=4, n_hidden=3)
        l1 = lin(x, w1, b1)
        l1.g = torch.ones_like(l1)
        with pytest.raises(ValueError, match=r"\(6, 3\).*\(4, 3\)"):
            lin_grad(relu(l1), l1, w1, b1)  # the ReLU output passed where the layer's input belongs


def test_backward_out_of_order_explains_itself():
    inp, w, b = torch.randn(2, 3), torch.randn(3, 1), torch.randn(1)
    out = lin(inp, w, b)
    with pytest.raises(RuntimeError, match=r"out\.g is missing"):
        lin_grad(inp, out, w, b)
    with pytest.raises(RuntimeError, match=r"out\.g is missing"):
        relu_grad(out, relu(out))


def test_relu_grad_with_its_arguments_swapped():
    l1 = torch.tensor([[-1.0, 2.0], [3.0, -4.0]])
    l2 = relu(l1)
    l1.g, l2.g = torch.ones(2, 2), torch.full((2, 2), 5.0)  # l1.g left over from an earlier step
    with pytest.raises(ValueError, match=r"out \(2, 2\) has negative entries"):
        relu_grad(l2, l1)


class TestSilentMistakesRaise:
    def test_relu_grad_with_an_out_g_of_the_wrong_shape_names_both(self):
        inp = torch.randn(4, 3)
        out = relu(inp)
        out.g = torch.ones(4, 1)  # would broadcast over the three columns of inp.g
        with pytest.raises(ValueError, match=r"out\.g.*\(4, 1\).*\(4, 3\)"):
            relu_grad(inp, out)

    def test_relu_grad_with_an_out_of_another_shape_names_both(self):
        out = relu(torch.randn(4, 1))
        out.g = torch.ones(4, 1)
        with pytest.raises(ValueError, match=r"inp \(4, 3\).*out \(4, 1\)"):
            relu_grad(torch.randn(4, 3), out)

    def test_lin_grad_with_a_bias_that_does_not_fit_w_names_both(self):
        inp, w, b = torch.randn(5, 3), torch.randn(3, 2), torch.randn(2)
        out = lin(inp, w, b)
        out.g = torch.ones_like(out)
        with pytest.raises(ValueError, match=r"lin_grad.*\(7,\).*\(3, 2\)"):
            lin_grad(inp, out, w, torch.randn(7))  # b.g would come out (2,) for a (7,) bias

    @pytest.mark.parametrize("call, names", [
        (lambda: lin(torch.zeros(2, 3), torch.zeros(3, 1), None), "lin: b is None"),
        (lambda: lin(None, torch.zeros(3, 1), torch.zeros(1)), "lin: x is None"),
        (lambda: relu(None), "relu: x is None"),
        (lambda: relu([1.0, -1.0]), "relu: x is list"),
        (lambda: mse(torch.zeros(2, 1), None), "mse: targ is None"),
        (lambda: mse_grad(None, torch.zeros(2)), "mse_grad: inp is None"),
    ])
    def test_a_missing_tensor_is_a_type_error_that_names_the_argument(self, call, names):
        with pytest.raises(TypeError, match=re.escape(names)):
            call()
