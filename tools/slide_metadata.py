"""Give the course notebooks reveal.js slide metadata by a few rules, so nbconvert and RISE make decks.

Rules: the title cell and every '## ' heading start a slide, '### ' headings a sub-slide; the setup
cell (imports) and the Colab cells are skipped; a code cell longer than 12 lines becomes its own
sub-slide; everything else continues the current slide.
Run it again after adding cells: .venv/bin/python tools/slide_metadata.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LONG_CODE = 12


COLAB_TAGS = {"colab-badge", "colab-setup"}  # written by tools/publish.py; nothing to show on a slide


def is_colab(cell: dict) -> bool:
    """True for the Open-in-Colab badge and the Colab setup cell."""
    return bool(COLAB_TAGS & set(cell.get("metadata", {}).get("tags", [])))


def slide_type(cell: dict, index: int, first_code: int) -> str:
    """The reveal.js slide type for one cell."""
    source = "".join(cell["source"])
    if is_colab(cell):
        return "skip"
    if index == 0 or source.startswith("## ") or source.startswith("# "):
        return "slide"
    if source.startswith("### "):
        return "subslide"
    if cell["cell_type"] == "code":
        if index == first_code and "import" in source:
            return "skip"
        if source.count("\n") + 1 > LONG_CODE:
            return "subslide"
    return "-"


def annotate(path: Path) -> None:
    """Write slide metadata into one notebook, leaving everything else as it was."""
    nb = nbformat.read(path, as_version=4)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_colab(c))
    for index, cell in enumerate(nb.cells):
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell, index, first_code)}
    nbformat.write(nb, path)


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(p.name for p in NOTEBOOKS.glob("0*.ipynb")):
        annotate(NOTEBOOKS / name)
        print(f"slide metadata: {name}")
