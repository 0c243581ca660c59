"""Package-wide promises: every notebook stored executed, a light import. (Docstrings and type hints of every
public function are ruff rules: D10x and ANN in pyproject.toml, checked by `make lint`.)"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import course_utils

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_stored_executed_in_order(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not one clean top-to-bottom run: {counts}"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_import_loads_no_widget_plot_or_image_library():
    heavy = ("ipywidgets", "matplotlib", "matplotlib.pyplot", "PIL")
    code = f"import course_utils, sys; print([m for m in {heavy!r} if m in sys.modules])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_lazy_names_load_on_first_use():
    from course_utils import explorer, plotting

    assert course_utils.init_explorer is explorer.init_explorer
    assert course_utils.plot_layer_stds is plotting.plot_layer_stds
    with pytest.raises(AttributeError, match="no_such_name"):
        course_utils.no_such_name  # noqa: B018
