"""Student copies: solutions gone, outputs cleared, checks kept, and they run with only stubs unsolved."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.student import BEGIN, END, make_student_copies, strip_solutions

ROOT = Path(__file__).resolve().parents[1]
QUESTIONNAIRE = "07_questionnaire.ipynb"


def solution_lines(nb: dict) -> set[str]:
    """Every non-trivial line written between the solution markers in a notebook."""
    lines, inside = set(), False
    for cell in nb["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if line.strip() == BEGIN:
                inside = True
            elif line.strip() == END:
                inside = False
            elif inside and len(line.strip()) > 8:
                lines.add(line.strip())
    return lines


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("student")
    make_student_copies(ROOT / "notebooks", target)
    return target


def test_strip_solutions_keeps_indentation_and_the_rest():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\nprint(f)"
    assert strip_solutions(source) == (
        'def f(x):\n    raise NotImplementedError("write your solution here")\n\nprint(f)')


@pytest.mark.parametrize("source", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_markers_are_errors(source):
    with pytest.raises(ValueError, match="SOLUTION"):
        strip_solutions(source)


def test_every_notebook_is_copied_without_outputs(copies):
    originals = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in copies.glob("*.ipynb")) == originals
    for path in copies.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def code_of(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def test_no_solution_text_survives(copies):
    original = json.loads((ROOT / "notebooks" / QUESTIONNAIRE).read_text())
    secrets = solution_lines(original)
    assert len(secrets) >= 10
    student = code_of(json.loads((copies / QUESTIONNAIRE).read_text()))
    assert BEGIN not in student and END not in student
    leaked = [line for line in secrets if line in student]
    assert not leaked, leaked
    # every check stays in place, one per exercise
    assert student.count('check_exercise("') == code_of(original).count('check_exercise("') == 10


def test_student_copy_runs_with_every_exercise_open(copies):
    nb = nbformat.read(copies / QUESTIONNAIRE, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(copies)}}).execute()
    errors = [(cell.get("metadata", {}).get("tags", []), out["ename"]) for cell in nb.cells
              if cell.cell_type == "code" for out in cell.outputs if out.output_type == "error"]
    unexpected = [e for e in errors if e[1] != "NotImplementedError" and "raises-exception" not in e[0]]
    assert not unexpected, unexpected
    text = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "not written yet" in text
    assert "0 of 10 exercises solved" in text
