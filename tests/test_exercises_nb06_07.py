"""Notebooks 06 and 07: common training mistakes and the questionnaire's Linear are named, not "values differ"."""

import importlib.util
import inspect
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from course_utils.exercises import EXERCISES, check_exercise
from course_utils.layers import LayerFunction, Lin, Model, Mse, Relu
from course_utils.training import train_autograd

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def misses(answer, name):
    """The MISS lines of checking ``answer``; the check must fail."""
    result = check_exercise(name, answer, verbose=False)
    assert not result, result.feedback
    return "\n".join(line for line in result.feedback if "MISS" in line)


# --- notebook 06 ---------------------------------------------------------------------------------------------

def test_an_sgd_step_with_the_wrong_sign_or_without_lr_is_named():
    def uphill(params, lr):
        for p in params:
            p += lr * p.g

    def no_lr(params, lr):
        for p in params:
            p -= p.g

    assert "sign" in misses(uphill, "sgd_step")
    assert "ignores lr" in misses(no_lr, "sgd_step")


def test_a_step_that_reads_grad_where_g_is_meant_is_named():
    def with_grad(params, lr):
        for p in params:
            p -= lr * p.grad

    def loop(model, x, y, lr, steps):
        losses = []
        for _ in range(steps):
            losses.append(model(x, y).item())
            model.backward()
            with_grad(model.parameters(), lr)
        return losses

    assert ".g is meant" in misses(with_grad, "sgd_step")
    assert ".g is meant" in misses(loop, "train_model")


def _hand_loop(rebind=False, after=False, sign=1.0):
    def loop(model, x, y, lr, steps):
        losses = []
        for _ in range(steps):
            loss = model(x, y)
            model.backward()
            for p in model.parameters():
                if rebind:
                    p = p - lr * p.g  # noqa: PLW2901 - the mistake under test
                else:
                    p -= sign * lr * p.g
            losses.append(model(x, y).item() if after else loss.item())
        return losses
    return loop


def test_training_loop_mistakes_are_each_named():
    assert "in place" in misses(_hand_loop(rebind=True), "train_model")
    assert "never changes" in misses(_hand_loop(rebind=True), "train_model")
    assert "sign" in misses(_hand_loop(sign=-1.0), "train_model")


def test_a_loss_recorded_after_its_step_is_named_in_every_loop():
    after_step = "each loss is recorded after its step"
    assert misses(_hand_loop(after=True), "train_model").count(after_step) == 2

    def autograd_after(net, x, y, lr, steps):
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            net(x, y).backward()
            opt.step()
            losses.append(net(x, y).item())
        return losses

    for name in ("train_autograd", "train_optim"):
        assert misses(autograd_after, name).count(after_step) == 2


def test_losses_that_differ_name_the_first_step():
    def half_lr(model, x, y, lr, steps):
        return _hand_loop()(model, x, y, lr / 2, steps)

    found = misses(half_lr, "train_model")
    assert "differ from step 1" in found and "step 0" in found


def _autograd_loop(clear):
    """A loop on autograd's .grad, stepped by hand; ``clear`` says how (or whether) .grad is cleared."""
    def loop(net, x, y, lr, steps):
        losses = []
        for _ in range(steps):
            if clear in ("zero_grad", "rebind"):
                net.zero_grad()
            loss = net(x, y)
            loss.backward()
            with torch.no_grad():
                for p in net.parameters():
                    if clear == "too_early":  # the wrong repair: the update then reads a zeroed .grad
                        p.grad.zero_()
                    if clear == "rebind":
                        p = p - lr * p.grad  # noqa: PLW2901 - the mistake under test
                    else:
                        p -= lr * p.grad
                    if clear == "none":
                        p.grad = None
            losses.append(loss.item())
        return losses
    return loop


def test_an_autograd_loop_that_rebinds_its_parameters_is_told_to_update_in_place():
    found = misses(_autograd_loop("rebind"), "train_autograd")
    assert "in place" in found and "zeroed before" not in found


def test_gradients_zeroed_before_the_update_are_named_not_taken_for_a_rebinding():
    def zero_grad_before_step(net, x, y, lr, steps):
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        losses = []
        while len(losses) < steps:
            losses.append(net(x, y))
            losses[-1].backward()
            opt.zero_grad()
            opt.step()
        return [loss.item() for loss in losses]

    found = misses(_autograd_loop("too_early"), "train_autograd")
    assert "zeroed before the update" in found and "p = p -" not in found
    assert "zeroed before the update" in misses(zero_grad_before_step, "train_optim")


def test_the_repaired_autograd_loop_names_the_bug_it_fixed():
    result = check_exercise("train_autograd", train_autograd, verbose=False)
    assert result and any(line.startswith("  fixed:") and ".grad" in line for line in result.feedback)


@pytest.mark.parametrize("clear", ["zero_grad", "none"])
def test_the_autograd_loop_repaired_in_other_ways_passes(clear):
    assert check_exercise("train_autograd", _autograd_loop(clear), verbose=False)


