"""Notebooks 02 and 03: wrong answers are named, right answers written another way pass, comparisons say how close."""

import json
from pathlib import Path

import torch

from course_utils.exercises import check_exercise
from course_utils.exercises.compare import agreement, close, each
from course_utils.functions import lin, lin_grad, mse, mse_grad, relu, relu_grad


def misses(answer, name):
    """The MISS lines of checking ``answer``; the check must fail."""
    result = check_exercise(name, answer, verbose=False)
    assert not result, result.feedback
    return "\n".join(line for line in result.feedback if "MISS" in line)


# --- comparisons -----------------------------------------------------------------------------------------------

def test_agreement_tells_exact_from_rounding_from_different():
    base = torch.linspace(-1.0, 1.0, 50, dtype=torch.float64)
    assert agreement(base, base.clone()) == "exactly equal"
    assert "rounding" in agreement(base + 3e-8, base) and "3.0e-08" in agreement(base + 3e-8, base)
    assert "DIFFERENT" in agreement(base * 1.1, base)
    assert "not comparable" in agreement(base[:3], base)


def test_tiny_gradients_are_judged_at_their_own_scale():
    expected = torch.linspace(1.0, 4.0, 20) * 1e-6
    assert close(expected + 3e-9, expected) is None   # rounding at that scale
    assert "values differ" in close(torch.zeros(20), expected)   # zeros no longer pass for gradients of 1e-6


def test_several_outputs_are_named_not_numbered():
    expected = (torch.ones(3), torch.ones(2))
    problem = each(close, ("l2_grad", "w2_grad"))((torch.ones(3), torch.zeros(2)), expected)
    assert problem.startswith("w2_grad") and "item" not in problem


def test_a_sign_error_and_a_constant_factor_are_named():
    expected = torch.tensor([1.0, -2.0, 3.0])
    assert "sign" in close(-expected, expected)
    assert "0.5 times" in close(expected / 2, expected)


# --- notebook 02 -------------------------------------------------------------------------------------------------

def test_relu_with_torch_max_and_a_dim_is_called_a_reduction():
    said = misses(lambda x: torch.max(x, 0), "relu")
    assert "reduces along dimension" in said and "torch.maximum" in said


def test_the_broadcast_prediction_names_the_shape():
    assert "it is (200, 200)" in misses((200,), "difference_shape")
    assert check_exercise("difference_shape", torch.Size([200, 200]), verbose=False)


def test_neuron_and_lin_without_the_bias_are_told_the_bias_is_missing():
    for name, answer in (("neuron", lambda x, w, b: (x * w).sum()), ("lin", lambda x, w, b: x @ w)):
        said = misses(answer, name)
        assert said.count("bias is missing") == 3, said
    assert "bias" not in misses(lambda x, w, b: (x * w).sum() - b, "neuron")


def test_one_layer_without_b1_is_named_and_another_form_passes():
    assert "b1" in misses(lambda w1, b1, w2, b2: (w1 @ w2, b2), "one_layer")
    assert check_exercise("one_layer", lambda w1, b1, w2, b2: (torch.mm(w1, w2), lin(b1[None], w2, b2)[0]),
                          verbose=False)


def test_the_repaired_mse_names_the_bug_it_fixed():
    result = check_exercise("mse", lambda output, targ: (output[:, 0] - targ).pow(2).mean(), verbose=False)
    assert result and any(line.startswith("  fixed:") and "(N, N)" in line for line in result.feedback)


def test_mse_fixed_on_the_targets_side_is_told_what_it_did():
    result = check_exercise("mse", lambda output, targ: (output - targ[:, None]).pow(2).mean(), verbose=False)
    fixed = [line for line in result.feedback if line.startswith("  fixed:")]
    assert result and len(fixed) == 1 and "shapes matching" in fixed[0] and "output's" not in fixed[0], fixed


# --- notebook 03 -------------------------------------------------------------------------------------------------

def test_mse_grad_written_another_way_passes_and_a_sign_error_is_named():
    def scaled_first(inp, targ):
        inp.g = ((2.0 / inp.shape[0]) * (inp.squeeze(-1) - targ)).unsqueeze(-1)

    def flipped(inp, targ):
        inp.g = (2 * (targ - inp.squeeze(-1)) / inp.shape[0]).unsqueeze(-1)

    def halved(inp, targ):
        inp.g = ((inp.squeeze(-1) - targ) / inp.shape[0]).unsqueeze(-1)

    assert check_exercise("mse_grad", scaled_first, verbose=False)
    assert "sign" in misses(flipped, "mse_grad")
    assert "factor 2" in misses(halved, "mse_grad")


def test_grad_where_g_is_meant_is_named():
    def reads_grad(inp, targ):
        inp.g = 2.0 * inp.grad

    said = misses(reads_grad, "mse_grad")
    assert "inp.g = 2.0 * inp.grad" in said and ".grad" in said and "backward()" in said


