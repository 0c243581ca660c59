"""Hand-out copies of the notebooks: solutions replaced by stubs, outputs cleared, checks kept.

Solutions sit in code cells between lines ``### BEGIN SOLUTION`` and ``### END SOLUTION``. Inside a
function or method the block becomes ``raise NotImplementedError(...)``, so the cell still defines the
function and its check reports "not written yet". A block at the top level of a cell (a prediction, say)
becomes a comment, so the cell runs; give the variable a placeholder value (``None``) before the block.
Lines in a block that start with ``### STUB `` are what the student copy shows instead: a fix-the-bug
exercise keeps its broken line this way.

Two kinds of copy: for a class (no solutions at all) and for self-study, where each solution follows its
check, folded in a ``<details>`` block that JupyterLab shows closed until clicked. Either copy ships the
``course_utils`` package next to the notebooks, with a README that says what to install.

Usage: python tools/handout.py [--self-study] [SOURCE_DIR] [TARGET_DIR]   (defaults: notebooks student)
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = 'raise NotImplementedError("write your solution here")'
TOP_LEVEL_STUB = "# write your answer here"
GIVEN = "### STUB "
_BEGIN_LINE = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
PACKAGE = Path(__file__).resolve().parents[1] / "course_utils"
REQUIREMENTS = PACKAGE.parent / "requirements.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

README = """# {title}

Open the notebooks in order, from `00_matmul_primer.ipynb`. Each "your turn" cell holds a
`raise NotImplementedError` or a placeholder: replace it with your code, then run the check below it.
{solutions}
## What to install

The notebooks import `course_utils`, which ships in the folder `course_utils/` next to them: start
Jupyter from this folder and Python finds it. It needs the packages in `requirements.txt` (the versions the
course is tested with), best in a fresh virtual environment (`python3 -m venv .venv`, then activate it).

On macOS (Apple silicon, macOS 14 or newer) and on Windows:

    pip install -r requirements.txt

On Linux, add PyTorch's CPU index, or pip takes torch's CUDA build (several GB):

    pip install -r requirements.txt --extra-index-url {index}

Intel Macs: PyTorch publishes no wheels of this torch version for them; use the course on a JupyterHub,
Binder or Google Colab instead.
"""

NOTE = ("*Hand-out copy:* the `course_utils` package this notebook imports sits in the folder next to it; "
        "`README.md` there says what to install.")


def strip_solutions(source: str) -> str:
    """Replace every solution block of a cell's source with its stub, at the block's indentation."""
    out: list[str] = []
    block: list[str] | None = None   # the stub lines of the block being read, or None outside a block
    indent = ""
    for number, line in enumerate(source.splitlines(), start=1):
        begin = _BEGIN_LINE.match(line)
        if begin:
            if block is not None:
                raise ValueError(f"line {number}: {BEGIN} inside another solution block")
            block, indent = [], begin.group(1)
        elif line.strip() == END:
            if block is None:
                raise ValueError(f"line {number}: {END} without a {BEGIN} before it")
            out.extend(block or [indent + (STUB if indent else TOP_LEVEL_STUB)])
            block = None
        elif block is None:
            out.append(line)
        elif line.strip().startswith(GIVEN):
            block.append(indent + line.strip()[len(GIVEN):])
    if block is not None:
        raise ValueError(f"a {BEGIN} block is never closed by {END}")
    return "\n".join(out)


def _markdown(cell_id: str, text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def _folded(number: int, solution: str) -> dict[str, Any]:
    """A markdown cell holding a solution, closed until the student clicks on it."""
    return _markdown(f"solution-{number}",
                     f"<details><summary>Solution</summary>\n\n```python\n{solution}\n```\n</details>")


def student_notebook(nb: dict[str, Any], self_study: bool = False) -> dict[str, Any]:
    """A copy of a notebook (parsed JSON) with solutions stubbed and outputs cleared.

    With ``self_study`` each cell's full solution follows, folded, after the check that comes next.
    """
    nb = copy.deepcopy(nb)
    cells: list[dict[str, Any]] = [_markdown("handout-note", NOTE)]
    waiting: list[str] = []   # solutions to show once their check has run
    folded = 0
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            if BEGIN in source:
                cell["source"] = strip_solutions(source)
                waiting.append("\n".join(line for line in source.splitlines()
                                          if line.strip() not in (BEGIN, END) and not line.strip().startswith(GIVEN)))
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
        if self_study and waiting and ("check_exercise(" in source or cell is nb["cells"][-1]):
            for solution in waiting:
                folded += 1
                cells.append(_folded(folded, solution))
            waiting = []
    nb["cells"] = cells
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def _pinned_requirements() -> str:
    """The course's own pins (requirements.txt), without local version tags such as "+cpu".

    A local tag exists only on PyTorch's own index, and only for Linux and Windows; the plain version installs
    from PyPI on macOS and Windows, and on Linux the README's command adds PyTorch's CPU index, where pip
    prefers the CPU build of the same version.
    """
    pins = []
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins.append(f"{name.strip()}=={version.strip().split('+', 1)[0]}")
    return "".join(f"{pin}\n" for pin in pins)


def ship_package(target_dir: Path, self_study: bool) -> None:
    """Copy ``course_utils`` next to the notebooks and write the README and requirements that go with it."""
    shutil.copytree(PACKAGE, target_dir / "course_utils", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    title = "Foundations: self-study copy" if self_study else "Foundations: student copy"
    solutions = ("\nEach solution follows its check, folded: click **Solution** once you have tried.\n"
                 if self_study else "")
    readme = README.format(title=title, solutions=solutions, index=TORCH_CPU_INDEX)
    (target_dir / "README.md").write_text(readme, encoding="utf-8")
    (target_dir / "requirements.txt").write_text(_pinned_requirements(), encoding="utf-8")


def make_student_copies(source_dir: Path, target_dir: Path, self_study: bool = False) -> list[Path]:
    """Write a hand-out copy of every notebook in ``source_dir`` to ``target_dir``; return the paths written."""
    notebooks = sorted(Path(source_dir).glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks found in {source_dir}")
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        target = target_dir / path.name
        copy_nb = student_notebook(nb, self_study=self_study)
        target.write_text(json.dumps(copy_nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    ship_package(target_dir, self_study)
    return written


def main() -> None:
    """Command line: write hand-out copies and list them."""
    parser = argparse.ArgumentParser(description="Write hand-out copies of the course notebooks.")
    parser.add_argument("--self-study", action="store_true", help="keep each solution, folded below its check")
    parser.add_argument("source", nargs="?", default="notebooks", type=Path)
    parser.add_argument("target", nargs="?", default="student", type=Path)
    args = parser.parse_args()
    for path in make_student_copies(args.source, args.target, self_study=args.self_study):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
