"""Building blocks of the Foundations course: a neural net from plain tensors up to ``nn.Module``."""

import importlib

from .activations import ACTIVATIONS, SCALES, Activation, kaiming_scale, resolve_scale, xavier_scale
from .checks import GradCheck, GradComparison, check_grads
from .diagnosis import layer_distributions
from .doctor import doctor
from .exercises import EXERCISES, ExerciseResult, check_exercise
from .functions import forward_and_backward, lin, lin_grad, mse, mse_grad, relu, relu_grad
from .initialization import describe_fate, layer_stats, layer_stds
from .layers import LayerFunction, Lin, Model, Mse, Relu
from .pytorch import LinearLayer, Module, MyRelu, TwoLayerNet
from .reproducibility import reproducible
from .training import toy_problem

# Widgets, plots and images load on first use, so `import course_utils` costs only torch.
LAZY = {"init_explorer": "explorer", "InitExplorer": "explorer",
        "draw_network_flow": "plotting", "plot_layer_stds": "plotting"}


def __getattr__(name: str) -> object:
    """Import the explorer and the plotting helpers the first time one of them is asked for."""
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ACTIVATIONS",
    "Activation",
    "check_exercise",
    "check_grads",
    "describe_fate",
    "doctor",
    "draw_network_flow",
    "ExerciseResult",
    "EXERCISES",
    "forward_and_backward",
    "GradCheck",
    "GradComparison",
    "init_explorer",
    "InitExplorer",
    "kaiming_scale",
    "layer_distributions",
    "layer_stats",
    "layer_stds",
    "LayerFunction",
    "Lin",
    "lin",
    "lin_grad",
    "LinearLayer",
    "Model",
    "Module",
    "Mse",
    "mse",
    "mse_grad",
    "MyRelu",
    "plot_layer_stds",
    "Relu",
    "relu",
    "relu_grad",
    "reproducible",
    "resolve_scale",
    "SCALES",
    "toy_problem",
    "TwoLayerNet",
    "xavier_scale",
]
