"""Notebooks 04 and 05: the tanh layer, the clamp Function, the Net to fix and Module.__new__ name each mistake."""

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from course_utils import mse
from course_utils.exercises import EXERCISES, check_exercise
from course_utils.layers import LayerFunction

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def misses(answer, name):
    """The MISS lines of checking ``answer``; the check must fail."""
    result = check_exercise(name, answer, verbose=False)
    assert not result, result.feedback
    return "\n".join(line for line in result.feedback if "MISS" in line)


def code_cells(name):
    """The sources of a notebook's code cells, in order."""
    cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


# --- notebook 04: Tanh ---------------------------------------------------------------------------------------

def tanh_layer(bwd):
    """A Tanh layer with the given bwd and a right forward."""
    return type("Tanh", (LayerFunction,), {"forward": lambda self, inp: torch.tanh(inp), "bwd": bwd})


@pytest.mark.parametrize("bwd, named", [
    (lambda self, out, inp: setattr(inp, "g", 1 - out**2), "out.g"),
    (lambda self, out, inp: setattr(inp, "g", (1 - inp**2) * out.g), "uses inp"),
    (lambda self, out, inp: setattr(inp, "g", (1 - out) * out.g), "squared"),
    (lambda self, out, inp: setattr(inp, "g", (out**2 - 1) * out.g), "sign"),
    (lambda self, out, inp: setattr(inp, "g", out * (1 - out) * out.g), "sigmoid"),
])
def test_a_wrong_tanh_backward_is_named(bwd, named):
    assert named in misses(tanh_layer(bwd), "tanh_layer")


def test_a_tanh_written_another_way_passes():
    class Tanh(LayerFunction):
        def forward(self, inp):
            return (1 - torch.exp(-2 * inp)) / (1 + torch.exp(-2 * inp))

        def bwd(self, out, inp):
            inp.g = out.g / torch.cosh(inp) ** 2

    assert check_exercise("tanh_layer", Tanh, verbose=False)


def test_a_tanh_that_squashes_its_input_in_place_is_named():
    class InPlace(LayerFunction):
        def forward(self, inp):
            return inp.tanh_()

        def bwd(self, out, inp):
            inp.g = (1 - out**2) * out.g

    assert "in place" in misses(InPlace, "tanh_layer")


@pytest.mark.parametrize("gain, named", [(math.sqrt(2), "ReLU's gain"), (2, "variance"),
                                         (5 / 3, "calculate_gain"), (0.5, "tanh(x) is close to x"),
                                         ("1", "plain number")])
def test_a_wrong_gain_is_named_without_giving_the_answer(gain, named):
    found = misses(gain, "tanh_gain")
    assert named in found and "expected" not in found


@pytest.mark.parametrize("gain", [1, 1.0, torch.tensor(1.0)])
def test_the_gain_as_an_int_a_float_or_a_tensor_passes(gain):
    assert check_exercise("tanh_gain", gain, verbose=False)


# --- the order of the cells --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, check, run", [
    ("04_refactor.ipynb", 'check_exercise("kept_shapes"', "layer.inp.shape"),
    ("05_pytorch.ipynb", 'check_exercise("autograd_records"', "t.grad_fn for t in"),
])
def test_a_cell_that_shows_the_answer_comes_after_its_prediction_check(name, check, run):
    cells = code_cells(name)
    checked = next(i for i, c in enumerate(cells) if check in c)
    shown = next(i for i, c in enumerate(cells) if run in c)
    assert checked < shown


def test_notebook_4_no_longer_compares_with_the_package_model():
    assert not any("course_utils.Model(" in c for c in code_cells("04_refactor.ipynb"))


# --- notebook 05: MyClamp ----------------------------------------------------------------------------------

def clamp_function(backward):
    """An autograd.Function with a right forward for clamp and the given backward."""
    class Clamp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, inp, lo, hi):
            ctx.save_for_backward(inp)
            ctx.lo, ctx.hi = lo, hi
            return inp.clamp(lo, hi)

    Clamp.backward = staticmethod(backward)
    return Clamp


def inside(ctx):
    (inp,) = ctx.saved_tensors
    return (inp > ctx.lo) & (inp < ctx.hi)


def in_place(ctx, grad_output):
    grad_output[~inside(ctx)] = 0
    return grad_output, None, None


@pytest.mark.parametrize("backward, named", [
    (lambda ctx, g: (inside(ctx).to(g.dtype), None, None), "grad_output"),
    (lambda ctx, g: (g * (ctx.saved_tensors[0] > ctx.lo), None, None), "ReLU's mask"),
    (lambda ctx, g: (g, None, None), "no gradient passes"),
    (lambda ctx, g: (g * ~inside(ctx), None, None), "flipped"),
    (lambda ctx, g: g * inside(ctx), "one gradient for each"),
    (in_place, "in place"),
])
def test_a_wrong_clamp_backward_is_named(backward, named):
    assert named in misses(clamp_function(backward), "my_clamp")


