"""Pictures of what networks do and learn: learning curves, the layer graph, filters and
feature maps, confusion matrices, predictions, optimizer paths over a loss landscape and
the autograd graph of an expression.

Every function builds a :class:`matplotlib.figure.Figure` on the Agg canvas (no
``pyplot``: no display needed and no global matplotlib state touched), returns it, and
saves it as a PNG when given ``to_file`` (written atomically: a temporary file, then
``os.replace``). matplotlib is imported on first use, not by ``import shinsou.viz``
(``pip install "shinsou[all]"``).

Example:
    >>> import shinsou.viz as viz
    >>> figure = viz.plot_history({"loss": [0.8, 0.4, 0.3], "val_loss": [0.9, 0.6, 0.5]})
    >>> type(figure).__name__
    'Figure'
"""

from .autograd_graph import computation_graph, plot_computation_graph
from .convnets import plot_feature_maps, plot_filters
from .model_plot import model_graph, plot_model
from .optimizer_landscape import (
    OptimizerPath,
    loss_and_gradient,
    optimizer_paths,
    plot_optimizer_paths,
)
from .training import confusion_matrix, plot_confusion_matrix, plot_history, show_predictions

__all__ = [
    "OptimizerPath",
    "computation_graph",
    "confusion_matrix",
    "loss_and_gradient",
    "model_graph",
    "optimizer_paths",
    "plot_computation_graph",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_history",
    "plot_model",
    "plot_optimizer_paths",
    "show_predictions",
]
