import subprocess
import sys

import shinsou.viz as viz


def test_import_does_not_import_matplotlib():
    code = "import sys, shinsou.viz; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_public_names():
    for name in (
        "plot_history",
        "plot_model",
        "plot_filters",
        "plot_feature_maps",
        "plot_confusion_matrix",
        "show_predictions",
        "plot_optimizer_paths",
        "optimizer_paths",
        "plot_computation_graph",
    ):
        assert callable(getattr(viz, name)) and name in viz.__all__
