"""Put an "Open in Colab" badge and the Colab setup cell at the top of every notebook, under its title (idempotent).

The setup cell does nothing outside Colab. On Colab it pip-installs course_utils from the repository without
its dependencies (so Colab's own torch is never replaced or downgraded), then ``course_utils.doctor.colab_setup``
installs only the light packages that are missing and turns on widgets.

Usage: python tools/colab_cell.py [--repo OWNER/REPO] [--branch main] [NOTEBOOK ...]   (default: notebooks/*.ipynb)
Run it after editing notebooks, then `make execute` (the new cell has no output; run it to renumber the cells).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BADGE_TAG, SETUP_TAG = "colab-badge", "colab-setup"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
# Slides skip both cells (see tools/slide_metadata.py: the setup cell is skipped).
SKIP = {"slideshow": {"slide_type": "skip"}}


def colab_url(repo: str, branch: str, notebook: str) -> str:
    """Colab's address for a notebook in a GitHub repository."""
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{notebook}"


def badge_source(repo: str, branch: str, notebook: str) -> str:
    """Markdown of the badge."""
    return f"[![Open In Colab]({BADGE})]({colab_url(repo, branch, notebook)})"


def setup_source(repo: str, branch: str) -> str:
    """Python of the setup cell: a few lines, nothing imported from the course before it is installed."""
    return (
        "# On Google Colab: install the course's helpers, keeping Colab's torch. Elsewhere this does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f'    source = "git+https://github.com/{repo}@{branch}"\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", source], check=True)\n'
        "    from course_utils.doctor import colab_setup\n"
        "\n"
        "    colab_setup()"
    )


def tagged(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode | None:
    """The cell carrying ``tag``, if any."""
    return next((cell for cell in nb.cells if tag in cell.metadata.get("tags", [])), None)


def place(nb: nbformat.NotebookNode, index: int, cell: nbformat.NotebookNode, tag: str) -> bool:
    """Insert ``cell`` at ``index``, or update the tagged cell's source in place; True if anything changed."""
    existing = tagged(nb, tag)
    if existing is not None:
        changed = existing.source != cell.source
        existing.source = cell.source
        return changed
    cell.metadata.update({"tags": [tag], **SKIP})
    nb.cells.insert(index, cell)
    if cell.cell_type == "code":
        # The new cell prints nothing; numbering it first keeps the stored run one clean top-to-bottom run.
        for other in nb.cells:
            if other.cell_type == "code" and other.get("execution_count") and other is not cell:
                other.execution_count += 1
        cell.execution_count = 1
    return True


def title_cells(nb: nbformat.NotebookNode) -> int:
    """1 when the notebook opens with its title cell (the badge goes right under it, the title stays slide one)."""
    first = nb.cells[0] if nb.cells else None
    return int(first is not None and first.cell_type == "markdown" and first.source.startswith("# "))


def update(path: Path, repo: str, branch: str) -> bool:
    """Add or refresh the badge and the setup cell in one notebook; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    badge = nbformat.v4.new_markdown_cell(badge_source(repo, branch, path.name))
    setup = nbformat.v4.new_code_cell(setup_source(repo, branch))
    top = title_cells(nb)
    changed = place(nb, top, badge, BADGE_TAG)
    changed |= place(nb, top + 1, setup, SETUP_TAG)
    if changed:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str]) -> int:
    """Update the given notebooks (all of notebooks/ by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default="OWNER/REPO", help="GitHub OWNER/REPO the course is published under")
    parser.add_argument("--branch", default="main")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        if update(path, args.repo, args.branch):
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
