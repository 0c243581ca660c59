"""Launch configuration: Binder as repo2docker reads it, the README's links, the GitHub workflow."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pins(path: Path) -> dict[str, str]:
    """package -> exact version, from a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s#]+)", line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_repo2docker_builds_python_311_from_the_binder_folder():
    repo2docker = shutil.which("repo2docker") or str(Path(sys.executable).parent / "repo2docker")
    run = subprocess.run([repo2docker, "--no-build", "--debug", str(ROOT)], capture_output=True, text=True,
                         timeout=120, check=True)
    output = run.stdout + run.stderr
    # What the generated build does with our files (names we own, not repo2docker's wording): Python 3.11,
    # the requirements and postBuild from binder/, and nothing from the root (a binder/ folder hides it).
    assert re.search(r"python\W*3\.11", output)
    assert "binder/requirements.txt" in output and "binder/postBuild" in output
    assert "src/requirements.txt" not in output


def test_binder_installs_cpu_torch_and_the_same_pins():
    binder = ROOT / "binder" / "requirements.txt"
    text = binder.read_text()
    assert f"--extra-index-url {CPU_INDEX}" in text
    binder_pins, course_pins = pins(binder), pins(ROOT / "requirements.txt")
    assert binder_pins.pop("torch") == "2.13.0+cpu" and course_pins["torch"] == "2.13.0"
    # The image is the course plus what a hub's user server needs (the same pins as requirements-test.txt).
    hub_pins = {name: version for name, version in pins(ROOT / "requirements-test.txt").items()
                if name in ("jupyterhub", "nbgitpuller")}
    assert set(hub_pins) == {"jupyterhub", "nbgitpuller"}
    course_pins.pop("torch")
    assert binder_pins == {**course_pins, **hub_pins}
    # course_utils as a normal package: an editable one points into /home/jovyan, hidden by a hub's mounted homes.
    assert re.search(r"^\.$", text, re.MULTILINE) and not re.search(r"^-e ", text, re.MULTILINE)
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_readme_binder_links_open_existing_notebooks():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+", readme)
    targets = {re.search(r"urlpath=([^&)]+)", link).group(1) for link in links}
    assert "lab/tree/notebooks/00_matmul_primer.ipynb" in targets
    assert "voila/render/notebooks/explorer_app.ipynb" in targets
    for target in targets:
        path = target.split("/", 2)[2]
        assert (ROOT / path).exists(), target


def test_github_workflow_runs_the_readme_test_command():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "test.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    assert any(step.get("run") == "make test" for step in steps)
    assert "make test" in (ROOT / "README.md").read_text()
    # Every supported Python, each in Debian's image; the Makefile itself picks torch's CPU index.
    assert workflow["jobs"]["test"]["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    assert workflow["jobs"]["test"]["container"] == "python:${{ matrix.python }}-bookworm"
    assert CPU_INDEX in (ROOT / "tools" / "setup_venv.py").read_text()
