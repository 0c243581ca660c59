"""An nbgrader course folder made from the notebooks: graded hand-ins for a class on a hub.

The notebooks already mark each answer with ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (nbgrader's own
markers). This copy adds nbgrader's cell metadata: each cell with such a block becomes a solution cell, and
before each ``check_exercise("name", answer)`` call a locked, autograded test cell asks the course's own check
for a pass (``POINTS`` points each). The check cell itself stays as it is, so a wrong answer is still replaced by
the reference and the rest of the notebook runs. A ``### STUB`` line (the broken line of a fix-the-bug exercise)
is shown to the student as a comment above the block, since nbgrader's release copy replaces the whole block.

Writes ``TARGET/source/ASSIGNMENT/*.ipynb`` and ``TARGET/nbgrader_config.py``; then, in TARGET,
``nbgrader generate_assignment ASSIGNMENT`` makes the release copy without the answers.

Usage: python tools/grading.py [--assignment foundations] [--target grading] [NOTEBOOK ...]
   or: make grading
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END, GIVEN = "### BEGIN SOLUTION", "### END SOLUTION", "### STUB "
CHECK = re.compile(r"""check_exercise\(\s*["'](\w+)["']\s*,\s*([A-Za-z_]\w*)""")
POINTS = 1
CONFIG = """# nbgrader's settings for this course folder (written by tools/grading.py).
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "foundations"
# A notebook runs in about ten seconds; a slow shared machine gets room to spare.
c.Execute.timeout = 300
"""


def nbgrader_meta(grade_id: str, *, solution: bool, points: int | None = None) -> dict:
    """nbgrader's cell metadata: a solution cell, or a locked test cell worth ``points``."""
    meta = {"grade_id": grade_id, "schema_version": 3, "solution": solution, "task": False,
            "grade": points is not None, "locked": not solution}
    if points is not None:
        meta["points"] = points
    return meta


def stubs_as_comments(source: str) -> str:
    """Move each ``### STUB`` line of a block above it as a comment: nbgrader's release drops the block's lines."""
    out: list[str] = []
    begin_at = None
    for line in source.splitlines():
        if line.strip() == BEGIN:
            begin_at = len(out)
        elif line.strip() == END:
            begin_at = None
        if begin_at is not None and line.strip().startswith(GIVEN):
            indent = line[:len(line) - len(line.lstrip())]
            out.insert(begin_at, f"{indent}# start from this line, which has a bug: {line.strip()[len(GIVEN):]}")
            begin_at += 1
            continue
        out.append(line)
    return "\n".join(out)


def graded_notebook(nb: nbformat.NotebookNode, stem: str) -> tuple[nbformat.NotebookNode, int]:
    """The notebook with nbgrader metadata and a test cell per check; also its total points."""
    cells, total = [], 0
    for number, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if BEGIN in cell.source:
                cell.source = stubs_as_comments(cell.source)
                cell.metadata["nbgrader"] = nbgrader_meta(f"{stem}-answer-{number}", solution=True)
            for name, answer in CHECK.findall(cell.source):
                test = nbformat.v4.new_code_cell(
                    f"# Graded (worth {POINTS}): {answer} passes every check of exercise {name!r}.\n"
                    f"assert check_exercise({name!r}, {answer}, verbose=False), "
                    f"\"{name}: not every check passes yet (run the cell below for details)\"")
                grade_id = f"{stem}-check-{name}-{number}"
                test.metadata["nbgrader"] = nbgrader_meta(grade_id, solution=False, points=POINTS)
                cells.append(test)
                total += POINTS
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb, total


def build(notebooks: list[Path], target: Path, assignment: str) -> dict[str, int]:
    """Write the nbgrader source folder and config; return the points per notebook."""
    folder = target / "source" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    points = {}
    for path in notebooks:
        nb, points[path.name] = graded_notebook(nbformat.read(path, as_version=4), path.stem.replace("_", "-"))
        nbformat.write(nb, folder / path.name)
    (target / "nbgrader_config.py").write_text(CONFIG.format(root=str(target.resolve())), encoding="utf-8")
    return points


def main(argv: list[str]) -> int:
    """Command line: build the course folder from the given notebooks (default: every notebook with a check)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="foundations")
    parser.add_argument("--target", type=Path, default=ROOT / "grading")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    notebooks = args.notebooks or [p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
                                   if "check_exercise(" in p.read_text(encoding="utf-8")]
    for name, points in build(notebooks, args.target, args.assignment).items():
        print(f"{args.target / 'source' / args.assignment / name}: {points} points")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