def _handed_out(tmp_path):
    """The broken train_autograd as the student copy shows it: the reference without its zeroing, defined in a
    file so that its source can be read."""
    lines = inspect.getsource(train_autograd).splitlines()
    kept = [line for line in lines if line.strip() not in ("if zero:", "p.grad.zero_()")]
    assert kept[0].startswith("def train_autograd(") and len(kept) == len(lines) - 2
    path = tmp_path / "handed_out.py"
    path.write_text("from __future__ import annotations\n\nimport torch\n\n\n" + "\n".join(kept) + "\n")
    spec = importlib.util.spec_from_file_location("handed_out", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.train_autograd


def test_the_handed_out_autograd_loop_fails_naming_the_missing_zeroing_and_is_no_failed_try(tmp_path):
    broken = _handed_out(tmp_path)
    assert EXERCISES["train_autograd"].untouched(broken)
    for _ in range(2):
        result = check_exercise("train_autograd", broken, verbose=False)
        assert not result
        assert "never zeroes the gradients" in "\n".join(result.feedback)
        assert not any("hint" in line for line in result.feedback)


class _OwnLin(Lin):
    """A student's Lin (defined here, so the check does not take it for the package's)."""


class _OwnRelu(Relu):
    pass


class _OwnMse(Mse):
    pass


def test_own_model_says_the_values_are_losses_and_where_they_first_differ():
    class MeanBias(_OwnLin):
        def bwd(self, out, inp):
            super().bwd(out, inp)
            self.b.g = out.g.mean(0)

    class NoBiasForward(_OwnLin):
        def forward(self, inp):
            return inp @ self.w

    class FlippedMse(_OwnMse):
        def bwd(self, out, inp, targ):
            super().bwd(out, inp, targ)
            inp.g = -inp.g

    def build(lin, mse=_OwnMse):
        return _pasted(lambda w1, b1, w2, b2: [lin(w1, b1), _OwnRelu(), lin(w2, b2)], mse)

    wrong_grad = misses(build(MeanBias), "own_model")
    assert "losses" in wrong_grad and "differ from step 1" in wrong_grad and "bwd" in wrong_grad
    no_bias = misses(build(NoBiasForward), "own_model")
    assert "forward" in no_bias and "bias" in no_bias
    assert "wrong sign" in misses(build(_OwnLin, FlippedMse), "own_model")


def _pasted(layers, loss=_OwnMse):
    """A two_layer whose model holds the given layers and loss (by default the pasted _OwnMse)."""
    def two_layer(w1, b1, w2, b2):
        model = Model(w1, b1, w2, b2)
        model.layers, model.loss = layers(w1, b1, w2, b2), loss()
        return model
    return two_layer


def test_own_model_of_pasted_lin_and_mse_with_the_packages_relu_passes():
    assert check_exercise("own_model", _pasted(lambda w1, b1, w2, b2: [
        _OwnLin(w1, b1), Relu(), _OwnLin(w2, b2)]), verbose=False)


def test_own_model_of_layers_on_the_packages_base_class_passes():
    """Lin and Mse pasted without notebook 4's LayerFunction subclass the package's: still the student's layers."""
    class PastedLin(LayerFunction):
        def __init__(self, w, b):
            self.w, self.b = w, b

        def forward(self, inp):
            return inp @ self.w + self.b

        def bwd(self, out, inp):
            inp.g, self.w.g, self.b.g = out.g @ self.w.t(), inp.t() @ out.g, out.g.sum(0)

    class PastedMse(LayerFunction):
        def forward(self, inp, targ):
            return (inp.squeeze(-1) - targ).pow(2).mean()

        def bwd(self, out, inp, targ):
            inp.g = (2 * (inp.squeeze(-1) - targ) / len(targ)).unsqueeze(-1)

    two_layer = _pasted(lambda w1, b1, w2, b2: [PastedLin(w1, b1), Relu(), PastedLin(w2, b2)], PastedMse)
    assert check_exercise("own_model", two_layer, verbose=False)


def test_own_model_still_on_the_packages_lin_names_lin_alone():
    result = check_exercise("own_model", _pasted(lambda w1, b1, w2, b2: [
        Lin(w1, b1), Relu(), Lin(w2, b2)]), verbose=False)
    assert not result
    assert all("Lin still comes from course_utils.layers" in line for line in result.feedback)
    assert not any("Relu" in line for line in result.feedback)


def test_the_hand_written_model_of_right_layers_passes_own_model():
    two_layer = _pasted(lambda w1, b1, w2, b2: [_OwnLin(w1, b1), _OwnRelu(), _OwnLin(w2, b2)])
    assert check_exercise("own_model", two_layer, verbose=False)


# --- notebook 07 ---------------------------------------------------------------------------------------------

def test_the_questionnaire_checks_only_its_own_new_exercises():
    path = next(NOTEBOOKS.glob("07_*.ipynb"))
    code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    names = re.findall(r'check_exercise\("(\w+)"', code)
    assert set(names) == {"mse_lin_grads", "linear_from_scratch"}
    assert all(EXERCISES[name].notebook == "07" for name in names)
    assert "relu_backward" not in EXERCISES


def test_mse_lin_grads_names_the_gradient_that_is_wrong():
    def reference(l2, w2, b2, y):
        return EXERCISES["mse_lin_grads"].reference(l2, w2, b2, y)

    def doubled_l2(l2, w2, b2, y):
        l2_grad, w2_grad, b2_grad = reference(l2, w2, b2, y)
        return 2 * l2_grad, w2_grad, b2_grad

    def mean_bias(l2, w2, b2, y):
        l2_grad, w2_grad, b2_grad = reference(l2, w2, b2, y)
        return l2_grad, w2_grad, b2_grad / l2.shape[0]

    assert "l2_grad" in misses(doubled_l2, "mse_lin_grads") and "item 0" not in misses(doubled_l2, "mse_lin_grads")
    found = misses(mean_bias, "mse_lin_grads")
    assert "b2_grad" in found and "sum" in found


def test_mse_lin_grads_names_the_missing_2_the_broadcast_and_autograd():
    def without_two(l2, w2, b2, y):
        g = (l2 @ w2 + b2 - y[:, None]) / len(y)
        return g @ w2.t(), l2.t() @ g, g.sum(0)

    def broadcast(l2, w2, b2, y):
        g = 2 * (l2 @ w2 + b2 - y) / len(y)
        return g @ w2.t(), l2.t() @ g, g.sum(0)

    def by_autograd(l2, w2, b2, y):
        l2, w2, b2 = (t.clone().requires_grad_() for t in (l2, w2, b2))
        ((l2 @ w2 + b2).squeeze(-1) - y).pow(2).mean().backward()
        return l2.grad, w2.grad, b2.grad

    assert "factor 2" in misses(without_two, "mse_lin_grads")
    assert "(N, N)" in misses(broadcast, "mse_lin_grads")
    assert "autograd" in misses(by_autograd, "mse_lin_grads")


def _linear(init, forward=lambda self, x: x @ self.weight.t() + self.bias, names=("weight", "bias")):
    """A Linear(n_in, n_out) class whose weight starts as ``init(n_in, n_out)``."""
    class Linear(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            setattr(self, names[0], nn.Parameter(init(n_in, n_out)))
            setattr(self, names[1], nn.Parameter(torch.zeros(n_out)))

        def forward(self, x):
            return forward(self, x)
    return Linear


def kaiming(n_in, n_out):
    return torch.randn(n_out, n_in) * (2 / n_in) ** 0.5


def test_a_linear_that_forgets_the_bias_fails_although_its_own_bias_is_zero():
    assert "self.bias" in misses(_linear(kaiming, lambda self, x: x @ self.weight.t()), "linear_from_scratch")


@pytest.mark.parametrize(("init", "named"), [
    (lambda n_in, n_out: torch.zeros(n_out, n_in), "random"),
    (lambda n_in, n_out: 10 * kaiming(n_in, n_out), "10x too large"),
    (lambda n_in, n_out: torch.randn(n_out, n_in), "too large"),
    (lambda n_in, n_out: torch.randn(n_out, n_in) / n_in ** 0.5, "ReLU halves"),
    (lambda n_in, n_out: torch.randn(n_out, n_in) * (2 / n_out) ** 0.5, "n_out"),
])
def test_a_linear_with_the_wrong_init_scale_fails_naming_it(init, named):
    found = misses(_linear(init), "linear_from_scratch")
    assert named in found and found.count("MISS") == 2   # the forward cases pass: only the scale is wrong


def test_a_linear_with_other_names_is_told_the_names_nn_linear_uses():
    assert "named weight and bias" in misses(_linear(kaiming, lambda self, x: x @ self.w.t() + self.b, ("w", "b")),
                                             "linear_from_scratch")


@pytest.mark.parametrize("init", ["kaiming_normal_", "kaiming_uniform_"])
def test_a_linear_written_with_nn_init_and_f_linear_passes(init):
    def drawn(n_in, n_out):
        w = torch.empty(n_out, n_in)
        getattr(nn.init, init)(w, nonlinearity="relu")
        return w

    assert check_exercise("linear_from_scratch", _linear(drawn, lambda self, x: nn.functional.linear(
        x, self.weight, self.bias)), verbose=False)


def test_the_questionnaire_quotes_notebook_01s_relu_std_as_printed():
    """Q30 cites the std after one Kaiming ReLU layer: the number notebook 01 stores, rounded as its prose rounds it."""
    cells_01 = json.loads((NOTEBOOKS / "01_initialization.ipynb").read_text())["cells"]
    cell = next(c for c in cells_01 if "l2.mean(), l2.std(), mean_square(l2)" in "".join(c["source"]))
    std = float(re.findall(r"tensor\(([-\d.]+)\)", "".join(cell["outputs"][0]["data"]["text/plain"]))[1])
    cells_07 = json.loads((NOTEBOOKS / "07_questionnaire.ipynb").read_text())["cells"]
    text_07 = "".join("".join(c["source"]) for c in cells_07)
    quoted = re.search(r"notebook 1 shows ([\d.]+) after one layer", text_07)
    assert quoted and quoted.group(1) == f"{std:.2f}", quoted