def test_lin_grad_says_which_line_raised():
    def second_line_breaks(inp, out, w, b):
        inp.g = out.g @ w.t()
        w.g = inp @ out.g
        b.g = out.g.sum(0)

    assert "w.g = inp @ out.g" in misses(second_line_breaks, "lin_grad")


def test_lin_grad_with_a_mean_bias_or_a_flipped_weight_is_named():
    def mean_bias(inp, out, w, b):
        inp.g, w.g, b.g = out.g @ w.t(), inp.t() @ out.g, out.g.mean(0)

    def flipped_w(inp, out, w, b):
        inp.g, w.g, b.g = out.g @ w.t(), -(inp.t() @ out.g), out.g.sum(0)

    assert "b: " in misses(mean_bias, "lin_grad") and "mean" in misses(mean_bias, "lin_grad")
    assert "w: " in misses(flipped_w, "lin_grad") and "sign" in misses(flipped_w, "lin_grad")


def test_lin_grad_with_a_loop_is_sent_to_the_matrix_product():
    def looped(inp, out, w, b):
        inp.g = out.g @ w.t()
        w.g = sum(torch.outer(r, g) for r, g in zip(inp, out.g))
        b.g = out.g.sum(0)

    assert "for" in misses(looped, "lin_grad")


def test_w_grad_outer_transposed_or_averaged_is_named():
    def transposed(inp, out_g):
        return sum(torch.outer(g, r) for r, g in zip(inp, out_g))

    def averaged(inp, out_g):
        return sum(torch.outer(r, g) for r, g in zip(inp, out_g)) / len(inp)

    assert "transpose" in misses(transposed, "w_grad_outer")
    assert "mean" in misses(averaged, "w_grad_outer")
    assert check_exercise("w_grad_outer", lambda inp, out_g: torch.einsum("ik,ij->kj", inp, out_g), verbose=False)


def test_the_repaired_relu_grad_names_the_flat_half():
    def fixed(inp, out):
        inp.g = torch.where(inp > 0, out.g, torch.zeros_like(out.g))

    result = check_exercise("relu_grad", fixed, verbose=False)
    assert result and any(line.startswith("  fixed:") and "flat" in line for line in result.feedback)


def _forward(inp, targ, w1, b1, w2, b2):
    l1 = lin(inp, w1, b1)
    l2 = relu(l1)
    out = lin(l2, w2, b2)
    return l1, l2, out, mse(out, targ)


def test_forward_and_backward_that_skips_inp_g_fails():
    def no_input_grad(inp, targ, w1, b1, w2, b2):
        l1, l2, out, loss = _forward(inp, targ, w1, b1, w2, b2)
        mse_grad(out, targ)
        lin_grad(l2, out, w2, b2)
        relu_grad(l1, l2)
        lin_grad(inp, l1, w1, b1, False)
        return loss

    assert "inp.g" in misses(no_input_grad, "forward_and_backward")


def test_forward_and_backward_that_copies_autograd_fails():
    def copies_grad(inp, targ, w1, b1, w2, b2):
        leaves = [t.requires_grad_() for t in (inp, w1, b1, w2, b2)]
        loss = _forward(inp, targ, w1, b1, w2, b2)[-1]
        loss.backward()
        for t in leaves:
            t.g = t.grad
        return loss

    def hides_autograd(*args):
        return copies_grad(*args)

    assert "autograd" in misses(copies_grad, "forward_and_backward")
    assert "autograd" in misses(hides_autograd, "forward_and_backward")   # the source shows no backward()


# --- the notebooks: each prediction and fix comes before the cell that gives it away ------------------------------

def _cells(name: str) -> list[str]:
    path = Path(__file__).resolve().parent.parent / "notebooks" / name
    return ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]]


def _first(cells: list[str], text: str) -> int:
    return next(i for i, cell in enumerate(cells) if text in cell)


def test_notebook_02_asks_before_it_shows():
    cells = _cells("02_forward.ipynb")
    check_mse = _first(cells, 'check_exercise("mse"')
    shown = [c for c in cells[:check_mse] if "### BEGIN SOLUTION" not in c]   # the student's copy keeps these
    assert not [c for c in shown if "squeeze(-1)" in c or "out[:, 0]" in c]
    assert _first(cells, 'check_exercise("difference_shape"') < _first(cells, "(out - y).shape")
    assert "### STUB return (output - targ)" in cells[check_mse - 1]


def test_notebook_03_hands_out_the_broken_relu_grad_and_no_lin_grad_formula():
    cells = _cells("03_backward.ipynb")
    check_relu = _first(cells, 'check_exercise("relu_grad"')
    assert "### STUB inp.g = out.g.clone()" in cells[check_relu - 1]
    before_lin = "".join(cells[:_first(cells, 'check_exercise("lin_grad"')])
    assert "w^T" not in before_lin and "inp^T" not in before_lin and "2(out_i - y_i)/N" not in before_lin
