"""The explorer as a lab: distributions per layer, the verdict, pins, training, and its static picture."""

import asyncio
import base64
import io
import math

import pytest
import torch
from PIL import Image

from course_utils import init_explorer, layer_distributions, layer_stats
from course_utils.diagnosis import (
    MAJORITY,
    RUNAWAY,
    Verdict,
    bin_edges,
    dead_share,
    diagnose,
    saturated_share,
    stack_stats,
)
from course_utils.explorer.figures import PIN_COLORS, WIDTH_PX
from course_utils.initialization import stack_values
from course_utils.training import MAX_DEPTH, StackTraining


def train_stack(scale, activation, depth, width, steps):
    """The explorer's training of one setting, step by step: its losses and last update-to-data ratios."""
    run = StackTraining(scale, activation, depth, width)
    for _ in range(steps):
        run.step()
    return torch.tensor(run.losses), run.ratios


def counted_shares(values, edges):
    """Shares per bin by a plain loop over layers and bins: the definition the fast code must meet."""
    log = math.isinf(edges[0].item())
    rows = []
    for layer in values.flatten(1):
        key = layer.double().abs().log10().nan_to_num(nan=math.inf) if log else layer.double()
        row = []
        for i in range(len(edges) - 1):
            low, high = edges[i].item(), edges[i + 1].item()
            inside = (key >= low) & (key < high) if i < len(edges) - 2 else key >= low
            row.append(inside.double().mean().item())
        if not log:  # values at -1 or below fall in the first bin, like the clamped fast version
            row[0] += (key < edges[0].item()).double().mean().item()
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float32)


@pytest.mark.parametrize("activation,scale", [("linear", 0.1), ("relu", 0.1414), ("tanh", 0.3), ("linear", 1.0)])
def test_distributions_are_shares_of_units_per_bin(activation, scale):
    for which in ("activations", "gradients"):
        got, edges = layer_distributions(scale, depth=8, width=20, batch=30, activation=activation, which=which)
        assert got.shape == (8, len(edges) - 1)
        assert torch.allclose(got.sum(1), torch.ones(8))
        acts, grads = stack_values(scale, depth=8, width=20, batch=30, activation=activation)
        expected = counted_shares(acts if which == "activations" else grads, edges)
        assert (got - expected).abs().max() <= 2 / 600 + 1e-6  # at most a unit or two on a bin edge


def test_tanh_is_binned_by_value_and_saturation_piles_up_at_the_ends():
    edges = bin_edges("tanh")
    assert edges[0] == -1 and edges[-1] == 1
    got, _ = layer_distributions(1.0, depth=5, activation="tanh")
    ends = got[:, 0] + got[:, -1]
    assert (ends > 0.5).all()  # with unscaled weights most units sit at -1 or +1
    assert math.isinf(bin_edges("relu")[0]) and math.isinf(bin_edges("tanh", "gradients")[-1])


def test_stds_of_the_values_are_those_of_layer_stats():
    acts, grads = stack_values(0.3, depth=6, width=16, batch=10, activation="tanh", seed=2)
    a, g = layer_stats(0.3, depth=6, width=16, batch=10, activation="tanh", seed=2)
    assert torch.equal(torch.stack([x.std() for x in acts]), a)
    assert torch.equal(torch.stack([x.std() for x in grads]), g)


@pytest.mark.parametrize("activation,scale,depth,width,batch", [
    ("tanh", 0.1, 50, 100, 64), ("tanh", 0.001, 13, 33, 17), ("linear", 1.0, 50, 100, 64),
    ("linear", 0.01, 50, 100, 64), ("relu", 0.05, 50, 100, 64), ("relu", 1.0, 7, 16, 10), ("tanh", 2.0, 1, 5, 3),
])
def test_explorer_numbers_are_those_of_the_public_functions(activation, scale, depth, width, batch):
    stats = stack_stats(scale, activation, depth, width, batch, 3)
    acts_std, grads_std = layer_stats(scale, depth=depth, width=width, batch=batch, activation=activation, seed=3)
    assert torch.equal(stats.act_stds.nan_to_num(), acts_std.nan_to_num())  # nan never equals nan
    assert torch.equal(stats.grad_stds.nan_to_num(), grads_std.nan_to_num())
    for which, got in (("activations", stats.act_shares), ("gradients", stats.grad_shares)):
        expected, _ = layer_distributions(scale, depth, width, batch, activation, 3, which=which)
        assert torch.equal(got, expected), which
    acts, _ = stack_values(scale, depth, width, batch, activation, 3)
    if activation == "tanh":
        assert torch.equal(stats.saturated, saturated_share(acts))
    if activation == "relu":
        assert torch.equal(stats.dead, dead_share(acts))


