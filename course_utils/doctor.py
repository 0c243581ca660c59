"""What a student needs to know when something does not show: versions, the frontend, the course files.

``doctor()`` prints a plain report and what to do about each problem it finds. ``colab_setup()`` is the
part of a notebook's first cell that runs on Google Colab only (see tools/publish.py).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_PYTHONS = ((3, 11), (3, 13))
# What the notebooks import besides torch; Colab ships all of them, a bare kernel may not.
LIGHT_DEPS = ("numpy", "matplotlib", "sympy", "ipywidgets")
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass
class Facts:
    """What the kernel can see about itself and where it runs."""

    python: tuple[int, int, int]
    versions: dict[str, str | None]  # distribution -> version, None when not installed
    frontend: str  # "colab", "vscode", "jupyter" or "none"
    torch_cuda: str | None  # CUDA version torch was built for, None for a CPU build
    package_dir: Path
    notebooks_dir: Path | None


def version_of(name: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def detect_frontend() -> str:
    """Which frontend this kernel serves, as far as the kernel can tell."""
    if "google.colab" in sys.modules:
        return "colab"
    if "VSCODE_PID" in os.environ or "VSCODE_CWD" in os.environ:
        return "vscode"
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821  (defined only inside IPython)
    except NameError:
        return "none"
    return "jupyter" if getattr(shell, "kernel", None) is not None else "none"


def find_notebooks() -> Path | None:
    """The course's notebooks folder: next to the package in a clone, or the working directory's."""
    for candidate in (PACKAGE_DIR.parent / "notebooks", Path.cwd(), Path.cwd() / "notebooks"):
        if any(candidate.glob("0*_*.ipynb")):
            return candidate
    return None


def collect() -> Facts:
    """Gather the facts from this process."""
    names = ("torch", "ipywidgets", "jupyterlab", "jupyterlab_widgets", "notebook", *LIGHT_DEPS[:3])
    try:
        import torch

        cuda = torch.version.cuda
    except ImportError:
        cuda = None
    return Facts(tuple(sys.version_info[:3]), {name: version_of(name) for name in names}, detect_frontend(),
                 cuda, PACKAGE_DIR, find_notebooks())


def major(version: str | None) -> int | None:
    """Leading number of a version string."""
    return int(version.split(".")[0]) if version else None


def widget_status(facts: Facts) -> tuple[str, str | None]:
    """(whether this frontend should render widgets, the problem if it will not)."""
    ipywidgets = facts.versions["ipywidgets"]
    if ipywidgets is None:
        return "no: ipywidgets is not installed", "install ipywidgets: pip install ipywidgets (or make setup)"
    if facts.frontend == "none":
        return "no: this is not a notebook kernel", "open the notebooks in JupyterLab (make lab), Colab or VS Code"
    if facts.frontend == "colab":
        return "yes: Colab renders core ipywidgets (the first cell of each notebook turns them on)", None
    if facts.frontend == "vscode":
        return "yes, with VS Code's Jupyter extension (it renders core ipywidgets)", None
    lab_widgets = facts.versions["jupyterlab_widgets"]
    if facts.versions["jupyterlab"] and major(lab_widgets) != {8: 3, 7: 1}.get(major(ipywidgets)):
        return (f"probably not: ipywidgets {ipywidgets} needs a matching jupyterlab_widgets (found {lab_widgets})",
                "install the course's pins again: make setup (or pip install -r requirements.txt)")
    return "yes, if this is JupyterLab or Notebook 7 started from the same environment", None


def problems(facts: Facts) -> list[str]:
    """Each problem found, with what to do about it."""
    found = []
    if facts.python[:2] < SUPPORTED_PYTHONS[0]:
        found.append(f"Python {facts.python[0]}.{facts.python[1]} is too old: use 3.11, 3.12 or 3.13 "
                     f"(PYTHON=python3.12 make lab)")
    for name in ("torch", *LIGHT_DEPS):
        if facts.versions.get(name) is None and name != "ipywidgets":
            found.append(f"{name} is not installed: run make setup (or pip install -r requirements.txt)")
    _, widget_problem = widget_status(facts)
    if widget_problem:
        found.append(widget_problem)
    if facts.notebooks_dir is None and facts.frontend != "colab":
        found.append("the course notebooks are not here: start Jupyter from the course folder (make lab)")
    return found


def report(facts: Facts) -> str:
    """The report doctor() prints."""
    def shown(name: str) -> str:
        return facts.versions.get(name) or "not installed"

    torch_build = "" if facts.versions["torch"] is None else (f" (CUDA {facts.torch_cuda} build)" if facts.torch_cuda
                                                                else " (CPU build)")
    lines = [
        f"Python      {'.'.join(map(str, facts.python))} ({sys.executable})",
        f"torch       {shown('torch')}{torch_build}",
        f"ipywidgets  {shown('ipywidgets')}",
        f"JupyterLab  {shown('jupyterlab')}",
        f"frontend    {facts.frontend}",
        f"widgets     {widget_status(facts)[0]}",
        f"course_utils {facts.package_dir}",
        f"notebooks   {facts.notebooks_dir or 'not found next to the package or in the working directory'}",
    ]
    found = problems(facts)
    lines.append("problems    none found" if not found else "problems, and what to do:")
    lines += [f"  - {problem}" for problem in found]
    return "\n".join(lines)


def doctor() -> list[str]:
    """Print versions, whether widgets render, where the course files are and what to fix; return the problems."""
    facts = collect()
    print(report(facts))
    return problems(facts)


def missing_light_deps(version: Callable[[str], str | None] = version_of) -> list[str]:
    """The notebooks' light dependencies that are not installed (torch never counts: Colab ships its own)."""
    return [name for name in LIGHT_DEPS if version(name) is None]


def pip_install(names: list[str]) -> None:
    """pip-install packages into this kernel's environment, at whatever version pip picks."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *names], check=True)


def colab_setup(pip: Callable[[list[str]], None] = pip_install,
                version: Callable[[str], str | None] = version_of) -> list[str]:
    """On Colab, install only what is missing (no upgrades, no torch) and turn on widgets; return what was installed."""
    if "google.colab" not in sys.modules:
        return []
    missing = missing_light_deps(version)
    if missing:
        pip(missing)
    output = getattr(sys.modules["google.colab"], "output", None)
    if output is not None and hasattr(output, "enable_custom_widget_manager"):
        output.enable_custom_widget_manager()
    return missing
