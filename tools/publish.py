"""Publish the course under its real address: every link, badge and setup cell names the repository, branch and hub.

The address lives in one place, ``publish.json`` at the repository's root (``repo``: GitHub owner/name,
``branch``, ``hub``: the JupyterHub's host name). In the committed tree it holds placeholders. This tool reads the
address written there, replaces it with the new one in every text file of the repository (README, docs, notebooks,
the Voila page, hub configuration, tests), writes each notebook's Colab link and setup cell (under its title,
idempotent), and stores the new address in ``publish.json``, so it can be run again with another address.

The Colab link is plain text, not an image: a classroom without internet (or behind a proxy) loads nothing
from outside. The setup cell does nothing outside Colab. On Colab it pip-installs course_utils from the repository
without its dependencies (so Colab's own torch is never replaced), then ``course_utils.doctor.colab_setup``
installs only the light packages that are missing and turns on widgets.

Usage: python tools/publish.py --repo owner/name [--branch main] [--hub hub.school.edu] [--root DIR]
   or: make publish REPO=owner/name [BRANCH=main] [HUB=hub.school.edu]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ADDRESS_FILE = "publish.json"
BADGE_TAG, SETUP_TAG = "colab-badge", "colab-setup"
# Slides skip both cells (see tools/slide_metadata.py: the setup cell is skipped).
SKIP = {"slideshow": {"slide_type": "skip"}}
# Folders that are not the course's own text: environments, copies made by tools, caches.
SKIP_DIRS = {".git", ".venv", ".venv-colab", "node_modules", "__pycache__", ".ipynb_checkpoints", ".pytest_cache",
             ".hypothesis", "test-artifacts", "student", "self-study", "slides", "build", "dist", "nbgrader"}
# Where the branch shows up next to the repository; the branch alone ("main") is too common a word to replace.
WITH_BRANCH = ("{repo}/blob/{branch}/", "{repo}@{branch}", "gh/{repo}/{branch}?", "{repo}&branch={branch}",
               "{repo}&amp;branch={branch}", "{repo}/tree/{branch}", "--ref {branch} https://github.com/{repo}")
CHECKS = {"repo": re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$"),
          "branch": re.compile(r"^[A-Za-z0-9._/-]+$"),
          "hub": re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$")}


def read_address(root: Path = ROOT) -> dict[str, str]:
    """The address the tree at ``root`` is published under (placeholders until `make publish`)."""
    return json.loads((root / ADDRESS_FILE).read_text(encoding="utf-8"))


def colab_url(repo: str, branch: str, notebook: str) -> str:
    """Colab's address for a notebook in a GitHub repository."""
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{notebook}"


def badge_source(repo: str, branch: str, notebook: str) -> str:
    """Markdown of the Colab link: text, so nothing is fetched from outside when the notebook is shown."""
    return f"[Open in Colab]({colab_url(repo, branch, notebook)}) (runs this notebook on Google Colab)"


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


def hub_link(hub: str, repo: str, branch: str, notebook: str = "01_initialization.ipynb") -> str:
    """The link a class gets: nbgitpuller copies (or updates) the course into ~/foundations, then opens a notebook."""
    return (f"https://{hub}/hub/user-redirect/git-pull?repo=https://github.com/{repo}&branch={branch}"
            f"&targetpath=foundations&urlpath=lab/tree/foundations/notebooks/{notebook}")


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
    """1 when the notebook opens with its title cell (the link goes right under it, the title stays slide one)."""
    first = nb.cells[0] if nb.cells else None
    return int(first is not None and first.cell_type == "markdown" and first.source.startswith("# "))


def update(path: Path, repo: str, branch: str) -> bool:
    """Add or refresh the Colab link and the setup cell in one notebook; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    badge = nbformat.v4.new_markdown_cell(badge_source(repo, branch, path.name))
    setup = nbformat.v4.new_code_cell(setup_source(repo, branch))
    top = title_cells(nb)
    changed = place(nb, top, badge, BADGE_TAG)
    changed |= place(nb, top + 1, setup, SETUP_TAG)
    if changed:
        nbformat.write(nb, path)
    return changed


def text_files(root: Path):
    """Every text file of the course under ``root``, outside environments and generated copies."""
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if not path.is_file() or any(p in SKIP_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        try:
            yield path, path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue


def replace_address(text: str, old: dict[str, str], new: dict[str, str]) -> str:
    """``text`` with the old repository, branch (where it stands next to the repository) and hub replaced."""
    for template in WITH_BRANCH:
        text = text.replace(template.format(**old), template.format(**new))
    for registry in (f"ghcr.io/{old['repo']}", f"ghcr.io/{old['repo'].lower()}"):  # image names are lowercase
        text = text.replace(registry, f"ghcr.io/{new['repo'].lower()}")
    return text.replace(old["repo"], new["repo"]).replace(old["hub"], new["hub"])


def publish(root: Path, repo: str, branch: str | None = None, hub: str | None = None) -> list[Path]:
    """Rewrite the tree at ``root`` for a new address; return the files changed."""
    old = read_address(root)
    new = {"repo": repo, "branch": branch or old["branch"], "hub": hub or old["hub"]}
    for key, value in new.items():
        if not CHECKS[key].match(value):
            raise ValueError(f"{key} {value!r} does not look like a {key} (e.g. {read_address(ROOT)[key]!r} form)")
    changed = []
    for path, text in text_files(root):
        if path.name == ADDRESS_FILE and path.parent == root:
            continue
        rewritten = replace_address(text, old, new)
        if rewritten != text:
            path.write_text(rewritten, encoding="utf-8")
            changed.append(path)
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        if update(path, new["repo"], new["branch"]) and path not in changed:
            changed.append(path)
    (root / ADDRESS_FILE).write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    """Command line: publish the tree under the given address."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="GitHub owner/name the course is published under")
    parser.add_argument("--branch", help="the branch students get (default: the one in publish.json)")
    parser.add_argument("--hub", help="the JupyterHub's host name, e.g. hub.school.edu")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        changed = publish(args.root, args.repo, args.branch, args.hub)
    except ValueError as error:
        print(f"publish: {error}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"updated {path.relative_to(args.root)}")
    address = read_address(args.root)
    print(f"published as https://github.com/{address['repo']} (branch {address['branch']}, hub {address['hub']})")
    print(f"the link for a class: {hub_link(address['hub'], address['repo'], address['branch'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