def test_a_clamp_that_saves_its_bounds_as_tensors_passes():
    class Clamp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, inp, lo, hi):
            ctx.save_for_backward(inp, torch.tensor(lo), torch.tensor(hi))
            return torch.minimum(torch.maximum(inp, torch.tensor(lo)), torch.tensor(hi))

        @staticmethod
        def backward(ctx, grad_output):
            inp, lo, hi = ctx.saved_tensors
            return torch.where((inp > lo) & (inp < hi), grad_output, 0.0), None, None

    assert check_exercise("my_clamp", Clamp, verbose=False)


class MaskClamp(torch.autograd.Function):
    """A right clamp that keeps its mask in ctx, not the input and the bounds."""

    @staticmethod
    def forward(ctx, inp, lo, hi):
        ctx.save_for_backward((inp > lo) & (inp < hi))
        return inp.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad_output):
        (mask,) = ctx.saved_tensors
        return grad_output * mask, None, None


def test_a_clamp_that_saves_a_mask_passes_and_the_cells_below_run_with_it():
    assert check_exercise("my_clamp", MaskClamp, verbose=False)
    cells = code_cells("05_pytorch.ipynb")
    start = next(i for i, c in enumerate(cells) if 'check_exercise("my_clamp"' in c) + 1
    end = next(i for i, c in enumerate(cells) if "class LowClamp" in c) + 1
    namespace = {"torch": torch, "MyClamp": MaskClamp}
    for cell in cells[start:end]:
        exec(compile(cell, "<notebook 05>", "exec"), namespace)  # noqa: S102 - the notebook's own cells
    assert namespace["fn"] is namespace["LowClamp"]


def test_a_clamp_that_clamps_its_input_in_place_is_named():
    class ClampInPlace(MaskClamp):
        @staticmethod
        def forward(ctx, inp, lo, hi):
            ctx.save_for_backward((inp > lo) & (inp < hi))
            return inp.clamp_(lo, hi)

    found = misses(ClampInPlace, "my_clamp")
    assert "in place" in found and "clamp_" in found


# --- notebook 05: the Net to fix ---------------------------------------------------------------------------

class BrokenNet(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        self.layers = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))

    def forward(self, x, targ):
        return mse(self.layers(x), targ)


class LateNet(BrokenNet):
    def __init__(self, n_in, n_hidden, n_out):
        self.layers = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))
        super().__init__()


class ExplicitNet(BrokenNet):
    def __init__(self, n_in, n_hidden, n_out):
        nn.Module.__init__(self)
        self.layers = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))


def test_the_net_as_handed_out_shows_torchs_error_and_names_the_cause_but_is_no_failed_try():
    for _ in range(3):
        found = misses(BrokenNet, "net_init")
        assert "AttributeError" in found and "self.layers" in found
        assert "registry" in found
        assert "hint" not in found


def test_a_super_init_called_too_late_is_named_and_counts():
    assert "had not run" in misses(LateNet, "net_init")
    assert check_exercise("net_init", LateNet, verbose=False).feedback[-1].startswith("  hint: ")


def test_a_net_fixed_with_an_explicit_module_init_passes_and_names_the_bug_it_fixed():
    result = check_exercise("net_init", ExplicitNet, verbose=False)
    assert result and any(line.startswith("  fixed:") and "super().__init__()" in line for line in result.feedback)


def test_a_net_with_other_layer_names_is_told_its_parameters():
    class Renamed(BrokenNet):
        def __init__(self, n_in, n_hidden, n_out):
            nn.Module.__init__(self)
            self.first, self.second = nn.Linear(n_in, n_hidden), nn.Linear(n_hidden, n_out)
            self.layers = nn.Sequential(self.first, nn.ReLU(), self.second)

    assert "its parameters are" in misses(Renamed, "net_init")


# --- notebook 05: Module.__new__ ---------------------------------------------------------------------------

class SuperInitInNew(nn.Module):
    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        super().__init__()
        return obj


class ArgsToObjectNew(nn.Module):
    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls, *args, **kwargs)
        nn.Module.__init__(obj)
        return obj


class SuperOfTheObject(nn.Module):
    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        super(SuperOfTheObject, obj).__init__()
        return obj


def test_super_init_inside_new_is_diagnosed_as_such():
    found = misses(SuperInitInNew, "fastai_module")
    assert "super().__init__() inside __new__" in found and "subclass's own __init__" not in found


def test_passing_the_arguments_to_object_new_is_named():
    assert "takes the class alone" in misses(ArgsToObjectNew, "fastai_module")


def test_a_new_that_runs_nn_module_init_through_super_of_the_object_passes():
    assert check_exercise("fastai_module", SuperOfTheObject, verbose=False)


def test_the_new_exercise_states_the_goal_not_the_lines():
    text = "".join("".join(c["source"]) for c in json.loads((NOTEBOOKS / "05_pytorch.ipynb").read_text())["cells"]
                   if c["cell_type"] == "markdown")
    hint = EXERCISES["fastai_module"].hint
    for line in ("super().__new__(cls)", "nn.Module.__init__(obj)"):
        assert line not in text and line not in hint
    assert "PrePostInitMeta" in text and "__pre_init__" in text
