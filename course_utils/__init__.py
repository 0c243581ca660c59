"""Building blocks of the Foundations course: a neural net from plain tensors up to ``nn.Module``."""

from .activations import SCALES, Activation, kaiming_scale, xavier_scale
from .checks import GradCheck, GradComparison, check_grads
from .doctor import doctor
from .exercises import EXERCISES, ExerciseResult, check_exercise
from .explorer import InitExplorer, init_explorer
from .functions import forward_and_backward, lin, lin_grad, mse, mse_grad, relu, relu_grad
from .initialization import ACTIVATIONS, describe_fate, layer_stats, layer_stds, resolve_scale
from .layers import LayerFunction, Lin, Model, Mse, Relu
from .plotting import draw_network_flow, plot_layer_stds
from .pytorch import LinearLayer, Module, MyRelu, TwoLayerNet
from .reproducibility import reproducible
from .training import toy_problem

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
