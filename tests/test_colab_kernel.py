"""Notebook 01 and the explorer page in a kernel with Colab's versions: ipywidgets 7, IPython 7, ipykernel 6.

The kernel is .venv-colab's Python (`make colab-env`, pins in requirements-colab.txt), started in an empty folder
that holds only the notebook, with a stand-in google.colab imported at start as Colab's kernel does. So the
notebook's Colab cell runs: its pip install of the course is pointed at a git copy of this checkout (no network),
and colab_setup() turns widgets on through the stand-in. A cell fails the test when it shows an error that the
stored run does not show, or when a widget view the stored run displays is missing or names no widget.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from tools import publish

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # servers, browsers or extra environments: left out of `make test-quick`

COLAB_PYTHON = ROOT / ".venv-colab" / "bin" / "python"
STAND_IN = Path(__file__).resolve().parent / "colab_stand_in"
NOTEBOOKS = [ROOT / "notebooks" / name for name in ("01_initialization.ipynb", "explorer_app.ipynb")]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# The source the Colab cell pip-installs, e.g. "git+https://github.com/OWNER/REPO@main".
INSTALL_SOURCE = re.compile(r'"git\+(https://[^"@]+)@([^"]+)"')
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Colab's published versions of what draws widgets and figures; torch is the course's own pin.
COLAB = {"ipywidgets": "7.7.1", "ipython": "7.34.0", "ipykernel": "6.17.1", "traitlets": "5.7.1",
         "matplotlib": "3.10.0", "numpy": "2.1.3", "torch": "2.13.0"}


@pytest.fixture(scope="session")
def colab_python() -> Path:
    """.venv-colab's Python, brought up to date by `make colab-env`; a failed build is an error, never a skip."""
    subprocess.run(["make", "--no-print-directory", "colab-env"], cwd=ROOT, check=True)
    return COLAB_PYTHON


def git_copy(folder: Path, branch: str) -> Path:
    """A git repository in ``folder`` holding what pip needs to install course_utils from this checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "course_utils", folder / "course_utils", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, folder)
    for step in (["init", "-q", "-b", branch], ["add", "."], ["commit", "-q", "-m", "course_utils for the test"]):
        subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", *step], cwd=folder,
                       check=True)
    return folder


@pytest.fixture(scope="session")
def colab_kernels(colab_python, tmp_path_factory) -> tuple[KernelSpecManager, Path]:
    """A kernelspec "colab" for .venv-colab's Python, and the file where the stand-in notes its calls."""
    setup_cell = publish.tagged(nbformat.read(NOTEBOOKS[0], as_version=4), publish.SETUP_TAG)
    found = INSTALL_SOURCE.search(setup_cell.source)
    assert found, "the Colab cell no longer pip-installs from a git URL: update this fixture"
    url, branch = found.groups()
    repo = git_copy(tmp_path_factory.mktemp("course-repo"), branch)
    log = tmp_path_factory.mktemp("colab-log") / "calls.txt"
    kernels = tmp_path_factory.mktemp("kernels")
    (kernels / "colab").mkdir()
    spec = {
        "argv": [str(colab_python), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=import google.colab"],
        "display_name": "Python 3 (Colab versions)",
        "language": "python",
        "env": {
            "PYTHONPATH": str(STAND_IN),
            "COLAB_STAND_IN_LOG": str(log),
            # The Colab cell's git URL leads to the copy above; pip builds it here, without any index.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.{repo.as_uri()}.insteadOf",
            "GIT_CONFIG_VALUE_0": url,
            "PIP_NO_INDEX": "1",
            "PIP_NO_BUILD_ISOLATION": "0",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # quiets ipykernel 6's debugger note about frozen modules
        },
    }
    (kernels / "colab" / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(kernels)]), log


def test_the_colab_venv_holds_colab_s_versions_and_pins_every_package(colab_python):
    lines = [line for line in (ROOT / "requirements-colab.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert [line for line in lines if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9]\S*", line)] == []
    pins = dict(line.split("==") for line in lines)
    assert {name: pins.get(name) for name in COLAB} == COLAB
    script = "import importlib.metadata as m, json, sys; print(json.dumps([m.version(n) for n in sys.argv[1:]]))"
    run = subprocess.run([str(colab_python), "-c", script, *COLAB], capture_output=True, text=True, check=True)
    installed = [version.split("+")[0] for version in json.loads(run.stdout)]
    assert dict(zip(COLAB, installed)) == COLAB


def errors(cell: nbformat.NotebookNode) -> list[str]:
    """The errors a cell shows: 'Name: value' for an error output, the text of stderr that holds a traceback."""
    found = []
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            found.append(f"{output.ename}: {output.evalue}")
        elif output.output_type == "stream" and output.name == "stderr" and "Traceback" in output.text:
            found.append(ANSI.sub("", output.text).strip())
    return found


def widget_views(cell: nbformat.NotebookNode) -> list[str]:
    """The model ids of the widget views a cell displays."""
    return [output.data[WIDGET_VIEW]["model_id"] for output in cell.get("outputs", [])
            if WIDGET_VIEW in output.get("data", {})]


def error_kind(error: str) -> str:
    """What names an error across runs: its exception name (values and tracebacks hold addresses and paths)."""
    last = error.splitlines()[-1]
    return last.split(":")[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebook_runs_in_a_colab_kernel_from_an_empty_folder(path, colab_kernels, tmp_path):
    specs, log = colab_kernels
    stored = nbformat.read(path, as_version=4)
    nb = nbformat.read(shutil.copy(path, tmp_path), as_version=4)
    manager = KernelManager(kernel_name="colab", kernel_spec_manager=specs)
    NotebookClient(nb, km=manager, timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    shown = set(nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}))
    problems = []
    for index, (ran, old) in enumerate(zip(nb.cells, stored.cells)):
        if ran.cell_type != "code":
            continue
        where = f"cell {index} ({ran.source.splitlines()[0] if ran.source else ''})"
        known = {error_kind(error) for error in errors(old)}
        problems += [f"{where}: {error}" for error in errors(ran) if error_kind(error) not in known]
        views = widget_views(ran)
        if widget_views(old) and not views:
            problems.append(f"{where}: no widget view, where the stored run shows one")
        problems += [f"{where}: the widget view names {model} that the kernel never opened"
                     for model in views if model not in shown]
    assert not problems, "\n".join(problems)
    assert "enable_custom_widget_manager" in log.read_text(), "the Colab cell did not run colab_setup()"
