"""Graded hand-ins with real nbgrader: release a notebook without its answers, then autograde two submissions.

One notebook (02) keeps the run short; tools/grading.py treats every notebook the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from tools import grading

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # servers, browsers or extra environments: left out of `make test-quick`

NOTEBOOK = ROOT / "notebooks" / "02_forward.ipynb"
ASSIGNMENT = "ps1"
NBGRADER = [sys.executable, "-m", "nbgrader"]
# nbgrader runs the `alembic` command of its own environment to set up the gradebook.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
# Two wrong answers: a neuron without its bias, and mse left with the broadcasting bug it is handed out with.
WRONG = {"def neuron": ("return x @ w + b", "return x @ w"),
         "def mse": ("return (output.squeeze(-1) - targ)", "return (output - targ)")}


def nbgrader(course: Path, *args: str) -> None:
    """Run an nbgrader command in the course folder; fail with its output when it fails."""
    done = subprocess.run([*NBGRADER, *args], cwd=course, capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr


def submit(course: Path, student: str, nb: nbformat.NotebookNode) -> None:
    """Place a student's notebook where nbgrader collects hand-ins."""
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / NOTEBOOK.name)


def with_wrong_answers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with two answers spoiled (each replacement must hit its cell)."""
    for start, (right, wrong) in WRONG.items():
        cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start))
        assert right in cell.source, start
        cell.source = cell.source.replace(right, wrong)
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The course folder after generate_assignment and autograde of a right and a wrong submission."""
    course = tmp_path_factory.mktemp("grading")
    points = grading.build([NOTEBOOK], course, ASSIGNMENT)[NOTEBOOK.name]
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    source = nbformat.read(course / "source" / ASSIGNMENT / NOTEBOOK.name, as_version=4)
    submit(course, "right", source)
    submit(course, "wrong", with_wrong_answers(nbformat.read(course / "source" / ASSIGNMENT / NOTEBOOK.name, 4)))
    nbgrader(course, "autograde", ASSIGNMENT)
    return course, points


def test_the_release_copy_has_no_answers_and_locked_checks(graded):
    course, points = graded
    release = nbformat.read(course / "release" / ASSIGNMENT / NOTEBOOK.name, as_version=4)
    text = "\n".join(cell.source for cell in release.cells)
    assert "return x @ w + b" not in text and "BEGIN SOLUTION" not in text
    assert "return (output - targ).pow(2).mean()" in text, "the fix-the-bug exercise keeps its broken line"
    tests = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")]
    checks = sum('check_exercise("' in c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells)
    assert len(tests) == points == checks > 0 and all("check_exercise(" in c.source for c in tests)
    assert all(c.metadata["nbgrader"]["locked"] for c in tests)


def test_autograde_gives_full_marks_for_right_answers_and_none_for_wrong_ones(graded):
    course, points = graded
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        right = gradebook.find_submission_notebook(NOTEBOOK.stem, ASSIGNMENT, "right")
        wrong = gradebook.find_submission_notebook(NOTEBOOK.stem, ASSIGNMENT, "wrong")
        assert (right.score, right.max_score) == (points, points)
        assert wrong.score == points - len(WRONG)
        missed = {grade.name.split("-check-")[1].rsplit("-", 1)[0] for grade in wrong.grades if grade.score == 0}
        assert missed == {"neuron", "mse"}


def test_make_grading_writes_the_course_folder(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "grading.py"), "--target", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    built = sorted(p.name for p in (tmp_path / "source" / "foundations").glob("*.ipynb"))
    assert "02_forward.ipynb" in built and "explorer_app.ipynb" not in built
    assert (tmp_path / "nbgrader_config.py").exists()
