"""The initialization explorer without a browser: controls, curves, reports of overflow, bad values."""

import math

import pytest
import torch

from course_utils import InitExplorer, init_explorer, layer_stats, layer_stds


@pytest.fixture
def explorer() -> InitExplorer:
    return init_explorer()


def panel(explorer, key):
    return explorer.figure.act if key == "act" else explorer.figure.grad


def ydata(explorer, key):
    return torch.tensor(panel(explorer, key).line.get_ydata(), dtype=torch.float32)


def grid(value: float, step: float = 0.01) -> float:
    """The slider's grid point nearest to ``value``: 10 ** (exponent rounded to the step)."""
    return 10 ** (round(math.log10(value) / step) * step)


def test_presets_land_on_the_slider_grid_nearest_the_formula(explorer):
    buttons = {b.description: b for b in explorer.preset_buttons}
    explorer.width.value = 64
    buttons["Xavier 1/sqrt(width)"].click()
    assert explorer.scale.value == grid(1 / 8) == pytest.approx(1 / 8, rel=0.012)
    buttons["Kaiming sqrt(2/width)"].click()
    assert explorer.scale.value == grid(math.sqrt(2 / 64))
    buttons["unscaled 1.0"].click()
    assert explorer.scale.value == 1.0
    buttons["0.01"].click()
    assert explorer.scale.value == pytest.approx(0.01)


@pytest.mark.parametrize("activation,scale", [("linear", 0.1), ("relu", 0.1412537544622754), ("tanh", 0.3)])
def test_curves_are_layer_stds_of_the_live_batch(activation, scale):
    lab = init_explorer(scale=scale, activation=activation)
    expected = layer_stds(lab.scale.value, activation=activation, batch=lab.batch)
    assert torch.equal(ydata(lab, "act"), expected)
    assert torch.equal(lab.grad_stds, layer_stats(lab.scale.value, activation=activation, batch=lab.batch)[1])


def test_gradient_curve_matches_autograd():
    depth, width, batch, seed = 6, 8, 5, 3
    for activation in ("linear", "relu", "tanh"):
        _, grad_stds = layer_stats(0.7, depth=depth, width=width, batch=batch, activation=activation, seed=seed)
        gen = torch.Generator().manual_seed(seed)
        h = torch.randn(batch, width, generator=gen)
        weights = torch.randn(depth, width, width, generator=gen) * 0.7
        act = {"linear": lambda t: t, "relu": torch.relu, "tanh": torch.tanh}[activation]
        outputs = []
        for w in weights:
            h = act(h @ w)
            h.retain_grad() if h.requires_grad else h.requires_grad_()
            outputs.append(h)
        upstream = torch.randn(batch, width, generator=torch.Generator().manual_seed(seed + 1))
        (outputs[-1] * upstream).sum().backward()
        expected = torch.stack([o.grad.std() for o in outputs])
        assert torch.allclose(grad_stds, expected, rtol=1e-5), activation


def test_every_control_redraws_at_once(explorer):
    before = explorer.image.value
    explorer.depth.value = 10
    assert len(panel(explorer, "act").line.get_xdata()) == 10
    assert explorer.image.value != before
    for control, value in ((explorer.width, 30), (explorer.seed, 7), (explorer.activation, "tanh"),
                           (explorer.scale, 0.3)):
        before = explorer.image.value
        control.value = value
        assert explorer.image.value != before, control.description
        assert torch.allclose(ydata(explorer, "act"), layer_stds(
            explorer.scale.value, depth=10, width=explorer.width.value, batch=explorer.batch,
            activation=explorer.activation.value, seed=explorer.seed.value), equal_nan=True)


def test_overflow_and_underflow_are_reported_in_words(explorer):
    explorer.scale.value = 1.0
    assert "activations: overflowed to inf/nan at layer" in explorer.readout.value
    assert panel(explorer, "act").rule.get_visible()
    explorer.scale.value = 0.01
    assert "underflowed to exactly 0 at layer" in explorer.readout.value
    explorer.scale.value = 0.1
    assert "final std" in explorer.readout.value
    assert not panel(explorer, "act").rule.get_visible()


