"""Make .venv-colab: a venv with Google Colab's widget stack (ipywidgets 7, IPython 7, ipykernel 6) for one test.

tests/test_colab_kernel.py runs notebooks in a kernel from this venv. requirements-colab.txt pins what goes in;
torch comes from the same place as in the course's own venv (see setup_venv.py). course_utils goes in as a
plain, non-editable install, as on Colab, so the kernel sees the package as it is built, not the checkout.

Usage: python tools/colab_env.py VENV pins     (make the venv and install requirements-colab.txt)
       python tools/colab_env.py VENV course   (install course_utils from this checkout again)
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

from setup_venv import ROOT, ensure_venv, one_line_errors, torch_index_args, venv_python

REQUIREMENTS = ROOT / "requirements-colab.txt"


def pip(venv: Path, *args: str) -> None:
    """Run the venv's pip install, quietly, with ``args``."""
    subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "--quiet", *args], check=True)


def install_pins(venv: Path) -> None:
    """Create the venv (or reuse a good one) and install the pinned Colab versions into it."""
    ensure_venv(venv, sys.version_info[:2])
    pip(venv, "-r", str(REQUIREMENTS), *torch_index_args(platform.system()))


def install_course(venv: Path) -> None:
    """Build course_utils from the checkout and install it as a regular package (its dependencies are pinned)."""
    pip(venv, "--no-deps", "--no-build-isolation", "--force-reinstall", str(ROOT))


def main(argv: list[str]) -> int:
    """Do one step; print one line and return 1 on a known problem."""
    if len(argv) != 2 or argv[1] not in ("pins", "course"):
        print(__doc__.split("Usage: ")[1], file=sys.stderr)
        return 2
    step = install_pins if argv[1] == "pins" else install_course
    return one_line_errors(lambda: step(Path(argv[0])))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
