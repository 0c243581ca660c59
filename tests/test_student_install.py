"""The student copy's requirements install anywhere: exact versions without local tags, resolved for macOS and Windows.

pip resolves the copy's requirements.txt for other platforms without installing anything (tools/resolve_for.py:
`--platform`, `--only-binary=:all:`, markers evaluated for the target), against PyPI. Skipped only where PyPI
cannot be reached, and never in CI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import handout  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "3.11"
# Apple silicon on macOS 14 or newer (torch's wheels need it), an Intel Mac, Windows.
TARGETS = ("macosx_14_0_arm64", "macosx_10_15_x86_64", "win_amd64")
pytestmark = pytest.mark.slow  # resolves against PyPI: left out of `make test-quick`


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def course_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith(("-", "#")):
            name, version = line.split("==")
            pins[name] = version
    return pins


def test_the_copy_pins_the_course_versions_without_local_tags(tmp_path):
    handout.ship_package(tmp_path, self_study=False)
    lines = (tmp_path / "requirements.txt").read_text().split()
    assert not [line for line in lines if "+" in line or line.startswith("-")], lines
    assert lines == [f"{name}=={version.split('+')[0]}" for name, version in course_pins().items()]
    readme = (tmp_path / "README.md").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in readme  # Linux keeps the CPU build
    assert "Intel Macs" in readme


def pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """pip's report (or its error) for each target, resolved side by side; skips only without PyPI, outside CI."""
    if not pypi_reachable():
        if os.environ.get("CI"):
            raise RuntimeError("CI must check the student copy's requirements, but PyPI cannot be reached")
        pytest.skip("PyPI cannot be reached from here")
    work = tmp_path_factory.mktemp("resolve")
    handout.ship_package(work, self_study=False)
    runs = {target: subprocess.Popen([sys.executable, str(ROOT / "tools" / "resolve_for.py"), target, PYTHON,
                                      str(work / "requirements.txt"), str(work / f"{target}.json")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for target in TARGETS}
    results = {}
    for target, run in runs.items():
        output = run.communicate(timeout=600)[0]
        report = work / f"{target}.json"
        installs = json.loads(report.read_text())["install"] if run.returncode == 0 else []
        results[target] = (run.returncode, output, {canonical(item["metadata"]["name"]): item["metadata"]["version"]
                                                    for item in installs})
    return results


@pytest.mark.parametrize("target", ["macosx_14_0_arm64", "win_amd64"])
def test_the_copy_resolves_on_apple_silicon_and_windows(resolved, target):
    returncode, output, versions = resolved[target]
    assert returncode == 0, output
    for name, version in course_pins().items():
        assert versions[canonical(name)] == version.split("+")[0], name
    assert not [name for name in versions if name.startswith(("nvidia-", "triton"))], "Linux-only packages"


def test_an_intel_mac_lacks_only_torch(resolved):
    """PyTorch stopped publishing Intel-Mac wheels; the copy's README sends those students to a hub or Colab."""
    returncode, output, _ = resolved["macosx_10_15_x86_64"]
    assert returncode != 0
    assert "No matching distribution found for torch==" in output, output