def test_readout_names_the_scale_the_activation_needs(explorer):
    explorer.activation.value = "relu"
    assert "scale 0.1 ·" in explorer.readout.value
    assert "sqrt(2/100) = 0.141" in explorer.readout.value


def test_values_outside_the_range_are_clamped_and_said(explorer):
    explorer.scale.value = 50
    assert explorer.scale.value == 10.0
    assert "50" in explorer.readout.value and "outside" in explorer.readout.value
    explorer.scale.value = 50  # asked again: no change of value, and the readout still says why
    assert "outside" in explorer.readout.value
    explorer.scale.value = 0.0
    assert explorer.scale.value == pytest.approx(1e-3)
    explorer.scale.value = 0.1
    assert "outside" not in explorer.readout.value and "final std" in explorer.readout.value
    with pytest.raises(Exception, match="nan"):
        explorer.scale.value = float("nan")
    explorer.depth.value = 0        # the IntSlider clamps to 1
    assert explorer.depth.value == 1 and len(panel(explorer, "act").line.get_xdata()) == 1


@pytest.mark.parametrize("kwargs,error,names", [
    ({"activation": "sigmoid"}, ValueError, "'sigmoid'"),
    ({"scale": -1.0}, ValueError, "-1"),
    ({"scale": 50.0}, ValueError, "50"),
    ({"depth": 0}, ValueError, "depth"),
    ({"depth": 50.5}, TypeError, "depth"),
    ({"width": 1000}, ValueError, "width"),
    ({"width": "100"}, TypeError, "width"),
    ({"width": 1}, ValueError, "width"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_bad_constructor_arguments_name_the_argument(kwargs, error, names):
    with pytest.raises(error, match=names):
        init_explorer(**kwargs)


def test_displays_as_a_widget_view_built_by_hand(explorer):
    bundle = explorer._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == explorer.ui.model_id and view["version_major"] == 2
    assert bundle["text/plain"] == repr(explorer) and "scale=0.1" in repr(explorer)


def test_browser_copy_of_a_preset_changes_nothing(explorer):
    explorer.preset_buttons[3].click()  # Kaiming: sqrt(2/100), snapped to the grid
    kaiming = explorer.scale.value
    before = explorer.image.value
    explorer.scale.set_state({"value": 10 ** -0.85})  # what the browser computes for that grid point
    assert explorer.scale.value == kaiming and explorer.image.value == before


def test_a_step_back_onto_a_preset_is_taken(explorer):
    """The seminar's move: Xavier, one arrow step right, one step left: back on Xavier."""
    explorer.preset_buttons[2].click()  # Xavier 1/sqrt(100) = 0.1
    explorer.scale.set_state({"value": 10 ** (-1 + 0.01)})
    assert "scale 0.102" in explorer.readout.value
    explorer.scale.set_state({"value": 10 ** -1.0})
    assert explorer.scale.value == pytest.approx(0.1) and "scale 0.1 ·" in explorer.readout.value
    explorer.preset_buttons[0].click()  # the same after "unscaled 1.0"
    explorer.scale.set_state({"value": 10 ** 0.01})
    explorer.scale.set_state({"value": 1.0})
    assert explorer.scale.value == 1.0


def test_training_steps_are_checked(explorer):
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            explorer.train(bad)
    assert explorer.train(3).shape == (3,)


def test_a_late_copy_of_a_preset_does_not_undo_the_next_value(explorer):
    """Run All over two cells: Kaiming, then 1.0; the browser's copy of Kaiming arrives after both."""
    explorer.preset_buttons[3].click()
    explorer.preset_buttons[0].click()
    explorer.scale.set_state({"value": 10 ** -0.8500000000000001})  # the browser's copy of Kaiming
    explorer.scale.set_state({"value": 1.0000000000000002})         # and of 1.0
    assert explorer.scale.value == 1.0 and "scale 1 ·" in explorer.readout.value
    explorer.scale.set_state({"value": 10 ** 0.01})  # then the student's own steps are all taken
    explorer.scale.set_state({"value": 1.0})
    explorer.scale.set_state({"value": 10 ** -0.01})
    assert explorer.scale.value == pytest.approx(10 ** -0.01)
