"""Colab and the doctor: the badge and setup cell in every notebook, the cell's logic under a stand-in google.colab."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from course_utils.doctor import Facts, colab_setup, doctor, problems, report, widget_status
from tools import publish

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ADDRESS = publish.read_address()  # publish.json: placeholders until `make publish`
REPO, BRANCH = ADDRESS["repo"], ADDRESS["branch"]
SOURCE = f"git+https://github.com/{REPO}@{BRANCH}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_with_the_colab_badge_and_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].source.startswith("# "), "the title stays the first cell (and the first slide)"
    badge, setup = nb.cells[1], nb.cells[2]
    assert publish.BADGE_TAG in badge.metadata.get("tags", []), f"run: make publish ({path.name})"
    assert badge.source == publish.badge_source(REPO, BRANCH, path.name)
    assert publish.SETUP_TAG in setup.metadata.get("tags", [])
    assert setup.source == publish.setup_source(REPO, BRANCH)


def test_the_tool_is_idempotent_and_keeps_one_clean_run(tmp_path):
    copies = [Path(shutil.copy(path, tmp_path)) for path in NOTEBOOKS]
    for path in copies:
        publish.update(path, REPO, BRANCH)
    before = {path: path.read_text() for path in copies}
    assert not any(publish.update(path, REPO, BRANCH) for path in copies), "a second run changed files"
    assert before == {path: path.read_text() for path in copies}
    for path in copies:
        nb = nbformat.read(path, as_version=4)
        tags = [cell.metadata.get("tags", []) for cell in nb.cells]
        assert sum(publish.SETUP_TAG in t for t in tags) == 1 and sum(publish.BADGE_TAG in t for t in tags) == 1
        counts = [cell.execution_count for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]
        assert counts == list(range(1, len(counts) + 1)), path.name
        assert f"notebooks/{path.name}" in nb.cells[1].source
        first_code = next(cell for cell in nb.cells if cell.cell_type == "code")
        assert publish.SETUP_TAG in first_code.metadata["tags"], "the setup cell must run before any import"


def run_cell(monkeypatch) -> list[list[str]]:
    """Execute the setup cell's source here, recording (not running) every command it starts."""
    commands = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kwargs: commands.append(list(cmd)))
    exec(publish.setup_source(REPO, BRANCH), {})
    return commands


def test_the_setup_cell_does_nothing_outside_colab(monkeypatch):
    assert "google.colab" not in sys.modules
    modules = set(sys.modules)
    assert run_cell(monkeypatch) == []
    assert set(sys.modules) - modules == set()


@pytest.fixture
def stand_in_colab(monkeypatch):
    """A stand-in google.colab module that records whether widgets were turned on."""
    output = types.SimpleNamespace(enabled=[])
    output.enable_custom_widget_manager = lambda: output.enabled.append(True)
    colab = types.ModuleType("google.colab")
    colab.output = output
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    return output


def test_on_colab_the_cell_installs_the_course_without_its_dependencies(monkeypatch, stand_in_colab):
    commands = run_cell(monkeypatch)
    # Everything the notebooks need is installed here, as on Colab: only the course itself is fetched.
    assert commands == [[sys.executable, "-m", "pip", "install", "-q", "--no-deps", SOURCE]]
    assert stand_in_colab.enabled == [True]


def test_on_colab_only_missing_light_packages_are_installed_never_torch(stand_in_colab):
    installed = []
    missing = {"sympy", "torch"}
    result = colab_setup(pip=installed.append,
                                       version=lambda name: None if name in missing else "1.0")
    assert result == ["sympy"] and installed == [["sympy"]]


def test_colab_setup_is_a_no_op_elsewhere():
    installed = []
    assert colab_setup(pip=installed.append, version=lambda name: None) == []
    assert installed == []


def test_doctor_reports_versions_and_where_the_course_is(capsys):
    problems = doctor()
    out = capsys.readouterr().out
    build = f"(CUDA {torch.version.cuda} build)" if torch.version.cuda else "(CPU build)"
    for line in (importlib.metadata.version("torch"), importlib.metadata.version("ipywidgets"),
                 importlib.metadata.version("jupyterlab"), str(ROOT / "course_utils"), str(ROOT / "notebooks"),
                 sys.version.split()[0], build):
        assert line in out
    # pytest is no notebook kernel: the doctor says where to open the notebooks instead.
    assert len(problems) == 1 and "JupyterLab" in problems[0] and "make lab" in problems[0]
    assert problems[0] in out


def facts(**changes) -> Facts:
    """Facts of a healthy JupyterLab kernel, with some changed."""
    healthy = Facts(
        python=(3, 12, 1), frontend="jupyter", torch_cuda=None, package_dir=ROOT / "course_utils",
        notebooks_dir=ROOT / "notebooks",
        versions={"torch": "2.13.0", "ipywidgets": "8.1.9", "jupyterlab": "4.6.6", "jupyterlab_widgets": "3.0.17",
                  "notebook": None, "numpy": "2.4.6", "matplotlib": "3.11.2", "sympy": "1.14.0"})
    for name, value in changes.items():
        setattr(healthy, name, value)
    return healthy


def test_doctor_finds_each_problem_and_says_what_to_do():
    assert problems(facts()) == []
    assert "3.11, 3.12 or 3.13" in problems(facts(python=(3, 10, 4)))[0]
    broken = facts()
    broken.versions = {**broken.versions, "torch": None, "jupyterlab_widgets": "1.1.0"}
    found = problems(broken)
    assert any(p.startswith("torch is not installed: run make setup") for p in found)
    assert any("make setup" in p and "jupyterlab_widgets" not in p for p in found)
    assert "probably not" in widget_status(broken)[0]
    assert "not installed" in report(broken)
    assert problems(facts(notebooks_dir=None)) == [
        "the course notebooks are not here: start Jupyter from the course folder (make lab)"]
    assert problems(facts(frontend="colab", notebooks_dir=None)) == []


@pytest.mark.slow
def test_doctor_in_a_real_kernel_sees_a_jupyter_frontend_that_renders_widgets(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import json, course_utils\nprint(json.dumps(course_utils.doctor()))")])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    text = nb.cells[0].outputs[0]["text"]
    assert "frontend    jupyter" in text and "widgets     yes" in text
    assert json.loads(text.strip().splitlines()[-1]) == []


def test_readme_links_every_notebook_to_colab():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"[Colab]({publish.colab_url(REPO, BRANCH, path.name)})" in readme, path.name
