"""Make .venv for the course: a supported Python, a working pip, and the CPU build of torch on Linux.

Run by `make setup` with the Python the user picked (`PYTHON=python3.12 make test`); standard library only,
since it runs before anything is installed. Each problem it can recognise ends in one line saying what to do.

Usage: python tools/setup_venv.py VENV REQUIREMENTS [REQUIREMENTS ...]
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The versions `make test` passes on; keep in step with the README and the GitHub workflow's matrix.
SUPPORTED = ((3, 11), (3, 12), (3, 13))
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# JupyterLab settings the course fixes for every user of this venv (no news pop-up over the notebook).
LAB_OVERRIDES = ROOT / "binder" / "overrides.json"
# The course's Voila page template (no stylesheets from a CDN) and the config that picks it, for this venv's Voila.
VOILA_TEMPLATE = ROOT / "binder" / "voila" / "templates" / "foundations"
VOILA_CONFIG = ROOT / "binder" / "voila" / "voila.json"


class SetupError(Exception):
    """A problem the user can fix; its message is the one line that says how."""


def versions_text() -> str:
    """'3.11, 3.12 or 3.13'."""
    names = [f"{major}.{minor}" for major, minor in SUPPORTED]
    return ", ".join(names[:-1]) + " or " + names[-1]


def check_python(version: tuple[int, int]) -> str | None:
    """None for a supported Python; a note for a newer one; raise SetupError for an older one."""
    if version < SUPPORTED[0]:
        raise SetupError(f"Python {version[0]}.{version[1]} is too old for this course: use Python {versions_text()}"
                         f" (for example: PYTHON=python3.12 make test).")
    if version > SUPPORTED[-1]:
        return f"note: Python {version[0]}.{version[1]} is newer than the tested {versions_text()}; trying anyway."
    return None


def venv_python(venv: Path) -> Path:
    """The venv's interpreter (bin/ on Linux and macOS, Scripts/ on Windows)."""
    unix = venv / "bin" / "python"
    return unix if unix.exists() or sys.platform != "win32" else venv / "Scripts" / "python.exe"


def run_quietly(cmd: list[str]) -> subprocess.CompletedProcess:
    """Run a command, capturing its output."""
    return subprocess.run(cmd, capture_output=True, text=True)


def venv_version(venv: Path) -> tuple[int, int] | None:
    """Major and minor version of the venv's Python, or None where there is no working one."""
    python = venv_python(venv)
    if not python.exists():
        return None
    run = run_quietly([str(python), "-c", "import sys; print(*sys.version_info[:2])"])
    return tuple(int(part) for part in run.stdout.split()) if run.returncode == 0 else None


def has_pip(venv: Path) -> bool:
    """Whether the venv can run pip (Debian's Python without python3-venv makes venvs without it)."""
    return run_quietly([str(venv_python(venv)), "-m", "pip", "--version"]).returncode == 0


def no_pip_error(version: tuple[int, int]) -> SetupError:
    """The one-line fix for a venv made without pip."""
    return SetupError(f"this Python made a virtual environment without pip; on Debian or Ubuntu install the venv "
                      f"module (sudo apt install python{version[0]}.{version[1]}-venv), then run make again.")


def make_venv(venv: Path) -> None:
    """Create a venv with this Python."""
    run_quietly([sys.executable, "-m", "venv", str(venv)])


def ensure_venv(venv: Path, version: tuple[int, int], create: Callable[[Path], None] = make_venv) -> None:
    """Leave a venv of ``version`` with pip at ``venv``: reuse a good one, replace a broken or other-version one."""
    found = venv_version(venv)
    if found is not None and found != version:
        print(f"note: {venv} holds Python {found[0]}.{found[1]}; replacing it with Python {version[0]}.{version[1]}.")
    if found != version or not has_pip(venv):
        shutil.rmtree(venv, ignore_errors=True)
        create(venv)
    if venv_version(venv) != version or not has_pip(venv):
        # Leave nothing half-made behind, so that the next make starts over once the fix is in.
        shutil.rmtree(venv, ignore_errors=True)
        raise no_pip_error(version)


def reachable(url: str, timeout: float = 5.0) -> str | None:
    """None when ``url`` answers within ``timeout`` seconds, else why not."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
        return None
    except OSError as error:
        return str(getattr(error, "reason", error))


def torch_index_args(system: str, probe: Callable[[str], str | None] = reachable) -> list[str]:
    """pip arguments that make torch the CPU build: PyTorch's CPU index on Linux, where it can be reached."""
    if system != "Linux":
        return []  # macOS and Windows wheels on the default index are CPU builds already
    problem = probe(TORCH_CPU_INDEX + "/torch/")
    if problem is None:
        return ["--extra-index-url", TORCH_CPU_INDEX]
    print(f"note: PyTorch's CPU index cannot be reached ({problem}); installing torch from the default index and "
          f"local wheels instead (without a local CPU wheel, that is the larger CUDA build).")
    return []


def version_constraints(version: tuple[int, int]) -> list[str]:
    """pip arguments for the pins that differ on this Python version, where any do."""
    path = ROOT / f"constraints-py{version[0]}.{version[1]}.txt"
    return ["-c", str(path)] if path.exists() else []


def install(venv: Path, requirements: list[str], version: tuple[int, int]) -> None:
    """pip-install the requirement files into the venv."""
    cmd = [str(venv_python(venv)), "-m", "pip", "install", "--quiet"]
    for path in requirements:
        cmd += ["-r", path]
    cmd += version_constraints(version) + torch_index_args(platform.system())
    subprocess.run(cmd, check=True)
    settings = venv / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(LAB_OVERRIDES, settings / "overrides.json")
    shutil.copytree(VOILA_TEMPLATE, venv / "share" / "jupyter" / "voila" / "templates" / VOILA_TEMPLATE.name,
                    dirs_exist_ok=True)
    (venv / "etc" / "jupyter").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(VOILA_CONFIG, venv / "etc" / "jupyter" / "voila.json")


def one_line_errors(step: Callable[[], None]) -> int:
    """Run ``step``: 0 when it worked, 1 after one line on stderr when it met a problem the user can fix."""
    try:
        step()
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"error: pip failed (exit {error.returncode}); its messages are above.", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str], version: tuple[int, int] = sys.version_info[:2]) -> int:
    """Check the Python, make the venv, install; print one line and return 1 on a known problem."""
    venv, requirements = Path(argv[0]), argv[1:]

    def setup() -> None:
        note = check_python(version)
        if note:
            print(note)
        ensure_venv(venv, version)
        install(venv, requirements, version)

    return one_line_errors(setup)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
