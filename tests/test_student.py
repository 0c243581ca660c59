"""Hand-out copies: solutions gone (or folded), outputs cleared, checks kept, and every copy runs on its own."""

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools.handout import BEGIN, END, make_student_copies, strip_solutions, student_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
QUESTIONNAIRE = "07_questionnaire.ipynb"


def source(cell: dict) -> str:
    return "".join(cell["source"])


def solution_lines(nb: dict) -> set[str]:
    """Every non-trivial line written between the solution markers in a notebook."""
    lines, inside = set(), False
    for cell in nb["cells"]:
        for line in source(cell).splitlines():
            if line.strip() == BEGIN:
                inside = True
            elif line.strip() == END:
                inside = False
            elif inside and len(line.strip()) > 8:
                lines.add(line.strip())
    return lines


def code_of(nb: dict) -> str:
    return "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "code")


def original(name: str) -> dict:
    return json.loads((ROOT / "notebooks" / name).read_text())


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> dict[str, Path]:
    made = {}
    for kind in ("student", "self-study"):
        made[kind] = tmp_path_factory.mktemp(kind)
        make_student_copies(ROOT / "notebooks", made[kind], self_study=kind == "self-study")
    return made


def test_strip_solutions_keeps_indentation_and_the_rest():
    cell = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\nprint(f)"
    assert strip_solutions(cell) == 'def f(x):\n    raise NotImplementedError("write your solution here")\n\nprint(f)'


def test_a_top_level_block_becomes_a_comment_so_the_cell_still_runs():
    cell = "guess = None\n### BEGIN SOLUTION\nguess = 3\n### END SOLUTION"
    stripped = strip_solutions(cell)
    assert "guess = 3" not in stripped and "raise" not in stripped
    namespace: dict = {}
    exec(stripped, namespace)
    assert namespace["guess"] is None


def test_a_stub_line_keeps_the_broken_code_of_a_fix_the_bug_exercise():
    cell = "def f(x):\n    ### BEGIN SOLUTION\n    ### STUB return x - 1\n    return x + 1\n    ### END SOLUTION"
    assert strip_solutions(cell) == "def f(x):\n    return x - 1"


@pytest.mark.parametrize("cell", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                  "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_markers_are_errors(cell):
    with pytest.raises(ValueError, match="SOLUTION"):
        strip_solutions(cell)


@pytest.mark.parametrize("kind", ["student", "self-study"])
def test_every_notebook_is_copied_without_outputs_and_with_the_package(copies, kind):
    target = copies[kind]
    assert sorted(p.name for p in target.glob("*.ipynb")) == NOTEBOOKS
    for path in target.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        assert "README.md" in source(nb["cells"][0]), path.name   # the copy says how it is installed
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
    assert (target / "course_utils" / "exercises" / "nb07.py").is_file()   # the subpackages come along
    assert "pip install -r requirements.txt" in (target / "README.md").read_text()
    assert "torch==" in (target / "requirements.txt").read_text()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_solution_text_survives_and_every_check_stays(copies, name):
    nb = original(name)
    outside = strip_solutions(code_of(nb))
    secrets = {line for line in solution_lines(nb) if line not in outside}
    student = code_of(json.loads((copies["student"] / name).read_text()))
    assert BEGIN not in student and END not in student
    assert not [line for line in secrets if line in student]
    assert student.count("check_exercise(") == code_of(nb).count("check_exercise(")
    self_study = json.loads((copies["self-study"] / name).read_text())
    assert code_of(self_study) == student   # the self-study copy differs only in its folded markdown


def test_the_questionnaire_keeps_its_two_exercises_and_never_mentions_the_markers(copies):
    nb = json.loads((copies["student"] / QUESTIONNAIRE).read_text())
    assert code_of(nb).count('check_exercise("') == 2
    assert not [c for c in nb["cells"] if "SOLUTION" in source(c)]


def test_the_questionnaire_points_at_exercises_that_exist():
    """An answer that says "Notebook 2, exercise `relu`" sends the student to a check in that notebook."""
    text = "\n".join(source(c) for c in original(QUESTIONNAIRE)["cells"])
    pointers = re.findall(r"[Nn]otebook (\d)\W{1,3}exercise `(\w+)`", text)
    assert len(pointers) >= 7, pointers
    for number, exercise in pointers:
        notebook = next(n for n in NOTEBOOKS if n.startswith(f"0{number}_"))
        assert f'check_exercise("{exercise}"' in code_of(original(notebook)), (notebook, exercise)


def test_self_study_folds_each_solution_right_after_its_check():
    def cell(kind, text):
        return {"cell_type": kind, "source": text, "metadata": {}, "outputs": [], "execution_count": 1}

    exercise = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    exercise = exercise.replace("    return 1", "    ### STUB return 0\n    return 1")
    nb = {"cells": [cell("code", exercise), cell("code", 'check_exercise("f", f)'), cell("markdown", "next idea")]}
    cells = student_notebook(nb, self_study=True)["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code", "markdown", "markdown"]
    folded = source(cells[3])
    assert folded.startswith("<details><summary>Solution</summary>") and "return 1" in folded
    assert "SOLUTION\n" not in folded.split("</summary>")[1]
    assert source(cells[4]) == "next idea"
    assert "return 1" not in source(cells[1]) and "return 0" in source(cells[1]) and "STUB" not in folded


def run_copy(path: Path) -> nbformat.NotebookNode:
    """Execute a copy top to bottom on a fresh kernel started in its folder; an error outside a cell tagged
    raises-exception stops it (allow_errors=False)."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_student_copy_runs_top_to_bottom_with_every_exercise_open(copies, name):
    # The self-study copy's code is the student copy's (asserted above), so running the student copy covers both.
    nb = run_copy(copies["student"] / name)
    errors = [(cell.metadata.get("tags", []), out.ename) for cell in nb.cells if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    assert all("raises-exception" in tags for tags, _ in errors), errors
    text = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    checks = code_of(nb).count("check_exercise(")
    if checks:
        assert "not written yet" in text or "no prediction yet" in text
        assert "hint:" not in text   # a check run before anything is written is not a failed try
        assert "(all correct)" not in text  # nothing the student has not written yet may pass for theirs
    if ".use()" in code_of(nb):
        assert "so the rest of the notebook runs" in text
    if name == QUESTIONNAIRE:
        assert "0 of 2 exercises solved" in text
