"""Make student copies of the notebooks: solutions replaced by stubs, outputs cleared, checks kept.

Solutions sit in code cells between lines ``### BEGIN SOLUTION`` and ``### END SOLUTION``. Each such
block becomes ``raise NotImplementedError(...)`` at the block's indentation.

Usage: python -m course_utils.student [SOURCE_DIR] [TARGET_DIR]   (defaults: notebooks student)
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from pathlib import Path
from typing import Any

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = 'raise NotImplementedError("write your solution here")'
_BEGIN_LINE = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")


def strip_solutions(source: str) -> str:
    """Replace every solution block of a cell's source with an indented ``raise NotImplementedError``."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        begin = _BEGIN_LINE.match(line)
        if begin:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution block")
            inside = True
            out.append(begin.group(1) + STUB)
        elif line.strip() == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without a {BEGIN} before it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"a {BEGIN} block is never closed by {END}")
    return "\n".join(out)


def student_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy of a notebook (as parsed JSON) with solutions stubbed and all outputs cleared."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = strip_solutions(source) if BEGIN in source else source
        cell["outputs"] = []
        cell["execution_count"] = None
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def make_student_copies(source_dir: Path, target_dir: Path) -> list[Path]:
    """Write a student copy of every notebook in ``source_dir`` to ``target_dir``; return the paths written."""
    notebooks = sorted(Path(source_dir).glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks found in {source_dir}")
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        target = target_dir / path.name
        target.write_text(json.dumps(student_notebook(nb), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    return written


def main() -> None:
    """Command line: write student copies and list them."""
    parser = argparse.ArgumentParser(description="Write student copies of the course notebooks.")
    parser.add_argument("source", nargs="?", default="notebooks", type=Path)
    parser.add_argument("target", nargs="?", default="student", type=Path)
    args = parser.parse_args()
    for path in make_student_copies(args.source, args.target):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
