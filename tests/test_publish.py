"""`make publish`: one command writes the course's real address into every link, badge and setup cell."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from tools import publish

ROOT = Path(__file__).resolve().parents[1]
NEW = {"repo": "ada-lab/foundations-course", "branch": "spring-term", "hub": "jupyter.physics.example.edu"}


def course_copy(target: Path) -> Path:
    """The repository's files as committed would be, without environments and generated copies."""
    def skipped(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n in publish.SKIP_DIRS or n.endswith(".egg-info")]

    shutil.copytree(ROOT, target, ignore=skipped)
    return target


def test_publish_leaves_no_placeholder_anywhere_and_writes_the_right_links(tmp_path):
    placeholders = publish.read_address(ROOT)
    root = course_copy(tmp_path / "course")
    done = subprocess.run([sys.executable, str(root / "tools" / "publish.py"), "--repo", NEW["repo"],
                           "--branch", NEW["branch"], "--hub", NEW["hub"]], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert publish.read_address(root) == NEW

    left = [f"{path.relative_to(root)}: {value}" for path, text in publish.text_files(root)
            for key, value in placeholders.items() if key != "branch" and value in text]
    assert left == [], "placeholders left after publishing"

    readme = (root / "README.md").read_text()
    assert f"https://mybinder.org/v2/gh/{NEW['repo']}/{NEW['branch']}?urlpath=lab/tree/notebooks/" in readme
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        badge, setup = publish.tagged(nb, publish.BADGE_TAG), publish.tagged(nb, publish.SETUP_TAG)
        url = f"https://colab.research.google.com/github/{NEW['repo']}/blob/{NEW['branch']}/notebooks/{path.name}"
        assert url in badge.source and "![" not in badge.source, path.name
        assert f'"git+https://github.com/{NEW["repo"]}@{NEW["branch"]}"' in setup.source, path.name
        assert f"[Colab]({url})" in readme, path.name
    hub_doc = (root / "docs" / "hub.md").read_text()
    assert publish.hub_link(NEW["hub"], NEW["repo"], NEW["branch"]) in hub_doc
    assert f"https://{NEW['hub']}" in done.stdout


def test_publishing_again_moves_every_link_to_the_newer_address(tmp_path):
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "02_forward.ipynb", root / "notebooks")
    shutil.copy(ROOT / publish.ADDRESS_FILE, root)
    shutil.copy(ROOT / "README.md", root)
    publish.publish(root, NEW["repo"], NEW["branch"], NEW["hub"])
    first = (root / "notebooks" / "02_forward.ipynb").read_text()
    publish.publish(root, "grace-lab/nets")
    assert publish.read_address(root) == {**NEW, "repo": "grace-lab/nets"}
    notebook, readme = (root / "notebooks" / "02_forward.ipynb").read_text(), (root / "README.md").read_text()
    assert NEW["repo"] not in notebook + readme
    assert f"grace-lab/nets/blob/{NEW['branch']}/notebooks/02_forward.ipynb" in notebook
    assert notebook.count("grace-lab/nets") == first.count(NEW["repo"])
    assert len(json.loads(notebook)["cells"]) == len(json.loads(first)["cells"]), "a second run added cells"


def test_publish_refuses_an_address_that_is_not_owner_slash_name(tmp_path):
    root = course_copy(tmp_path / "course")
    done = subprocess.run([sys.executable, str(root / "tools" / "publish.py"), "--repo", "just-a-name"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "repo" in done.stderr
    assert publish.read_address(root) == publish.read_address(ROOT)
