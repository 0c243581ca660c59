"""The initialization explorer without a browser: controls, curves, reports of overflow, bad values."""

import math

import pytest
import torch

from course_utils import InitExplorer, init_explorer, layer_stats, layer_stds
from course_utils.fast_stats import fast_layer_stats


@pytest.fixture
def explorer() -> InitExplorer:
    return init_explorer()


def panel(explorer, key):
    return explorer.figure.act if key == "act" else explorer.figure.grad


def ydata(explorer, key):
    return torch.tensor(panel(explorer, key).line.get_ydata(), dtype=torch.float32)


def test_presets_set_the_right_scale(explorer):
    buttons = {b.description: b for b in explorer.preset_buttons}
    explorer.width.value = 64
    buttons["Xavier 1/sqrt(width)"].click()
    assert explorer.scale.value == pytest.approx(1 / 8)
    buttons["Kaiming sqrt(2/width)"].click()
    assert explorer.scale.value == pytest.approx(math.sqrt(2 / 64))
    buttons["unscaled 1.0"].click()
    assert explorer.scale.value == 1.0
    buttons["0.01"].click()
    assert explorer.scale.value == 0.01


@pytest.mark.parametrize("activation,scale", [("linear", 0.1), ("relu", math.sqrt(2 / 100)), ("tanh", 0.3),
                                              ("relu", 0.1), ("linear", 0.105)])
def test_curves_match_layer_stds(activation, scale):
    exact = init_explorer(scale=scale, activation=activation, shortcut=False)
    assert torch.equal(ydata(exact, "act"), layer_stds(scale, activation=activation))
    fast = init_explorer(scale=scale, activation=activation)
    assert torch.allclose(ydata(fast, "act"), layer_stds(scale, activation=activation), rtol=1e-4)


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
            explorer.scale.value, depth=10, width=explorer.width.value, activation=explorer.activation.value,
            seed=explorer.seed.value), rtol=1e-4, equal_nan=True)


def test_overflow_and_underflow_are_reported_in_words(explorer):
    explorer.scale.value = 1.0
    assert "activations: overflowed to inf/nan at layer 37" in explorer.readout.value
    assert list(panel(explorer, "act").rule.get_xdata()) == [37, 37]
    explorer.scale.value = 0.01
    assert "underflowed to exactly 0 at layer 45" in explorer.readout.value
    assert list(panel(explorer, "act").rule.get_xdata()) == [45, 45]
    explorer.scale.value = 0.1
    assert "final std" in explorer.readout.value
    assert math.isnan(panel(explorer, "act").rule.get_xdata()[0])


def test_readout_names_the_scale_the_activation_needs(explorer):
    explorer.activation.value = "relu"
    assert "scale 0.1 ·" in explorer.readout.value
    assert "ReLU needs sqrt(2/100) = 0.141" in explorer.readout.value


def test_nonsense_values_never_raise_inside_the_widget(explorer):
    explorer.scale.value = 0.0      # the slider clamps to its minimum
    assert explorer.scale.value == pytest.approx(1e-3)
    explorer.scale.value = -5.0
    assert explorer.scale.value == pytest.approx(1e-3)
    explorer.scale.value = float("nan")  # gets past the slider; must not become a traceback
    assert "Cannot compute: scale must be a finite number" in explorer.readout.value
    explorer.scale.value = 0.1
    assert "final std" in explorer.readout.value
    explorer.depth.value = 0        # clamped to 1
    assert explorer.depth.value == 1 and len(panel(explorer, "act").line.get_xdata()) == 1


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'"):
        init_explorer(activation="sigmoid")
    with pytest.raises(ValueError, match="scale must be a finite number >= 0"):
        init_explorer(scale=-1.0)
    with pytest.raises(ValueError, match="scale must be between 0.001 and 10 for the explorer, got 50"):
        init_explorer(scale=50.0)
    with pytest.raises(ValueError, match="depth must be between 1 and 100 for the explorer, got 0"):
        init_explorer(depth=0)
    with pytest.raises(ValueError, match="width must be between 2 and 256 for the explorer, got 1000"):
        init_explorer(width=1000)


@pytest.mark.parametrize("activation", ["linear", "relu"])
@pytest.mark.parametrize("scale", [0.05, 0.08, 0.1, 0.12, 0.141, 0.2])
def test_shortcut_agrees_with_float32(activation, scale):
    fast = fast_layer_stats(scale, activation=activation)
    assert fast is not None
    acts, grads = layer_stats(scale, activation=activation)
    assert torch.allclose(fast[0], acts, rtol=1e-4)
    assert torch.allclose(fast[1], grads, rtol=1e-3)


@pytest.mark.parametrize("activation,scale", [("linear", 1.0), ("linear", 0.01), ("relu", 1.0), ("tanh", 0.1),
                                              ("linear", 0.0)])
def test_shortcut_declines_where_float32_breaks_or_does_not_apply(activation, scale):
    assert fast_layer_stats(scale, activation=activation) is None


def test_displays_as_a_widget_with_a_readable_text_form(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == "InitExplorer(scale=0.1, activation='linear', depth=50, width=100, seed=0)"


def snapped(value: float, step: float = 0.01) -> float:
    """What the browser's slider sends back for a value: 10 ** (exponent rounded to the step)."""
    return 10 ** (round(math.log10(value) / step) * step)


def test_browser_echo_of_a_preset_keeps_the_exact_value(explorer):
    explorer.preset_buttons[3].click()  # Kaiming: sqrt(2/100), between two slider steps
    exact = explorer.scale.value
    explorer.scale.set_state({"value": snapped(exact)})
    assert explorer.scale.value == exact
    assert "scale 0.141" in explorer.readout.value


def test_late_echo_does_not_undo_a_later_change(explorer):
    explorer.preset_buttons[3].click()
    kaiming = explorer.scale.value
    explorer.preset_buttons[0].click()  # 1.0, set before the echo of the Kaiming value arrives
    explorer.scale.set_state({"value": snapped(kaiming)})
    assert explorer.scale.value == 1.0
    assert "scale 1 ·" in explorer.readout.value


def test_a_real_move_in_the_browser_is_taken(explorer):
    explorer.scale.set_state({"value": snapped(0.1) * 10 ** 0.01})
    assert explorer.scale.value == pytest.approx(0.1023, rel=1e-3)
    assert "scale 0.102" in explorer.readout.value