def test_dead_units_are_zero_for_every_example():
    acts = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])  # one layer, two examples, three units
    assert dead_share(acts).tolist() == pytest.approx([2 / 3])
    assert saturated_share(torch.tensor([[[0.995, -0.999, 0.5, 0.99]]])).tolist() == pytest.approx([0.5])


def stds(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_verdict_rules():
    flat, none = stds(1, 1, 1, 1), torch.zeros(4)
    assert diagnose(flat, flat, none, none).state == "healthy"
    grows = stds(1, 10, 2 * RUNAWAY, math.inf)
    assert diagnose(grows, flat, none, none) == Verdict("exploding", 3, diagnose(grows, flat, none, none).threshold)
    assert diagnose(stds(1, 0.1, 1e-4, 0), flat, none, none).layer == 3
    assert diagnose(stds(1, 0.1, 1e-4, 0), flat, none, none).state == "vanishing"
    # gradients are measured from the last layer down
    assert (diagnose(flat, stds(1e-5, 1, 1, 1), none, none).state,
            diagnose(flat, stds(1e-5, 1, 1, 1), none, none).layer) == ("vanishing", 1)
    half = torch.tensor([0.0, MAJORITY, MAJORITY + 0.01, 1.0])
    assert (diagnose(flat, flat, half, none).state, diagnose(flat, flat, half, none).layer) == ("saturated", 3)
    assert diagnose(flat, flat, none, half).state == "dead"
    # a cause and its effect at the same layer: the cause is named
    assert diagnose(stds(1, 1, 1e-4, 0), flat, none, torch.tensor([0, 0, 0.9, 1.0])).state == "dead"


@pytest.fixture
def explorer():
    return init_explorer()


@pytest.mark.parametrize("activation,scale,state", [("linear", 0.1, "healthy"), ("linear", 1.0, "exploding"),
                                                    ("linear", 0.01, "vanishing"), ("tanh", 1.0, "saturated"),
                                                    ("relu", 0.1, "vanishing")])
def test_explorer_verdict_in_the_readout(explorer, activation, scale, state):
    explorer.activation.value = activation
    explorer.scale.value = scale
    verdict = explorer.verdict()
    assert verdict.state == state
    assert f"Verdict: {verdict}" in explorer.readout.value
    if state != "healthy":
        assert f"{state} from layer {verdict.layer}" in explorer.readout.value


def test_readout_names_saturated_and_dead_units(explorer):
    explorer.activation.value = "tanh"
    explorer.scale.value = 1.0
    assert "saturated units (|a| &gt; 0.99)" in explorer.readout.value or "saturated units (|a| > 0.99)" in \
        explorer.readout.value
    explorer.activation.value = "relu"
    assert "dead units (0 for every example)" in explorer.readout.value
    explorer.activation.value = "linear"
    assert "dead units" not in explorer.readout.value and "saturated units" not in explorer.readout.value


def test_pins_keep_curves_with_the_live_seed(explorer):
    explorer.activation.value = "relu"
    explorer.scale.value = 0.1
    explorer.pin()
    explorer.pin()  # the same setting twice is one pin
    explorer.scale.value = math.sqrt(2 / 100)
    explorer.pin()
    assert [p.label for p in explorer.pins] == ["ReLU, scale 0.1, 50x100", "ReLU, scale 0.141, 50x100"]
    lines = explorer.figure.act.pins
    assert [line.get_color() for line in lines] == list(PIN_COLORS[:2])
    assert torch.allclose(torch.tensor(lines[0].get_ydata(), dtype=torch.float32),
                          layer_stats(0.1, activation="relu", batch=explorer.batch)[0])
    assert "pinned: orange dashed = ReLU, scale 0.1, 50x100" in explorer.readout.value
    explorer.seed.value = 5
    assert torch.equal(explorer.pins[0].act_stds, layer_stats(0.1, activation="relu", batch=explorer.batch, seed=5)[0])
    for scale in (0.2, 0.3):
        explorer.scale.value = scale
        explorer.pin()
    assert len(explorer.pins) == 3 and explorer.pins[0].label == "ReLU, scale 0.141, 50x100"
    before = explorer.image.value
    explorer.clear_pins()
    assert explorer.pins == [] and explorer.figure.act.pins == [] and explorer.image.value != before


def test_pin_and_clear_buttons(explorer):
    explorer.pin_button.click()
    assert len(explorer.pins) == 1
    explorer.clear_button.click()
    assert explorer.pins == []


def test_training_from_code_returns_the_losses_and_pins_keep_theirs(explorer):
    explorer.activation.value = "relu"
    explorer.scale.value = 0.1
    explorer.pin()
    explorer.preset_buttons[3].click()  # Kaiming
    losses = explorer.train(30)
    assert losses.shape == (30,) and torch.isfinite(losses).all()
    expected, ratios = train_stack(explorer.scale.value, "relu", 50, 100, 30)
    assert torch.equal(losses, expected)
    assert explorer.pins[0].losses.shape == (30,)  # the unpinned-loss pin was trained too
    assert torch.equal(explorer.pins[0].losses, train_stack(0.1, "relu", 50, 100, 30)[0])
    assert f"trained 30 steps ({MAX_DEPTH} layers + read-out)" in explorer.readout.value
    assert torch.equal(explorer.live_ratios, ratios)
    explorer.pin()
    assert torch.equal(explorer.pins[1].losses, losses)  # pinning keeps the live loss curve
    loss_lines = explorer.training_figure.ax_loss.lines
    assert len(loss_lines) == 3
    explorer.scale.value = 0.2  # the live curve belonged to the old setting
    assert explorer.live_losses is None and len(explorer.training_figure.ax_loss.lines) == 2


def test_update_to_data_ratio_is_log10_of_update_over_weight_std():
    run = StackTraining(0.1414, "relu", depth=3, width=8, batch=16, lr=0.02)
    before = [w.detach().clone() for w in run.weights]
    run.step()
    for i, (w, old) in enumerate(zip(run.weights, before)):
        update = old - w.detach()
        assert run.ratios[i].item() == pytest.approx(math.log10(update.std().item() / old.std().item()), abs=1e-3)
    assert len(run.weights) == 4


def test_training_depth_is_capped():
    run = StackTraining(0.1414, "relu", depth=MAX_DEPTH + 20, width=8)
    assert len(run.weights) == MAX_DEPTH + 1


def test_train_button_runs_in_slices_and_a_control_change_cancels_it(explorer):
    explorer.steps.value = 40

    async def click_and_wait():
        explorer.train_button.click()
        assert explorer._task is not None and explorer._task.running  # not finished inside the click
        while explorer._task is not None:
            await asyncio.sleep(0.01)

    asyncio.run(click_and_wait())
    assert explorer.live_losses.shape == (40,) and explorer.progress.value == explorer.progress.max

    explorer.steps.value = 2000  # far more than one slice of 0.1 s can run, on any machine

    async def click_then_move():
        explorer.train_button.click()
        await asyncio.sleep(0)
        explorer.scale.value = 0.5  # a different value than the current one, so it is a change

    asyncio.run(click_then_move())
    assert explorer._task is None and explorer.live_losses is None and explorer.progress.value == 0


def test_static_picture_beside_the_widget_view(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    image = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert image.width == WIDTH_PX and image.height > 600


def test_image_is_never_shown_wider_than_drawn_and_shrinks_with_the_pane(explorer):
    assert Image.open(io.BytesIO(explorer.image.value)).width == WIDTH_PX
    assert explorer.image.layout.max_width == f"{WIDTH_PX}px" and explorer.image.layout.width == "100%"


def test_a_pin_at_the_live_setting_is_painted_over_the_live_curve(explorer):
    explorer.pin()
    assert explorer.figure.act.pins  # the renderer paints these after the live line (see StackFigure.render)
    before = explorer.image.value
    explorer.clear_pins()
    assert explorer.image.value != before  # the pin was visible: removing it changed the picture


def test_caption_follows_the_controls(explorer):
    explorer.depth.value = 12
    explorer.activation.value = "tanh"
    assert "A 12-layer stack of width 100 with tanh" in explorer.caption.value
